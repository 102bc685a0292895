"""A user's own update rule, named ``MODULE:FACTORY``, wherever an optimizer name is taken.

``jaxgd train --optimizer mypkg.rules:my_sgd`` (and ``compare``, ``sweep``, ``crosscheck
--hand``) imports ``mypkg.rules`` from the current folder or ``sys.path`` and calls
``my_sgd(learning_rate=..., **hyperparameters)``, which must return an update rule: an
object with ``init(params) -> state`` and ``update(grads, state, params) -> (updates,
state)``, as a jaxgd `Transform` or an ``optax.GradientTransformation``.

Importing runs the module's code: pass only code you trust.

A broken factory is bad input, refused with one `ConfigError` naming the spec, what
was found and the fix, before any work: the module cannot be imported, the name is
missing or not callable, the factory does not take the hyperparameters, its result
lacks ``init``/``update``, or (`probe_rule`, one abstract call through `jax.eval_shape`)
``init`` raises or ``update`` does not return ``(updates, state)`` shaped like the params.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from collections.abc import Callable
from typing import Any

from jaxgd.core.errors import ConfigError, UnknownNameError, suggest
from jaxgd.core.names import USER_RULE_FORM, is_user_rule

__all__ = ["build_rule", "factory_signature", "load_factory", "probe_rule"]

PROTOCOL = ("an object with init(params) -> state and update(grads, state, params=None) -> "
            "(updates, new_state), e.g. a jaxgd Transform or an optax GradientTransformation")


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0][:200]}" if text else type(err).__name__


def load_factory(spec: str) -> Callable[..., Any]:
    """The callable named by ``spec`` = ``MODULE:FACTORY``; the current folder is importable.

    Raises:
        ConfigError: ``spec`` is not of that form, the module cannot be imported (or
            raises while it is), or the attribute is not callable.
        UnknownNameError: the module has no such attribute (with close matches).
    """
    if not is_user_rule(spec):
        raise ConfigError(f"rule {spec!r} is not of the form {USER_RULE_FORM}: a dotted module "
                          "path, a colon and the name of a function that returns an update rule.")
    module_name, attr = spec.split(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name and module_name != err.name and not module_name.startswith(err.name + "."):
            raise ConfigError(f"rule {spec!r}: importing {module_name!r} failed because it imports "
                              f"{err.name!r}, which is not installed. Install it, or fix that import."
                              ) from None
        raise ConfigError(f"rule {spec!r}: cannot import {module_name!r} ({err}). Run from the "
                          "folder that holds it (a resumed run: the folder it was started from) or "
                          "add that folder to PYTHONPATH.") from None
    except Exception as err:  # noqa: BLE001 - the user's module failed while it was imported
        raise ConfigError(f"rule {spec!r}: importing {module_name!r} raised {_first_line(err)}. "
                          f"Fix the module (python -c 'import {module_name}' shows the traceback)."
                          ) from None
    if not hasattr(module, attr):
        callables = [n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n))]
        raise UnknownNameError(f"rule {spec!r}: module {module_name!r} has no {attr!r}."
                               + suggest(attr, callables, kind=f"{module_name} callable"))
    factory = getattr(module, attr)
    if not callable(factory):
        raise ConfigError(f"rule {spec!r}: {module_name}.{attr} is not callable (a "
                          f"{type(factory).__name__} object); name a factory that returns an update rule "
                          f"({PROTOCOL}).")
    return factory


def factory_signature(factory: Callable[..., Any]) -> inspect.Signature | None:
    """The factory's signature, or None where Python cannot tell (some builtins)."""
    try:
        return inspect.signature(factory)
    except (TypeError, ValueError):
        return None


def build_rule(spec: str, /, **kwargs: Any) -> Any:
    """The update rule ``FACTORY(**kwargs)`` of ``spec`` = ``MODULE:FACTORY``, checked.

    Raises:
        ConfigError: as `load_factory`; the factory does not take ``kwargs`` (naming the
            unexpected or missing argument and its signature) or raises; its result
            has no callable ``init`` and ``update``.
    """
    factory = load_factory(spec)
    sig = factory_signature(factory)
    shown = f"{spec.split(':')[1]}{sig}" if sig is not None else spec
    if sig is not None:
        params = sig.parameters
        takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
        unknown = [k for k in kwargs if k not in params and not takes_any]
        if unknown:
            raise ConfigError(f"rule {spec!r}: {shown} does not take {', '.join(map(repr, unknown))}. "
                              "Leave it out (its flag or --set KEY=VALUE), or add it to the "
                              "factory's parameters.")
        try:
            sig.bind(**kwargs)
        except TypeError as err:
            raise ConfigError(f"rule {spec!r}: {shown} cannot be called with "
                              f"{sorted(kwargs)}: {err}. Give it defaults or pass those arguments "
                              "(--set KEY=VALUE).") from None
    try:
        tx = factory(**kwargs)
    except ConfigError as err:
        raise ConfigError(f"rule {spec!r}: {err}") from None
    except Exception as err:  # noqa: BLE001 - the user's factory failed
        raise ConfigError(f"rule {spec!r}: calling {shown} with {sorted(kwargs)} raised "
                          f"{_first_line(err)}. Fix the factory or its arguments.") from None
    missing = [m for m in ("init", "update") if not callable(getattr(tx, m, None))]
    if missing:
        raise ConfigError(f"rule {spec!r}: {spec.split(':')[1]}(...) returned "
                          f"{type(tx).__name__!r} object without {' and '.join(missing)}; it must return "
                          f"{PROTOCOL}.")
    return tx


def _structure(tree: Any) -> str:
    import jax

    return str(jax.tree.structure(tree))


def probe_rule(spec: str, tx: Any, params: Any, extra_args: dict | None = None) -> Any:
    """Run ``tx.init`` and one ``tx.update`` abstractly (`jax.eval_shape`: no compute) on
    ``params`` (arrays or ShapeDtypeStructs, gradients shaped alike); return the state's shape.

    Raises:
        ConfigError: ``init`` or ``update`` raises; ``update`` returns no ``(updates,
            state)`` pair, updates whose tree or leaf shapes differ from the params', or a
            state whose tree differs from ``init``'s (a scan carries it).
    """
    import jax

    name = spec.split(":")[-1]
    try:
        state = jax.eval_shape(tx.init, params)
    except Exception as err:  # noqa: BLE001 - the user's init failed
        raise ConfigError(f"rule {spec!r}: {name}(...).init(params) raised {_first_line(err)}. "
                          "init takes the params pytree and returns the state.") from None
    extra = dict(extra_args or {})
    try:
        out = jax.eval_shape(lambda g, s, p: tx.update(g, s, p, **extra), params, state, params)
    except Exception as err:  # noqa: BLE001 - the user's update failed
        raise ConfigError(f"rule {spec!r}: {name}(...).update(grads, state, params) raised "
                          f"{_first_line(err)}. Fix the rule's update.") from None
    fix = "return (updates, new_state), updates shaped like the params"
    if jax.tree.structure(out) == jax.tree.structure(params):
        raise ConfigError(f"rule {spec!r}: {name}(...).update returned one tree shaped like the "
                          f"params (the updates alone?); {fix}.")
    if not isinstance(out, tuple | list) or len(out) != 2:
        found = f"a {type(out).__name__}" + (f" of {len(out)}" if isinstance(out, tuple | list) else "")
        raise ConfigError(f"rule {spec!r}: {name}(...).update returned {found}, not a pair; {fix}.")
    updates, new_state = out
    if jax.tree.structure(updates) != jax.tree.structure(params):
        raise ConfigError(f"rule {spec!r}: {name}(...).update returned updates with tree "
                          f"{_structure(updates)}, but the params have {_structure(params)}; {fix}.")
    for u, p in zip(jax.tree.leaves(updates), jax.tree.leaves(params), strict=True):
        if u.shape != p.shape:
            raise ConfigError(f"rule {spec!r}: {name}(...).update returned an update of shape "
                              f"{u.shape} for a parameter of shape {p.shape}; {fix}.")
    if jax.tree.structure(new_state) != jax.tree.structure(state):
        raise ConfigError(f"rule {spec!r}: {name}(...).update returned a state with tree "
                          f"{_structure(new_state)}, but init returned {_structure(state)}; return "
                          "the new state in the same structure as init's.")
    return state
