"""What every schedule shares: the float dtype it computes in, and its argument checks.

A schedule is a pure function ``step -> value``. ``step`` is an integer scalar or
array (an int32 update count, possibly a tracer); the value has the step's shape
and the schedule's float dtype. Hyperparameters given as floats may be tracers
(a vmapped ``init_value``): they are only ever combined with ``jnp`` operations.
Step counts that shape the schedule (``transition_steps``, boundaries) are
Python integers, checked when the schedule is built.
"""

from __future__ import annotations

import operator
from typing import Any

import jax.numpy as jnp
import numpy as np

from jaxgd.core.errors import ConfigError, check_range, is_concrete


def check_dtype(dtype: Any) -> Any:
    """Accept ``None`` (the default float dtype) or a floating dtype; return it."""
    if dtype is None:
        return None
    try:
        dt = np.dtype(dtype)
    except TypeError as err:
        raise ConfigError(f"dtype={dtype!r} is not a dtype. Pass None, jnp.float32 "
                          "or jnp.float64.") from err
    if not jnp.issubdtype(dt, jnp.floating):
        raise ConfigError(f"dtype={dtype!r} is not a floating dtype; a schedule returns floats. "
                          "Pass None (the default float), jnp.float32 or jnp.float64.")
    return dt


def float_dtype(dtype: Any) -> Any:
    """The dtype a schedule returns, read at call time.

    ``None`` means the default float dtype: float64 when x64 is enabled, float32
    otherwise (``jnp.result_type(float)``). An explicit float64 needs x64 enabled;
    without it JAX truncates to float32 and warns.
    """
    return jnp.result_type(float) if dtype is None else dtype


def compute_dtype(dtype: Any) -> Any:
    """The dtype a schedule computes in: `float_dtype`, at least float32.

    A float16 count or length is inf above 65504 and a bfloat16 one is exact only
    up to 256, and a rate such as 0.9999 is 1.0 in both: the value is computed in
    float32 and rounded once, at the end (`rounded`).
    """
    return jnp.promote_types(float_dtype(dtype), jnp.float32)


def rounded(schedule: Any, dtype: Any) -> Any:
    """``schedule`` with its value rounded once to `float_dtype` (``dtype``) at the end."""

    def value(step):
        return jnp.asarray(schedule(step)).astype(float_dtype(dtype))

    return value


def check_int(name: str, value: Any, *, low: int | None = None, fix: str = "") -> int:
    """A whole number of steps (>= ``low`` when given), as a Python int."""
    hint = f" {fix}" if fix else ""
    if isinstance(value, bool) or not is_concrete(value):
        raise ConfigError(f"{name}={value!r} must be a concrete integer number of steps "
                          f"(it shapes the schedule, so it cannot be a bool or a tracer).{hint}")
    try:
        n = operator.index(value)
    except TypeError as err:
        raise ConfigError(f"{name}={value!r} must be an integer number of steps, "
                          f"e.g. {name}=100.{hint}") from err
    if low is not None and n < low:
        raise ConfigError(f"{name}={n} is below the accepted minimum {low}; accepted: "
                          f"an integer >= {low}.{hint}")
    return n


def check_finite(name: str, value: Any, fix: str = "") -> Any:
    """A finite real number (any sign); tracers pass unchecked."""
    return check_range(name, value, fix=fix)


def check_boundaries(
    name: str, boundaries_and_scales: dict | None
) -> tuple[tuple[int, ...], tuple[Any, ...]]:
    """Sorted ``(boundaries, scales)`` from a ``{step: scale}`` dict, checked.

    Boundaries must be integers >= 0 and scales finite numbers >= 0.
    """
    if boundaries_and_scales is None:
        return (), ()
    if not isinstance(boundaries_and_scales, dict):
        raise ConfigError(f"{name}={boundaries_and_scales!r} must be a dict {{step: scale}}, "
                          f"e.g. {name}={{100: 0.1, 200: 0.1}}.")
    pairs = [(check_int(f"{name} key", b, low=0,
                        fix="Boundaries are update counts, counted from 0."), s)
             for b, s in boundaries_and_scales.items()]
    pairs.sort(key=lambda pair: pair[0])
    for b, s in pairs:
        check_range(f"{name}[{b}]", s, low=0.0,
                    fix="A scale multiplies the value from that step on; use e.g. 0.1.")
    return tuple(b for b, _ in pairs), tuple(s for _, s in pairs)


def epochs_to_steps(epochs: int, steps_per_epoch: int) -> int:
    """Convert a length in epochs into a length in update steps.

    An epoch-based schedule (the tutorial's unit, PyTorch's ``scheduler.step()``
    once per epoch) becomes a step-based one (optax's unit, the update count) by
    multiplying every length by the number of updates per epoch:

        steps = epochs * steps_per_epoch

    Apply it to ``transition_steps``, ``transition_begin``, ``decay_steps``,
    ``warmup_steps`` and boundaries alike. A staircase schedule then takes at
    step ``s`` the value the epoch schedule takes at epoch ``s // steps_per_epoch``;
    a smooth schedule also moves within an epoch (epoch ``s / steps_per_epoch``).

    Args:
        epochs: a length in epochs (an integer >= 0).
        steps_per_epoch: updates per epoch (an integer >= 1).

    Returns:
        The length in update steps, a Python int.

    Raises:
        ConfigError: ``epochs`` is not an int >= 0 or ``steps_per_epoch`` not an
            int >= 1 (bools, floats and tracers are refused).

    See Also:
        optax schedules count updates (e.g. ``optax.exponential_decay``'s
        ``transition_steps``); PyTorch's ``OneCycleLR(epochs=, steps_per_epoch=)``
        does the same multiplication.
    """
    e = check_int("epochs", epochs, low=0)
    k = check_int("steps_per_epoch", steps_per_epoch, low=1,
                  fix="It is ceil(n_examples / batch_size), or 1 for full-batch descent.")
    return e * k
