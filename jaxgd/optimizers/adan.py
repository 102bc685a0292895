"""Adan (Xie et al., 2022): Nesterov momentum estimated from gradient differences."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxgd.core.errors import check_decay, check_learning_rate
from jaxgd.core.precision import abs_sq, tree_cast_like, tree_upcast
from jaxgd.core.transform import ScalarOrSchedule, Transform, safe_increment
from jaxgd.core.tree import tree_bias_correction, tree_zeros_like
from jaxgd.optimizers.adam import check_adam_hyperparams
from jaxgd.optimizers.combine import chain
from jaxgd.optimizers.transforms import add_decayed_weights, scale_by_learning_rate

__all__ = ["adan", "scale_by_adan", "ScaleByAdanState"]


class ScaleByAdanState(NamedTuple):
    """State of `scale_by_adan` (the fields of ``optax.ScaleByAdanState``).

    Attributes:
        m: like params, the EMA of g.
        v: like params, the EMA of the gradient difference g_t - g_{t-1}.
        n: like params, the EMA of |g_t + (1 - b2) d_t|**2.
        g: like params, the previous gradient.
        t: int32 scalar, the steps taken.
    """

    m: Any  # like params: EMA of g
    v: Any  # like params: EMA of the gradient difference g_t - g_{t-1}
    n: Any  # like params: EMA of (g_t + (1 - b2) * d_t)**2
    g: Any  # like params: the previous gradient
    t: jax.Array  # int32 scalar: steps taken


def scale_by_adan(b1: float = 0.98, b2: float = 0.92, b3: float = 0.99, eps: float = 1e-8,
                  eps_root: float = 0.0) -> Transform:
    """Adan's direction: Adam's moments plus a moving average of gradient differences.

        d_t = g_t - g_{t-1}                     (d_1 = 0)
        m_t = (1 - b1) * g_t + b1 * m_{t-1}
        v_t = (1 - b2) * d_t + b2 * v_{t-1}
        n_t = (1 - b3) * |g_t + (1 - b2) * d_t|**2 + b3 * n_{t-1}
        m_hat, v_hat, n_hat = m_t / (1 - b1**t), v_t / (1 - b2**t), n_t / (1 - b3**t)
        u_t = (m_hat + (1 - b2) * v_hat) / (sqrt(n_hat + eps_root) + eps)

    The b's are decay rates (the paper writes ``1 - beta``). The difference term
    estimates the Nesterov look-ahead without a second gradient evaluation. optax
    (and this) weight the difference by ``1 - b2`` (0.08) where the paper's
    Algorithm 1 has ``1 - beta2``, i.e. ``b2`` (0.92): the same only at b2 = 0.5.

    Args:
        b1: decay of ``m``, in [0, 1).
        b2: decay of ``v``, in [0, 1).
        b3: decay of ``n``, in [0, 1).
        eps: added to ``sqrt(n_hat)``, >= 0.
        eps_root: added to ``n_hat`` inside the sqrt, >= 0.

    Returns:
        A Transform with a `ScaleByAdanState`: ``m``, ``v``, ``n`` and the previous
        gradient ``g`` (all like params) and ``t`` (int32 scalar).

    Raises:
        ConfigError: ``b1``, ``b2`` or ``b3`` outside [0, 1), or ``eps`` or
            ``eps_root`` negative (any of them not finite).

    References:
        Xie, Zhou, Li, Lin & Yan, "Adan: Adaptive Nesterov Momentum Algorithm for
        Faster Optimizing Deep Models", 2022, arXiv:2208.06677. Mirrors
        ``optax.scale_by_adan``.
    """
    check_adam_hyperparams(b1, b2, eps, eps_root)
    check_decay("b3", b3)

    def init(params):
        zeros = tree_zeros_like(params)
        return ScaleByAdanState(m=zeros, v=zeros, n=zeros, g=zeros, t=jnp.zeros([], jnp.int32))

    def update(grads, state, params=None, **extra):
        del params, extra
        g, g_prev, m, v, n = tree_upcast((grads, state.g, state.m, state.v, state.n))  # >= float32
        d = jax.tree.map(lambda g, g0: jnp.where(state.t == 0, jnp.zeros_like(g), g - g0), g, g_prev)
        m = jax.tree.map(lambda g, m: (1 - b1) * g + b1 * m, g, m)
        v = jax.tree.map(lambda d, v: (1 - b2) * d + b2 * v, d, v)
        n = jax.tree.map(lambda g, d, n: (1 - b3) * abs_sq(g + (1 - b2) * d) + b3 * n, g, d, n)
        t = safe_increment(state.t)
        m_hat, v_hat, n_hat = (tree_bias_correction(x, b, t) for x, b in ((m, b1), (v, b2), (n, b3)))
        u = jax.tree.map(lambda m, v, n: (m + (1 - b2) * v) / (jnp.sqrt(n + eps_root) + eps),
                         m_hat, v_hat, n_hat)
        new = ScaleByAdanState(m=tree_cast_like(m, state.m), v=tree_cast_like(v, state.v),
                               n=tree_cast_like(n, state.n), g=grads, t=t)
        return tree_cast_like(u, grads), new

    return Transform(init, update)


def adan(learning_rate: ScalarOrSchedule, b1: float = 0.98, b2: float = 0.92, b3: float = 0.99,
         eps: float = 1e-8, eps_root: float = 1e-8, weight_decay: ScalarOrSchedule = 0.0,
         mask: Any = None) -> Transform:
    """Adan: the direction of `scale_by_adan` with decoupled weight decay.

        d_t = scale_by_adan(g_t)      ((m_hat_t + (1 - b2) * v_hat_t) / (sqrt(n_hat_t + eps_root) + eps))
        d_t = d_t + wd_t * p_t        (leaves where mask is True)
        u_t = -lr_t * d_t

    The paper applies the decay as a proximal step ``p / (1 + lr * wd)``; optax (and
    jaxgd) add ``wd * p`` to the direction instead, equal to first order in
    ``lr * wd``. Note ``adan``'s eps_root defaults to 1e-8, ``scale_by_adan``'s to 0.

    Args:
        learning_rate: the step size ``lr > 0``, or a schedule of the int32 step count.
        b1, b2, b3, eps, eps_root: as in `scale_by_adan`.
        weight_decay, mask: the decoupled decay ``wd >= 0`` (or a schedule) and the
            leaves it applies to, as in `adamw`.

    Returns:
        ``chain(scale_by_adan(...), add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate))``; its update needs ``params``.

    Raises:
        ConfigError: ``learning_rate`` not > 0, a bad hyperparameter of
            `scale_by_adan`, or ``weight_decay`` negative or not finite.

    References:
        Xie et al., 2022, arXiv:2208.06677. Mirrors ``optax.adan``; PyTorch has none
        built in.
    """
    check_learning_rate(learning_rate)
    return chain(scale_by_adan(b1, b2, b3, eps, eps_root), add_decayed_weights(weight_decay, mask),
                 scale_by_learning_rate(learning_rate))
