"""Cosine schedules: half a cosine from I down to alpha * I, with warmup and warm restarts."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import jax.numpy as jnp

from jaxgd.core.errors import ConfigError, check_nonnegative, check_positive
from jaxgd.core.transform import Schedule
from jaxgd.schedules.core import check_dtype, check_finite, check_int, compute_dtype, rounded
from jaxgd.schedules.join import join_schedules
from jaxgd.schedules.polynomial import linear_schedule

_EXPONENT_FIX = "exponent=1 is the plain cosine; larger values decay sooner."


def _cosine(init_value, decay_steps, alpha, exponent, dtype) -> Schedule:
    """The cosine decay of `cosine_decay_schedule`, arguments already checked."""

    def schedule(step):
        dt = compute_dtype(dtype)
        t = jnp.asarray(step).astype(dt)
        init, a = jnp.asarray(init_value, dt), jnp.asarray(alpha, dt)
        tau = jnp.minimum(t, decay_steps)
        c = 0.5 * (1 + jnp.cos(jnp.pi * tau / decay_steps))
        return init * ((1 - a) * c**exponent + a)

    return rounded(schedule, dtype)


def cosine_decay_schedule(
    init_value: Any,
    decay_steps: int,
    alpha: Any = 0.0,
    exponent: Any = 1.0,
    *,
    dtype: Any = None,
) -> Schedule:
    """Half a cosine from ``init_value`` I down to ``alpha * I`` over T steps, then hold.

        tau  = min(t, T)
        c    = (1 + cos(pi * tau / T)) / 2
        v(t) = I * ((1 - alpha) * c**p + alpha)

    Args:
        init_value: I, a finite number (may be a tracer).
        decay_steps: T >= 1 (optax raises for T <= 0, so does jaxgd).
        alpha: the final fraction of I, >= 0 (above 1 the value rises to alpha * I).
        exponent: p > 0, the power of the cosine factor.
        dtype: float dtype of the result (None: the default float at call time).

    Returns:
        ``schedule(step)`` for an integer step (an optimizer's int32 count, or an
        array of counts): the value has the step's shape and the float ``dtype``.

    Raises:
        ConfigError: ``init_value`` is not finite; ``decay_steps`` is not an int >= 1;
            ``alpha`` is negative or not finite; ``exponent`` is not > 0; ``dtype``
            is not a float dtype.

    References:
        Loshchilov & Hutter (2016), "SGDR: stochastic gradient descent with warm
        restarts", arXiv:1608.03983 (ICLR 2017).

    See Also:
        ``optax.cosine_decay_schedule``; ``torch.optim.lr_scheduler.CosineAnnealingLR(
        T_max=T, eta_min=alpha * I)`` for p = 1 and t <= T.
    """
    check_finite("init_value", init_value)
    T = check_int("decay_steps", decay_steps, low=1, fix="It is the length of the decay.")
    check_nonnegative("alpha", alpha, fix="It is the final value as a fraction of init_value.")
    check_positive("exponent", exponent, fix=_EXPONENT_FIX)
    return _cosine(init_value, T, alpha, exponent, check_dtype(dtype))


def warmup_cosine_decay_schedule(
    init_value: Any,
    peak_value: Any,
    warmup_steps: int,
    decay_steps: int,
    end_value: Any = 0.0,
    exponent: Any = 1.0,
    *,
    dtype: Any = None,
) -> Schedule:
    """Linear warmup from I to ``peak_value`` P over W steps, then cosine decay to E.

    ``decay_steps`` D counts the whole schedule, warmup included (as in optax):

        alpha = E / P                                  (0 when P = 0)
        v(t)  = I + (P - I) * t / W                    for t < W
        v(t)  = cosine_decay(P, D - W, alpha, p)(t - W)   for t >= W

    Args:
        init_value: I, the value at step 0.
        peak_value: P, the value at the end of the warmup.
        warmup_steps: W >= 0.
        decay_steps: D > W, the total length.
        end_value: E, the value from step D on.
        exponent: p > 0, the power of the cosine factor.
        dtype: float dtype of the result (None: the default float at call time).

    Returns:
        ``schedule(step)`` for an integer step (an optimizer's int32 count, or an
        array of counts): the value has the step's shape and the float ``dtype``.

    Raises:
        ConfigError: ``init_value``, ``peak_value`` or ``end_value`` is not finite;
            ``warmup_steps`` is not an int >= 0; ``decay_steps`` is not an int > W;
            ``exponent`` is not > 0; ``dtype`` is not a float dtype.

    References:
        Goyal et al. (2017), arXiv:1706.02677 (gradual warmup); Loshchilov & Hutter
        (2016), arXiv:1608.03983 (cosine decay).

    See Also:
        ``optax.warmup_cosine_decay_schedule``; in PyTorch, ``SequentialLR`` of a
        ``LinearLR`` warmup and a ``CosineAnnealingLR(T_max=D - W, eta_min=E)``.
    """
    check_finite("init_value", init_value)
    check_finite("peak_value", peak_value)
    check_finite("end_value", end_value)
    W = check_int("warmup_steps", warmup_steps, low=0, fix="Use 0 for no warmup.")
    D = check_int("decay_steps", decay_steps, low=W + 1,
                  fix=f"It counts the whole schedule, warmup_steps={W} included.")
    check_positive("exponent", exponent, fix=_EXPONENT_FIX)
    dtype = check_dtype(dtype)

    def alpha_at(dt):
        peak, end = jnp.asarray(peak_value, dt), jnp.asarray(end_value, dt)
        return jnp.where(peak == 0, 0, end / jnp.where(peak == 0, 1, peak))

    def decay(step):
        dt = compute_dtype(dtype)
        return _cosine(peak_value, D - W, alpha_at(dt), exponent, dt)(step)

    warmup = linear_schedule(init_value, peak_value, W, dtype=dtype)
    return join_schedules([warmup, decay], [W], dtype=dtype)


def sgdr_schedule(cosine_kwargs: Iterable[dict[str, Any]], *, dtype: Any = None) -> Schedule:
    """SGD with warm restarts: `warmup_cosine_decay_schedule` cycles, one after another.

    Cycle k runs ``warmup_cosine_decay_schedule(**cosine_kwargs[k])`` for its own
    ``decay_steps`` D_k, restarting its step count:

        b_k  = D_0 + ... + D_(k-1)
        v(t) = cycle_k(t - b_k)     for b_k <= t < b_(k+1)   (the last cycle runs on)

    Args:
        cosine_kwargs: the cycles' keyword arguments, at least one dict.
        dtype: float dtype of the result (None: the default float at call time).

    Returns:
        ``schedule(step)`` for an integer step (an optimizer's int32 count, or an
        array of counts): the value has the step's shape and the float ``dtype``.

    Raises:
        ConfigError: ``cosine_kwargs`` is empty or holds something other than dicts;
            a cycle's arguments are refused by `warmup_cosine_decay_schedule` (also
            a missing or unknown keyword), the message naming the cycle; ``dtype``
            is not a float dtype (reported for cycle 0).

    References:
        Loshchilov & Hutter (2016), "SGDR: stochastic gradient descent with warm
        restarts", arXiv:1608.03983 (ICLR 2017).

    See Also:
        ``optax.sgdr_schedule``; ``torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        T_0=D, T_mult=1, eta_min=E)`` for equal cycles without warmup.
    """
    cycles = list(cosine_kwargs)
    if not cycles or not all(isinstance(kw, dict) for kw in cycles):
        raise ConfigError(
            f"cosine_kwargs={cycles!r} must be a non-empty list of dicts, one per cycle, e.g. "
            "[dict(init_value=0.0, peak_value=0.1, warmup_steps=10, decay_steps=100)].")
    schedules, boundaries, start = [], [], 0
    for k, kw in enumerate(cycles):
        try:
            schedules.append(warmup_cosine_decay_schedule(**kw, dtype=dtype))
        except (ConfigError, TypeError) as err:
            raise ConfigError(f"cosine_kwargs[{k}]={kw!r}: {err} Each cycle takes the arguments "
                              "of warmup_cosine_decay_schedule.") from err
        start += kw["decay_steps"]
        boundaries.append(start)
    return join_schedules(schedules, boundaries[:-1], dtype=dtype)
