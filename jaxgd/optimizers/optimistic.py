"""Optimistic Adam (Daskalakis et al., 2018): Adam's direction extrapolated with its last change."""

from __future__ import annotations

from typing import Any

from jaxgd.core.errors import check_learning_rate
from jaxgd.core.transform import ScalarOrSchedule, Transform
from jaxgd.optimizers.combine import chain
from jaxgd.optimizers.sgd_variants import scale_by_optimistic_gradient
from jaxgd.optimizers.transforms import scale_by_adam, scale_by_learning_rate

__all__ = ["optimistic_adam_v2"]


def optimistic_adam_v2(
    learning_rate: ScalarOrSchedule,
    *,
    alpha: float = 1.0,
    beta: float = 1.0,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    mu_dtype: Any = None,
    nesterov: bool = True,
) -> Transform:
    """Optimistic Adam: step along Adam's direction plus its change since the last step.

        r_t = scale_by_adam(g_t)          (m_hat_t / (sqrt(v_hat_t + eps_root) + eps))
        r_0 := r_1                        (on the first step)
        u_t = -lr_t ((alpha + beta) r_t - beta r_{t-1})

    With ``alpha = beta = 1`` and ``nesterov=False`` this is the paper's Algorithm 1,
    ``w_t = w_{t-1} - 2 lr r_t + lr r_{t-1}``, save for the first step: optax (and so
    jaxgd) takes ``r_0 = r_1`` there, a plain Adam step ``-lr alpha r_1``, where the
    paper's ``r_0 = 0`` doubles it. optax's default is ``nesterov=True`` (NAdam's
    look-ahead on ``m_hat``, not in the paper). The "_v2" is optax's: its reworked
    interface with ``alpha`` and ``beta`` apart from the learning rate.

    Args:
        learning_rate: the step size ``lr > 0``, or a schedule of the int32 step count.
        alpha: the weight of the current direction ``r_t`` (>= 0, a number).
        beta: the weight of its change ``r_t - r_{t-1}`` (>= 0, a number).
        b1, b2, eps, eps_root, mu_dtype: as in `adam`.
        nesterov: Nesterov's look-ahead on ``m_hat`` (default True, optax's).

    Returns:
        ``chain(scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov),
        scale_by_optimistic_gradient(alpha, beta), scale_by_learning_rate(learning_rate))``;
        the optimistic step's state keeps ``r_{t-1}`` like params.

    Raises:
        ConfigError: ``learning_rate`` not > 0; ``b1`` or ``b2`` outside [0, 1); ``eps``,
            ``eps_root``, ``alpha`` or ``beta`` negative (any of them not finite);
            ``alpha`` or ``beta`` a schedule.

    References:
        Daskalakis, Ilyas, Syrgkanis & Zeng, "Training GANs with Optimism", ICLR 2018,
        arXiv:1711.00141, Algorithm 1. Mirrors ``optax.optimistic_adam_v2``.
    """
    check_learning_rate(learning_rate)
    return chain(
        scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov),
        scale_by_optimistic_gradient(alpha, beta),
        scale_by_learning_rate(learning_rate),
    )
