"""Small gradient transforms written by hand; named optimizers are chains of these.

Each has the same name, keyword names, state fields and numerics as its optax
namesake, so the two can be swapped and cross-checked. This module holds the
moving averages with bias correction (`ema`, `scale_by_adam`) and weight decay;
`scale`, `scale_by_schedule`, `scale_by_learning_rate` (module `scaling`) and
`trace` (module `momentum`) are re-exported from here.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxgd.core.errors import check_decay, check_nonnegative
from jaxgd.core.precision import abs_sq, hyper, tree_cast_like, tree_upcast
from jaxgd.core.transform import (
    EmptyState,
    ScalarOrSchedule,
    Transform,
    safe_increment,
    set_to_zero,
)
from jaxgd.core.tree import (
    tree_bias_correction,
    tree_nesterov_bias_correction,
    tree_zeros_like,
)
from jaxgd.optimizers.combine import masked
from jaxgd.optimizers.momentum import TraceState, trace
from jaxgd.optimizers.scaling import ScaleByScheduleState, scale, scale_by_learning_rate, scale_by_schedule

__all__ = [
    "scale", "scale_by_schedule", "scale_by_learning_rate", "trace", "add_decayed_weights",
    "decayed_weights", "WeightDecayState",
    "scale_by_adam", "ema", "set_to_zero", "ScaleByScheduleState", "TraceState", "ScaleByAdamState",
    "EmaState",
]


class EmaState(NamedTuple):
    """State of `ema` (the fields of ``optax.EmaState``).

    Attributes:
        count: int32 scalar, the updates averaged so far (t after a step).
        ema: like params (``accumulator_dtype`` if given), the moving average e.
    """

    count: jax.Array  # int32 scalar: updates averaged so far
    ema: Any  # like params (accumulator_dtype if given): the moving average e


class ScaleByAdamState(NamedTuple):
    """State of `scale_by_adam` (the fields of ``optax.ScaleByAdamState``).

    Attributes:
        count: int32 scalar, the updates so far (t - 1 before a step, t after it).
        mu: like params (``mu_dtype`` if given), the first moment m.
        nu: like params, the second moment v.
    """

    count: jax.Array  # int32 scalar: t - 1 before the update
    mu: Any  # like params: first moment m
    nu: Any  # like params: second moment v


class WeightDecayState(NamedTuple):
    """State of `decayed_weights` for a scheduled decay (the count ``optax.add_decayed_weights`` keeps).

    Attributes:
        count: int32 scalar, the updates so far: the step the schedule sees next.
    """

    count: jax.Array  # int32 scalar: updates so far (kept only when the decay is a schedule)


def decayed_weights(weight_decay: ScalarOrSchedule, mask: Any = None) -> Transform:
    """Add the parameters times a decay factor to the gradients, with no check on the factor.

        u_t = g_t + wd_t * p_t        (wd_t = weight_decay(count) for a schedule)

    `add_decayed_weights` without its ``weight_decay >= 0`` check: Fromage needs a
    negative factor. A constant keeps no state; a schedule keeps a count, evaluated
    before it grows (optax's ``add_decayed_weights`` in full). With ``mask`` only the
    selected leaves are decayed.

    Args:
        weight_decay: wd, any number, or a schedule of the int32 update count.
        mask: None (every leaf), or a pytree of Python bools that is (a prefix of)
            the params tree, or a function ``params -> such a tree``.

    Returns:
        A `Transform` whose state is ``EmptyState()`` for a constant and
        ``WeightDecayState(count)`` for a schedule, inside ``MaskedState`` when a
        mask is given. Its update() needs ``params``.

    Raises:
        ConfigError: from init()/update(), when ``mask`` is not a static bool tree
            that is a prefix of the params.
        ValueError: from update(), when ``params`` is not given.

    See Also:
        ``optax.add_decayed_weights`` (which also accepts a negative factor).
    """
    scheduled = callable(weight_decay)

    def init(params):
        del params
        return WeightDecayState(count=jnp.zeros([], jnp.int32)) if scheduled else EmptyState()

    def update(grads, state, params=None, **extra):
        del extra
        if params is None:
            raise ValueError("weight decay needs params: call update(grads, state, params).")
        g, p = tree_upcast((grads, params))  # computed in at least float32
        if not scheduled:
            return tree_cast_like(jax.tree.map(lambda g, p: g + weight_decay * p, g, p), grads), state
        wd = weight_decay(state.count)
        updates = jax.tree.map(lambda g, p: g + hyper(wd, g) * p, g, p)
        return tree_cast_like(updates, grads), WeightDecayState(count=safe_increment(state.count))

    tx = Transform(init, update)
    if mask is None:
        return tx
    return masked(tx, mask)


def add_decayed_weights(weight_decay: ScalarOrSchedule = 0.0, mask: Any = None) -> Transform:
    """Coupled L2 / weight decay on the gradient.

        u_t = g_t + wd_t * p_t        (wd_t = weight_decay(count) for a schedule)

    With ``weight_decay = 2 * lambda`` this is the gradient of the tutorial's penalty
    ``lambda * sum(W**2)`` when the mask selects the weights only. Placed before an
    adaptive rule it is L2 regularisation; placed after it and before the learning
    rate (as in `adamw`) it is decoupled weight decay.

    Args:
        weight_decay: the factor ``wd >= 0``, or a schedule of the int32 update count.
        mask: a pytree of bools like params (or a function params -> such a tree);
            only True leaves are decayed.

    Returns:
        A `Transform` whose state is ``EmptyState()`` for a constant and
        ``WeightDecayState(count)`` for a schedule, inside ``MaskedState`` when a
        mask is given. Its update() needs ``params``.

    Raises:
        ConfigError: ``weight_decay`` is a negative or non-finite number; from
            init()/update(), a ``mask`` that is not a static bool prefix of the params.
        ValueError: from update(), when ``params`` is not given.

    References:
        Krogh & Hertz (1992), "A simple weight decay can improve generalization", NeurIPS 4.

    See Also:
        ``optax.add_decayed_weights``; the ``weight_decay`` argument of ``torch.optim.SGD``.
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
        accumulator_dtype: dtype in which ``e`` is stored (None: the params' dtype;
            its complex counterpart for complex params).

    Returns:
        A `Transform` whose state is ``EmaState(count, ema)``: the int32 count t and
        the average ``e`` (like params). The average is computed in at least float32
        and rounded to its stored dtype.

    Raises:
        ConfigError: ``decay`` is outside [0, 1).

    See Also:
        ``optax.ema``; the first moment of `scale_by_adam` is the same average.
    """
    check_decay("decay", decay)

    def init(params):
        return EmaState(count=jnp.zeros([], jnp.int32), ema=tree_zeros_like(params, accumulator_dtype))

    def update(grads, state, params=None, **extra):
        del params, extra
        g, e = tree_upcast((grads, state.ema))  # computed in at least float32
        e = jax.tree.map(lambda g, e: (1 - decay) * g + decay * e, g, e)
        t = safe_increment(state.count)
        u = tree_bias_correction(e, decay, t) if debias else e
        return tree_cast_like(u, grads), EmaState(count=t, ema=tree_cast_like(e, state.ema))

    return Transform(init, update)


def adam_moments(grads: Any, state: ScaleByAdamState, b1: Any, b2: Any, nesterov: bool = False):
    """Adam's moment step, shared by `scale_by_adam` and RAdam (Kingma & Ba, 2014, alg. 1).

        m_t = b1 m_{t-1} + (1 - b1) g_t,   v_t = b2 v_{t-1} + (1 - b2) |g_t|^2
        m_hat_t = m_t / (1 - b1**t)  (Nesterov: Dozat, 2016),   v_hat_t = v_t / (1 - b2**t)

    computed in at least float32 (``|g|^2 = g conj(g)`` is real for complex g).

    Returns:
        ``(m_t, v_t, t, m_hat_t, v_hat_t)``; ``t`` is the new int32 count.
    """
    g, mu, nu = tree_upcast((grads, state.mu, state.nu))
    m = jax.tree.map(lambda g, m: (1 - b1) * g + b1 * m, g, mu)
    v = jax.tree.map(lambda g, v: (1 - b2) * abs_sq(g) + b2 * v, g, nu)
    t = safe_increment(state.count)
    m_hat = tree_nesterov_bias_correction(m, g, b1, t) if nesterov else tree_bias_correction(m, b1, t)
    return m, v, t, m_hat, tree_bias_correction(v, b2, t)


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
        v_t = b2 * v_{t-1} + (1 - b2) * |g_t|**2
        m_hat = m_t / (1 - b1**t)                                   (plain)
        m_hat = b1 * m_t / (1 - b1**(t+1)) + (1 - b1) * g_t / (1 - b1**t)   (nesterov)
        v_hat = v_t / (1 - b2**t)
        u_t = m_hat / (sqrt(v_hat + eps_root) + eps)

    ``t`` is the int32 count after the increment (1 on the first step). No minus
    sign: `adam` chains it before the learning rate. Computed in at least float32
    (see `jaxgd.core.precision`); ``m`` and ``v`` are stored in the params' dtype
    (as optax does). For complex params ``|g|**2 = g * conj(g)``, so ``v`` is real
    and the update keeps the gradient's phase.

    Args:
        b1: the decay of the first moment, in [0, 1).
        b2: the decay of the second moment, in [0, 1).
        eps: added to the root of v_hat (>= 0).
        eps_root: added to v_hat inside the root (>= 0).
        mu_dtype: dtype in which ``m`` is stored (None: the params' dtype).
        nesterov: use the Nesterov form of m_hat (NAdam, Dozat 2016).

    Returns:
        A `Transform` whose state is ``ScaleByAdamState(count, mu, nu)``: an int32
        count and the moments ``m``, ``v`` (like params).

    Raises:
        ConfigError: ``b1`` or ``b2`` is outside [0, 1); ``eps`` or ``eps_root`` is
            negative or not finite.

    References:
        Kingma & Ba (2015), "Adam: a method for stochastic optimization", ICLR,
        arXiv:1412.6980.
        Dozat (2016), "Incorporating Nesterov momentum into Adam", ICLR workshop.

    See Also:
        ``optax.scale_by_adam``.
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
        m, v, t, m_hat, v_hat = adam_moments(grads, state, b1, b2, nesterov)
        u = jax.tree.map(lambda m, v: m / (jnp.sqrt(v + eps_root) + eps), m_hat, v_hat)
        new = ScaleByAdamState(count=t, mu=tree_cast_like(m, state.mu), nu=tree_cast_like(v, state.nu))
        return tree_cast_like(u, grads), new

    return Transform(init, update)
