"""AdEMAMix (Pagliardini, Ablin & Grangier, 2024): Adam with a second, slow momentum mixed in."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxgd.core.errors import check_decay, check_learning_rate, check_range
from jaxgd.core.precision import abs_sq, tree_cast_like, tree_upcast
from jaxgd.core.transform import ScalarOrSchedule, Transform, safe_increment
from jaxgd.core.tree import tree_bias_correction, tree_zeros_like
from jaxgd.optimizers.adam import check_adam_hyperparams
from jaxgd.optimizers.combine import chain
from jaxgd.optimizers.transforms import add_decayed_weights, scale_by_learning_rate

__all__ = ["ademamix", "scale_by_ademamix", "ScaleByAdemamixState"]


class ScaleByAdemamixState(NamedTuple):
    """State of `scale_by_ademamix` (the fields of ``optax.contrib.ScaleByAdemamixState``).

    Attributes:
        count: int32 scalar, t - 1 before the update (the fast EMA's and v's step).
        count_m2: int32 scalar, the step at which the schedules of b3 and alpha are read.
        m1: like params, the fast EMA of g (decay b1).
        m2: like params, the slow EMA of g (decay b3).
        nu: like params, the EMA of |g|**2 (decay b2).
    """

    count: jax.Array  # int32 scalar
    count_m2: jax.Array  # int32 scalar
    m1: Any  # like params: fast EMA of g
    m2: Any  # like params: slow EMA of g
    nu: Any  # like params: EMA of |g|**2


def _check_mixing(b1, b2, b3, alpha, eps, eps_root) -> None:
    check_adam_hyperparams(b1, b2, eps, eps_root)
    check_decay("b3", b3)  # a schedule passes unchecked
    check_range("alpha", alpha, low=0.0, fix="The paper uses alpha in [4, 10] (optax's default: 5).")


def scale_by_ademamix(b1: float = 0.9, b2: float = 0.999, b3: ScalarOrSchedule = 0.9999,
                      alpha: ScalarOrSchedule = 6.0, eps: float = 1e-8, eps_root: float = 0.0,
                      mu_dtype: Any = None) -> Transform:
    """AdEMAMix's direction: Adam's debiased fast momentum plus alpha times a slow one.

        m1_t = b1 * m1_{t-1} + (1 - b1) * g_t                  (fast EMA)
        m2_t = b3_t * m2_{t-1} + (1 - b3_t) * g_t              (slow EMA, not debiased)
        v_t = b2 * v_{t-1} + (1 - b2) * |g_t|**2
        m1_hat, v_hat = m1_t / (1 - b1**t), v_t / (1 - b2**t)
        u_t = (m1_hat + alpha_t * m2_t) / (sqrt(v_hat + eps_root) + eps)

    ``b3`` and ``alpha`` may be schedules of the int32 step count (read before the
    increment): the paper warms both up over its ``T_alpha_beta3`` steps, since a
    slow EMA of recent gradients only is noise early on. ``scale_by_ademamix``'s
    default alpha is 6.0 and `ademamix`'s 5.0, as in optax.

    Args:
        b1: decay of the fast EMA ``m1``, in [0, 1).
        b2: decay of ``v``, in [0, 1).
        b3: decay of the slow EMA ``m2``, in [0, 1), or a schedule.
        alpha: weight of the slow EMA, >= 0, or a schedule.
        eps: added to ``sqrt(v_hat)``, >= 0.
        eps_root: added to ``v_hat`` inside the sqrt, >= 0.
        mu_dtype: dtype in which ``m1``, ``m2`` and ``v`` are stored (None: the
            params'); optax stores ``v`` in it too.

    Returns:
        A Transform with a `ScaleByAdemamixState`.

    Raises:
        ConfigError: ``b1``, ``b2`` or ``b3`` outside [0, 1), ``alpha``, ``eps`` or
            ``eps_root`` negative (any of them not finite).

    References:
        Pagliardini, Ablin & Grangier, "The AdEMAMix Optimizer: Better, Faster,
        Older", 2024, arXiv:2409.03137, Algorithm 1. Mirrors
        ``optax.contrib.scale_by_ademamix``.
    """
    _check_mixing(b1, b2, b3, alpha, eps, eps_root)

    def init(params):
        zeros = tree_zeros_like(params, mu_dtype)
        return ScaleByAdemamixState(count=jnp.zeros([], jnp.int32), count_m2=jnp.zeros([], jnp.int32),
                                    m1=zeros, m2=zeros, nu=zeros)

    def update(grads, state, params=None, **extra):
        del params, extra
        g, m1, m2, nu = tree_upcast((grads, state.m1, state.m2, state.nu))  # computed in >= float32
        b3_t = b3(state.count_m2) if callable(b3) else b3
        alpha_t = alpha(state.count_m2) if callable(alpha) else alpha
        m1 = jax.tree.map(lambda g, m: b1 * m + (1 - b1) * g, g, m1)
        m2 = jax.tree.map(lambda g, m: b3_t * m + (1 - b3_t) * g, g, m2)
        v = jax.tree.map(lambda g, v: b2 * v + (1 - b2) * abs_sq(g), g, nu)
        t = safe_increment(state.count)
        m1_hat, v_hat = tree_bias_correction(m1, b1, t), tree_bias_correction(v, b2, t)
        u = jax.tree.map(lambda m1, m2, v: (m1 + alpha_t * m2) / (jnp.sqrt(v + eps_root) + eps),
                         m1_hat, m2, v_hat)
        new = ScaleByAdemamixState(count=t, count_m2=safe_increment(state.count_m2),
                                   m1=tree_cast_like(m1, state.m1), m2=tree_cast_like(m2, state.m2),
                                   nu=tree_cast_like(v, state.nu))
        return tree_cast_like(u, grads), new

    return Transform(init, update)


def ademamix(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999,
             b3: ScalarOrSchedule = 0.9999, alpha: ScalarOrSchedule = 5.0, eps: float = 1e-8,
             eps_root: float = 0.0, mu_dtype: Any = None, weight_decay: ScalarOrSchedule = 0.0,
             mask: Any = None) -> Transform:
    """AdEMAMix: AdamW whose momentum mixes a fast and a slow EMA (see scale_by_ademamix).

        d_t = scale_by_ademamix(g_t)   ((m1_hat + alpha * m2) / (sqrt(v_hat + eps_root) + eps))
        d_t = d_t + wd_t * p_t         (leaves where mask is True)
        u_t = -lr_t * d_t

    The paper's (and the authors' code's) ``p *= 1 - lr * wd`` decay is the same
    rule. Suited to long runs: the slow EMA (b3 = 0.9999) remembers ~10k steps.

    Args:
        learning_rate: the step size ``lr > 0``, or a schedule of the int32 step count.
        b1, b2, b3, alpha, eps, eps_root, mu_dtype: as in `scale_by_ademamix`
            (alpha defaults to 5.0 here, as in optax).
        weight_decay, mask: the decoupled decay ``wd >= 0`` (or a schedule) and the
            leaves it applies to, as in `adamw`.

    Returns:
        ``chain(scale_by_ademamix(...), add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate))``; its update needs ``params``.

    Raises:
        ConfigError: ``learning_rate`` not > 0, a bad hyperparameter of
            `scale_by_ademamix`, or ``weight_decay`` negative or not finite.

    References:
        Pagliardini, Ablin & Grangier, 2024, arXiv:2409.03137. Mirrors
        ``optax.contrib.ademamix``; the authors' PyTorch code (apple/ml-ademamix)
        defaults to alpha = 2.
    """
    check_learning_rate(learning_rate)
    return chain(scale_by_ademamix(b1, b2, b3, alpha, eps, eps_root, mu_dtype),
                 add_decayed_weights(weight_decay, mask), scale_by_learning_rate(learning_rate))
