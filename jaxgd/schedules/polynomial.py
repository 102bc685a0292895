"""Constant and polynomial schedules: hold a value, or move it from I to E along (1 - x)**P."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from jaxgd.core.errors import check_positive
from jaxgd.core.transform import Schedule
from jaxgd.schedules.core import check_dtype, check_finite, check_int, compute_dtype, rounded


def constant_schedule(value: Any, *, dtype: Any = None) -> Schedule:
    """A schedule that always returns ``value``.

        v(t) = value

    Args:
        value: the value held (a finite number; may be a tracer).
        dtype: float dtype of the result; None means the default float dtype at
            call time (float64 under x64, else float32).

    Returns:
        ``schedule(step)``: ``value`` with the step's shape, in the float ``dtype``.

    Raises:
        ConfigError: ``value`` is not a finite real scalar; ``dtype`` is not a float dtype.

    See Also:
        ``optax.constant_schedule``; in PyTorch, a fixed ``lr`` with no scheduler.
    """
    check_finite("value", value)
    dtype = check_dtype(dtype)

    def schedule(step):
        return jnp.full(jnp.shape(step), value, compute_dtype(dtype))

    return rounded(schedule, dtype)


def polynomial_schedule(
    init_value: Any,
    end_value: Any,
    power: Any,
    transition_steps: int,
    transition_begin: int = 0,
    *,
    dtype: Any = None,
) -> Schedule:
    """Move from ``init_value`` I to ``end_value`` E along a polynomial of power P.

    With B = ``transition_begin`` and T = ``transition_steps``:

        tau  = clip(t - B, 0, T)            (steps into the transition)
        frac = 1 - tau / T
        v(t) = (I - E) * frac**P + E

    so v = I for t <= B, v = E for t >= B + T. As in optax, ``transition_steps <= 0``
    disables the transition: v(t) = I.

    Args:
        init_value: I, a finite number (may be a tracer).
        end_value: E, a finite number (may be a tracer).
        power: P > 0; 1 is linear, 2 quadratic.
        transition_steps: T, the length of the transition in steps (an int).
        transition_begin: B >= 0, steps held at I before the transition starts.
        dtype: float dtype of the result (None: the default float at call time).

    Returns:
        ``schedule(step)`` for an integer step (an optimizer's int32 count, or an
        array of counts): the value has the step's shape and the float ``dtype``.

    Raises:
        ConfigError: ``init_value`` or ``end_value`` is not finite; ``power`` is not
            > 0; ``transition_steps`` is not a concrete int (a bool or tracer is
            refused); ``transition_begin`` is not an int >= 0; ``dtype`` is not a
            float dtype.

    See Also:
        ``optax.polynomial_schedule``; ``torch.optim.lr_scheduler.PolynomialLR(
        total_iters=T, power=P)`` is the case ``E = 0``, ``B = 0``.
    """
    check_finite("init_value", init_value)
    check_finite("end_value", end_value)
    check_positive("power", power, fix="Use power=1 for a linear ramp, 2 for a quadratic one.")
    T = check_int("transition_steps", transition_steps)
    B = check_int("transition_begin", transition_begin, low=0,
                  fix="It counts the steps held at init_value before the transition.")
    dtype = check_dtype(dtype)
    if T <= 0:
        return constant_schedule(init_value, dtype=dtype)

    def schedule(step):
        dt = compute_dtype(dtype)
        t = jnp.asarray(step).astype(dt)
        init, end = jnp.asarray(init_value, dt), jnp.asarray(end_value, dt)
        tau = jnp.clip(t - B, 0, T)
        frac = 1 - tau / T
        return (init - end) * frac**power + end

    return rounded(schedule, dtype)


def linear_schedule(
    init_value: Any,
    end_value: Any,
    transition_steps: int,
    transition_begin: int = 0,
    *,
    dtype: Any = None,
) -> Schedule:
    """Move linearly from ``init_value`` I to ``end_value`` E over T steps from step B.

        v(t) = I + (E - I) * clip(t - B, 0, T) / T

    This is `polynomial_schedule` with power 1 (and ``transition_steps <= 0`` holds I).

    Args:
        init_value: I, a finite number (may be a tracer).
        end_value: E, a finite number (may be a tracer).
        transition_steps: T, the length of the ramp in steps.
        transition_begin: B >= 0, steps held at I before the ramp.
        dtype: float dtype of the result (None: the default float at call time).

    Returns:
        ``schedule(step)`` for an integer step (an optimizer's int32 count, or an
        array of counts): the value has the step's shape and the float ``dtype``.

    Raises:
        ConfigError: as `polynomial_schedule` (``init_value``, ``end_value``,
            ``transition_steps``, ``transition_begin``, ``dtype``).

    See Also:
        ``optax.linear_schedule``; ``torch.optim.lr_scheduler.LinearLR(start_factor,
        end_factor, total_iters=T)`` on a base lr L gives I = start_factor * L,
        E = end_factor * L, B = 0.
    """
    return polynomial_schedule(init_value, end_value, 1, transition_steps, transition_begin,
                               dtype=dtype)


def warmup_constant_schedule(
    init_value: Any, peak_value: Any, warmup_steps: int, *, dtype: Any = None
) -> Schedule:
    """Linear warmup from ``init_value`` I to ``peak_value`` P over W steps, then hold P.

        v(t) = I + (P - I) * min(t, W) / W

    Args:
        init_value: I, a finite number (may be a tracer).
        peak_value: P, a finite number (may be a tracer).
        warmup_steps: W, the warmup length (W <= 0 holds I, as in optax).
        dtype: float dtype of the result (None: the default float at call time).

    Returns:
        ``schedule(step)`` for an integer step (an optimizer's int32 count, or an
        array of counts): the value has the step's shape and the float ``dtype``.

    Raises:
        ConfigError: ``init_value`` or ``peak_value`` is not finite; ``warmup_steps``
            is not a concrete int (the message calls it ``transition_steps``);
            ``dtype`` is not a float dtype.

    References:
        Goyal et al. (2017), "Accurate, large minibatch SGD: training ImageNet in 1
        hour", arXiv:1706.02677 (gradual warmup).

    See Also:
        ``optax.warmup_constant_schedule``; ``torch.optim.lr_scheduler.LinearLR(
        start_factor=I / P, total_iters=W)`` on a base lr P (it needs 0 < I <= P).
    """
    check_finite("peak_value", peak_value)
    return linear_schedule(init_value, peak_value, warmup_steps, dtype=dtype)
