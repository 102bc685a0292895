"""Adam with another second moment: AdaBelief (belief) and Yogi (additive).

RAdam (`scale_by_radam`, `radam`) lives in `jaxgd.optimizers.radam` and is re-exported
here, where it used to be.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxgd.core.errors import check_learning_rate, check_nonnegative
from jaxgd.core.precision import abs_sq, tree_cast_like, tree_upcast
from jaxgd.core.transform import ScalarOrSchedule, Transform, safe_increment
from jaxgd.core.tree import (
    tree_bias_correction,
    tree_full_like,
    tree_nesterov_bias_correction,
    tree_zeros_like,
)
from jaxgd.optimizers.adam import check_adam_hyperparams
from jaxgd.optimizers.combine import chain
from jaxgd.optimizers.radam import radam, scale_by_radam
from jaxgd.optimizers.transforms import ScaleByAdamState, scale_by_learning_rate

__all__ = [
    "radam", "scale_by_radam", "adabelief", "scale_by_belief", "yogi", "scale_by_yogi",
    "ScaleByBeliefState",
]


class ScaleByBeliefState(NamedTuple):
    """State of `scale_by_belief` (the fields of ``optax.ScaleByBeliefState``).

    Attributes:
        count: int32 scalar, t - 1 before the update.
        mu: like params, the first moment m.
        nu: like params, the belief s: the EMA of |g - m|**2 (+ eps_root).
    """

    count: jax.Array  # int32 scalar: t - 1 before the update
    mu: Any  # like params: first moment m
    nu: Any  # like params: belief s, the EMA of (g - m)**2 (+ eps_root)


def scale_by_belief(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-16, eps_root: float = 1e-16,
                    *, nesterov: bool = False) -> Transform:
    """AdaBelief's direction: divide by the spread of ``g`` around its average ``m``.

        m_t = (1 - b1) * g_t + b1 * m_{t-1}
        s_t = (1 - b2) * |g_t - m_t|**2 + b2 * s_{t-1} + eps_root
        m_hat = m_t / (1 - b1**t)              (Nesterov's look-ahead when nesterov)
        s_hat = s_t / (1 - b2**t)
        u_t = m_hat / (sqrt(s_hat) + eps)

    A gradient close to the prediction ``m`` (small ``s``) gets a large step, a
    surprising one a small step. eps_root is added to the state at every step, as
    in the paper's Algorithm 2.

    Args:
        b1: decay of ``m``, in [0, 1).
        b2: decay of the belief ``s``, in [0, 1).
        eps: added to ``sqrt(s_hat)``, >= 0.
        eps_root: added to ``s_t`` at every step, >= 0.
        nesterov: Nesterov's look-ahead on ``m_hat`` (as in `nadam`).

    Returns:
        A Transform with a `ScaleByBeliefState`: ``count`` (int32 scalar), ``mu``
        and ``nu`` (``s``), both like params.

    Raises:
        ConfigError: ``b1`` or ``b2`` outside [0, 1), or ``eps`` or ``eps_root``
            negative (any of them not finite).

    References:
        Zhuang et al., "AdaBelief Optimizer: Adapting Stepsizes by the Belief in
        Observed Gradients", NeurIPS 2020, arXiv:2010.07468. Mirrors
        ``optax.scale_by_belief``.
    """
    check_adam_hyperparams(b1, b2, eps, eps_root)

    def init(params):
        return ScaleByBeliefState(count=jnp.zeros([], jnp.int32), mu=tree_zeros_like(params),
                                  nu=tree_zeros_like(params))

    def update(grads, state, params=None, **extra):
        del params, extra
        g, mu, nu = tree_upcast((grads, state.mu, state.nu))  # computed in at least float32
        m = jax.tree.map(lambda g, m: (1 - b1) * g + b1 * m, g, mu)
        s = jax.tree.map(lambda g, m, s: (1 - b2) * abs_sq(g - m) + b2 * s + eps_root, g, m, nu)
        t = safe_increment(state.count)
        if nesterov:
            m_hat = tree_nesterov_bias_correction(m, g, b1, t)
        else:
            m_hat = tree_bias_correction(m, b1, t)
        s_hat = tree_bias_correction(s, b2, t)
        u = jax.tree.map(lambda m, s: m / (jnp.sqrt(s) + eps), m_hat, s_hat)
        new = ScaleByBeliefState(count=t, mu=tree_cast_like(m, state.mu), nu=tree_cast_like(s, state.nu))
        return tree_cast_like(u, grads), new

    return Transform(init, update)


def adabelief(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999,
              eps: float = 1e-16, eps_root: float = 1e-16, *, nesterov: bool = False) -> Transform:
    """AdaBelief: Adam with the second moment replaced by the belief ``s`` (see scale_by_belief).

        d_t = scale_by_belief(g_t)      (m_hat_t / (sqrt(s_hat_t) + eps))
        u_t = -lr_t * d_t

    Defaults follow optax: eps and eps_root 1e-16.

    Args:
        learning_rate: the step size ``lr > 0``, or a schedule of the int32 step count.
        b1, b2, eps, eps_root, nesterov: as in `scale_by_belief`.

    Returns:
        ``chain(scale_by_belief(...), scale_by_learning_rate(learning_rate))``.

    Raises:
        ConfigError: ``learning_rate`` not > 0, or a bad hyperparameter of
            `scale_by_belief`.

    References:
        Zhuang et al., NeurIPS 2020, arXiv:2010.07468. Mirrors ``optax.adabelief``;
        PyTorch has none built in.
    """
    check_learning_rate(learning_rate)
    return chain(scale_by_belief(b1, b2, eps, eps_root, nesterov=nesterov),
                 scale_by_learning_rate(learning_rate))


def scale_by_yogi(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-3, eps_root: float = 0.0,
                  initial_accumulator_value: float = 1e-6) -> Transform:
    """Yogi's direction: an additive second moment whose change is bounded by ``g**2``.

        m_t = (1 - b1) * g_t + b1 * m_{t-1}                        (m_0 = initial value)
        v_t = v_{t-1} - (1 - b2) * sign(v_{t-1} - |g_t|**2) * |g_t|**2   (v_0 = initial value)
        u_t = (m_t / (1 - b1**t)) / (sqrt(v_t / (1 - b2**t) + eps_root) + eps)

    Adam's ``v`` moves towards ``g**2`` by ``(1 - b2) * (g**2 - v)``; Yogi's by
    ``(1 - b2) * g**2`` in the same direction, so a large ``v`` decays slowly. As in
    optax both moments start at ``initial_accumulator_value`` and are
    bias-corrected anyway.

    Args:
        b1: decay of ``m``, in [0, 1).
        b2: the step of ``v`` is ``(1 - b2) * g**2``; in [0, 1).
        eps: added to the root, >= 0 (1e-3 by default, as in optax).
        eps_root: added inside the root, >= 0.
        initial_accumulator_value: ``m_0`` and ``v_0`` in every element, >= 0.

    Returns:
        A Transform with a ``ScaleByAdamState``: ``count`` (int32 scalar), ``mu``
        and ``nu`` (like params).

    Raises:
        ConfigError: ``b1`` or ``b2`` outside [0, 1), or ``eps``, ``eps_root`` or
            ``initial_accumulator_value`` negative (any of them not finite).

    References:
        Zaheer, Reddi, Sachan, Kale & Kumar, "Adaptive Methods for Nonconvex
        Optimization", NeurIPS 2018 (no arXiv version). Mirrors ``optax.scale_by_yogi``.
    """
    check_adam_hyperparams(b1, b2, eps, eps_root)
    check_nonnegative("initial_accumulator_value", initial_accumulator_value,
                      fix="The paper and the default use 1e-6.")

    def init(params):
        return ScaleByAdamState(count=jnp.zeros([], jnp.int32),
                                mu=tree_full_like(params, initial_accumulator_value),
                                nu=tree_full_like(params, initial_accumulator_value))

    def update(grads, state, params=None, **extra):
        del params, extra
        g, mu, nu = tree_upcast((grads, state.mu, state.nu))  # computed in at least float32
        m = jax.tree.map(lambda g, m: (1 - b1) * g + b1 * m, g, mu)
        nu = jax.tree.map(jnp.real, nu)  # real-valued, also where stored complex
        v = jax.tree.map(lambda g, v: v - (1 - b2) * jnp.sign(v - abs_sq(g)) * abs_sq(g), g, nu)
        t = safe_increment(state.count)
        u = jax.tree.map(lambda m, v: m / (jnp.sqrt(v + eps_root) + eps),
                         tree_bias_correction(m, b1, t), tree_bias_correction(v, b2, t))
        new = ScaleByAdamState(count=t, mu=tree_cast_like(m, state.mu), nu=tree_cast_like(v, state.nu))
        return tree_cast_like(u, grads), new

    return Transform(init, update)


def yogi(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999,
         eps: float = 1e-3) -> Transform:
    """Yogi: Adam with an additive, sign-controlled second moment (see scale_by_yogi).

        d_t = scale_by_yogi(g_t)      (m_hat_t / (sqrt(v_hat_t) + eps))
        u_t = -lr_t * d_t

    Both moments start at 1e-6, so zero gradients still move params a little at
    first (as in optax).

    Args:
        learning_rate: the step size ``lr > 0``, or a schedule of the int32 step count.
        b1, b2, eps: as in `scale_by_yogi`.

    Returns:
        ``chain(scale_by_yogi(b1, b2, eps), scale_by_learning_rate(learning_rate))``.

    Raises:
        ConfigError: ``learning_rate`` not > 0, or a bad ``b1``, ``b2`` or ``eps``.

    References:
        Zaheer et al., NeurIPS 2018. Mirrors ``optax.yogi``; PyTorch has none built in.
    """
    check_learning_rate(learning_rate)
    return chain(scale_by_yogi(b1, b2, eps), scale_by_learning_rate(learning_rate))
