"""Pytree helpers, one copy each: zeros, casts, norms, finiteness, differences, bias corrections.

Norms square and sum each leaf in at least float32 whatever its dtype (a float16
leaf of norm 300 does not overflow), and ``|x|**2`` is real for complex leaves.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgd.core.precision import abs_sq, storage_dtype, upcast
from jaxgd.core.transform import safe_increment


def tree_zeros_like(tree: Any, dtype: Any = None) -> Any:
    """Zeros with each leaf's shape, in its dtype or ``dtype`` (complex for a complex leaf)."""
    return jax.tree.map(lambda x: jnp.zeros(jnp.shape(x), storage_dtype(jnp.result_type(x), dtype)), tree)


def tree_full_like(tree: Any, value: float, dtype: Any = None) -> Any:
    """``value`` everywhere, with each leaf's shape, in its dtype or ``dtype`` (kept complex)."""
    return jax.tree.map(lambda x: jnp.full(jnp.shape(x), value, storage_dtype(jnp.result_type(x), dtype)),
                        tree)


def tree_sum_of_squares(tree: Any) -> jax.Array:
    """``sum_i sum(|x_i|**2)`` over all leaves (0.0 for an empty tree), real.

    Each leaf is squared and summed in its compute dtype (at least float32; see
    `jaxgd.core.precision`), so float16 and bfloat16 leaves neither overflow nor
    underflow; ``|x|**2 = x * conj(x)`` for complex leaves.
    """
    leaves = jax.tree.leaves(tree)
    return sum((jnp.sum(abs_sq(upcast(x))) for x in leaves), jnp.zeros(()))


def tree_l2_norm(tree: Any) -> jax.Array:
    """Global l2 norm: ``sqrt(sum over leaves of sum(|x|**2))``, real, in at least float32."""
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
    """Largest ``|a - b|`` over all leaves, as a Python float (0.0 for empty trees).

    Computed on the host with NumPy (the leaves are fetched): op-by-op on the device,
    every leaf shape would compile programs of its own for a single number.
    """
    pairs = zip(jax.device_get(jax.tree.leaves(a)), jax.device_get(jax.tree.leaves(b)), strict=True)
    diffs = [float(np.max(np.abs(np.asarray(x) - np.asarray(y)))) for x, y in pairs if np.size(x)]
    return max(diffs, default=0.0)


def bias_correction(decay: Any, count: jax.Array) -> jax.Array:
    """``1 - decay**count``, computed as ``-expm1(count * log(decay))`` in at least float32.

    The direct form loses digits to cancellation: in float32, ``1 - 0.999**t`` is
    off by up to 6e-5 relative for small t. With ``log(decay)`` taken on the host
    (a Python float) or in float32 (an array, upcast from 16 bits) the result is
    good to a few ulp. ``decay = 0`` gives 1.
    """
    if isinstance(decay, int | float):
        log_decay = math.log(decay) if decay > 0 else -math.inf
    else:
        log_decay = jnp.log(upcast(decay))
    return -jnp.expm1(count * log_decay)


def tree_bias_correction(moment: Any, decay: Any, count: jax.Array) -> Any:
    """``moment / (1 - decay**count)`` for every leaf, divided in the moment's dtype.

    An average ``m_t = decay * m_{t-1} + (1 - decay) * x_t`` started at ``m_0 = 0``
    gives its inputs total weight ``1 - decay**t`` after ``t`` steps; dividing by it
    removes the pull towards 0 (Kingma & Ba, 2014, sec. 3). ``count`` is ``t >= 1``.
    The correction is `bias_correction`; rules pass their moments upcast to at least
    float32, so the division is not done in 16 bits.
    """
    correction = bias_correction(decay, count)
    return jax.tree.map(lambda x: x / correction.astype(x.dtype), moment)


def tree_nesterov_bias_correction(moment: Any, grads: Any, decay: Any, count: jax.Array) -> Any:
    """Nesterov's look-ahead of a debiased moment (Dozat, 2016), in optax's rounding order.

        m_hat = decay * (m_t / (1 - decay**(t+1))) + (1 - decay) * (g_t / (1 - decay**t))

    with ``t = count``; ``moment`` is ``m_t`` and ``grads`` is ``g_t``.
    """
    ahead = tree_bias_correction(moment, decay, safe_increment(count))
    now = tree_bias_correction(grads, decay, count)
    return jax.tree.map(lambda m, g: decay * m + (1 - decay) * g, ahead, now)
