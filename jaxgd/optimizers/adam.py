"""Adam and its closest kin: AdamW (decoupled decay), NAdam(W) (Nesterov), AMSGrad (max of v)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxgd.core.errors import check_decay, check_learning_rate, check_nonnegative
from jaxgd.core.transform import ScalarOrSchedule, Transform, safe_increment
from jaxgd.core.tree import tree_cast, tree_zeros_like
from jaxgd.optimizers.combine import chain
from jaxgd.optimizers.transforms import add_decayed_weights, scale_by_adam, scale_by_learning_rate

__all__ = [
    "adam", "adamw", "nadam", "nadamw", "amsgrad", "scale_by_amsgrad",
    "ScaleByAmsgradState",
]


class ScaleByAmsgradState(NamedTuple):
    count: jax.Array  # int32 scalar: t - 1 before the update
    mu: Any  # like params: first moment m
    nu: Any  # like params: second moment v
    nu_max: Any  # like params: running max of the (bias-corrected) second moment


def _bias_correction(moment: Any, decay: Any, count: jax.Array) -> Any:
    """``moment / (1 - decay**count)``, the division done in each leaf's dtype."""
    correction = 1 - decay ** count
    return jax.tree.map(lambda t: t / correction.astype(t.dtype), moment)


def _check_adam(b1: Any, b2: Any, eps: Any, eps_root: Any) -> None:
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
    """Adam: ``u_t = -lr_t * m_hat_t / (sqrt(v_hat_t + eps_root) + eps)`` (see scale_by_adam).

    Same defaults as optax and PyTorch (b1 0.9, b2 0.999, eps 1e-8 outside the sqrt).
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
    """AdamW (Loshchilov & Hutter, 2019): Adam with weight decay kept out of the moments.

        d_t = adam_direction(g_t)                 (scale_by_adam: m_hat / (sqrt(v_hat) + eps))
        d_t = d_t + wd_t * p_{t-1}                (only where mask is True)
        u_t = -lr_t * d_t

    PyTorch writes the same rule as ``p *= 1 - lr*wd`` followed by the Adam step;
    the two agree exactly. Defaults differ: optax and jaxgd use wd 1e-4, PyTorch 1e-2.
    The decay is multiplied by the learning rate (a schedule scales both).

    Args:
        learning_rate: float > 0 or a schedule.
        b1, b2, eps, eps_root, mu_dtype, nesterov: as in `adam`.
        weight_decay: wd >= 0, or a schedule of the step count.
        mask: pytree of bools like params (or a function params -> one); True leaves decay.

    Returns:
        The Transform ``chain(scale_by_adam, decay, scale_by_learning_rate)``.
    """
    check_learning_rate(learning_rate)
    return chain(
        scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )


def nadam(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    mu_dtype: Any = None,
    *,
    nesterov: bool = True,
) -> Transform:
    """NAdam (Dozat, 2016): `adam` with the Nesterov look-ahead on by default.

        m_hat = b1 * m_t / (1 - b1**(t+1)) + (1 - b1) * g_t / (1 - b1**t)
        u_t = -lr_t * m_hat / (sqrt(v_hat + eps_root) + eps)

    ``b1`` is constant. PyTorch's NAdam uses Dozat's momentum schedule
    ``mu_t = b1 * (1 - 0.5 * 0.96**(t * psi))`` with ``psi = momentum_decay = 4e-3``;
    it reduces to this rule when ``psi`` is huge (``mu_t = b1`` for all t).
    """
    return adam(learning_rate, b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov)


def nadamw(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    mu_dtype: Any = None,
    weight_decay: ScalarOrSchedule = 1e-4,
    mask: Any = None,
    *,
    nesterov: bool = True,
) -> Transform:
    """NAdamW: `adamw` with the Nesterov look-ahead of `nadam` on by default."""
    return adamw(learning_rate, b1, b2, eps, eps_root, mu_dtype, weight_decay, mask,
                 nesterov=nesterov)


def scale_by_amsgrad(
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    mu_dtype: Any = None,
    bias_correction_mu: bool = True,
    bias_correction_nu: bool = True,
) -> Transform:
    """AMSGrad's direction (Reddi et al., 2018), in optax's form.

        m_t = (1 - b1) * g_t + b1 * m_{t-1}
        v_t = (1 - b2) * g_t**2 + b2 * v_{t-1}
        m_hat = m_t / (1 - b1**t)              (m_t if not bias_correction_mu)
        v_hat = v_t / (1 - b2**t)              (v_t if not bias_correction_nu)
        v_max_t = max(v_max_{t-1}, v_hat)
        u_t = m_hat / (sqrt(v_max_t + eps_root) + eps)

    PyTorch (``Adam(amsgrad=True)``) takes the max over the RAW ``v_t`` and divides
    afterwards: ``u = m_hat / (sqrt(max_s v_s) / sqrt(1 - b2**t) + eps)``. Since
    ``1 - b2**t`` grows with t, the two maxima pick different steps; no flag here
    reproduces PyTorch (``bias_correction_nu=False`` drops the division entirely).
    """
    _check_adam(b1, b2, eps, eps_root)

    def init(params):
        return ScaleByAmsgradState(
            count=jnp.zeros([], jnp.int32),
            mu=tree_zeros_like(params, mu_dtype),
            nu=tree_zeros_like(params),
            nu_max=tree_zeros_like(params),
        )

    def update(grads, state, params=None, **extra):
        del params, extra
        m = jax.tree.map(lambda g, m: (1 - b1) * g + b1 * m, grads, state.mu)
        v = jax.tree.map(lambda g, v: (1 - b2) * g**2 + b2 * v, grads, state.nu)
        t = safe_increment(state.count)
        m_hat = _bias_correction(m, b1, t) if bias_correction_mu else m
        v_hat = _bias_correction(v, b2, t) if bias_correction_nu else v
        v_max = jax.tree.map(jnp.maximum, state.nu_max, v_hat)
        u = jax.tree.map(lambda m, v: m / (jnp.sqrt(v + eps_root) + eps), m_hat, v_max)
        return u, ScaleByAmsgradState(count=t, mu=tree_cast(m, mu_dtype), nu=v, nu_max=v_max)

    return Transform(init, update)


def amsgrad(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    mu_dtype: Any = None,
    bias_correction_mu: bool = True,
    bias_correction_nu: bool = True,
) -> Transform:
    """AMSGrad: ``u_t = -lr_t * scale_by_amsgrad(g)_t`` (optax's max over v_hat; see there)."""
    check_learning_rate(learning_rate)
    return chain(
        scale_by_amsgrad(b1, b2, eps, eps_root, mu_dtype, bias_correction_mu, bias_correction_nu),
        scale_by_learning_rate(learning_rate),
    )
