"""Adam relatives that use one norm per parameter leaf (layer): NovoGrad, LAMB, the trust ratio."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxgd.core.errors import check_learning_rate, check_nonnegative, check_positive
from jaxgd.core.precision import abs_sq, compute_dtype, real_dtype, tree_cast_like, tree_upcast, upcast
from jaxgd.core.transform import ScalarOrSchedule, Transform, empty_init, safe_increment
from jaxgd.core.tree import tree_zeros_like
from jaxgd.optimizers.adam import check_adam_hyperparams
from jaxgd.optimizers.combine import chain
from jaxgd.optimizers.sgd_variants import check_number
from jaxgd.optimizers.transforms import (
    add_decayed_weights,
    check_weight_decay,
    scale_by_adam,
    scale_by_learning_rate,
)

__all__ = ["novograd", "scale_by_novograd", "lamb", "scale_by_trust_ratio", "ScaleByNovogradState"]


class ScaleByNovogradState(NamedTuple):
    """State of `scale_by_novograd` (the fields of ``optax.ScaleByNovogradState``).

    Attributes:
        count: int32 scalar, t - 1 before the update.
        mu: like params, the momentum m of the normalised gradients.
        nu: one 0-d array per leaf (real, at least float32), the EMA of the leaf's squared
            gradient norm.
    """

    count: jax.Array  # int32 scalar: t - 1 before the update
    mu: Any  # like params: momentum m of the normalised gradients
    nu: Any  # one 0-d array per leaf (real, >= float32): EMA of the leaf's squared gradient norm


def _norm(x: jax.Array) -> jax.Array:
    """Frobenius norm of a whole leaf, ``sqrt(sum(|x|**2))``, real, in at least float32 (0 if empty)."""
    return jnp.sqrt(jnp.sum(abs_sq(upcast(x))))


def scale_by_novograd(b1: float = 0.9, b2: float = 0.25, eps: float = 1e-8, eps_root: float = 0.0,
                      weight_decay: float = 0.0, mu_dtype: Any = None) -> Transform:
    """NovoGrad's direction: Adam with one second moment per layer, decay inside the momentum.

        n_t = (1 - b2) * ||g_t||**2 + b2 * n_{t-1}                          (n_1 = ||g_1||**2)
        a_t = g_t / (sqrt(n_t + eps_root) + eps) + weight_decay * p_t
        m_t = b1 * m_{t-1} + a_t                                            (m_1 = a_1)
        u_t = m_t

    ``||.||`` is the norm of a whole leaf (a layer), so ``n`` holds one number per
    leaf. No bias correction: the first step starts the moments at their first
    values instead.

    Args:
        b1: decay of the momentum ``m``, in [0, 1).
        b2: decay of the per-leaf ``n``, in [0, 1) (0.25 in optax).
        eps: added to ``sqrt(n_t)``, >= 0.
        eps_root: added to ``n_t`` inside the sqrt, >= 0 (the paper's eps).
        weight_decay: the factor of ``p`` added to the normalised gradient, a
            number >= 0 (no schedule).
        mu_dtype: dtype in which ``m`` is stored; None keeps each leaf's dtype.

    Returns:
        A Transform with a `ScaleByNovogradState`: ``count`` (int32 scalar), ``mu``
        (like params, ``mu_dtype``) and ``nu`` (one 0-d array per leaf, real and at
        least float32: a squared norm overflows float16 at 256; optax keeps the
        leaf's dtype). Its update needs ``params`` (ValueError without them).

    Raises:
        ConfigError: ``b1`` or ``b2`` outside [0, 1), ``eps`` or ``eps_root``
            negative, or ``weight_decay`` negative or a schedule (any not finite).

    References:
        Ginsburg et al., "Stochastic Gradient Methods with Layer-wise Adaptive Moments
        for Training of Deep Networks", 2019, arXiv:1905.11286. Mirrors
        ``optax.scale_by_novograd``.
    """
    check_adam_hyperparams(b1, b2, eps, eps_root)
    check_weight_decay(check_number("weight_decay", weight_decay))

    def init(params):
        return ScaleByNovogradState(
            count=jnp.zeros([], jnp.int32),
            mu=tree_zeros_like(params, mu_dtype),
            nu=jax.tree.map(lambda p: jnp.zeros([], real_dtype(compute_dtype(jnp.result_type(p)))),
                            params),
        )

    def update(grads, state, params=None, **extra):
        del extra
        if params is None:
            raise ValueError("novograd needs params: call update(grads, state, params).")
        t = safe_increment(state.count)
        first = t == 1
        g, p, mu, nu = tree_upcast((grads, params, state.mu, state.nu))  # in at least float32
        n = jax.tree.map(lambda g, n: jnp.where(first, _norm(g)**2, (1 - b2) * _norm(g)**2 + b2 * n),
                         g, nu)
        a = jax.tree.map(lambda g, p, n: g / (jnp.sqrt(n + eps_root) + eps) + weight_decay * p, g, p, n)
        m = jax.tree.map(lambda m, a: jnp.where(first, a, b1 * m + a), mu, a)
        m = tree_cast_like(m, state.mu)
        return tree_cast_like(m, grads), ScaleByNovogradState(count=t, mu=m, nu=n)

    return Transform(init, update)


def novograd(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.25, eps: float = 1e-6,
             eps_root: float = 0.0, weight_decay: float = 0.0) -> Transform:
    """NovoGrad: momentum on gradients normalised per layer, weight decay inside the momentum.

        d_t = scale_by_novograd(g_t)      (m_t = b1 * m_{t-1} + g_t / (sqrt(n_t + eps_root) + eps) + wd * p_t)
        u_t = -lr_t * d_t

    Defaults follow optax (b2 0.25, eps 1e-6 outside the sqrt); the paper puts eps
    inside the sqrt (here: eps_root).

    Args:
        learning_rate: the step size ``lr > 0``, or a schedule of the int32 step count.
        b1, b2, eps, eps_root: as in `scale_by_novograd`.
        weight_decay: as in `scale_by_novograd` (a number >= 0).

    Returns:
        ``chain(scale_by_novograd(...), scale_by_learning_rate(learning_rate))``; its
        update needs ``params``.

    Raises:
        ConfigError: ``learning_rate`` not > 0, or a bad hyperparameter of
            `scale_by_novograd`.

    References:
        Ginsburg et al., 2019, arXiv:1905.11286. Mirrors ``optax.novograd``; PyTorch
        has none built in.
    """
    check_learning_rate(learning_rate)
    return chain(scale_by_novograd(b1, b2, eps, eps_root, weight_decay),
                 scale_by_learning_rate(learning_rate))


def _safe_norm(x: jax.Array, min_norm: Any) -> jax.Array:
    """``max(||x||, min_norm)`` in optax's form: ``min_norm`` wherever ``||x|| <= min_norm``."""
    norm = _norm(x)
    return jnp.where(norm <= min_norm, min_norm, norm)


def scale_by_trust_ratio(min_norm: float = 0.0, trust_coefficient: float = 1.0,
                         eps: float = 0.0) -> Transform:
    """Scale each leaf's update by the trust ratio ``||p|| / ||u||`` of its norms (LARS, LAMB).

        ratio = trust_coefficient * ||p|| / (||u|| + eps)     (norms floored at min_norm)
        ratio = 1                                             if ||p|| == 0 or ||u|| == 0
        u_out = ratio * u

    ``||.||`` is the norm of a whole leaf, so every layer takes a step of the same
    size relative to its weights, whatever its gradient's scale.

    Args:
        min_norm: floor of both norms, >= 0 (optax's form: ``min_norm`` wherever a
            norm is <= it).
        trust_coefficient: the factor ``eta`` of the ratio, > 0 (1 in LAMB, ~1e-3 in LARS).
        eps: added to ``||u||``, >= 0.

    Returns:
        A stateless Transform (``EmptyState``); its update needs ``params``
        (ValueError without them).

    Raises:
        ConfigError: ``min_norm`` or ``eps`` negative, or ``trust_coefficient`` not
            > 0 (any of them not finite).

    References:
        You, Gitman & Ginsburg, "Large Batch Training of Convolutional Networks",
        2017, arXiv:1708.03888. Mirrors ``optax.scale_by_trust_ratio``.
    """
    check_nonnegative("min_norm", min_norm, fix="Use 0 (the default).")
    check_positive("trust_coefficient", trust_coefficient, fix="Use 1.0 (LAMB) or ~1e-3 (LARS).")
    check_nonnegative("eps", eps, fix="Use 0 (the default) or a small positive value.")

    def scale_leaf(u, p):
        p_norm = _safe_norm(p, min_norm)
        u_norm = _safe_norm(u, min_norm)
        ratio = trust_coefficient * p_norm / (u_norm + eps)
        ratio = jnp.where((p_norm == 0.0) | (u_norm == 0.0), jnp.ones_like(ratio), ratio)
        return (upcast(u) * ratio).astype(u.dtype)

    def update(grads, state, params=None, **extra):
        del extra
        if params is None:
            raise ValueError("scale_by_trust_ratio needs params: call update(grads, state, params).")
        return jax.tree.map(scale_leaf, grads, params), state

    return Transform(empty_init, update)


def lamb(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-6,
         eps_root: float = 0.0, weight_decay: ScalarOrSchedule = 0.0, mask: Any = None) -> Transform:
    """LAMB: AdamW's direction, rescaled per layer by the trust ratio ``||p|| / ||d||``.

        d_t = scale_by_adam(g_t)                  (m_hat_t / (sqrt(v_hat_t + eps_root) + eps))
        d_t = d_t + wd_t * p_t                    (add_decayed_weights; where mask is True)
        d_t = ||p_t|| / ||d_t|| * d_t             (scale_by_trust_ratio; per leaf, 1 at a 0 norm)
        u_t = -lr_t * d_t

    Each step moves a leaf by ``lr * ||p||``, so a constant lr circles a minimum
    rather than settling: use a decaying schedule. eps defaults to 1e-6, as in optax
    and the paper's experiments.

    Args:
        learning_rate: the step size ``lr > 0``, or a schedule of the int32 step count.
        b1, b2, eps, eps_root: as in `adam` (the moments are Adam's).
        weight_decay, mask: the decoupled decay ``wd >= 0`` (or a schedule) and the
            leaves it applies to, as in `adamw`.

    Returns:
        ``chain(scale_by_adam(...), add_decayed_weights(weight_decay, mask),
        scale_by_trust_ratio(), scale_by_learning_rate(learning_rate))``; its update
        needs ``params``.

    Raises:
        ConfigError: ``learning_rate`` not > 0, a bad Adam hyperparameter, or
            ``weight_decay`` negative or not finite.

    References:
        You et al., "Large Batch Optimization for Deep Learning: Training BERT in 76
        minutes", 2019 (ICLR 2020), arXiv:1904.00962. Mirrors ``optax.lamb``; PyTorch
        has none built in.
    """
    check_learning_rate(learning_rate)
    return chain(
        scale_by_adam(b1, b2, eps, eps_root),
        add_decayed_weights(weight_decay, mask),
        scale_by_trust_ratio(),
        scale_by_learning_rate(learning_rate),
    )
