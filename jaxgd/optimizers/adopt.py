"""ADOPT (Taniguchi et al., 2024): Adam with the second moment of the previous step."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jaxgd.core.errors import ConfigError, check_decay, check_learning_rate, check_nonnegative
from jaxgd.core.precision import abs_sq, refuse_complex, tree_cast_like, tree_upcast
from jaxgd.core.transform import ScalarOrSchedule, Transform, safe_increment
from jaxgd.core.tree import tree_zeros_like
from jaxgd.optimizers.combine import chain
from jaxgd.optimizers.transforms import ScaleByAdamState, scale_by_learning_rate

__all__ = ["adopt", "scale_by_adopt"]


def _quarter_power(count: jax.Array) -> jax.Array:
    """The paper's clipping bound ``c_t = t**(1/4)``."""
    return count**0.25


def scale_by_adopt(
    b1: float = 0.9,
    b2: float = 0.9999,
    eps: float = 1e-6,
    mu_dtype: Any = None,
    *,
    nesterov: bool = False,
    use_clipping: bool = True,
    clip_value_fn: Callable[[jax.Array], jax.Array] = _quarter_power,
) -> Transform:
    """ADOPT's direction: normalise g_t by the second moment of the steps before it.

        step 0:     v_0 = |g_0|**2,  m_0 = 0,  u_0 = 0            (no move)
        step t>=1:  n_t = clip(g_t / max(sqrt(v_{t-1}), eps), c_t) (c_t = clip_value_fn(t))
                    m_t = b1 * m_{t-1} + (1 - b1) * n_t
                    v_t = b2 * v_{t-1} + (1 - b2) * |g_t|**2
                    u_t = m_t                                    (plain)
                    u_t = b1 * m_t + (1 - b1) * n_t              (nesterov)

    ``t`` is the int32 count before the update. Since ``v_{t-1}`` does not contain
    ``g_t``, the normalised gradient is an unbiased step direction whatever ``b2``
    (the paper's fix of Adam's non-convergence); the momentum is taken after the
    normalisation, and no moment is bias-corrected. ``clip`` bounds every element
    of ``n_t`` to ``[-c_t, c_t]`` (the paper's stabilised variant, on by default).

    Args:
        b1: decay of ``m``, in [0, 1).
        b2: decay of ``v``, in [0, 1).
        eps: floor of ``sqrt(v)`` (taken as a max, not added), >= 0.
        mu_dtype: dtype in which ``m`` is stored (None: the params' dtype).
        nesterov: step along ``b1 * m_t + (1 - b1) * n_t`` instead of ``m_t``.
        use_clipping: clip ``n_t`` elementwise to ``[-c_t, c_t]``.
        clip_value_fn: ``c_t`` as a function of the int32 count ``t`` (default
            ``t**0.25``).

    Returns:
        A Transform with a ``ScaleByAdamState``: ``count`` (int32 scalar), ``mu``
        (``m``) and ``nu`` (``v``), both like params.

    Raises:
        ConfigError: ``b1`` or ``b2`` outside [0, 1), ``eps`` negative (any of them
            not finite), or ``clip_value_fn`` not callable.
        UnsupportedDtypeError: from init()/update(), complex params with clipping
            on (an interval bounds real numbers only; optax's clip raises too).

    References:
        Taniguchi, Harada, Minegishi, Oshima, Jeong, Nagahara, Iiyama, Suzuki,
        Iwasawa & Matsuo, "ADOPT: Modified Adam Can Converge with Any beta2 with
        the Optimal Rate", NeurIPS 2024, arXiv:2411.02853. Mirrors
        ``optax.contrib.scale_by_adopt``.
    """
    check_decay("b1", b1)
    check_decay("b2", b2)
    check_nonnegative("eps", eps, fix="Use a small positive value such as 1e-6 (the paper's).")
    if use_clipping and not callable(clip_value_fn):
        raise ConfigError(f"clip_value_fn={clip_value_fn!r} is not callable; accepted: a function of "
                          "the int32 step count, e.g. lambda t: t**0.25 (the default).")

    def refuse(tree):
        if use_clipping:
            refuse_complex("adopt", tree, "its clipping bounds each element to an interval [-c, c]",
                           "Pass use_clipping=False, which takes complex params.")

    def init(params):
        refuse(params)
        return ScaleByAdamState(count=jnp.zeros([], jnp.int32), mu=tree_zeros_like(params, mu_dtype),
                                nu=tree_zeros_like(params))

    def update(grads, state, params=None, **extra):
        del params, extra
        refuse(grads)
        g, m_prev, v_prev = tree_upcast((grads, state.mu, state.nu))  # computed in at least float32
        first = state.count == 0

        def normalise(g, v):
            n = g / jnp.maximum(jnp.sqrt(v), eps)
            if use_clipping:
                c = clip_value_fn(state.count)
                n = jnp.clip(n, -c, c)
            return n

        n = jax.tree.map(normalise, g, v_prev)
        m = jax.tree.map(lambda n, m: jnp.where(first, m, b1 * m + (1 - b1) * n), n, m_prev)
        v = jax.tree.map(lambda g, v: jnp.where(first, abs_sq(g), b2 * v + (1 - b2) * abs_sq(g)),
                         g, v_prev)
        if nesterov:
            u = jax.tree.map(lambda n, m: jnp.where(first, m, b1 * m + (1 - b1) * n), n, m)
        else:
            u = m
        new = ScaleByAdamState(count=safe_increment(state.count), mu=tree_cast_like(m, state.mu),
                               nu=tree_cast_like(v, state.nu))
        return tree_cast_like(u, grads), new

    return Transform(init, update)


def adopt(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.9999,
    eps: float = 1e-6,
    mu_dtype: Any = None,
    *,
    nesterov: bool = False,
    use_clipping: bool = True,
    clip_value_fn: Callable[[jax.Array], jax.Array] = _quarter_power,
) -> Transform:
    """ADOPT: Adam that converges with any b2 (normalise first, then average; see scale_by_adopt).

        d_t = scale_by_adopt(g_t)      (m_t: EMA of clip(g_t / max(sqrt(v_{t-1}), eps)))
        u_t = -lr_t * d_t

    The first step only records ``v_0 = g_0**2`` and leaves params unchanged.
    Defaults follow the paper and optax: b1 0.9, b2 0.9999, eps 1e-6, clipping at
    ``t**0.25``.

    Args:
        learning_rate: the step size ``lr > 0``, or a schedule of the int32 step count.
        b1, b2, eps, mu_dtype, nesterov, use_clipping, clip_value_fn: as in
            `scale_by_adopt`.

    Returns:
        ``chain(scale_by_adopt(...), scale_by_learning_rate(learning_rate))``.

    Raises:
        ConfigError: ``learning_rate`` not > 0, or a bad hyperparameter of
            `scale_by_adopt`.

    References:
        Taniguchi et al., NeurIPS 2024, arXiv:2411.02853. Mirrors
        ``optax.contrib.adopt``; the authors' PyTorch code (iShohei220/adopt) is
        the same rule.
    """
    check_learning_rate(learning_rate)
    return chain(scale_by_adopt(b1, b2, eps, mu_dtype, nesterov=nesterov, use_clipping=use_clipping,
                                clip_value_fn=clip_value_fn),
                 scale_by_learning_rate(learning_rate))
