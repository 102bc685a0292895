"""Adam relatives that use one norm per parameter leaf (layer): NovoGrad and LAMB."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxgd.core.errors import (
    ConfigError,
    check_decay,
    check_learning_rate,
    check_nonnegative,
    check_positive,
)
from jaxgd.core.transform import ScalarOrSchedule, Transform, empty_init, safe_increment
from jaxgd.core.tree import tree_cast, tree_zeros_like
from jaxgd.optimizers.combine import chain
from jaxgd.optimizers.transforms import add_decayed_weights, scale_by_adam, scale_by_learning_rate

__all__ = ["novograd", "scale_by_novograd", "lamb", "scale_by_trust_ratio", "ScaleByNovogradState"]


class ScaleByNovogradState(NamedTuple):
    count: jax.Array  # int32 scalar: t - 1 before the update
    mu: Any  # like params: momentum m of the normalised gradients
    nu: Any  # one 0-d array per leaf (leaf dtype): EMA of the leaf's squared gradient norm


def _norm(x: jax.Array) -> jax.Array:
    """Frobenius norm of a whole leaf, ``sqrt(sum(x**2))`` (0 for an empty leaf)."""
    return jnp.sqrt(jnp.sum(x * x))


def scale_by_novograd(b1: float = 0.9, b2: float = 0.25, eps: float = 1e-8, eps_root: float = 0.0,
                      weight_decay: float = 0.0, mu_dtype: Any = None) -> Transform:
    """NovoGrad's direction (Ginsburg et al., 2019): Adam with one second moment per layer.

        n_t = (1 - b2) * ||g_t||**2 + b2 * n_{t-1}         (n_1 = ||g_1||**2)
        m_t = b1 * m_{t-1} + g_t / (sqrt(n_t + eps_root) + eps) + wd * p   (m_0 = 0)
        u_t = m_t

    ``||.||`` is the norm of a whole leaf. No bias correction: the first step
    starts the moments at their first values instead. Needs params (for wd).
    """
    check_decay("b1", b1)
    check_decay("b2", b2)
    check_nonnegative("eps", eps, fix="Use a small positive value such as 1e-8.")
    check_nonnegative("eps_root", eps_root, fix="Use 0 (the default) or a small positive value.")
    if callable(weight_decay):
        raise ConfigError(f"weight_decay={weight_decay!r}: novograd takes a constant weight decay; "
                          "accepted: a float >= 0. Pass e.g. weight_decay=1e-3.")
    check_nonnegative("weight_decay", weight_decay, fix="Use 0 for no decay, e.g. 1e-3.")

    def init(params):
        return ScaleByNovogradState(
            count=jnp.zeros([], jnp.int32),
            mu=tree_zeros_like(params, mu_dtype),
            nu=jax.tree.map(lambda p: jnp.zeros([], jnp.result_type(p)), params),
        )

    def update(grads, state, params=None, **extra):
        del extra
        if params is None:
            raise ValueError("novograd needs params: call update(grads, state, params).")
        t = safe_increment(state.count)
        first = t == 1
        n = jax.tree.map(lambda g, n: jnp.where(first, _norm(g)**2, (1 - b2) * _norm(g)**2 + b2 * n)
                         .astype(n.dtype), grads, state.nu)
        a = jax.tree.map(lambda g, p, n: g / (jnp.sqrt(n + eps_root) + eps) + weight_decay * p,
                         grads, params, n)
        m = jax.tree.map(lambda m, a: jnp.where(first, a, b1 * m + a), state.mu, a)
        m = tree_cast(m, mu_dtype)
        return m, ScaleByNovogradState(count=t, mu=m, nu=n)

    return Transform(init, update)


def novograd(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.25, eps: float = 1e-6,
             eps_root: float = 0.0, weight_decay: float = 0.0) -> Transform:
    """NovoGrad: ``u_t = -lr_t * scale_by_novograd(g)_t``; weight decay sits inside the momentum.

    Defaults follow optax (b2 0.25, eps 1e-6 outside the sqrt); the paper puts eps
    inside the sqrt (here: eps_root).
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
    """Layer-wise trust ratio (You et al., LARS 2017 / LAMB 2020), per leaf.

        ratio = trust_coefficient * ||p|| / (||u|| + eps)     (norms floored at min_norm)
        ratio = 1                                             if ||p|| == 0 or ||u|| == 0
        u_out = ratio * u

    Needs params.
    """
    check_nonnegative("min_norm", min_norm, fix="Use 0 (the default).")
    check_positive("trust_coefficient", trust_coefficient, fix="Use 1.0 (LAMB) or ~1e-3 (LARS).")
    check_nonnegative("eps", eps, fix="Use 0 (the default) or a small positive value.")

    def scale_leaf(u, p):
        p_norm = _safe_norm(p, min_norm)
        u_norm = _safe_norm(u, min_norm)
        ratio = trust_coefficient * p_norm / (u_norm + eps)
        ratio = jnp.where((p_norm == 0.0) | (u_norm == 0.0), jnp.array(1.0, p.dtype), ratio)
        return u * ratio

    def update(grads, state, params=None, **extra):
        del extra
        if params is None:
            raise ValueError("scale_by_trust_ratio needs params: call update(grads, state, params).")
        return jax.tree.map(scale_leaf, grads, params), state

    return Transform(empty_init, update)


def lamb(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-6,
         eps_root: float = 0.0, weight_decay: ScalarOrSchedule = 0.0, mask: Any = None) -> Transform:
    """LAMB (You et al., 2020): AdamW's direction rescaled per leaf by a trust ratio.

        d_t = m_hat / (sqrt(v_hat + eps_root) + eps) + wd_t * p   (decay where mask is True)
        u_t = -lr_t * (||p|| / ||d_t||) * d_t                     (per leaf; ratio 1 at a 0 norm)

    eps defaults to 1e-6, as in optax and the paper's experiments.
    """
    check_learning_rate(learning_rate)
    return chain(
        scale_by_adam(b1, b2, eps, eps_root),
        add_decayed_weights(weight_decay, mask),
        scale_by_trust_ratio(),
        scale_by_learning_rate(learning_rate),
    )
