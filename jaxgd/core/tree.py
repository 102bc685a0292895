"""Pytree helpers, one copy each: zeros, casts, norms, finiteness, differences, bias corrections.

Norms square and sum in at least float32 whatever the leaves' dtype.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxgd.core.transform import safe_increment


def tree_zeros_like(tree: Any, dtype: Any = None) -> Any:
    """Zeros with each leaf's shape (and dtype unless ``dtype`` is given)."""
    return jax.tree.map(lambda x: jnp.zeros(jnp.shape(x), dtype or jnp.result_type(x)), tree)


def tree_full_like(tree: Any, value: float, dtype: Any = None) -> Any:
    """``value`` everywhere, with each leaf's shape (and dtype unless given)."""
    return jax.tree.map(lambda x: jnp.full(jnp.shape(x), value, dtype or jnp.result_type(x)), tree)


def tree_sum_of_squares(tree: Any) -> jax.Array:
    """``sum_i sum(x_i**2)`` over all leaves (0.0 for an empty tree)."""
    leaves = jax.tree.leaves(tree)
    return sum((jnp.sum(jnp.square(x)) for x in leaves), jnp.zeros(()))


def tree_l2_norm(tree: Any) -> jax.Array:
    """Global l2 norm: ``sqrt(sum over leaves of sum(x**2))``."""
    return jnp.sqrt(tree_sum_of_squares(tree))


def tree_all_finite(tree: Any) -> jax.Array:
    """True when every element of every leaf is finite (a bool scalar)."""
    leaves = jax.tree.leaves(tree)
    if not leaves:
        return jnp.array(True)
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves]))


def tree_cast(tree: Any, dtype: Any) -> Any:
    """Cast every leaf to ``dtype`` (``None`` keeps it)."""
    return tree if dtype is None else jax.tree.map(lambda x: jnp.asarray(x, dtype), tree)


def tree_max_abs_diff(a: Any, b: Any) -> float:
    """Largest ``|a - b|`` over all leaves, as a Python float (0.0 for empty trees)."""
    pairs = zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    diffs = [float(jnp.max(jnp.abs(jnp.asarray(x) - jnp.asarray(y)))) for x, y in pairs if jnp.size(x)]
    return max(diffs, default=0.0)


def tree_bias_correction(moment: Any, decay: Any, count: jax.Array) -> Any:
    """``moment / (1 - decay**count)`` for every leaf, the division done in the leaf's dtype.

    An average ``m_t = decay * m_{t-1} + (1 - decay) * x_t`` started at ``m_0 = 0``
    gives its inputs total weight ``1 - decay**t`` after ``t`` steps; dividing by it
    removes the pull towards 0 (Kingma & Ba, 2014, sec. 3). ``count`` is ``t >= 1``.
    """
    correction = 1 - decay**count
    return jax.tree.map(lambda x: x / correction.astype(x.dtype), moment)


def tree_nesterov_bias_correction(moment: Any, grads: Any, decay: Any, count: jax.Array) -> Any:
    """Nesterov's look-ahead of a debiased moment (Dozat, 2016), in optax's rounding order.

        m_hat = decay * (m_t / (1 - decay**(t+1))) + (1 - decay) * (g_t / (1 - decay**t))

    with ``t = count``; ``moment`` is ``m_t`` and ``grads`` is ``g_t``.
    """
    ahead = tree_bias_correction(moment, decay, safe_increment(count))
    now = tree_bias_correction(grads, decay, count)
    return jax.tree.map(lambda m, g: decay * m + (1 - decay) * g, ahead, now)
