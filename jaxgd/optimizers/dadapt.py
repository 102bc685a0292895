"""D-Adaptation for Adam (Defazio & Mishchenko, 2023): AdamW whose step size d is estimated as it runs."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxgd.core.errors import check_betas, check_learning_rate, check_nonnegative, check_positive
from jaxgd.core.precision import refuse_complex, scalar_dtype, tree_cast_like, tree_upcast
from jaxgd.core.transform import ScalarOrSchedule, Transform, safe_increment
from jaxgd.core.tree import bias_correction, tree_zeros_like

__all__ = ["DAdaptAdamWState", "dadapt_adamw"]


class DAdaptAdamWState(NamedTuple):
    """State of `dadapt_adamw` (Defazio & Mishchenko 2023, arXiv:2301.07733), optax's fields.

    Attributes:
        exp_avg: ``m``, the EMA of ``d gamma g``, like params.
        exp_avg_sq: ``v``, the EMA of ``g**2``, like params.
        grad_sum: ``s``, the EMA (decay ``sqrt(b2)``) of ``d gamma g``, like params.
        estim_lr: ``d``, the current lower bound on the distance to the solution (real
            scalar, at least float32).
        numerator_weighted: ``r``, the EMA of ``d gamma <g, s>_{A^-1}`` (real scalar, as ``d``).
        count: int32 scalar, the number of updates so far.
    """

    exp_avg: Any
    exp_avg_sq: Any
    grad_sum: Any
    estim_lr: jax.Array
    numerator_weighted: jax.Array
    count: jax.Array


def _tree_sum(terms: Any, dtype: Any) -> jax.Array:
    """The sum over leaves of per-leaf scalars, in ``dtype`` (0 for an empty tree)."""
    return sum((t.astype(dtype) for t in jax.tree.leaves(terms)), jnp.zeros([], dtype))


def dadapt_adamw(
    learning_rate: ScalarOrSchedule = 1.0,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    estim_lr0: float = 1e-6,
    weight_decay: float = 0.0,
) -> Transform:
    """D-Adapted AdamW: Adam whose step ``d_t`` is a growing lower bound on the distance to the solution.

        gamma_t = lr_t * sqrt(1 - b2**(t+1)) / (1 - b1**(t+1))   (bias correction in the rate)
        A_t     = sqrt(v) + eps                                  (v before this step's g)
        n_t     = <g_t, s / A_t>
        m = b1 m + (1 - b1) d_t gamma_t g_t
        v = b2 v + (1 - b2) g_t**2
        s = sqrt(b2) s + (1 - sqrt(b2)) d_t gamma_t g_t
        r = sqrt(b2) r + (1 - sqrt(b2)) d_t gamma_t n_t
        d_{t+1} = max(d_t, r / ((1 - sqrt(b2)) ||s||_1))        (d_t kept while ||s||_1 = 0)
        u_t = -m / (sqrt(v) + eps) - wd d_t gamma_t x_t

    ``t`` is the int32 count before the update and ``d_0 = estim_lr0``. This is optax's
    form, which is the authors' PyTorch code with its bias correction on: against the
    paper's Adam D-Adaptation it has the bias correction inside ``gamma_t`` (the paper
    has none), weights ``<g_t, s_t>`` with the ``A_t`` of the previous ``v`` (the
    paper: ``A_{t+1}``, after ``g_t**2`` is added) and adds AdamW's decoupled decay.
    ``m`` already carries ``d_t gamma_t``, so the step is ``m / A`` with nothing after it.
    Where optax divides ``0 / 0`` (all gradients zero so far: ``||s||_1 = 0``) and
    makes ``d`` NaN, jaxgd keeps ``d_t``. ``eps`` must be > 0: with ``eps = 0`` the
    first ``n_t`` is ``0 / 0`` (``s = v = 0``).

    Args:
        learning_rate: multiplier ``lr > 0`` of the step (default 1.0, the paper's), or a
            schedule of the int32 step count (the paper: 1.0 with warmup and decay).
        betas: ``(b1, b2)``, decays of ``m`` and ``v``, each in [0, 1); ``s`` and ``r``
            decay by ``sqrt(b2)``.
        eps: Adam's ``eps > 0``, added to ``sqrt(v)``.
        estim_lr0: ``d_0 > 0``, the initial under-estimate of the distance.
        weight_decay: decoupled decay ``wd >= 0`` (times ``d_t gamma_t``), on every leaf.

    Returns:
        A Transform with a `DAdaptAdamWState`; update() needs ``params``. ``d`` and ``r``
        are kept in the real compute dtype of the params (at least float32).

    Raises:
        ConfigError: ``learning_rate``, ``eps`` or ``estim_lr0`` not > 0; ``betas`` not a
            pair of decays in [0, 1); ``weight_decay`` negative (any of them not finite).
        UnsupportedDtypeError: from init()/update(), complex params.
        ValueError: from update(), when ``params`` is not given.

    References:
        Defazio & Mishchenko, "Learning-Rate-Free Learning by D-Adaptation", ICML 2023,
        arXiv:2301.07733 (Adam D-Adaptation, appendix). Mirrors ``optax.contrib.dadapt_adamw``
        (and the authors' facebookresearch/dadaptation DAdaptAdam with bias correction).
    """
    check_learning_rate(learning_rate)
    b1, b2 = check_betas(betas)
    check_positive("eps", eps, fix="Use a small value such as 1e-8 (optax's); eps = 0 divides 0 by 0 "
                                   "on the first step.")
    check_positive("estim_lr0", estim_lr0, fix="The paper's d_0 is 1e-6.")
    check_nonnegative("weight_decay", weight_decay, fix="Use 0 for no decay; e.g. 1e-2 for AdamW's.")
    sb2 = b2**0.5

    def refuse(tree):
        refuse_complex("dadapt_adamw", tree, "its estimate of d takes absolute values and Adam's g**2",
                       "Use adam with a tuned learning rate.")

    def init(params):
        refuse(params)
        dtype = scalar_dtype(params)
        zeros = tree_zeros_like(params)
        return DAdaptAdamWState(exp_avg=zeros, exp_avg_sq=zeros, grad_sum=zeros,
                                estim_lr=jnp.asarray(estim_lr0, dtype),
                                numerator_weighted=jnp.zeros([], dtype), count=jnp.zeros([], jnp.int32))

    def update(grads, state, params=None, **extra):
        del extra
        if params is None:
            raise ValueError("dadapt_adamw: update() needs params (for its weight decay).")
        refuse(grads)
        g, x, m, v, s = tree_upcast((grads, params, state.exp_avg, state.exp_avg_sq, state.grad_sum))
        d = state.estim_lr
        t = safe_increment(state.count)
        lr = learning_rate(state.count) if callable(learning_rate) else learning_rate
        gamma = lr * jnp.sqrt(bias_correction(b2, t)) / bias_correction(b1, t)
        dlr = (d * gamma).astype(d.dtype)
        n = _tree_sum(jax.tree.map(lambda g, s, v: jnp.sum(g * s / (jnp.sqrt(v) + eps)), g, s, v), d.dtype)
        m = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * dlr * g, m, g)
        v = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, v, g)
        s = jax.tree.map(lambda s, g: sb2 * s + (1 - sb2) * dlr * g, s, g)
        r = sb2 * state.numerator_weighted + (1 - sb2) * dlr * n
        norm_s = _tree_sum(jax.tree.map(lambda s: jnp.sum(jnp.abs(s)), s), d.dtype)
        d_hat = r / ((1 - sb2) * jnp.where(norm_s > 0, norm_s, 1))
        d_new = jnp.where(norm_s > 0, jnp.maximum(d, d_hat), d)
        u = jax.tree.map(lambda m, v, x: -m / (jnp.sqrt(v) + eps) - weight_decay * dlr * x, m, v, x)
        new = DAdaptAdamWState(exp_avg=tree_cast_like(m, state.exp_avg),
                               exp_avg_sq=tree_cast_like(v, state.exp_avg_sq),
                               grad_sum=tree_cast_like(s, state.grad_sum), estim_lr=d_new.astype(d.dtype),
                               numerator_weighted=r.astype(d.dtype), count=t)
        return tree_cast_like(u, grads), new

    return Transform(init, update)
