"""Flags derived from `TrainConfig`'s field declarations, and the help every flag shares.

Each subcommand picks the fields it exposes (`add_config_flags`); their flags have
no argparse default (``argparse.SUPPRESS``), so the namespace holds exactly the
fields the user gave, and `config_from_args` builds the config from those over the
defaults. `config_argv` writes a config back as the flags that rebuild it.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from jaxgd.core.cache import use_compile_cache
from jaxgd.core.errors import ConfigError
from jaxgd.core.names import is_user_rule
from jaxgd.experiments.config import FIELDS, TrainConfig, validate
from jaxgd.experiments.fields import choices_of, flags_of

# the problem: dataset, network shape, loss, init, splits (train, sweep, compare)
DATA_FIELDS = ("dataset", "hidden", "activation", "output_activation", "loss", "init", "n_samples",
               "test_fraction", "label_column", "task", "standardize")


def flag_help(text: str, *, default: Any = None, choices: Iterable[str] | None = None) -> str:
    """``text (choices: a, b; default: x)``, escaped for argparse; the one place both are shown."""
    notes = []
    if choices is not None:
        notes.append("choices: " + ", ".join(map(str, choices)))
    if default is not None:
        notes.append(f"default: {default}")
    full = f"{text} ({'; '.join(notes)})" if notes else text
    return full.replace("%", "%%")


def add_flag(group, *flags: str, help: str, default: Any = None, choices: Iterable[str] | None = None,
             show_default: Any = None, **kwargs: Any) -> argparse.Action:
    """A flag that is not a config field, with its default and choices in its help.

    ``choices`` are only listed: the command checks them (`check_choice`, with a
    suggestion), as `validate` checks a config field's. A switch shows "default: off"; a
    flag whose default is None shows ``show_default``, what leaving it out means.
    """
    if kwargs.get("action") == "store_true":
        return group.add_argument(*flags, help=flag_help(help, default="off"), **kwargs)
    if kwargs.get("required"):
        return group.add_argument(*flags, help=flag_help(help, choices=choices), **kwargs)
    shown = show_default if show_default is not None else default
    if shown is None:
        raise TypeError(f"add_flag({flags[0]!r}): say what leaving it out means (show_default=...)")
    return group.add_argument(*flags, default=default,
                              help=flag_help(help, default=shown, choices=choices), **kwargs)


def add_config_flags(group, names: Iterable[str], *, overrides: Mapping[str, Mapping] | None = None,
                     shortcuts: Iterable[str] | None = None) -> None:
    """The flags of the `TrainConfig` fields ``names`` (and their shortcut flags).

    Args:
        group: a parser or argument group.
        names: the fields, in the order their flags are listed.
        overrides: per field, a ``default``, ``choices`` or ``help`` of this subcommand.
        shortcuts: the keys whose shortcut flags are added (e.g. ``("nesterov",)``); None: all.
    """
    overrides = overrides or {}
    parser_defaults = {}
    for name in names:
        default, opt = FIELDS[name]
        own = overrides.get(name, {})
        default = own.get("default", default)
        if "default" in own:
            parser_defaults[name] = default
        choices = own.get("choices") or choices_of(opt)
        text = flag_help(own.get("help", opt.help), default=_shown(opt, default), choices=choices)
        if opt.switch:
            group.add_argument(*flags_of(name, opt), dest=name, action="store_true",
                               default=argparse.SUPPRESS, help=text)
            continue
        group.add_argument(*flags_of(name, opt), dest=name, action="append" if opt.repeat else "store",
                           default=argparse.SUPPRESS, metavar=opt.metavar or _metavar(name, choices),
                           help=text)
        for sc in opt.shortcuts:  # each appends (key, text) to the same field
            if shortcuts is not None and sc.key not in shortcuts:
                continue
            hint = flag_help(sc.help, default=opt.unset)  # e.g. the optimizer's own
            if sc.parse is None:
                group.add_argument(sc.flag, dest=name, action="append_const", const=(sc.key, True),
                                   default=argparse.SUPPRESS, help=hint)
            else:
                group.add_argument(sc.flag, dest=name, action="append", type=lambda s, k=sc.key: (k, s),
                                   default=argparse.SUPPRESS, metavar="X", help=hint)
    group.set_defaults(config_defaults={**(group.get_default("config_defaults") or {}), **parser_defaults},
                       config_fields=(*(group.get_default("config_fields") or ()), *names))


def _shown(opt, default: Any) -> str | None:
    """The default as --help shows it."""
    if opt.switch:
        return "on" if default else "off"
    if opt.repeat:
        return " ".join(opt.show(default)) or opt.unset
    if default is None:
        return opt.unset
    return opt.show(default) or "''"


def _metavar(name: str, choices: tuple[str, ...] | None) -> str:
    return "NAME" if choices is not None else name.upper()


def given_fields(a: argparse.Namespace) -> dict[str, Any]:
    """The config fields given on the command line, parsed: ``{name: value}``."""
    given = {}
    for name in a.config_fields:
        if name not in vars(a):
            continue
        opt, text = FIELDS[name][1], getattr(a, name)
        if opt.switch:
            given[name] = bool(text)
        elif opt.repeat:  # --set KEY=VALUE texts and shortcuts' (key, text), in command-line order
            pairs = dict(_parse(name, opt, t) if isinstance(t, str) else _shortcut(opt, *t) for t in text)
            given[name] = tuple(sorted(pairs.items()))
        else:
            given[name] = _parse(name, opt, text)
    return given


def _parse(name: str, opt, text: str) -> Any:
    try:
        return opt.parse(text)
    except ConfigError:
        raise
    except ValueError:
        kind = {int: "an integer", float: "a number"}.get(opt.parse, "a value")
        flag = flags_of(name, opt)[0]
        raise ConfigError(f"{flag} {text!r}: expected {kind}, e.g. {flag} "
                          f"{_example(name, opt)}.") from None


def _example(name: str, opt) -> str:
    """A value to show after "e.g." for a field: its default, else a typical number."""
    default = FIELDS[name][0]
    if default is not None:
        return opt.show(default)
    return {"epochs": "100", "n_samples": "200"}.get(name, "1")


def _shortcut(opt, key: str, text: Any) -> tuple[str, Any]:
    sc = next(sc for sc in opt.shortcuts if sc.key == key)
    if sc.parse is None:
        return key, text
    try:
        return key, sc.parse(text)
    except ValueError:
        raise ConfigError(f"{sc.flag} {text!r}: expected a number, e.g. {sc.flag} 0.9.") from None


def config_from_args(a: argparse.Namespace) -> TrainConfig:
    """The validated config: the given flags over this subcommand's defaults.

    A user's own rule (``--optimizer MODULE:FACTORY``) has no optax twin: unless
    ``--impl`` is given, it runs with impl "hand".
    """
    given = given_fields(a)
    fields = {**a.config_defaults, **given}
    if is_user_rule(fields.get("optimizer")) and "impl" not in given:
        fields["impl"] = "hand"
    return validate(TrainConfig(**fields))


def config_argv(cfg: TrainConfig, names: Iterable[str], defaults: Mapping[str, Any] | None = None
                ) -> list[str]:
    """The flags that rebuild ``cfg`` from the defaults (fields ``names`` only, those that differ)."""
    base = dataclasses.replace(TrainConfig(), **(defaults or {}))
    argv: list[str] = []
    for name in names:
        value, opt = getattr(cfg, name), FIELDS[name][1]
        if value == getattr(base, name):
            continue
        flag = flags_of(name, opt)[0]
        if opt.switch:
            argv += [flag] if value else []
        elif opt.repeat:
            argv += [x for item in opt.show(value) for x in (flag, item)]
        else:
            argv += [flag, opt.show(value)]
    return argv


def start_compile_cache(a: argparse.Namespace) -> None:
    """JAX's persistent compilation cache on, unless turned off (`jaxgd.cli.main` sets
    ``a.compile_cache``). Call once the flags are checked, before the first compile."""
    if getattr(a, "compile_cache", False):
        use_compile_cache()
