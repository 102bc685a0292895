"""Adam and its family."""

from __future__ import annotations

from typing import Any

from jaxgd.base import ScalarOrSchedule, Transform
from jaxgd.errors import check_learning_rate
from jaxgd.optimizers.combine import chain
from jaxgd.optimizers.transforms import scale_by_adam, scale_by_learning_rate

__all__ = ["adam"]


def adam(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    mu_dtype: Any = None,
    *,
    nesterov: bool = False,
) -> Transform:
    """Adam: ``u_t = -lr_t * m_hat_t / (sqrt(v_hat_t + eps_root) + eps)`` (see scale_by_adam).

    Same defaults as optax and PyTorch (b1 0.9, b2 0.999, eps 1e-8 outside the sqrt).
    """
    check_learning_rate(learning_rate)
    return chain(
        scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov),
        scale_by_learning_rate(learning_rate),
    )
