"""RMSprop (Tieleman & Hinton, 2012) and its centered form (Graves, 2013)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxgd.core.errors import ConfigError, check_decay, check_learning_rate, check_nonnegative
from jaxgd.core.precision import abs_sq, tree_cast_like, tree_upcast
from jaxgd.core.transform import ScalarOrSchedule, Transform, identity, safe_increment
from jaxgd.core.tree import tree_bias_correction, tree_full_like, tree_zeros_like
from jaxgd.optimizers.combine import chain
from jaxgd.optimizers.transforms import scale_by_learning_rate, trace

__all__ = [
    "scale_by_rms", "scale_by_stddev", "rmsprop", "ScaleByRmsState", "ScaleByRmsWithCountState",
    "ScaleByRStdDevState", "ScaleByRStdDevWithCountState",
]


class ScaleByRmsState(NamedTuple):
    """State of `scale_by_rms` (the field of ``optax.ScaleByRmsState``).

    Attributes:
        nu: like params, v: the moving average of |g|**2.
    """

    nu: Any  # like params: v, the moving average of g**2


class ScaleByRmsWithCountState(NamedTuple):
    """State of `scale_by_rms` with bias correction (the fields of ``optax.ScaleByRmsWithCountState``).

    Attributes:
        count: int32 scalar, the updates applied so far (for the bias correction).
        nu: like params, v: the moving average of |g|**2.
    """

    count: jax.Array  # int32 scalar: updates applied so far (for the bias correction)
    nu: Any  # like params: v


class ScaleByRStdDevState(NamedTuple):
    """State of `scale_by_stddev` (the fields of ``optax.ScaleByRStdDevState``).

    Attributes:
        mu: like params, m: the moving average of g.
        nu: like params, v: the moving average of |g|**2.
    """

    mu: Any  # like params: m, the moving average of g
    nu: Any  # like params: v, the moving average of g**2


class ScaleByRStdDevWithCountState(NamedTuple):
    """State of `scale_by_stddev` with bias correction (``optax.ScaleByRStdDevWithCountState``).

    Attributes:
        count: int32 scalar, the updates applied so far (for the bias correction).
        mu: like params, m: the moving average of g.
        nu: like params, v: the moving average of |g|**2.
    """

    count: jax.Array  # int32 scalar: updates applied so far (for the bias correction)
    mu: Any  # like params: m
    nu: Any  # like params: v


def _check(decay, eps, initial_scale) -> None:
    check_decay("decay", decay)
    check_nonnegative("eps", eps, fix="optax uses 1e-8 (inside the sqrt), PyTorch 1e-8 outside.")
    check_nonnegative("initial_scale", initial_scale, fix="Use 0 (the default) or 1 (TF1's RMSprop).")


def _inverse_root(eps_in_sqrt: bool):
    """``1/sqrt(x + eps)`` (eps inside) or ``1/(sqrt(x) + eps)`` (outside)."""
    if eps_in_sqrt:
        return lambda x, eps: jax.lax.rsqrt(x + eps)
    return lambda x, eps: 1 / (jnp.sqrt(x) + eps)


def scale_by_rms(
    decay: float = 0.9,
    eps: float = 1e-8,
    initial_scale: float = 0.0,
    eps_in_sqrt: bool = True,
    bias_correction: bool = False,
) -> Transform:
    """RMSprop's scaling: divide by the root of a moving average of squared gradients.

        v_t = (1 - decay) * |g_t|**2 + decay * v_{t-1}      (v_0 = initial_scale)
        v_hat = v_t / (1 - decay**t)                        (bias_correction, else v_t)
        u_t = g_t / sqrt(v_hat + eps)                       (eps_in_sqrt)
        u_t = g_t / (sqrt(v_hat) + eps)                     (otherwise; PyTorch's placement)

    Args:
        decay: decay of ``v``, in [0, 1) (optax 0.9; PyTorch's ``alpha`` 0.99).
        eps: added inside or outside the sqrt, >= 0.
        initial_scale: ``v_0`` in every element, >= 0 (0 as PyTorch, 1 as TF1).
        eps_in_sqrt: eps inside the sqrt (optax) or added to it (PyTorch).
        bias_correction: divide ``v_t`` by ``1 - decay**t`` (keeps a step count).

    Returns:
        A Transform whose state is a `ScaleByRmsState` (``nu``: ``v``, like params),
        or with bias_correction a `ScaleByRmsWithCountState` (also ``count``, an
        int32 scalar).

    Raises:
        ConfigError: ``decay`` outside [0, 1), or ``eps`` or ``initial_scale``
            negative (any of them not finite).

    References:
        Tieleman & Hinton, Coursera "Neural Networks for Machine Learning", lecture
        6.5, 2012 (no paper). Mirrors ``optax.scale_by_rms``.
    """
    _check(decay, eps, initial_scale)
    inv_root = _inverse_root(eps_in_sqrt)

    def init(params):
        v = tree_full_like(params, initial_scale)
        if bias_correction:
            return ScaleByRmsWithCountState(count=jnp.zeros([], jnp.int32), nu=v)
        return ScaleByRmsState(nu=v)

    def update(grads, state, params=None, **extra):
        del params, extra
        g, nu = tree_upcast((grads, state.nu))  # computed in at least float32
        v = jax.tree.map(lambda g, v: (1 - decay) * abs_sq(g) + decay * jnp.real(v), g, nu)
        t = safe_increment(state.count) if bias_correction else None
        v_hat = tree_bias_correction(v, decay, t) if bias_correction else v
        u = tree_cast_like(jax.tree.map(lambda v, g: inv_root(v, eps) * g, v_hat, g), grads)
        v = tree_cast_like(v, state.nu)
        if bias_correction:
            return u, ScaleByRmsWithCountState(count=t, nu=v)
        return u, ScaleByRmsState(nu=v)

    return Transform(init, update)


def scale_by_stddev(
    decay: float = 0.9,
    eps: float = 1e-8,
    initial_scale: float = 0.0,
    eps_in_sqrt: bool = True,
    bias_correction: bool = False,
) -> Transform:
    """Centered RMSprop's scaling: divide by a moving estimate of the gradient's std.

        m_t = (1 - decay) * g_t + decay * m_{t-1}           (m_0 = 0)
        v_t = (1 - decay) * |g_t|**2 + decay * v_{t-1}      (v_0 = initial_scale)
        m_hat = m_t / (1 - decay**t)                        (bias_correction, else m_t)
        v_hat = v_t / (1 - decay**t)                        (bias_correction, else v_t)
        s_t = max(v_hat - |m_hat|**2, 0)                    (a variance: >= 0)
        u_t = g_t / sqrt(s_t + eps)                         (eps_in_sqrt)
        u_t = g_t / (sqrt(s_t) + eps)                       (otherwise)

    ``v_hat - |m_hat|**2`` is 0 in exact arithmetic at the first step with bias
    correction, and can round below 0; the max keeps the root real (optax's can
    be NaN there). That first step divides by ``sqrt(eps)`` plus rounding noise:
    keep the learning rate small or leave bias_correction off.

    Args:
        decay, eps, initial_scale, eps_in_sqrt, bias_correction: as in `scale_by_rms`.

    Returns:
        A Transform whose state is a `ScaleByRStdDevState` (``mu``: ``m``, ``nu``:
        ``v``, like params), or with bias_correction a `ScaleByRStdDevWithCountState`
        (also ``count``, an int32 scalar).

    Raises:
        ConfigError: as `scale_by_rms`.

    References:
        Graves, "Generating Sequences With Recurrent Neural Networks", 2013,
        arXiv:1308.0850. Mirrors ``optax.scale_by_stddev``.
    """
    _check(decay, eps, initial_scale)
    inv_root = _inverse_root(eps_in_sqrt)

    def init(params):
        m, v = tree_zeros_like(params), tree_full_like(params, initial_scale)
        if bias_correction:
            return ScaleByRStdDevWithCountState(count=jnp.zeros([], jnp.int32), mu=m, nu=v)
        return ScaleByRStdDevState(mu=m, nu=v)

    def update(grads, state, params=None, **extra):
        del params, extra
        g, mu, nu = tree_upcast((grads, state.mu, state.nu))  # computed in at least float32
        m = jax.tree.map(lambda g, m: (1 - decay) * g + decay * m, g, mu)
        v = jax.tree.map(lambda g, v: (1 - decay) * abs_sq(g) + decay * jnp.real(v), g, nu)
        t = safe_increment(state.count) if bias_correction else None
        m_hat = tree_bias_correction(m, decay, t) if bias_correction else m
        v_hat = tree_bias_correction(v, decay, t) if bias_correction else v
        u = jax.tree.map(lambda m, v, g: inv_root(jnp.maximum(v - abs_sq(m), 0), eps) * g, m_hat, v_hat, g)
        u, m, v = tree_cast_like(u, grads), tree_cast_like(m, state.mu), tree_cast_like(v, state.nu)
        if bias_correction:
            return u, ScaleByRStdDevWithCountState(count=t, mu=m, nu=v)
        return u, ScaleByRStdDevState(mu=m, nu=v)

    return Transform(init, update)


def rmsprop(
    learning_rate: ScalarOrSchedule,
    decay: float = 0.9,
    eps: float = 1e-8,
    initial_scale: float = 0.0,
    eps_in_sqrt: bool = True,
    centered: bool = False,
    momentum: float | None = None,
    nesterov: bool = False,
    bias_correction: bool = False,
) -> Transform:
    """RMSprop: steps divided by the root of a moving average of squared gradients.

        d_t = scale_by_rms(g_t)                  (scale_by_stddev if centered)
        d_t = -lr_t * d_t
        m_t = d_t + momentum * m_{t-1}           (trace, if momentum is given)
        u_t = d_t + momentum * m_t  (nesterov)  |  m_t  |  d_t  (no momentum)

    Conventions: optax defaults to decay 0.9 with eps INSIDE the sqrt; PyTorch to
    alpha 0.99 with eps OUTSIDE: ``rmsprop(lr, decay=0.99, eps_in_sqrt=False)`` is
    torch's rule. With momentum, optax (and this) put the lr inside the buffer,
    torch outside: the same for a constant lr, not under a schedule. ``centered``
    divides by the standard deviation instead of the rms (torch's ``centered``).

    Args:
        learning_rate: the step size ``lr > 0``, or a schedule of the int32 step count.
        decay, eps, initial_scale, eps_in_sqrt, bias_correction: as in `scale_by_rms`.
        centered: divide by the std (`scale_by_stddev`) instead of the rms.
        momentum: decay of the momentum buffer ``m``, in [0, 1); None for none.
        nesterov: Nesterov's form of the momentum (needs a momentum).

    Returns:
        ``chain(scale_by_rms or scale_by_stddev, scale_by_learning_rate(learning_rate),
        trace(momentum) or identity())``.

    Raises:
        ConfigError: ``learning_rate`` not > 0, a bad ``decay``, ``eps`` or
            ``initial_scale``, ``momentum`` outside [0, 1), or ``nesterov`` without
            a momentum.

    References:
        Tieleman & Hinton, lecture 6.5, 2012; centered: Graves, 2013, arXiv:1308.0850.
        Mirrors ``optax.rmsprop``; PyTorch: ``torch.optim.RMSprop``.
    """
    check_learning_rate(learning_rate)
    if nesterov and momentum is None:
        raise ConfigError("nesterov=True needs a momentum; accepted: e.g. "
                          "rmsprop(0.01, momentum=0.9, nesterov=True).")
    scaler = scale_by_stddev if centered else scale_by_rms
    return chain(
        scaler(decay=decay, eps=eps, initial_scale=initial_scale, eps_in_sqrt=eps_in_sqrt,
               bias_correction=bias_correction),
        scale_by_learning_rate(learning_rate),
        identity() if momentum is None else trace(check_decay("momentum", momentum), nesterov=nesterov),
    )
