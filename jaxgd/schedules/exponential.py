"""Exponential schedules: smooth or staircase decay by a constant factor per period.

Also the epoch-based step decays. The tutorial decays BEFORE the update of
an epoch whose index is a multiple of the period, so it decays at epoch 0
already: `tutorial_step_decay` is one period ahead of `step_decay` (PyTorch's StepLR)
and of ``optax.exponential_decay(..., staircase=True)``.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from jaxgd.core.deprecation import deprecated_alias
from jaxgd.core.errors import ConfigError, check_positive
from jaxgd.core.transform import Schedule
from jaxgd.schedules.core import check_dtype, check_finite, check_int, compute_dtype, rounded
from jaxgd.schedules.join import join_schedules
from jaxgd.schedules.polynomial import constant_schedule, linear_schedule

_RATE_FIX = "It multiplies the value once per period: 0.9 decays, 1.0 holds, 1.1 grows."


def exponential_decay(
    init_value: Any,
    transition_steps: int,
    decay_rate: Any,
    transition_begin: int = 0,
    staircase: bool = False,
    end_value: Any = None,
    *,
    dtype: Any = None,
) -> Schedule:
    """Multiply ``init_value`` I by ``decay_rate`` r once every T steps, from step B.

        p    = (t - B) / T                  (staircase: floor((t - B) / T))
        v(t) = I * r**p                     for t > B, and I for t <= B
        v(t) = max(v(t), E) if r < 1 else min(v(t), E)   when ``end_value`` E is given

    As in optax, ``transition_steps <= 0`` gives the constant I. Unlike optax,
    ``decay_rate <= 0`` is refused (optax silently returns a constant for 0 and
    NaN for a negative rate).

    Args:
        init_value: I, a finite number (may be a tracer).
        transition_steps: T, the steps per factor of r.
        decay_rate: r > 0 (may be a tracer).
        transition_begin: B >= 0, steps held at I before the decay starts.
        staircase: decay in whole periods (True) or continuously (False).
        end_value: E, a bound the value does not cross (lower if r < 1, else upper).
        dtype: float dtype of the result (None: the default float at call time).

    Returns:
        ``schedule(step)`` for an integer step (an optimizer's int32 count, or an
        array of counts): the value has the step's shape and the float ``dtype``.

    Raises:
        ConfigError: ``init_value`` is not finite; ``transition_steps`` is not a
            concrete int; ``decay_rate`` is not > 0; ``transition_begin`` is not an
            int >= 0; ``staircase`` is not a bool; ``end_value`` is given and not
            finite; ``dtype`` is not a float dtype.

    See Also:
        ``optax.exponential_decay``; ``torch.optim.lr_scheduler.ExponentialLR(gamma=r)``
        stepped every update is T = 1, B = 0; ``StepLR(step_size=T, gamma=r)`` is the
        staircase with B = 0.
    """
    check_finite("init_value", init_value)
    T = check_int("transition_steps", transition_steps)
    check_positive("decay_rate", decay_rate, fix=_RATE_FIX)
    B = check_int("transition_begin", transition_begin, low=0,
                  fix="It counts the steps held at init_value before the decay.")
    if not isinstance(staircase, bool):
        raise ConfigError(f"staircase={staircase!r} must be True or False.")
    if end_value is not None:
        check_finite("end_value", end_value, fix="Pass None for no bound.")
    dtype = check_dtype(dtype)
    if T <= 0:
        return constant_schedule(init_value, dtype=dtype)

    def schedule(step):
        dt = compute_dtype(dtype)
        step = jnp.asarray(step)
        init, rate = jnp.asarray(init_value, dt), jnp.asarray(decay_rate, dt)
        p = jnp.floor_divide(step - B, T).astype(dt) if staircase else (step.astype(dt) - B) / T
        value = jnp.where(step <= B, init, init * rate**p)
        if end_value is not None:
            end = jnp.asarray(end_value, dt)
            value = jnp.where(rate < 1, jnp.maximum(value, end), jnp.minimum(value, end))
        return value

    return rounded(schedule, dtype)


def warmup_exponential_decay_schedule(
    init_value: Any,
    peak_value: Any,
    warmup_steps: int,
    transition_steps: int,
    decay_rate: Any,
    transition_begin: int = 0,
    staircase: bool = False,
    end_value: Any = None,
    *,
    dtype: Any = None,
) -> Schedule:
    """Linear warmup from I to ``peak_value`` P over W steps, then `exponential_decay` from P.

        v(t) = I + (P - I) * t / W                          for t < W
        v(t) = exponential_decay(P, T, r, B, staircase, E)(t - W)   for t >= W

    Args:
        init_value: I, the value at step 0.
        peak_value: P, the value at the end of the warmup.
        warmup_steps: W >= 0.
        transition_steps, decay_rate, transition_begin, staircase, end_value: as in
            `exponential_decay`, counted from the end of the warmup.
        dtype: float dtype of the result (None: the default float at call time).

    Returns:
        ``schedule(step)`` for an integer step (an optimizer's int32 count, or an
        array of counts): the value has the step's shape and the float ``dtype``.

    Raises:
        ConfigError: ``init_value`` or ``peak_value`` is not finite; ``warmup_steps``
            is not an int >= 0; the decay's arguments as in `exponential_decay`.

    References:
        Goyal et al. (2017), "Accurate, large minibatch SGD: training ImageNet in 1
        hour", arXiv:1706.02677 (gradual warmup).

    See Also:
        ``optax.warmup_exponential_decay_schedule``; in PyTorch, ``SequentialLR`` of
        a ``LinearLR`` warmup and an ``ExponentialLR``.
    """
    check_finite("init_value", init_value)
    check_finite("peak_value", peak_value)
    W = check_int("warmup_steps", warmup_steps, low=0, fix="Use 0 for no warmup.")
    warmup = linear_schedule(init_value, peak_value, W, dtype=dtype)
    decay = exponential_decay(peak_value, transition_steps, decay_rate, transition_begin,
                              staircase, end_value, dtype=dtype)
    return join_schedules([warmup, decay], [W], dtype=dtype)


def _check_epoch_decay(init_value, every, factor, steps_per_epoch) -> tuple[int, int]:
    check_finite("init_value", init_value)
    n = check_int("every", every, low=1, fix="It is the decay period in epochs, e.g. every=100.")
    check_positive("factor", factor, fix="It multiplies the value once per period, e.g. 0.9.")
    k = check_int("steps_per_epoch", steps_per_epoch, low=1,
                  fix="It is ceil(n_examples / batch_size), or 1 for full-batch descent.")
    return n, k


def _epoch_step_decay(init_value, every, factor, steps_per_epoch, dtype, periods_ahead: int) -> Schedule:
    """``I * factor**((t // steps_per_epoch) // every + periods_ahead)``, checked."""
    n, k = _check_epoch_decay(init_value, every, factor, steps_per_epoch)
    dtype = check_dtype(dtype)

    def schedule(step):
        dt = compute_dtype(dtype)
        periods = jnp.floor_divide(jnp.asarray(step), k) // n + periods_ahead
        return jnp.asarray(init_value, dt) * jnp.asarray(factor, dt) ** periods.astype(dt)

    return rounded(schedule, dtype)


def step_decay(
    init_value: Any, every: int, factor: Any, steps_per_epoch: int = 1, *, dtype: Any = None
) -> Schedule:
    """Textbook step decay (PyTorch's StepLR, once per epoch): first decay after ``every`` epochs.

        epoch = t // steps_per_epoch
        v(t)  = I * factor**(epoch // every)

    Same as ``optax.exponential_decay(I, every * steps_per_epoch, factor, staircase=True)``
    and as ``torch.optim.lr_scheduler.StepLR(step_size=every, gamma=factor)`` stepped
    once per epoch.

    Args:
        init_value: I, a finite number (may be a tracer).
        every: the period in epochs (an int >= 1).
        factor: the multiplier per period, > 0 (may be a tracer).
        steps_per_epoch: updates per epoch; the schedule takes the update count t.
        dtype: float dtype of the result (None: the default float at call time).

    Returns:
        ``schedule(step)`` for an integer step (an optimizer's int32 count, or an
        array of counts): the value has the step's shape and the float ``dtype``.

    Raises:
        ConfigError: ``init_value`` is not finite; ``every`` is not an int >= 1;
            ``factor`` is not > 0; ``steps_per_epoch`` is not an int >= 1; ``dtype``
            is not a float dtype.

    See Also:
        ``optax.exponential_decay(..., staircase=True)``; ``torch.optim.lr_scheduler.StepLR``.
    """
    return _epoch_step_decay(init_value, every, factor, steps_per_epoch, dtype, periods_ahead=0)


def tutorial_step_decay(
    init_value: Any,
    every: int = 100,
    factor: Any = 0.9,
    steps_per_epoch: int = 1,
    *,
    dtype: Any = None,
) -> Schedule:
    """The tutorial's step decay, which already decays at epoch 0.

    The tutorial runs ``if epoch % every == 0: lr *= factor`` BEFORE each epoch's
    update, so epoch 0 trains with ``I * factor``:

        epoch = t // steps_per_epoch
        v(t)  = I * factor**(epoch // every + 1)

    That is one period earlier than `step_decay` and than
    ``optax.exponential_decay(I, every * steps_per_epoch, factor, staircase=True)``;
    the optax form of this schedule is
    ``optax.exponential_decay(I * factor, every * steps_per_epoch, factor, staircase=True)``.

    Args:
        init_value: I, the tutorial's ``learning_rate`` before the loop (may be a tracer).
        every: the period in epochs (the tutorial's 100).
        factor: the multiplier per period, > 0 (the tutorial's 0.9).
        steps_per_epoch: updates per epoch; the schedule takes the update count t.
        dtype: float dtype of the result (None: the default float at call time).

    Returns:
        ``schedule(step)`` for an integer step (an optimizer's int32 count, or an
        array of counts): the value has the step's shape and the float ``dtype``.

    Raises:
        ConfigError: ``init_value`` is not finite; ``every`` is not an int >= 1;
            ``factor`` is not > 0; ``steps_per_epoch`` is not an int >= 1; ``dtype``
            is not a float dtype.

    See Also:
        ``optax.exponential_decay(I * factor, every * steps_per_epoch, factor,
        staircase=True)``; `step_decay` for the textbook (PyTorch ``StepLR``) timing.
    """
    return _epoch_step_decay(init_value, every, factor, steps_per_epoch, dtype, periods_ahead=1)


seed_step_decay = deprecated_alias(tutorial_step_decay, "jaxgd.schedules.seed_step_decay",
                                   "jaxgd.schedules.tutorial_step_decay")
