"""Small gradient transforms written by hand; named optimizers are chains of these.

Each has the same name, keyword names, state fields and numerics as its optax
namesake, so the two can be swapped and cross-checked.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxgd.core.errors import check_decay, check_learning_rate, check_nonnegative, check_range
from jaxgd.core.transform import (
    EmptyState,
    ScalarOrSchedule,
    Transform,
    empty_init,
    safe_increment,
    set_to_zero,
)
from jaxgd.core.tree import (
    tree_bias_correction,
    tree_cast,
    tree_nesterov_bias_correction,
    tree_zeros_like,
)
from jaxgd.optimizers.combine import masked

__all__ = [
    "scale", "scale_by_schedule", "scale_by_learning_rate", "trace", "add_decayed_weights",
    "decayed_weights", "WeightDecayState",
    "scale_by_adam", "ema", "set_to_zero", "ScaleByScheduleState", "TraceState", "ScaleByAdamState",
    "EmaState",
]


class ScaleByScheduleState(NamedTuple):
    count: jax.Array  # int32 scalar: updates applied so far


class TraceState(NamedTuple):
    trace: Any  # like params: the momentum buffer m


class EmaState(NamedTuple):
    count: jax.Array  # int32 scalar: updates averaged so far
    ema: Any  # like params (accumulator_dtype if given): the moving average e


class ScaleByAdamState(NamedTuple):
    count: jax.Array  # int32 scalar: t - 1 before the update
    mu: Any  # like params: first moment m
    nu: Any  # like params: second moment v


def scale(step_size: float) -> Transform:
    """``u = step_size * g``."""
    check_range("step_size", step_size)

    def update(grads, state, params=None, **extra):
        del params, extra
        return jax.tree.map(lambda g: jnp.asarray(step_size, g.dtype) * g, grads), state

    return Transform(empty_init, update)


def scale_by_schedule(step_size_fn) -> Transform:
    """``u = schedule(count) * g``; ``count`` is the number of earlier updates."""

    def init(params):
        del params
        return ScaleByScheduleState(count=jnp.zeros([], jnp.int32))

    def update(grads, state, params=None, **extra):
        del params, extra
        step_size = step_size_fn(state.count)
        updates = jax.tree.map(lambda g: jnp.asarray(step_size, g.dtype) * g, grads)
        return updates, ScaleByScheduleState(count=safe_increment(state.count))

    return Transform(init, update)


def scale_by_learning_rate(learning_rate: ScalarOrSchedule, *, flip_sign: bool = True) -> Transform:
    """``u = -lr * g`` (descent); a schedule ``lr(count)`` is evaluated before the count grows."""
    check_learning_rate(learning_rate)
    sign = -1 if flip_sign else 1
    if callable(learning_rate):
        return scale_by_schedule(lambda count: sign * learning_rate(count))
    return scale(sign * learning_rate)


def trace(decay: float, nesterov: bool = False, accumulator_dtype: Any = None) -> Transform:
    """Momentum in optax's form (heavy ball; lr is applied later in the chain).

        m_t = g_t + decay * m_{t-1}
        u_t = g_t + decay * m_t      (nesterov)
        u_t = m_t                    (otherwise)
    """
    check_decay("momentum", decay)

    def init(params):
        return TraceState(trace=tree_zeros_like(params, accumulator_dtype))

    def update(grads, state, params=None, **extra):
        del params, extra
        m = jax.tree.map(lambda g, t: g + decay * t, grads, state.trace)
        u = jax.tree.map(lambda g, t: g + decay * t, grads, m) if nesterov else m
        return u, TraceState(trace=tree_cast(m, accumulator_dtype))

    return Transform(init, update)


class WeightDecayState(NamedTuple):
    count: jax.Array  # int32 scalar: updates so far (kept only when the decay is a schedule)


def decayed_weights(weight_decay: ScalarOrSchedule, mask: Any = None) -> Transform:
    """``u = g + wd_t * p``, with no check on ``wd`` (Fromage needs a negative one).

    A constant keeps no state; a schedule keeps a count, evaluated before it grows
    (optax's ``add_decayed_weights`` in full). With ``mask`` only the selected leaves
    are decayed.
    """
    scheduled = callable(weight_decay)

    def init(params):
        del params
        return WeightDecayState(count=jnp.zeros([], jnp.int32)) if scheduled else EmptyState()

    def update(grads, state, params=None, **extra):
        del extra
        if params is None:
            raise ValueError("weight decay needs params: call update(grads, state, params).")
        if not scheduled:
            return jax.tree.map(lambda g, p: g + weight_decay * p, grads, params), state
        wd = weight_decay(state.count)
        updates = jax.tree.map(lambda g, p: g + jnp.asarray(wd, g.dtype) * p, grads, params)
        return updates, WeightDecayState(count=safe_increment(state.count))

    tx = Transform(init, update)
    if mask is None:
        return tx
    return masked(tx, mask)


def add_decayed_weights(weight_decay: ScalarOrSchedule = 0.0, mask: Any = None) -> Transform:
    """Coupled L2 / weight decay on the gradient: ``u = g + weight_decay * p``.

    With ``weight_decay = 2 * lambda`` this is the gradient of the tutorial's penalty
    ``lambda * sum(W**2)`` when the mask selects the weights only.

    Args:
        weight_decay: the factor ``wd >= 0``, or a schedule of the step count.
        mask: a pytree of bools like params (or a function params -> such a tree);
            only True leaves are decayed.
    """
    check_weight_decay(weight_decay)
    return decayed_weights(weight_decay, mask)


def check_weight_decay(value: Any, name: str = "weight_decay") -> Any:
    """Return ``value`` if it is a weight decay: a finite number >= 0, or a schedule.

    The one check of every decay argument; ``name`` is the argument's name in the
    error (``weight_decay_rate`` in adafactor). Raises ConfigError otherwise.
    """
    if callable(value):
        return value
    return check_nonnegative(name, value,
                             fix="Use 0 for no decay; typical values are 1e-4 to 1e-2, or a schedule.")


def ema(decay: float, debias: bool = True, accumulator_dtype: Any = None) -> Transform:
    """Exponential moving average of the incoming updates (optax's ``ema``).

        e_t = (1 - decay) * g_t + decay * e_{t-1}        (e_0 = 0)
        u_t = e_t / (1 - decay**t)                       (debias)
        u_t = e_t                                        (otherwise)

    Unlike `trace` (``m_t = g_t + decay * m_{t-1}``), the new term is weighted by
    ``1 - decay``, so a constant input ``g`` gives ``u_t = g`` at every step when
    debiased.

    Args:
        decay: the averaging factor in [0, 1).
        debias: divide by ``1 - decay**t`` to remove the bias towards ``e_0 = 0``.
        accumulator_dtype: dtype in which ``e`` is stored (None: the params' dtype).
    """
    check_decay("decay", decay)

    def init(params):
        return EmaState(count=jnp.zeros([], jnp.int32), ema=tree_zeros_like(params, accumulator_dtype))

    def update(grads, state, params=None, **extra):
        del params, extra
        e = jax.tree.map(lambda g, e: (1 - decay) * g + decay * e, grads, state.ema)
        t = safe_increment(state.count)
        u = tree_bias_correction(e, decay, t) if debias else e
        return u, EmaState(count=t, ema=tree_cast(e, accumulator_dtype))

    return Transform(init, update)


def scale_by_adam(
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    mu_dtype: Any = None,
    *,
    nesterov: bool = False,
) -> Transform:
    """Adam's direction (Kingma & Ba, 2015), before the learning rate.

        m_t = b1 * m_{t-1} + (1 - b1) * g_t
        v_t = b2 * v_{t-1} + (1 - b2) * g_t**2
        m_hat = m_t / (1 - b1**t)                                   (plain)
        m_hat = b1 * m_t / (1 - b1**(t+1)) + (1 - b1) * g_t / (1 - b1**t)   (nesterov)
        v_hat = v_t / (1 - b2**t)
        u_t = m_hat / (sqrt(v_hat + eps_root) + eps)
    """
    check_decay("b1", b1)
    check_decay("b2", b2)
    check_nonnegative("eps", eps, fix="Use a small positive value such as 1e-8.")
    check_nonnegative("eps_root", eps_root, fix="Use 0 (the default) or a small positive value.")

    def init(params):
        return ScaleByAdamState(
            count=jnp.zeros([], jnp.int32),
            mu=tree_zeros_like(params, mu_dtype),
            nu=tree_zeros_like(params),
        )

    def update(grads, state, params=None, **extra):
        del params, extra
        m = jax.tree.map(lambda g, m: (1 - b1) * g + b1 * m, grads, state.mu)
        v = jax.tree.map(lambda g, v: (1 - b2) * g * g + b2 * v, grads, state.nu)
        t = safe_increment(state.count)
        if nesterov:
            m_hat = tree_nesterov_bias_correction(m, grads, b1, t)
        else:
            m_hat = tree_bias_correction(m, b1, t)
        v_hat = tree_bias_correction(v, b2, t)
        u = jax.tree.map(lambda m, v: m / (jnp.sqrt(v + eps_root) + eps), m_hat, v_hat)
        return u, ScaleByAdamState(count=t, mu=tree_cast(m, mu_dtype), nu=v)

    return Transform(init, update)
