"""Piecewise schedules: scale the value at given steps, in jumps or by interpolating.

The one-cycle schedules (Smith & Topin, 2017) are piecewise interpolations.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from jaxgd.core.errors import ConfigError, check_choice, check_positive, check_range, is_concrete
from jaxgd.core.transform import Schedule
from jaxgd.schedules.core import (
    check_boundaries,
    check_dtype,
    check_finite,
    check_int,
    compute_dtype,
    rounded,
)


def piecewise_constant_schedule(
    init_value: Any, boundaries_and_scales: dict[int, Any] | None = None, *, dtype: Any = None
) -> Schedule:
    """Start at ``init_value`` I; from step b_k on, multiply by s_k (a jump).

        v(t) = I * prod over {k : t >= b_k} of s_k

    Args:
        init_value: I, a finite number (may be a tracer).
        boundaries_and_scales: ``{b_k: s_k}`` with steps b_k >= 0 and scales s_k >= 0.
        dtype: float dtype of the result (None: the default float at call time).

    Returns:
        ``schedule(step)`` for an integer step (an optimizer's int32 count, or an
        array of counts): the value has the step's shape and the float ``dtype``.

    Raises:
        ConfigError: ``init_value`` is not finite; ``boundaries_and_scales`` is not a
            dict (or None), has a key that is not an int >= 0, or a scale that is
            negative or not finite; ``dtype`` is not a float dtype.

    See Also:
        ``optax.piecewise_constant_schedule``; ``torch.optim.lr_scheduler.MultiStepLR(
        milestones, gamma)`` is the case of one scale ``gamma`` at every milestone.
    """
    check_finite("init_value", init_value)
    bounds, scales = check_boundaries("boundaries_and_scales", boundaries_and_scales)
    dtype = check_dtype(dtype)

    def schedule(step):
        dt = compute_dtype(dtype)
        step = jnp.asarray(step)
        value = jnp.full(step.shape, init_value, dt)
        for b, s in zip(bounds, scales, strict=True):
            value = jnp.where(step >= b, value * jnp.asarray(s, dt), value)
        return value

    return rounded(schedule, dtype)


def _linear(a, b, x):
    """From a (x = 0) to b (x = 1) along a line."""
    return (b - a) * x + a


def _cosine(a, b, x):
    """From a (x = 0) to b (x = 1) along half a cosine."""
    return b + (a - b) / 2 * (jnp.cos(jnp.pi * x) + 1)


def piecewise_interpolate_schedule(
    interpolate_type: str,
    init_value: Any,
    boundaries_and_scales: dict[int, Any] | None = None,
    *,
    dtype: Any = None,
) -> Schedule:
    """Interpolate between the values v_k = I * s_1 * ... * s_k reached at steps b_k.

    With b_0 = 0 and v_0 = I, on each segment b_(k-1) <= t < b_k:

        x    = (t - b_(k-1)) / max(b_k - b_(k-1), 1)
        v(t) = v_(k-1) + (v_k - v_(k-1)) * x                      ('linear')
        v(t) = v_k + (v_(k-1) - v_k) * (1 + cos(pi * x)) / 2      ('cosine')

    and v(t) = v_n for t >= b_n. The scales multiply up: the schedule interpolates
    between the running products, not between the scales themselves.

    Args:
        interpolate_type: ``'linear'`` or ``'cosine'``.
        init_value: I, a finite number (may be a tracer).
        boundaries_and_scales: ``{b_k: s_k}`` with steps b_k >= 0 and scales s_k >= 0.
        dtype: float dtype of the result (None: the default float at call time).

    Returns:
        ``schedule(step)`` for an integer step (an optimizer's int32 count, or an
        array of counts): the value has the step's shape and the float ``dtype``.

    Raises:
        ConfigError: ``interpolate_type`` is not 'linear' or 'cosine'
            (UnknownNameError); ``init_value`` or ``boundaries_and_scales`` as in
            `piecewise_constant_schedule`; ``dtype`` is not a float dtype.

    See Also:
        ``optax.piecewise_interpolate_schedule``.
    """
    kind = check_choice("interpolate_type", interpolate_type, ("linear", "cosine"))
    interpolate = _linear if kind == "linear" else _cosine
    check_finite("init_value", init_value)
    bounds, scales = check_boundaries("boundaries_and_scales", boundaries_and_scales)
    starts = (0, *bounds)
    dtype = check_dtype(dtype)

    def schedule(step):
        dt = compute_dtype(dtype)
        step = jnp.asarray(step)
        t = step.astype(dt)
        values = [jnp.asarray(init_value, dt)]
        for s in scales:
            values.append(values[-1] * jnp.asarray(s, dt))
        value = jnp.where(step >= starts[-1], values[-1], jnp.zeros(step.shape, dt))
        for k in range(1, len(starts)):
            x = (t - starts[k - 1]) / max(starts[k] - starts[k - 1], 1)
            inside = (starts[k - 1] <= step) & (step < starts[k])
            value = jnp.where(inside, interpolate(values[k - 1], values[k], x), value)
        return value

    return rounded(schedule, dtype)


def _fraction(name: str, value: Any, steps: int, fix: str) -> int:
    """``int(value * steps)`` for a concrete fraction in (0, 1)."""
    if not is_concrete(value):
        raise ConfigError(f"{name} must be a concrete float (it places the phase boundaries), "
                          "not a tracer. Sweep peak_value instead, or build one schedule per "
                          f"{name}.")
    check_range(name, value, low=0.0, high=1.0, low_open=True, high_open=True, fix=fix)
    return int(value * steps)


def _check_onecycle(transition_steps, peak_value, div_factor, final_div_factor) -> int:
    T = check_int("transition_steps", transition_steps, low=1,
                  fix="It is the length of the whole cycle in steps.")
    check_finite("peak_value", peak_value)
    check_positive("div_factor", div_factor, fix="The cycle starts at peak_value / div_factor.")
    check_positive("final_div_factor", final_div_factor,
                   fix="The cycle ends at peak_value / (div_factor * final_div_factor).")
    return T


def linear_onecycle_schedule(
    transition_steps: int,
    peak_value: Any,
    pct_start: float = 0.3,
    pct_final: float = 0.85,
    div_factor: Any = 25.0,
    final_div_factor: Any = 1e4,
    *,
    dtype: Any = None,
) -> Schedule:
    """One cycle in three linear phases: up to ``peak_value`` P, back down, then to the floor.

    With a = P / div_factor, z = a / final_div_factor, s = int(pct_start * T) and
    f = int(pct_final * T):

        v(t) = a + (P - a) * t / s                  for 0 <= t < s
        v(t) = P + (a - P) * (t - s) / (f - s)      for s <= t < f
        v(t) = a + (z - a) * (t - f) / (T - f)      for f <= t < T
        v(t) = z                                    for t >= T

    Built, as in optax, as a linear `piecewise_interpolate_schedule` from a with
    scales ``{s: div_factor, f: 1 / div_factor, T: 1 / final_div_factor}``.

    Args:
        transition_steps: T >= 1, the cycle length.
        peak_value: P, the top of the cycle (may be a tracer).
        pct_start: fraction of T spent rising, with 0 < s.
        pct_final: fraction of T at which the value is back at a, with s < f < T.
        div_factor: a = P / div_factor, > 0.
        final_div_factor: z = a / final_div_factor, > 0.
        dtype: float dtype of the result (None: the default float at call time).

    Returns:
        ``schedule(step)`` for an integer step (an optimizer's int32 count, or an
        array of counts): the value has the step's shape and the float ``dtype``.

    Raises:
        ConfigError: ``transition_steps`` is not an int >= 1; ``peak_value`` is not
            finite; ``div_factor`` or ``final_div_factor`` is not > 0; ``pct_start``
            or ``pct_final`` is a tracer or outside (0, 1); the phase boundaries are
            not ``0 < s < f < T``; ``dtype`` is not a float dtype.

    References:
        Smith & Topin (2017), "Super-convergence: very fast training of neural
        networks using large learning rates", arXiv:1708.07120.
        Smith (2018), "A disciplined approach to neural network hyper-parameters:
        part 1", arXiv:1803.09820.

    See Also:
        ``optax.linear_onecycle_schedule``; ``torch.optim.lr_scheduler.OneCycleLR(
        anneal_strategy="linear", three_phase=True)`` with ``pct_final = 2 * pct_start``
        (same defaults; PyTorch ends its phases at steps pct_start*T - 1,
        2*pct_start*T - 2 and T - 1).
    """
    T = _check_onecycle(transition_steps, peak_value, div_factor, final_div_factor)
    fix = "Phases need 0 < int(pct_start*T) < int(pct_final*T) < T."
    s = _fraction("pct_start", pct_start, T, fix)
    f = _fraction("pct_final", pct_final, T, fix)
    if not 0 < s < f < T:
        raise ConfigError(
            f"pct_start={pct_start!r}, pct_final={pct_final!r} with transition_steps={T} give "
            f"phase boundaries {s}, {f}, {T}, which are not strictly increasing from 1. {fix} "
            "Raise transition_steps or spread the fractions.")
    return piecewise_interpolate_schedule(
        "linear", peak_value / div_factor,
        {s: div_factor, f: 1.0 / div_factor, T: 1.0 / final_div_factor}, dtype=dtype)


def cosine_onecycle_schedule(
    transition_steps: int,
    peak_value: Any,
    pct_start: float = 0.3,
    div_factor: Any = 25.0,
    final_div_factor: Any = 1e4,
    *,
    dtype: Any = None,
) -> Schedule:
    """One cycle in two cosine phases: up to ``peak_value`` P, then down to the floor.

    With a = P / div_factor, z = a / final_div_factor and s = int(pct_start * T):

        v(t) = P + (a - P) * (1 + cos(pi * t / s)) / 2                for 0 <= t < s
        v(t) = z + (P - z) * (1 + cos(pi * (t - s) / (T - s))) / 2    for s <= t < T
        v(t) = z                                                      for t >= T

    Built, as in optax, as a cosine `piecewise_interpolate_schedule` from a with
    scales ``{s: div_factor, T: 1 / (div_factor * final_div_factor)}``.

    Args:
        transition_steps: T >= 1, the cycle length.
        peak_value: P, the top of the cycle (may be a tracer).
        pct_start: fraction of T spent rising, with 0 < s < T.
        div_factor: a = P / div_factor, > 0.
        final_div_factor: z = a / final_div_factor, > 0.
        dtype: float dtype of the result (None: the default float at call time).

    Returns:
        ``schedule(step)`` for an integer step (an optimizer's int32 count, or an
        array of counts): the value has the step's shape and the float ``dtype``.

    Raises:
        ConfigError: ``transition_steps`` is not an int >= 1; ``peak_value`` is not
            finite; ``div_factor`` or ``final_div_factor`` is not > 0; ``pct_start``
            is a tracer or outside (0, 1); the rise ``s`` is not ``0 < s < T``;
            ``dtype`` is not a float dtype.

    References:
        Smith & Topin (2017), "Super-convergence: very fast training of neural
        networks using large learning rates", arXiv:1708.07120.

    See Also:
        ``optax.cosine_onecycle_schedule``; ``torch.optim.lr_scheduler.OneCycleLR(
        anneal_strategy="cos")`` (same defaults; PyTorch ends its phases at steps
        pct_start*T - 1 and T - 1).
    """
    T = _check_onecycle(transition_steps, peak_value, div_factor, final_div_factor)
    fix = "The rise needs 0 < int(pct_start*T) < T."
    s = _fraction("pct_start", pct_start, T, fix)
    if not 0 < s < T:
        raise ConfigError(
            f"pct_start={pct_start!r} with transition_steps={T} gives a rise of {s} steps. "
            f"{fix} Raise transition_steps or pct_start.")
    return piecewise_interpolate_schedule(
        "cosine", peak_value / div_factor,
        {s: div_factor, T: 1.0 / (div_factor * final_div_factor)}, dtype=dtype)
