"""Adam with a running maximum in the denominator: AMSGrad (max of v_hat) and Adamax(W) (max of |g|)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxgd.core.errors import check_learning_rate
from jaxgd.core.precision import abs_sq, tree_cast_like, tree_upcast
from jaxgd.core.transform import ScalarOrSchedule, Transform, safe_increment
from jaxgd.core.tree import tree_bias_correction, tree_zeros_like
from jaxgd.optimizers.adam import check_adam_hyperparams
from jaxgd.optimizers.combine import chain
from jaxgd.optimizers.transforms import ScaleByAdamState, add_decayed_weights, scale_by_learning_rate

__all__ = [
    "amsgrad", "scale_by_amsgrad", "ScaleByAmsgradState", "adamax", "adamaxw", "scale_by_adamax",
]


class ScaleByAmsgradState(NamedTuple):
    """State of `scale_by_amsgrad` (the fields of ``optax.ScaleByAmsgradState``).

    Attributes:
        count: int32 scalar, t - 1 before the update.
        mu: like params (``mu_dtype`` if given), the first moment m.
        nu: like params, the second moment v.
        nu_max: like params, v_max: the running max of the (bias-corrected) second moment.
    """

    count: jax.Array  # int32 scalar: t - 1 before the update
    mu: Any  # like params (mu_dtype if given): first moment m
    nu: Any  # like params: second moment v
    nu_max: Any  # like params: v_max, the running max of the (bias-corrected) second moment


def scale_by_amsgrad(
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    mu_dtype: Any = None,
    bias_correction_mu: bool = True,
    bias_correction_nu: bool = True,
) -> Transform:
    """AMSGrad's direction: Adam's, divided by the largest second moment so far.

        m_t = (1 - b1) * g_t + b1 * m_{t-1}
        v_t = (1 - b2) * |g_t|**2 + b2 * v_{t-1}
        m_hat = m_t / (1 - b1**t)              (m_t if not bias_correction_mu)
        v_hat = v_t / (1 - b2**t)              (v_t if not bias_correction_nu)
        v_max_t = max(v_max_{t-1}, v_hat)
        u_t = m_hat / (sqrt(v_max_t + eps_root) + eps)

    The max is over the bias-corrected ``v_hat``, as in optax. PyTorch
    (``Adam(amsgrad=True)``) takes it over the raw ``v_t`` and divides afterwards,
    ``u = m_hat / (sqrt(max_s v_s) / sqrt(1 - b2**t) + eps)``; since ``1 - b2**t``
    grows with t the two maxima pick different steps, and no flag here reproduces
    PyTorch (``bias_correction_nu=False`` drops the division entirely).

    Args:
        b1: decay of ``m``, in [0, 1).
        b2: decay of ``v``, in [0, 1).
        eps: added to ``sqrt(v_max)``, >= 0.
        eps_root: added to ``v_max`` inside the sqrt, >= 0.
        mu_dtype: dtype in which ``m`` is stored; None keeps each leaf's dtype.
        bias_correction_mu: divide ``m_t`` by ``1 - b1**t``.
        bias_correction_nu: divide ``v_t`` by ``1 - b2**t`` before the max.

    Returns:
        A Transform with a `ScaleByAmsgradState`: ``count`` (int32 scalar), ``mu``
        (like params, ``mu_dtype``), ``nu`` and ``nu_max`` (like params).

    Raises:
        ConfigError: ``b1`` or ``b2`` outside [0, 1), ``eps`` or ``eps_root``
            negative (any of them not finite).

    References:
        Reddi, Kale & Kumar, "On the Convergence of Adam and Beyond", ICLR 2018,
        arXiv:1904.09237. Mirrors ``optax.scale_by_amsgrad``.
    """
    check_adam_hyperparams(b1, b2, eps, eps_root)

    def init(params):
        return ScaleByAmsgradState(
            count=jnp.zeros([], jnp.int32),
            mu=tree_zeros_like(params, mu_dtype),
            nu=tree_zeros_like(params),
            nu_max=tree_zeros_like(params),
        )

    def update(grads, state, params=None, **extra):
        del params, extra
        g, mu, nu, nu_max = tree_upcast((grads, state.mu, state.nu, state.nu_max))  # >= float32
        m = jax.tree.map(lambda g, m: (1 - b1) * g + b1 * m, g, mu)
        v = jax.tree.map(lambda g, v: (1 - b2) * abs_sq(g) + b2 * v, g, nu)
        t = safe_increment(state.count)
        m_hat = tree_bias_correction(m, b1, t) if bias_correction_mu else m
        v_hat = tree_bias_correction(v, b2, t) if bias_correction_nu else v
        v_max = jax.tree.map(lambda a, b: jnp.maximum(jnp.real(a), jnp.real(b)), nu_max, v_hat)
        u = jax.tree.map(lambda m, v: m / (jnp.sqrt(v + eps_root) + eps), m_hat, v_max)
        new = ScaleByAmsgradState(count=t, mu=tree_cast_like(m, state.mu), nu=tree_cast_like(v, state.nu),
                                  nu_max=tree_cast_like(v_max, state.nu_max))
        return tree_cast_like(u, grads), new

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
    """AMSGrad: Adam whose denominator never shrinks, so no step size grows.

        d_t = scale_by_amsgrad(g_t)      (m_hat_t / (sqrt(v_max_t + eps_root) + eps))
        u_t = -lr_t * d_t

    Args:
        learning_rate: the step size ``lr > 0``, or a schedule of the int32 step count.
        b1, b2, eps, eps_root, mu_dtype, bias_correction_mu, bias_correction_nu: as
            in `scale_by_amsgrad`.

    Returns:
        ``chain(scale_by_amsgrad(...), scale_by_learning_rate(learning_rate))``.

    Raises:
        ConfigError: ``learning_rate`` not > 0, or a bad moment hyperparameter (as in
            `scale_by_amsgrad`).

    References:
        Reddi, Kale & Kumar, ICLR 2018, arXiv:1904.09237. Mirrors ``optax.amsgrad``;
        PyTorch: ``torch.optim.Adam(amsgrad=True)``, a different max (see
        `scale_by_amsgrad`).
    """
    check_learning_rate(learning_rate)
    return chain(
        scale_by_amsgrad(b1, b2, eps, eps_root, mu_dtype, bias_correction_mu, bias_correction_nu),
        scale_by_learning_rate(learning_rate),
    )


def scale_by_adamax(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> Transform:
    """Adamax's direction: Adam with an infinity-norm second moment.

        m_t = (1 - b1) * g_t + b1 * m_{t-1}
        u_inf_t = max(|g_t| + eps, b2 * u_inf_{t-1})       (|g| the modulus for complex g)
        u_t = (m_t / (1 - b1**t)) / u_inf_t

    ``u_inf`` needs no bias correction; eps sits inside the max, as in optax and
    PyTorch, so a zero gradient divides by at least eps.

    Args:
        b1: decay of ``m``, in [0, 1).
        b2: decay of the running max ``u_inf``, in [0, 1).
        eps: added to ``|g_t|`` inside the max, >= 0.

    Returns:
        A Transform with a ``ScaleByAdamState``: ``count`` (int32 scalar), ``mu``
        (``m``) and ``nu`` (``u_inf``), both like params.

    Raises:
        ConfigError: ``b1`` or ``b2`` outside [0, 1), or ``eps`` negative (any of
            them not finite).

    References:
        Kingma & Ba, 2014, arXiv:1412.6980, sec. 7.1. Mirrors ``optax.scale_by_adamax``.
    """
    check_adam_hyperparams(b1, b2, eps, 0.0)

    def init(params):
        return ScaleByAdamState(count=jnp.zeros([], jnp.int32), mu=tree_zeros_like(params),
                                nu=tree_zeros_like(params))

    def update(grads, state, params=None, **extra):
        del params, extra
        g, mu, nu = tree_upcast((grads, state.mu, state.nu))  # computed in at least float32
        m = jax.tree.map(lambda g, m: (1 - b1) * g + b1 * m, g, mu)
        u_inf = jax.tree.map(lambda g, u: jnp.maximum(jnp.abs(g) + eps, b2 * jnp.real(u)), g, nu)
        t = safe_increment(state.count)
        u = jax.tree.map(lambda m, v: m / v, tree_bias_correction(m, b1, t), u_inf)
        new = ScaleByAdamState(count=t, mu=tree_cast_like(m, state.mu), nu=tree_cast_like(u_inf, state.nu))
        return tree_cast_like(u, grads), new

    return Transform(init, update)


def adamax(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999,
           eps: float = 1e-8) -> Transform:
    """Adamax: Adam with the second moment replaced by a decaying max of ``|g|``.

        d_t = scale_by_adamax(g_t)      ((m_t / (1 - b1**t)) / u_inf_t)
        u_t = -lr_t * d_t

    The same rule as PyTorch's Adamax (whose default lr is 2e-3).

    Args:
        learning_rate: the step size ``lr > 0``, or a schedule of the int32 step count.
        b1, b2, eps: as in `scale_by_adamax`.

    Returns:
        ``chain(scale_by_adamax(b1, b2, eps), scale_by_learning_rate(learning_rate))``.

    Raises:
        ConfigError: ``learning_rate`` not > 0, or a bad ``b1``, ``b2`` or ``eps``.

    References:
        Kingma & Ba, 2014, arXiv:1412.6980, sec. 7.1. Mirrors ``optax.adamax``;
        PyTorch: ``torch.optim.Adamax``.
    """
    check_learning_rate(learning_rate)
    return chain(scale_by_adamax(b1, b2, eps), scale_by_learning_rate(learning_rate))


def adamaxw(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
            weight_decay: ScalarOrSchedule = 1e-4, mask: Any = None) -> Transform:
    """AdamaxW: Adamax with decoupled weight decay (as AdamW is to Adam).

        d_t = scale_by_adamax(g_t)      ((m_t / (1 - b1**t)) / u_inf_t)
        d_t = d_t + wd_t * p_t          (leaves where mask is True)
        u_t = -lr_t * d_t

    Args:
        learning_rate: the step size ``lr > 0``, or a schedule of the int32 step count.
        b1, b2, eps: as in `scale_by_adamax`.
        weight_decay, mask: the decoupled decay ``wd >= 0`` (or a schedule) and the
            leaves it applies to, as in `adamw`.

    Returns:
        ``chain(scale_by_adamax(...), add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate))``; its update needs ``params``.

    Raises:
        ConfigError: ``learning_rate`` not > 0, a bad ``b1``, ``b2`` or ``eps``, or
            ``weight_decay`` negative or not finite.

    References:
        Kingma & Ba, arXiv:1412.6980, sec. 7.1, with the decay of Loshchilov & Hutter,
        arXiv:1711.05101. Mirrors ``optax.adamaxw``; PyTorch has no decoupled Adamax
        (``torch.optim.Adamax``'s ``weight_decay`` is added to the gradient).
    """
    check_learning_rate(learning_rate)
    return chain(scale_by_adamax(b1, b2, eps), add_decayed_weights(weight_decay, mask),
                 scale_by_learning_rate(learning_rate))
