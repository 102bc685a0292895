"""Prodigy (Mishchenko & Defazio, 2023): Adam whose step size D is estimated as it runs."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxgd.core.errors import (
    check_betas,
    check_decay,
    check_learning_rate,
    check_nonnegative,
    check_positive,
)
from jaxgd.core.precision import refuse_complex, scalar_dtype, tree_cast_like, tree_upcast
from jaxgd.core.transform import ScalarOrSchedule, Transform, safe_increment
from jaxgd.core.tree import bias_correction, tree_zeros_like

__all__ = ["ProdigyState", "prodigy"]


class ProdigyState(NamedTuple):
    """State of `prodigy` (Mishchenko & Defazio 2023, arXiv:2306.06101).

    Attributes:
        exp_avg: ``m``, the EMA of ``d g``, like params.
        exp_avg_sq: ``v``, the EMA of ``(d g)**2``, like params.
        grad_sum: ``s``, the weighted sum of past ``d**2 gamma g / d_0``, like params.
        params0: the params ``x_0`` given to init().
        estim_lr: ``d``, the current estimate of the distance to the solution (real scalar).
        numerator_weighted: ``r``, the weighted sum of ``d**2 gamma <g, x_0 - x> / d_0``
            (real scalar).
        count: int32 scalar, the number of updates so far.
    """

    exp_avg: Any
    exp_avg_sq: Any
    grad_sum: Any
    params0: Any
    estim_lr: jax.Array
    numerator_weighted: jax.Array
    count: jax.Array


def prodigy(
    learning_rate: ScalarOrSchedule = 1.0,
    betas: tuple[float, float] = (0.9, 0.999),
    beta3: float | None = None,
    eps: float = 1e-8,
    estim_lr0: float = 1e-6,
    estim_lr_coef: float = 1.0,
    weight_decay: float = 0.0,
    safeguard_warmup: bool = False,
) -> Transform:
    """Prodigy: Adam scaled by an estimate ``d_t`` of the distance to the solution (learning-rate free).

        gamma_t = lr_t * sqrt(1 - b2**(t+1)) / (1 - b1**(t+1))     (bias correction in the rate)
        m = b1 m + (1 - b1) d_t g_t
        v = b2 v + (1 - b2) d_t**2 g_t**2
        r = b3 r + d_t**2 gamma_t <g_t, x_0 - x_t> / d_0
        s = b3 s + d_t**2 gamma_t g_t / d_0        (safeguard_warmup: d_t**2 g_t / d_0)
        d_{t+1} = max(d_t, coef * r / ||s||_1)      (d_t kept while ||s||_1 = 0)
        u_t = -d_t gamma_t (m / (sqrt(v) + d_{t+1} eps) + wd x_t)

    ``t`` is the int32 count before the update, ``d_0 = estim_lr0``; ``b3`` defaults to
    ``sqrt(b2)``. This is optax's form, which is the authors' PyTorch code: against the
    paper's Algorithm 3 it has the bias correction inside ``gamma_t``, ``d_{t+1} eps``
    (not ``d_t eps``) in the denominator, decoupled decay, and leaves out the paper's
    ``(1 - b3)`` and ``1 / d_0``, which cancel in ``r / ||s||_1``.
    ``learning_rate`` multiplies the step (1.0: the paper's Prodigy).

    Args:
        learning_rate: multiplier ``lr > 0`` (default 1.0), or a schedule of the int32
            step count (the paper: 1.0 with a cosine or linear decay).
        betas: ``(b1, b2)``, decays of ``m`` and ``v``, each in [0, 1).
        beta3: decay of ``r`` and ``s`` in [0, 1); None: ``sqrt(b2)``.
        eps: Adam's ``eps`` (times ``d``), >= 0.
        estim_lr0: ``d_0 > 0``, the initial under-estimate of the distance.
        estim_lr_coef: ``coef > 0``, a multiplier of the estimates ``d``.
        weight_decay: decoupled decay ``wd >= 0`` (times ``d_t gamma_t``).
        safeguard_warmup: leave ``gamma_t`` out of ``s`` (for warmup schedules).

    Returns:
        A Transform with a `ProdigyState`. init() needs the actual initial params;
        update() needs ``params``.

    Raises:
        ConfigError: ``learning_rate`` not > 0; ``betas`` not a pair of decays in
            [0, 1); ``beta3`` outside [0, 1); ``eps`` or ``weight_decay`` negative;
            ``estim_lr0`` or ``estim_lr_coef`` not > 0 (any of them not finite).
        UnsupportedDtypeError: from init()/update(), complex params.
        ValueError: from update(), when ``params`` is not given.

    References:
        Mishchenko & Defazio, "Prodigy: An Expeditiously Adaptive Parameter-Free
        Learner", ICML 2024, arXiv:2306.06101, Algorithm 3. Mirrors
        ``optax.contrib.prodigy`` (and the authors' prodigyopt).
    """
    check_learning_rate(learning_rate)
    b1, b2 = check_betas(betas)
    b3 = b2**0.5 if beta3 is None else check_decay("beta3", beta3)
    check_nonnegative("eps", eps, fix="Use a small value such as 1e-8 (the paper's).")
    check_positive("estim_lr0", estim_lr0, fix="The paper's d_0 is 1e-6.")
    check_positive("estim_lr_coef", estim_lr_coef, fix="Use 1.0 (the paper's).")
    check_nonnegative("weight_decay", weight_decay, fix="Use 0 for no decay; e.g. 1e-2 for AdamW's.")

    def refuse(tree):
        refuse_complex("prodigy", tree, "its estimate of d takes absolute values and Adam's g**2",
                       "Use adam with a tuned learning rate.")

    def init(params):
        refuse(params)
        dtype = scalar_dtype(params)
        zeros = tree_zeros_like(params)
        return ProdigyState(exp_avg=zeros, exp_avg_sq=zeros, grad_sum=zeros, params0=params,
                            estim_lr=jnp.asarray(estim_lr0, dtype), numerator_weighted=jnp.zeros([], dtype),
                            count=jnp.zeros([], jnp.int32))

    def update(grads, state, params=None, **extra):
        del extra
        if params is None:
            raise ValueError("prodigy: update() needs params (its estimate uses x_0 - x_t).")
        refuse(grads)
        g, p, p0, m, v, s = tree_upcast((grads, params, state.params0, state.exp_avg, state.exp_avg_sq,
                                         state.grad_sum))
        d = state.estim_lr
        t = safe_increment(state.count)
        lr = learning_rate(state.count) if callable(learning_rate) else learning_rate
        gamma = lr * jnp.sqrt(bias_correction(b2, t)) / bias_correction(b1, t)
        dlr = (d * gamma).astype(d.dtype)
        m = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * d * g, m, g)
        v = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * (d * g) ** 2, v, g)
        weight = d * d if safeguard_warmup else d * dlr
        s = jax.tree.map(lambda s, g: b3 * s + weight * g / estim_lr0, s, g)
        inner = sum((jnp.sum(gi * (a - b)) for gi, a, b in zip(jax.tree.leaves(g), jax.tree.leaves(p0),
                                                                  jax.tree.leaves(p), strict=True)),
                    jnp.zeros([], d.dtype))
        r = b3 * state.numerator_weighted + (d / estim_lr0) * dlr * inner.astype(d.dtype)
        norm_s = sum((jnp.sum(jnp.abs(x)) for x in jax.tree.leaves(s)), jnp.zeros([], d.dtype))
        d_hat = estim_lr_coef * r / jnp.where(norm_s > 0, norm_s, 1)
        d_new = jnp.where(norm_s > 0, jnp.maximum(d, d_hat.astype(d.dtype)), d)
        u = jax.tree.map(lambda m, v, x: -dlr * (m / (jnp.sqrt(v) + d_new * eps) + weight_decay * x), m, v, p)
        new = ProdigyState(exp_avg=tree_cast_like(m, state.exp_avg),
                           exp_avg_sq=tree_cast_like(v, state.exp_avg_sq),
                           grad_sum=tree_cast_like(s, state.grad_sum), params0=state.params0,
                           estim_lr=d_new, numerator_weighted=r.astype(d.dtype), count=t)
        return tree_cast_like(u, grads), new

    return Transform(init, update)
