"""How a field of `TrainConfig` is declared, once: flag, help, default, choices, check, resume rule.

    learning_rate: float = option(0.5, "step size", flags=("--learning-rate", "--lr"),
                                  parse=float, check=positive("e.g. 0.1 or 1e-3."))

From these declarations the command line (`jaxgd.cli.common`) derives its flags,
`jaxgd.experiments.config.validate` its checks, ``to_json``/``from_dict`` their
conversions and `resume_config` the fields a resumed run may change. This module
also holds the parsers of flag text, among them the one grammar of ``--set KEY=VALUE``.
"""

from __future__ import annotations

import ast
import dataclasses
import math
import numbers
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

from jaxgd.core import names
from jaxgd.core.errors import (
    ConfigError,
    UnknownNameError,
    check_positive_int,
    check_range,
    close_matches,
    suggest,
)
from jaxgd.core.limits import MAX_FLOAT32, MAX_INT32

OPTION = "jaxgd.option"  # the key of a field's metadata that holds its Option


class Shortcut(NamedTuple):
    """A flag that sets one key of a field of pairs: ``--momentum 0.9`` is ``--set momentum=0.9``."""

    flag: str
    key: str
    help: str
    parse: Callable[[str], Any] | None = float  # None: a bare switch that sets True


@dataclasses.dataclass(frozen=True)
class Option:
    """Everything about one field beyond its name, type and default."""

    help: str  # one line for --help; the default and choices are added there
    flags: tuple[str, ...] = ()  # () -> ("--field-name",); the first is the one shown in errors
    parse: Callable[[str], Any] = str  # flag text -> value (ValueError or ConfigError if bad)
    show: Callable[[Any], str] = str  # value -> flag text, the inverse of parse
    load: Callable[[Any], Any] = lambda v: v  # a value read back from JSON -> the field's value
    choices: tuple[str, ...] | Callable[[], Iterable[str]] | None = None  # callable: listed lazily
    check: Callable[[str, Any], Any] | None = None  # (name, value) -> raise; None: one of choices
    resumable: bool = False  # a resumed run may change it (how long and where it runs)
    unset: str = "none"  # what the default None means, for --help
    metavar: str | None = None
    switch: bool = False  # a bare flag that sets True
    repeat: bool = False  # the flag repeats, each time one KEY=VALUE pair of a field of pairs
    shortcuts: tuple[Shortcut, ...] = ()  # flags for single keys of a field of pairs


def option(default: Any, help: str, **kwargs: Any) -> Any:
    """A dataclass field with its `Option` (see `Option` for the keywords)."""
    return dataclasses.field(default=default, metadata={OPTION: Option(help, **kwargs)})


def field_options(cls: type) -> dict[str, tuple[Any, Option]]:
    """``name -> (default, Option)`` for every field of the dataclass ``cls``, in order."""
    return {f.name: (f.default, f.metadata[OPTION]) for f in dataclasses.fields(cls)}


def flags_of(name: str, opt: Option) -> tuple[str, ...]:
    return opt.flags or ("--" + name.replace("_", "-"),)


def choices_of(opt: Option) -> tuple[str, ...] | None:
    """The field's accepted values (a callable is called now)."""
    if opt.choices is None:
        return None
    return tuple(opt.choices() if callable(opt.choices) else opt.choices)


# ------------------------------------------------------------------ checks, by name and value
def positive(fix: str = "") -> Callable[[str, Any], Any]:
    """A float in (0, MAX_FLOAT32]."""
    return lambda name, value: check_range(name, value, low=0.0, low_open=True, high=MAX_FLOAT32,
                                           fix=_float32_note(value, fix))


def nonnegative(fix: str = "") -> Callable[[str, Any], Any]:
    """A float in [0, MAX_FLOAT32]."""
    return lambda name, value: check_range(name, value, low=0.0, high=MAX_FLOAT32,
                                           fix=_float32_note(value, fix))


def _float32_note(value: Any, fix: str) -> str:
    """``fix``, and for a number too large for float32 why float32 bounds it."""
    if isinstance(value, numbers.Real) and math.isfinite(value) and abs(value) > MAX_FLOAT32:
        return f"A run computes in float32, whose largest number is {MAX_FLOAT32:.6g}. {fix}".rstrip()
    return fix


def positive_int(fix: str = "") -> Callable[[str, Any], Any]:
    return lambda name, value: check_positive_int(name, value, fix=fix)


def count(low: int = 1, fix: str = "") -> Callable[[str, Any], Any]:
    """An int in low..MAX_INT32: a count the device holds in an int32."""
    def check(name: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or \
                not low <= value <= MAX_INT32:
            raise ConfigError(f"{name}={value!r}: expected a whole number in {low}..{MAX_INT32:,} (an "
                              f"int32 on the device).{' ' + fix if fix else ''}")
    return check


def in_range(**bounds: Any) -> Callable[[str, Any], Any]:
    return lambda name, value: check_range(name, value, **bounds)


# ------------------------------------------------------------------ data and loss
# other spellings of the loss names (any case; '-' or ' ' for '_'), resolved when a config is made
LOSS_ALIASES = {
    **dict.fromkeys(("ce", "cross_entropy", "crossentropy", "softmax", "softmax_cross_entropy",
                     "categorical_cross_entropy", "categorical_crossentropy",
                     "sparse_categorical_crossentropy", "nll"), "softmax_ce"),
    **dict.fromkeys(("binary_cross_entropy", "binary_crossentropy", "sigmoid_cross_entropy",
                     "sigmoid_binary_cross_entropy", "bce_with_logits", "logistic"), "bce"),
    **dict.fromkeys(("squared_error", "mean_squared_error", "l2_loss", "squared_loss",
                     "quadratic"), "mse"),
}


def resolve_loss(value: Any) -> Any:
    """The loss name that ``value`` spells (``'ce'`` -> ``'softmax_ce'``); anything else as is."""
    if not isinstance(value, str):
        return value
    key = value.strip().lower().replace("-", "_").replace(" ", "_")
    return key if key in names.LOSSES else LOSS_ALIASES.get(key, value)


def check_loss(name: str, value: Any) -> None:
    """One of `names.LOSSES` (aliases are resolved before: `resolve_loss`)."""
    if value in names.LOSSES:
        return
    spellings = {**{n: n for n in names.LOSSES}, **LOSS_ALIASES}
    close = close_matches(str(value).lower(), spellings, n=1)
    meant = spellings[close[0]] if close else value
    raise UnknownNameError(f"unknown loss {value!r} (--loss)." + suggest(
        meant, names.LOSSES, also="also written ce or cross_entropy (softmax_ce), "
        "binary_cross_entropy (bce), squared_error (mse)"))


def check_dataset(name: str, value: Any) -> None:
    """A built-in dataset, or a path ending in one of `names.FILE_SUFFIXES`."""
    if value in names.DATASETS or names.is_file_name(value):
        return
    text = str(value) if isinstance(value, str | os.PathLike) else ""
    suffix = Path(text).suffix
    kinds = "a .npz file (arrays x and y) or a .csv file (a table with a label column)"
    if suffix or "/" in text or os.sep in text:
        found = f"the suffix {suffix!r}" if suffix else "no suffix"
        raise ConfigError(f"dataset={text!r} (--dataset) is a file with {found}, which jaxgd does "
                          f"not read; accepted: {kinds}, or a built-in dataset "
                          f"({', '.join(names.DATASETS)}). Convert the file, or rename it if "
                          "it already is one of those.")
    raise UnknownNameError(f"unknown dataset {value!r} (--dataset)."
                           + suggest(value, names.DATASETS, also=f"or {kinds}"))


def check_label_column(name: str, value: Any) -> None:
    """A column name (a non-empty str) or a position (an int, from 1; negative from the end)."""
    ok = (isinstance(value, str) and value.strip()) or (
        isinstance(value, int) and not isinstance(value, bool) and value != 0)
    if not ok:
        raise ConfigError(f"{name}={value!r} (--label-column): expected a column name or a "
                          "position (1 = the first column, -1 = the last), e.g. --label-column "
                          "label or --label-column -1.")


def check_float32_values(name: str, value: Any) -> None:
    """Every number in ``value`` (nested tuples and lists too) fits in float32 (or is inf)."""
    if isinstance(value, tuple | list):
        for v in value:
            check_float32_values(name, v)
    elif isinstance(value, numbers.Real) and not isinstance(value, bool) and \
            math.isfinite(value) and abs(value) > MAX_FLOAT32:
        raise ConfigError(f"{name}={value!r} does not fit in float32, the dtype a run computes in; "
                          f"accepted: numbers up to {MAX_FLOAT32:.6g} in size.")


# ------------------------------------------------------------------ flag text <-> values
def parse_hidden(text: str) -> tuple[int, ...]:
    """'3' -> (3,); '64,64' -> (64, 64); '' -> () (no hidden layer)."""
    if text.strip() == "":
        return ()
    try:
        sizes = tuple(int(s) for s in text.replace(" ", "").split(","))
    except ValueError:
        raise ConfigError(f"hidden={text!r}: expected comma-separated positive integers, "
                          "e.g. --hidden 3 or --hidden 64,64.") from None
    for s in sizes:
        check_positive_int("hidden size", s, fix="e.g. --hidden 3 or --hidden 64,64.")
    return sizes


def check_hidden(name: str, sizes: Any) -> None:
    """Every size a positive int."""
    for h in sizes:
        check_positive_int("hidden size", h, fix="e.g. --hidden 3 or --hidden 64,64.")


def show_hidden(sizes: tuple[int, ...]) -> str:
    return ",".join(map(str, sizes))


def parse_devices(text: str) -> int | str:
    """--devices: 'all' or a positive int."""
    if text == "all":
        return text
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"--devices {text!r}: expected a positive int or 'all', e.g. "
                          "--devices 8.") from None


def check_devices(name: str, value: Any) -> None:
    """'all' or a positive int."""
    if value != "all":
        check_positive_int(name, value, fix="e.g. --devices 8 or --devices all.")


def parse_value(text: str) -> Any:
    """A ``--set`` value; the one grammar of every subcommand (train, sweep, compare, crosscheck):

        true, false (any case)              -> bool
        none, null (any case)               -> None
        3, -2, 0.9, 1e-3, inf               -> int, else float
        (0.9, 0.99), [1, 2], {..}, 'a b'    -> that Python literal
        anything else                       -> the text itself, e.g. sign
    """
    s = text.strip()
    low = s.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(s)
        except ValueError:
            pass
    if s and s[0] in "([{'\"":
        try:
            return ast.literal_eval(s)
        except (ValueError, SyntaxError):
            raise ConfigError(f"--set value {text!r} starts like a Python literal but is not one; "
                              "write e.g. (0.9, 0.999), [1, 2] or 'text'.") from None
    return s


def show_value(value: Any) -> str:
    """The ``--set`` text that `parse_value` reads back as ``value``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, str):
        return value if parse_value(value) == value else repr(value)
    return repr(value)


def parse_assignment(item: str) -> tuple[str, Any]:
    """'nesterov=true' -> ('nesterov', True); a dash in the key reads as an underscore."""
    key, sep, value = item.partition("=")
    key = key.strip().replace("-", "_")
    if not sep or not key.isidentifier():
        raise ConfigError(f"--set {item!r}: expected KEY=VALUE with a Python name as KEY, e.g. "
                          "--set momentum=0.9 or --set nesterov=true.")
    return key, parse_value(value)


def parse_assignments(items: Iterable[str] | None) -> tuple[tuple[str, Any], ...]:
    """['momentum=0.9', 'nesterov=true'] -> (('momentum', 0.9), ('nesterov', True))."""
    return tuple(parse_assignment(item) for item in items or [])


def check_pairs(name: str, pairs: Any) -> None:
    """(str, value) pairs, none of them the learning rate (a field of its own)."""
    if not all(isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) for p in pairs):
        raise ConfigError(f"{name}={pairs!r}: expected (name, value) pairs, e.g. "
                          "hyper=(('momentum', 0.9),) or --set momentum=0.9.")
    if "learning_rate" in dict(pairs):
        raise ConfigError(f"{name} sets learning_rate (--set learning_rate=...), which is a field of "
                          "its own: use --learning-rate (--lr) instead.")
    for key, value in pairs:
        check_float32_values(key, value)


def show_pairs(pairs: tuple[tuple[str, Any], ...]) -> list[str]:
    """Each pair as ``KEY=VALUE`` (one ``--set`` each)."""
    return [f"{k}={show_value(v)}" for k, v in pairs]


def load_pairs(pairs: Iterable) -> tuple[tuple[str, Any], ...]:
    """Pairs read back from JSON (lists) as the tuple of tuples the config holds."""
    return tuple((k, v) for k, v in pairs)
