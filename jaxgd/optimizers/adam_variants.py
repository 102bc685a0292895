"""Adam with another second moment or step size: Adamax, RAdam, AdaBelief, Yogi, Adan."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxgd.core.errors import check_decay, check_learning_rate, check_nonnegative, check_range
from jaxgd.core.transform import ScalarOrSchedule, Transform, safe_increment
from jaxgd.core.tree import tree_full_like, tree_zeros_like
from jaxgd.optimizers.adam import _bias_correction, _check_adam
from jaxgd.optimizers.combine import chain
from jaxgd.optimizers.transforms import ScaleByAdamState, add_decayed_weights, scale_by_learning_rate

__all__ = [
    "adamax", "adamaxw", "scale_by_adamax", "radam", "scale_by_radam",
    "adabelief", "scale_by_belief", "yogi", "scale_by_yogi", "adan", "scale_by_adan",
    "ScaleByBeliefState", "ScaleByAdanState",
]


class ScaleByBeliefState(NamedTuple):
    count: jax.Array  # int32 scalar: t - 1 before the update
    mu: Any  # like params: first moment m
    nu: Any  # like params: belief s, the EMA of (g - m)**2 (+ eps_root)


class ScaleByAdanState(NamedTuple):
    m: Any  # like params: EMA of g
    v: Any  # like params: EMA of the gradient difference g_t - g_{t-1}
    n: Any  # like params: EMA of (g_t + b2 * diff_t)**2
    g: Any  # like params: the previous gradient
    t: jax.Array  # int32 scalar: steps taken


def scale_by_adamax(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> Transform:
    """Adamax's direction (Kingma & Ba, 2015, sec. 7.1): Adam with an infinity-norm moment.

        m_t = (1 - b1) * g_t + b1 * m_{t-1}
        u_inf_t = max(|g_t| + eps, b2 * u_inf_{t-1})
        u_t = (m_t / (1 - b1**t)) / u_inf_t

    eps sits inside the max, as in optax and PyTorch.
    """
    _check_adam(b1, b2, eps, 0.0)

    def init(params):
        return ScaleByAdamState(count=jnp.zeros([], jnp.int32), mu=tree_zeros_like(params),
                                nu=tree_zeros_like(params))

    def update(grads, state, params=None, **extra):
        del params, extra
        t = safe_increment(state.count)
        m = jax.tree.map(lambda g, m: (1 - b1) * g + b1 * m, grads, state.mu)
        u_inf = jax.tree.map(lambda g, u: jnp.maximum(jnp.abs(g) + eps, b2 * u), grads, state.nu)
        u = jax.tree.map(lambda m, v: m / v, _bias_correction(m, b1, t), u_inf)
        return u, ScaleByAdamState(count=t, mu=m, nu=u_inf)

    return Transform(init, update)


def adamax(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999,
           eps: float = 1e-8) -> Transform:
    """Adamax: ``u_t = -lr_t * scale_by_adamax(g)_t``. Same rule as PyTorch's Adamax."""
    check_learning_rate(learning_rate)
    return chain(scale_by_adamax(b1, b2, eps), scale_by_learning_rate(learning_rate))


def adamaxw(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
            weight_decay: ScalarOrSchedule = 1e-4, mask: Any = None) -> Transform:
    """Adamax with decoupled weight decay: ``u_t = -lr_t * (adamax_dir + wd_t * p)`` (masked)."""
    check_learning_rate(learning_rate)
    return chain(scale_by_adamax(b1, b2, eps), add_decayed_weights(weight_decay, mask),
                 scale_by_learning_rate(learning_rate))


def _nesterov_m_hat(m, grads, b1, t):
    """``b1 * m_t / (1 - b1**(t+1)) + (1 - b1) * g_t / (1 - b1**t)``, optax's rounding order."""
    return jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g,
                        _bias_correction(m, b1, safe_increment(t)), _bias_correction(grads, b1, t))


def scale_by_radam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, eps_root: float = 0.0,
                   threshold: float = 5.0, *, nesterov: bool = False) -> Transform:
    """Rectified Adam's direction (Liu et al., 2020): plain momentum until v_hat is trustworthy.

        m_t, v_t, m_hat, v_hat as in Adam (m_hat with the look-ahead when nesterov)
        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 * t * b2**t / (1 - b2**t)
        r_t = sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        u_t = r_t * m_hat / (sqrt(v_hat + eps_root) + eps)     if rho_t >= threshold
        u_t = m_hat                                            otherwise

    PyTorch's RAdam switches at ``rho_t > 5`` (fixed) and divides by
    ``sqrt(v_t) + eps`` before the correction, i.e. eps/sqrt(1 - b2**t) in this
    form: the two agree only with eps = 0.
    """
    _check_adam(b1, b2, eps, eps_root)
    check_range("threshold", threshold, low=4.0,
                fix="rho_t - 4 must be >= 0 where the rectifier is used; the default is 5.0.")

    def init(params):
        return ScaleByAdamState(count=jnp.zeros([], jnp.int32), mu=tree_zeros_like(params),
                                nu=tree_zeros_like(params))

    def update(grads, state, params=None, **extra):
        del params, extra
        m = jax.tree.map(lambda g, m: (1 - b1) * g + b1 * m, grads, state.mu)
        v = jax.tree.map(lambda g, v: (1 - b2) * g**2 + b2 * v, grads, state.nu)
        t = safe_increment(state.count)
        m_hat = _nesterov_m_hat(m, grads, b1, t) if nesterov else _bias_correction(m, b1, t)
        v_hat = _bias_correction(v, b2, t)
        rho_inf = 2.0 / (1.0 - b2) - 1.0
        b2t = b2 ** t
        rho = rho_inf - 2 * t * b2t / (1 - b2t)
        r = jnp.sqrt((rho - 4.0) * (rho - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho))
        rect = jax.tree.map(lambda m, v: r.astype(m.dtype) * m / (jnp.sqrt(v + eps_root) + eps),
                            m_hat, v_hat)
        u = jax.tree.map(lambda a, b: jnp.where(rho >= threshold, a, b), rect, m_hat)
        return u, ScaleByAdamState(count=t, mu=m, nu=v)

    return Transform(init, update)


def radam(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
          eps_root: float = 0.0, threshold: float = 5.0, *, nesterov: bool = False) -> Transform:
    """RAdam: ``u_t = -lr_t * scale_by_radam(g)_t`` (see there for PyTorch's eps placement)."""
    check_learning_rate(learning_rate)
    return chain(scale_by_radam(b1, b2, eps, eps_root, threshold, nesterov=nesterov),
                 scale_by_learning_rate(learning_rate))


def scale_by_belief(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-16, eps_root: float = 1e-16,
                    *, nesterov: bool = False) -> Transform:
    """AdaBelief's direction (Zhuang et al., 2020): scale by the belief in the gradient.

        m_t = (1 - b1) * g_t + b1 * m_{t-1}
        s_t = (1 - b2) * (g_t - m_t)**2 + b2 * s_{t-1} + eps_root
        m_hat = m_t / (1 - b1**t)              (with the look-ahead when nesterov)
        s_hat = s_t / (1 - b2**t)
        u_t = m_hat / (sqrt(s_hat) + eps)

    eps_root is added to the state at every step, as in the paper's Algorithm 2.
    """
    _check_adam(b1, b2, eps, eps_root)

    def init(params):
        return ScaleByBeliefState(count=jnp.zeros([], jnp.int32), mu=tree_zeros_like(params),
                                  nu=tree_zeros_like(params))

    def update(grads, state, params=None, **extra):
        del params, extra
        m = jax.tree.map(lambda g, m: (1 - b1) * g + b1 * m, grads, state.mu)
        s = jax.tree.map(lambda g, m, s: (1 - b2) * (g - m)**2 + b2 * s + eps_root,
                         grads, m, state.nu)
        t = safe_increment(state.count)
        m_hat = _nesterov_m_hat(m, grads, b1, t) if nesterov else _bias_correction(m, b1, t)
        s_hat = _bias_correction(s, b2, t)
        u = jax.tree.map(lambda m, s: m / (jnp.sqrt(s) + eps), m_hat, s_hat)
        return u, ScaleByBeliefState(count=t, mu=m, nu=s)

    return Transform(init, update)


def adabelief(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999,
              eps: float = 1e-16, eps_root: float = 1e-16, *, nesterov: bool = False) -> Transform:
    """AdaBelief: ``u_t = -lr_t * scale_by_belief(g)_t``."""
    check_learning_rate(learning_rate)
    return chain(scale_by_belief(b1, b2, eps, eps_root, nesterov=nesterov),
                 scale_by_learning_rate(learning_rate))


def scale_by_yogi(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-3, eps_root: float = 0.0,
                  initial_accumulator_value: float = 1e-6) -> Transform:
    """Yogi's direction (Zaheer et al., 2018): an additive, sign-controlled second moment.

        m_t = (1 - b1) * g_t + b1 * m_{t-1}                     (m_0 = initial value)
        v_t = v_{t-1} - (1 - b2) * sign(v_{t-1} - g_t**2) * g_t**2  (v_0 = initial value)
        u_t = (m_t / (1 - b1**t)) / (sqrt(v_t / (1 - b2**t) + eps_root) + eps)

    As in optax, both moments start at ``initial_accumulator_value`` (1e-6) and
    are bias-corrected anyway; eps defaults to 1e-3.
    """
    _check_adam(b1, b2, eps, eps_root)
    check_nonnegative("initial_accumulator_value", initial_accumulator_value,
                      fix="The paper and the default use 1e-6.")

    def init(params):
        return ScaleByAdamState(count=jnp.zeros([], jnp.int32),
                                mu=tree_full_like(params, initial_accumulator_value),
                                nu=tree_full_like(params, initial_accumulator_value))

    def update(grads, state, params=None, **extra):
        del params, extra
        m = jax.tree.map(lambda g, m: (1 - b1) * g + b1 * m, grads, state.mu)
        v = jax.tree.map(lambda g, v: v - (1 - b2) * jnp.sign(v - g**2) * g**2, grads, state.nu)
        t = safe_increment(state.count)
        u = jax.tree.map(lambda m, v: m / (jnp.sqrt(v + eps_root) + eps),
                         _bias_correction(m, b1, t), _bias_correction(v, b2, t))
        return u, ScaleByAdamState(count=t, mu=m, nu=v)

    return Transform(init, update)


def yogi(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999,
         eps: float = 1e-3) -> Transform:
    """Yogi: ``u_t = -lr_t * scale_by_yogi(g)_t``."""
    check_learning_rate(learning_rate)
    return chain(scale_by_yogi(b1, b2, eps), scale_by_learning_rate(learning_rate))


def scale_by_adan(b1: float = 0.98, b2: float = 0.92, b3: float = 0.99, eps: float = 1e-8,
                  eps_root: float = 0.0) -> Transform:
    """Adan's direction (Xie et al., 2022, Algorithm 1): Nesterov through gradient differences.

        d_t = g_t - g_{t-1}                     (d_1 = 0)
        m_t = (1 - b1) * g_t + b1 * m_{t-1}
        v_t = (1 - b2) * d_t + b2 * v_{t-1}
        n_t = (1 - b3) * (g_t + (1 - b2) * d_t)**2 + b3 * n_{t-1}
        m_hat, v_hat, n_hat = m_t / (1 - b1**t), v_t / (1 - b2**t), n_t / (1 - b3**t)
        u_t = (m_hat + (1 - b2) * v_hat) / (sqrt(n_hat + eps_root) + eps)

    The b's are decay rates (the paper writes 1 - beta). optax multiplies the
    correction by ``1 - b2`` where the paper's beta2 (= 1 - b2 here) appears.
    """
    _check_adam(b1, b2, eps, eps_root)
    check_decay("b3", b3)

    def init(params):
        zeros = tree_zeros_like(params)
        return ScaleByAdanState(m=zeros, v=zeros, n=zeros, g=zeros, t=jnp.zeros([], jnp.int32))

    def update(grads, state, params=None, **extra):
        del params, extra
        d = jax.tree.map(lambda g, g0: jnp.where(state.t == 0, jnp.zeros_like(g), g - g0),
                         grads, state.g)
        m = jax.tree.map(lambda g, m: (1 - b1) * g + b1 * m, grads, state.m)
        v = jax.tree.map(lambda d, v: (1 - b2) * d + b2 * v, d, state.v)
        n = jax.tree.map(lambda g, d, n: (1 - b3) * (g + (1 - b2) * d)**2 + b3 * n,
                         grads, d, state.n)
        t = safe_increment(state.t)
        m_hat, v_hat, n_hat = (_bias_correction(x, b, t) for x, b in ((m, b1), (v, b2), (n, b3)))
        u = jax.tree.map(lambda m, v, n: (m + (1 - b2) * v) / (jnp.sqrt(n + eps_root) + eps),
                         m_hat, v_hat, n_hat)
        return u, ScaleByAdanState(m=m, v=v, n=n, g=grads, t=t)

    return Transform(init, update)


def adan(learning_rate: ScalarOrSchedule, b1: float = 0.98, b2: float = 0.92, b3: float = 0.99,
         eps: float = 1e-8, eps_root: float = 1e-8, weight_decay: ScalarOrSchedule = 0.0,
         mask: Any = None) -> Transform:
    """Adan: ``u_t = -lr_t * (scale_by_adan(g)_t + wd_t * p)`` (decay masked).

    The paper applies decay as a proximal step ``p / (1 + lr * wd)``; optax (and
    jaxgd) add ``wd * p`` to the direction instead: equal to first order in lr*wd.
    Note ``adan``'s eps_root defaults to 1e-8, ``scale_by_adan``'s to 0.
    """
    check_learning_rate(learning_rate)
    return chain(scale_by_adan(b1, b2, b3, eps, eps_root), add_decayed_weights(weight_decay, mask),
                 scale_by_learning_rate(learning_rate))
