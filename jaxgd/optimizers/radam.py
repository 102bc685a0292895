"""RAdam (Liu et al., 2019): Adam whose first steps are rectified, or plain momentum."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp

from jaxgd.core.errors import check_learning_rate, check_range
from jaxgd.core.precision import tree_cast_like, upcast
from jaxgd.core.transform import ScalarOrSchedule, Transform
from jaxgd.core.tree import (
    bias_correction,
    tree_zeros_like,
)
from jaxgd.optimizers.adam import check_adam_hyperparams
from jaxgd.optimizers.combine import chain
from jaxgd.optimizers.transforms import ScaleByAdamState, adam_moments, scale_by_learning_rate

__all__ = ["radam", "scale_by_radam"]


def _rho(b2: Any, t: jax.Array) -> jax.Array:
    """RAdam's ``rho_t = rho_inf - 2 t b2**t / (1 - b2**t)`` without its cancellation.

    At the first rectified steps ``rho_t`` is ~5 and ``rho_inf = 2 / (1 - b2) - 1`` ~2000:
    the direct difference keeps only ~1e-4 of ``rho_t`` in float32. With ``c = -log(b2)``
    and ``x = t c``, the Bernoulli series of ``x / expm1(x)`` gives, for x < 1/2 (its
    next term is below 1e-14 relative there),

        rho_t = t + sum_k 2 B_2k / (2k)! c**(2k-1) (1 - t**(2k))      (k = 1..6)

    and for x >= 1/2 the direct form loses at most a factor 5.
    """
    c = -math.log(b2) if isinstance(b2, int | float) and b2 > 0 else -jnp.log(upcast(b2))
    t = t.astype(jnp.result_type(float) if isinstance(c, float) else jnp.promote_types(c.dtype, jnp.float32))
    series = t + sum(w * c ** (n - 1) * (1 - t**n) for n, w in _RHO_TERMS)
    direct = (2.0 / (1.0 - b2) - 1.0) - 2 * t * (1 - bias_correction(b2, t)) / bias_correction(b2, t)
    return jnp.where(t * c < 0.5, series, direct)


_RHO_TERMS = ((2, 1 / 6), (4, -1 / 360), (6, 1 / 15120), (8, -1 / 604800), (10, 1 / 23950080),
              (12, -691 / 653837184000))  # (2k, 2 B_2k / (2k)!)


def scale_by_radam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, eps_root: float = 0.0,
                   threshold: float = 5.0, *, nesterov: bool = False) -> Transform:
    """Rectified Adam's direction: momentum alone until ``v_hat`` is trustworthy.

        m_t = (1 - b1) * g_t + b1 * m_{t-1}
        v_t = (1 - b2) * |g_t|**2 + b2 * v_{t-1}
        m_hat = m_t / (1 - b1**t)              (Nesterov's look-ahead when nesterov)
        v_hat = v_t / (1 - b2**t)
        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 * t * b2**t / (1 - b2**t)
        r_t = sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        u_t = r_t * m_hat / (sqrt(v_hat + eps_root) + eps)     if rho_t >= threshold
        u_t = m_hat                                            otherwise

    ``rho_t`` approximates the degrees of freedom of ``v_hat``; ``r_t`` rectifies
    the variance of the adaptive step. PyTorch's RAdam switches at ``rho_t > 5``
    (fixed) and divides by ``sqrt(v_t) + eps`` before the bias correction, i.e.
    uses ``eps / sqrt(1 - b2**t)`` in this form: the two agree only with eps = 0.

    Args:
        b1: decay of ``m``, in [0, 1).
        b2: decay of ``v``, in [0, 1).
        eps: added to ``sqrt(v_hat)``, >= 0.
        eps_root: added to ``v_hat`` inside the sqrt, >= 0.
        threshold: the ``rho_t`` from which the rectified step is used, >= 4.
        nesterov: Nesterov's look-ahead on ``m_hat`` (as in `nadam`).

    Returns:
        A Transform with a ``ScaleByAdamState``: ``count`` (int32 scalar), ``mu``
        and ``nu`` (like params).

    Raises:
        ConfigError: ``b1`` or ``b2`` outside [0, 1), ``eps`` or ``eps_root``
            negative, or ``threshold`` below 4 (any of them not finite).

    References:
        Liu et al., "On the Variance of the Adaptive Learning Rate and Beyond", 2019
        (ICLR 2020), arXiv:1908.03265. Mirrors ``optax.scale_by_radam``.
    """
    check_adam_hyperparams(b1, b2, eps, eps_root)
    check_range("threshold", threshold, low=4.0,
                fix="rho_t - 4 must be >= 0 where the rectifier is used; the default is 5.0.")

    def init(params):
        return ScaleByAdamState(count=jnp.zeros([], jnp.int32), mu=tree_zeros_like(params),
                                nu=tree_zeros_like(params))

    def update(grads, state, params=None, **extra):
        del params, extra
        m, v, t, m_hat, v_hat = adam_moments(grads, state, b1, b2, nesterov)
        rho_inf = 2.0 / (1.0 - b2) - 1.0
        rho = _rho(b2, t)
        r = jnp.sqrt((rho - 4.0) * (rho - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho))
        rect = jax.tree.map(lambda m, v: r.astype(m.dtype) * m / (jnp.sqrt(v + eps_root) + eps),
                            m_hat, v_hat)
        u = jax.tree.map(lambda a, b: jnp.where(rho >= threshold, a, b), rect, m_hat)
        new = ScaleByAdamState(count=t, mu=tree_cast_like(m, state.mu), nu=tree_cast_like(v, state.nu))
        return tree_cast_like(u, grads), new

    return Transform(init, update)


def radam(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
          eps_root: float = 0.0, threshold: float = 5.0, *, nesterov: bool = False) -> Transform:
    """RAdam: Adam with its early steps rectified (plain momentum until ``rho_t >= threshold``).

        d_t = scale_by_radam(g_t)      (r_t * m_hat_t / (sqrt(v_hat_t + eps_root) + eps), or m_hat_t)
        u_t = -lr_t * d_t

    Args:
        learning_rate: the step size ``lr > 0``, or a schedule of the int32 step count.
        b1, b2, eps, eps_root, threshold, nesterov: as in `scale_by_radam`.

    Returns:
        ``chain(scale_by_radam(...), scale_by_learning_rate(learning_rate))``.

    Raises:
        ConfigError: ``learning_rate`` not > 0, or a bad hyperparameter of
            `scale_by_radam`.

    References:
        Liu et al., 2019, arXiv:1908.03265. Mirrors ``optax.radam``; PyTorch:
        ``torch.optim.RAdam`` (another eps placement, see `scale_by_radam`).
    """
    check_learning_rate(learning_rate)
    return chain(scale_by_radam(b1, b2, eps, eps_root, threshold, nesterov=nesterov),
                 scale_by_learning_rate(learning_rate))
