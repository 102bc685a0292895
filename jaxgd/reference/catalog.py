"""What each update rule is: the listing behind ``jaxgd optimizers [NAME]``.

Everything comes from the code itself: the names ``--optimizer`` takes
(`jaxgd.core.names.OPTIMIZERS`), the first line of each hand-written factory's
docstring, the hyperparameters and defaults of its signature, its optax twin and
table rows (`jaxgd.reference.OPTIMIZERS`), and the source from its docstring's
References.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable
from typing import Any, NamedTuple

from jaxgd.core.errors import UnknownNameError, suggest
from jaxgd.core.names import OPTIMIZERS as OPTIMIZER_NAMES
from jaxgd.core.names import USER_RULE_FORM, is_user_rule
from jaxgd.reference.defaults import DEFAULT_LEARNING_RATES, TUTORIAL_RULES

__all__ = ["RuleInfo", "describe", "factory_name", "format_listing", "format_rule", "listing"]

REQUIRED = "required"


class RuleInfo(NamedTuple):
    """One update rule as ``jaxgd optimizers`` shows it."""

    name: str  # what --optimizer takes
    summary: str  # the first line of the factory's docstring
    hyperparameters: tuple[tuple[str, str], ...]  # (name, default as text, or "required")
    factory: str  # e.g. jaxgd.optimizers.adam
    twin: str  # e.g. optax.adam; "" for a user's rule
    rows: tuple[str, ...]  # the optimizer table's rows of this rule (crosscheck --optimizer ids)
    source: str  # the paper(s), from the docstring's References; "" when it names none

    @property
    def learning_rate(self) -> str:
        """The learning rate a run takes when none is given: the table's
        (`jaxgd.reference.defaults`), else the factory's own default, or "required"."""
        if self.name in DEFAULT_LEARNING_RATES:
            return f"{DEFAULT_LEARNING_RATES[self.name].value:g}"
        return dict(self.hyperparameters).get("learning_rate", "")


def factory_name(factory: Any) -> str:
    """A readable name: ``optax.sgd`` for optax's (``optax.contrib.cocob`` for one of its
    contrib rules: the public path, without private modules), ``optax.adam(nesterov=True)``
    for a partial, ``module.name`` otherwise (a twin is named after what it wraps)."""
    while isinstance(getattr(factory, "__wrapped__", None), Callable):
        factory = factory.__wrapped__
    if isinstance(factory, functools.partial):
        args = [repr(a) for a in factory.args] + [f"{k}={v!r}" for k, v in factory.keywords.items()]
        return f"{factory_name(factory.func)}({', '.join(args)})"
    module = getattr(factory, "__module__", "") or ""
    name = getattr(factory, "__qualname__", None) or getattr(factory, "__name__", repr(factory))
    if "<locals>" in name:
        name = getattr(factory, "__name__", name)
    if module.split(".")[0] == "optax":  # optax._src.alias -> optax; optax.contrib._x -> optax.contrib
        parts = module.split(".")
        module = ".".join(parts[:next((i for i, p in enumerate(parts) if p.startswith("_")), len(parts))])
    return f"{module}.{name}".lstrip(".")


def _summary(doc: str | None) -> str:
    return (inspect.cleandoc(doc).splitlines() or [""])[0].strip() if doc else ""


def _source(doc: str | None) -> str:
    """The References paragraph, up to where it turns to optax or PyTorch."""
    if not doc:
        return ""
    text = inspect.cleandoc(doc)
    found = re.search(r"^(References|Reference|Ref):?\s*$(.*?)(^\S|\Z)", text, re.M | re.S)
    if not found:
        return ""
    body = " ".join(found.group(2).split())
    return re.split(r"\s*(?:Mirrors |See Also)", body)[0].strip()


def _hyperparameters(factory: Any) -> tuple[tuple[str, str], ...]:
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return ()
    out = []
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            out.append((("*" if p.kind is p.VAR_POSITIONAL else "**") + p.name, "any"))
        else:
            out.append((p.name, REQUIRED if p.default is p.empty else repr(p.default)))
    return tuple(out)


def describe(name: str) -> RuleInfo:
    """The `RuleInfo` of ``name``: a rule ``--optimizer`` takes, a row id of the optimizer
    table, or a user's own ``MODULE:FACTORY`` (imported: its signature and docstring).

    Raises:
        UnknownNameError: any other name (with close matches and the accepted names).
        ConfigError: a ``MODULE:FACTORY`` that cannot be loaded (`load_factory`).
    """
    from jaxgd import optimizers
    from jaxgd.reference import OPTIMIZERS

    if is_user_rule(name):
        from jaxgd.optimizers.user_rules import load_factory

        factory = load_factory(name)
        return RuleInfo(name, _summary(factory.__doc__), _hyperparameters(factory), name, "", (),
                        _source(factory.__doc__))
    names = OPTIMIZER_NAMES
    ids = {r.id: r for r in OPTIMIZERS}
    if name not in names and name not in ids:  # the table's row ids are taken, not listed
        raise UnknownNameError(f"unknown optimizer {name!r}." + suggest(
            name, names, kind="optimizer", also=f"or a table row id (jaxgd optimizers NAME lists a "
            f"rule's), or your own rule as {USER_RULE_FORM}"))
    if name in names:
        factory = getattr(optimizers, name)
        rows = [r for r in OPTIMIZERS if r.hand is factory]
    else:
        rows = [ids[name]]
        factory = rows[0].hand
    twin = factory_name(rows[0].ref) if rows else ""
    return RuleInfo(name, _summary(factory.__doc__), _hyperparameters(factory),
                    f"{factory.__module__.rsplit('.', 1)[0]}.{factory.__name__}", twin,
                    tuple(r.id for r in rows), _source(factory.__doc__))


def listing() -> list[RuleInfo]:
    """Every rule ``--optimizer`` takes, sorted by name."""
    return [describe(n) for n in OPTIMIZER_NAMES]


def format_listing(rules: list[RuleInfo]) -> str:
    """One line per rule: name, the factory's default learning rate, the summary."""
    width = max(len(r.name) for r in rules)
    lines = [f"{'name':{width}}  {'default lr':10}  description"]
    lines += [f"{r.name:{width}}  {r.learning_rate.replace(REQUIRED, '-'):10}  {r.summary}"
              for r in rules]
    lines += ["", "default lr: what a run uses without --lr (docs/defaults.md; the tutorial's job, "
              f"xor with {', '.join(TUTORIAL_RULES)}, keeps 0.5); - : none, give --lr. Your own rule: "
              f"--optimizer {USER_RULE_FORM}.", "`jaxgd optimizers NAME` shows one rule's "
              "hyperparameters, optax twin and source."]
    return "\n".join(lines)


def format_rule(r: RuleInfo) -> str:
    """One rule: summary, hyperparameters with defaults, optax twin, table rows, source."""
    width = max([len(k) for k, _ in r.hyperparameters] + [14])
    lines = [f"{r.name}: {r.summary or '(no docstring)'}", "", f"hyperparameters of {r.factory} (default):"]
    table = DEFAULT_LEARNING_RATES.get(r.name)
    lines += [f"  {k:{width}}  {v}" if not (k == "learning_rate" and table) else
              f"  {k:{width}}  {table.value:g} when a run does not give --lr ({table.source})"
              + ("; 0.5 on xor, the tutorial's job" if r.name in TUTORIAL_RULES else "")
              for k, v in r.hyperparameters] or ["  (none)"]
    twin = r.twin or "none: your own rule runs with --impl hand; check it against one with " \
        f"`jaxgd crosscheck --hand {r.name} --reference NAME`"
    lines += ["", f"{'optax twin':16}{twin}"]
    if r.rows:
        lines.append(f"{'table rows':16}{', '.join(r.rows)}  (jaxgd crosscheck --optimizer ID)")
    lines.append(f"{'source':16}{r.source or 'not given in its docstring'}")
    return "\n".join(lines)
