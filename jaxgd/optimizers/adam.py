"""Adam (Kingma & Ba, 2014) and its closest kin: AdamW (decoupled decay) and NAdam(W) (Nesterov)."""

from __future__ import annotations

import functools
from typing import Any

from jaxgd.core.errors import check_decay, check_learning_rate, check_nonnegative
from jaxgd.core.transform import ScalarOrSchedule, Transform
from jaxgd.optimizers.combine import chain
from jaxgd.optimizers.transforms import add_decayed_weights, scale_by_adam, scale_by_learning_rate

__all__ = ["adam", "adamw", "nadam", "nadamw"]


def check_adam_hyperparams(b1: Any, b2: Any, eps: Any, eps_root: Any) -> None:
    """Raise ConfigError unless b1, b2 are in [0, 1) and eps, eps_root are finite and >= 0."""
    check_decay("b1", b1)
    check_decay("b2", b2)
    check_nonnegative("eps", eps, fix="Use a small positive value such as 1e-8.")
    check_nonnegative("eps_root", eps_root, fix="Use 0 (the default) or a small positive value.")


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
    """Adam: descent along the debiased first moment over the root of the second.

        d_t = scale_by_adam(g_t)      (m_hat_t / (sqrt(v_hat_t + eps_root) + eps))
        u_t = -lr_t * d_t

    ``m`` and ``v`` are moving averages of ``g`` and ``g**2`` with decays ``b1`` and
    ``b2``; ``m_hat``, ``v_hat`` divide them by ``1 - b**t`` (see `scale_by_adam`).
    Same defaults as optax and PyTorch (b1 0.9, b2 0.999, eps 1e-8 outside the sqrt).

    Args:
        learning_rate: the step size ``lr > 0``, or a schedule ``lr(count)`` of the
            int32 step count.
        b1: decay of the first moment ``m``, in [0, 1).
        b2: decay of the second moment ``v``, in [0, 1).
        eps: added to ``sqrt(v_hat)``, >= 0.
        eps_root: added to ``v_hat`` inside the sqrt, >= 0 (keeps gradients through
            the update finite where ``v_hat`` is 0).
        mu_dtype: dtype in which ``m`` is stored (e.g. ``jnp.bfloat16``); None keeps
            each leaf's dtype. ``v`` always has the params' dtype.
        nesterov: Nesterov's look-ahead on ``m_hat`` (the rule of `nadam`).

    Returns:
        ``chain(scale_by_adam(...), scale_by_learning_rate(learning_rate))``. Its state
        is a ``ScaleByAdamState`` (``count``: int32 scalar; ``mu``, ``nu``: like
        params) and the learning-rate step's state.

    Raises:
        ConfigError: ``learning_rate`` not > 0, ``b1`` or ``b2`` outside [0, 1), or
            ``eps`` or ``eps_root`` negative (any of them not finite).

    References:
        Kingma & Ba, "Adam: A Method for Stochastic Optimization", 2014, arXiv:1412.6980.
        Mirrors ``optax.adam``; PyTorch: ``torch.optim.Adam``.
    """
    check_learning_rate(learning_rate)
    return chain(
        scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov),
        scale_by_learning_rate(learning_rate),
    )


def adamw(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    mu_dtype: Any = None,
    weight_decay: ScalarOrSchedule = 1e-4,
    mask: Any = None,
    *,
    nesterov: bool = False,
) -> Transform:
    """AdamW: Adam with the weight decay kept out of the moments (decoupled).

        d_t = scale_by_adam(g_t)      (m_hat_t / (sqrt(v_hat_t + eps_root) + eps))
        d_t = d_t + wd_t * p_t        (add_decayed_weights; leaves where mask is True)
        u_t = -lr_t * d_t

    The decay is multiplied by the learning rate (a schedule scales both). PyTorch
    writes the same rule as ``p *= 1 - lr * wd`` before the Adam step; the two agree
    exactly. Defaults differ: optax and jaxgd use wd 1e-4, PyTorch 1e-2.

    Args:
        learning_rate: the step size ``lr > 0``, or a schedule of the int32 step count.
        b1, b2, eps, eps_root, mu_dtype, nesterov: as in `adam`.
        weight_decay: the factor ``wd >= 0``, or a schedule of the step count.
        mask: a pytree of bools like params, or a function params -> such a tree;
            only True leaves decay (None: all).

    Returns:
        ``chain(scale_by_adam(...), add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate))``; its update needs ``params``.

    Raises:
        ConfigError: a bad Adam hyperparameter (as in `adam`), or ``weight_decay``
            negative or not finite.

    References:
        Loshchilov & Hutter, "Decoupled Weight Decay Regularization", 2017 (ICLR 2019),
        arXiv:1711.05101. Mirrors ``optax.adamw``; PyTorch: ``torch.optim.AdamW``.
    """
    check_learning_rate(learning_rate)
    return chain(
        scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )


def _nesterov_by_default(factory: Any, name: str) -> functools.partial:
    """``factory`` with ``nesterov=True`` as its default, named ``name`` (optax's form)."""
    named = functools.partial(factory, nesterov=True)
    named.__name__ = named.__qualname__ = name
    named.__module__ = __name__
    return named


nadam = _nesterov_by_default(adam, "nadam")
nadam.__doc__ = """NAdam: `adam` with Nesterov's look-ahead on the first moment (``nesterov=True``).

    m_hat_t = b1 * m_t / (1 - b1**(t+1)) + (1 - b1) * g_t / (1 - b1**t)
    u_t = -lr_t * m_hat_t / (sqrt(v_hat_t + eps_root) + eps)

``m_t``, ``v_t`` and ``v_hat_t`` are Adam's; only ``m_hat`` changes. ``b1`` is
constant: PyTorch's NAdam uses Dozat's momentum schedule
``mu_t = b1 * (1 - 0.5 * 0.96**(t * psi))`` (``psi = momentum_decay = 4e-3``) and
reduces to this rule only when ``psi`` is huge (``mu_t = b1`` for all t).

Args:
    learning_rate, b1, b2, eps, eps_root, mu_dtype: as in `adam`.
    nesterov: True by default; False gives plain `adam`.

Returns:
    ``adam(..., nesterov=True)``.

Raises:
    ConfigError: as `adam`.

References:
    Dozat, "Incorporating Nesterov Momentum into Adam", ICLR 2016 workshop
    (OpenReview OM0jvwB8jIp57ZJjtNEZ; no arXiv version). Mirrors ``optax.nadam``;
    PyTorch: ``torch.optim.NAdam`` (with its momentum schedule, see above).
"""

nadamw = _nesterov_by_default(adamw, "nadamw")
nadamw.__doc__ = """NAdamW: `adamw` with the Nesterov look-ahead of `nadam` (``nesterov=True``).

    d_t = m_hat_t / (sqrt(v_hat_t + eps_root) + eps)      (m_hat_t as in `nadam`)
    u_t = -lr_t * (d_t + wd_t * p_t)                      (decay where mask is True)

Args:
    learning_rate, b1, b2, eps, eps_root, mu_dtype, weight_decay, mask: as in `adamw`.
    nesterov: True by default; False gives plain `adamw`.

Returns:
    ``adamw(..., nesterov=True)``; its update needs ``params``.

Raises:
    ConfigError: as `adamw`.

References:
    Dozat, ICLR 2016 workshop (see `nadam`) with the decoupled decay of Loshchilov &
    Hutter, arXiv:1711.05101. Mirrors ``optax.nadamw``; PyTorch:
    ``torch.optim.NAdam(decoupled_weight_decay=True)`` (with its momentum schedule).
"""
