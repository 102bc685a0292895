"""Error types and the boundary checks that raise them.

Every message names the argument, the value received, what is accepted, and the
fix. Checks run on concrete Python/NumPy values only: a JAX tracer (a
hyperparameter under `vmap` or `jit`) passes through unchecked, so sweeps over
hyperparameters work.
"""

from __future__ import annotations

import difflib
import math
import numbers
import sys
from collections.abc import Iterable
from typing import Any


class JaxgdError(Exception):
    """Base class of jaxgd's own errors."""


class ConfigError(JaxgdError, ValueError):
    """A hyperparameter, flag or config value outside what is accepted."""


class UnknownNameError(ConfigError):
    """A name (optimizer, dataset, activation, loss, ...) that jaxgd does not know."""


class DataError(JaxgdError, ValueError):
    """A dataset that cannot be trained on as given (shapes, NaNs, labels)."""


class DivergenceError(JaxgdError, FloatingPointError):
    """Training produced a non-finite loss or gradient."""

    def __init__(self, message: str, *, epoch: int, learning_rate: Any = None):
        super().__init__(message)
        self.epoch = epoch
        self.learning_rate = learning_rate


class CheckpointError(JaxgdError, ValueError):
    """A checkpoint that is missing, truncated, corrupt or from another run."""


class MissingDependencyError(JaxgdError, ImportError):
    """An optional package (an extra of jaxgd: data, plot, cuda) is needed but not installed."""


class OutputExistsError(JaxgdError, FileExistsError):
    """An output folder jaxgd may not write to: results without ``overwrite``, files jaxgd
    did not write, or a protected place (the current folder, home, a root)."""


class RunLockedError(JaxgdError, RuntimeError):
    """Another jaxgd run holds the lock of the same output folder."""


class ResourceError(JaxgdError, ValueError):
    """A run that cannot fit: memory for its arrays, disk for its output, int32 counters."""


class WriteError(JaxgdError, OSError):
    """A file could not be written (disk full, read-only, permissions); names the file."""

    def __init__(self, message: str, *, path: str | None = None):
        super().__init__(message)
        self.path = path


class TrainingInterrupted(JaxgdError, KeyboardInterrupt):
    """Ctrl-C during training; carries the epochs completed before it."""

    def __init__(self, message: str, *, epoch: int):
        super().__init__(message)
        self.epoch = epoch


class DistributedError(JaxgdError, RuntimeError):
    """A multi-process run whose processes could not all join."""


def check_transform(name: str, tx: Any) -> Any:
    """Return ``tx`` if it is an update rule (callable ``init`` and ``update``); else ConfigError.

    Accepts a jaxgd `Transform` or an optax ``GradientTransformation``.
    """
    if not (callable(getattr(tx, "init", None)) and callable(getattr(tx, "update", None))):
        raise ConfigError(f"{name}={tx!r} is not an update rule; accepted: a jaxgd Transform or an "
                          "optax GradientTransformation (a pair of init and update functions), e.g. "
                          f"{name}=jaxgd.optimizers.sgd(0.1).")
    return tx


def check_instance(name: str, value: Any, kind: type, example: str) -> Any:
    """Return ``value`` if it is a ``kind``; else ConfigError naming the argument and the fix."""
    if not isinstance(value, kind):
        raise ConfigError(f"{name}={value!r} (a {type(value).__name__}) is not a {kind.__name__}; "
                          f"pass {example}.")
    return value


def is_concrete(value: Any) -> bool:
    """True when ``value`` can be inspected on the host (not a tracer).

    A tracer exists only once JAX is imported; until then (the command line checks its
    flags first) nothing is one, and this module does not import JAX itself.
    """
    jax = sys.modules.get("jax")
    return jax is None or not isinstance(value, jax.core.Tracer)


def _as_float(name: str, value: Any) -> float | None:
    """The float in ``value``; None for tracers and callables (schedules)."""
    if callable(value) or not is_concrete(value):
        return None
    if isinstance(value, bool):
        raise ConfigError(f"{name}={value!r}: a bool is not a number. Pass a float, e.g. {name}=0.1.")
    if isinstance(value, numbers.Real):  # int, float, NumPy scalars
        return float(value)
    import numpy as np  # arrays only: the command line's checks stay without NumPy

    try:
        arr = np.asarray(value)
    except Exception as err:  # pragma: no cover - exotic inputs
        raise ConfigError(f"{name}={value!r} is not a number. Pass a float.") from err
    # bfloat16 and the float8 kinds are ml_dtypes types with NumPy kind "V": real all the same
    real = arr.dtype.kind in "iuf" or arr.dtype.name.startswith(("bfloat16", "float8", "float6", "float4"))
    if not real or arr.ndim != 0:
        raise ConfigError(
            f"{name}={value!r} is not a real scalar (got dtype {arr.dtype}, shape {arr.shape}). "
            f"Pass a single float, e.g. {name}=0.1."
        )
    return float(arr)


def check_range(
    name: str,
    value: Any,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
    fix: str = "",
) -> Any:
    """Raise ConfigError unless ``value`` is a finite number in the interval; return it."""
    x = _as_float(name, value)
    if x is None:
        return value
    lo_ok = x > low if low_open else x >= low
    hi_ok = x < high if high_open else x <= high
    if math.isfinite(x) and lo_ok and hi_ok:
        return value
    interval = (
        f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        if math.isfinite(low) or math.isfinite(high) else "any finite number"
    )
    if not math.isfinite(x):
        problem = "is not finite"
    else:
        problem = "is outside the accepted range"
    hint = f" {fix}" if fix else ""
    raise ConfigError(f"{name}={value!r} {problem}; accepted: {interval}.{hint}")


def check_positive(name: str, value: Any, fix: str = "") -> Any:
    """A finite number > 0."""
    return check_range(name, value, low=0.0, low_open=True, fix=fix)


def check_nonnegative(name: str, value: Any, fix: str = "") -> Any:
    """A finite number >= 0."""
    return check_range(name, value, low=0.0, fix=fix)


def check_decay(name: str, value: Any) -> Any:
    """A decay/beta/momentum factor in [0, 1)."""
    return check_range(name, value, low=0.0, high=1.0, high_open=True,
                       fix=f"Typical values: {name}=0.9 or 0.999.")


def check_learning_rate(value: Any, name: str = "learning_rate") -> Any:
    """A finite float > 0, or a schedule (a callable of the step count)."""
    if callable(value):
        return value
    return check_positive(name, value,
                          fix="Use a small positive float such as 0.1 or 1e-3, or a schedule.")


def check_positive_int(name: str, value: Any, fix: str = "") -> int:
    """An int >= 1 (bools and floats are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        hint = f" {fix}" if fix else ""
        raise ConfigError(f"{name}={value!r} must be a positive integer (1, 2, 3, ...).{hint}")
    return int(value)


def edit_distance(a: str, b: str) -> int:
    """Optimal-string-alignment distance: insertions, deletions, substitutions and swaps of
    two neighbouring characters each cost 1 (a typo such as 'adma' is 1 from 'adam')."""
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            row[j] = min(rows[i - 1][j] + 1, row[j - 1] + 1, rows[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[i - 2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def close_matches(value: Any, names: Iterable[str], n: int = 3) -> list[str]:
    """Up to ``n`` of ``names`` closest to ``value``, the closest first: the candidates difflib
    finds similar, ranked by typing distance (`edit_distance`), then by difflib's ratio."""
    text = str(value)
    found = difflib.get_close_matches(text, sorted(set(names)), n=max(n, 10), cutoff=0.5)
    ranked = sorted(found, key=lambda name: (edit_distance(text.lower(), name.lower()),
                                              -difflib.SequenceMatcher(None, text, name).ratio()))
    return ranked[:n]


def suggest(value: Any, names: Iterable[str], *, kind: str = "", also: str = "") -> str:
    """The hint every unknown-name error ends with: the closest name first (difflib), then
    every accepted name once, sorted. ``also``: other accepted forms, after the names (``or ...``).

        " Did you mean 'adam'? Accepted optimizer values: adabelief, adam, adamax, ..."
    """
    valid = sorted({str(x) for x in names if x})
    close = close_matches(value, valid, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    label = f"Accepted {kind} values" if kind else "Accepted"
    return f"{hint} {label}: {', '.join(valid)}{'; ' + also if also else ''}."


def check_choice(kind: str, value: Any, valid: Iterable[str], also: str = "") -> str:
    """Return ``value`` if it is one of ``valid``; else raise UnknownNameError with a hint
    (`suggest`: close matches first, then each accepted name once, sorted)."""
    valid = list(valid)
    if isinstance(value, str) and value in valid:
        return value
    raise UnknownNameError(f"unknown {kind} {value!r}.{suggest(value, valid, kind=kind, also=also)}")


def check_betas(betas: Any) -> tuple[Any, Any]:
    """A pair ``(b1, b2)`` of decays in [0, 1) (D-Adaptation's and Prodigy's ``betas``), returned."""
    if not (isinstance(betas, tuple | list) and len(betas) == 2):
        raise ConfigError(f"betas={betas!r} is not a pair (b1, b2); accepted: two decays in [0, 1), "
                          "e.g. betas=(0.9, 0.999) (the paper's).")
    for beta in betas:
        try:
            check_decay("beta", beta)
        except ConfigError as err:
            raise ConfigError(f"betas={betas!r}: each must be a finite decay in [0, 1); e.g. "
                              "betas=(0.9, 0.999) (the paper's).") from err
    return betas[0], betas[1]
