"""Guards on the raw gradients: clipping (element-wise, per leaf, by the global norm)
and skipping steps whose gradients are not finite.

The clips are stateless and, like optax's, run first in a chain:
``chain(clip_by_global_norm(1.0), adam(1e-3))``. `apply_if_finite` wraps a whole
optimizer.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxgd.core.errors import ConfigError, check_nonnegative, check_positive, check_transform, is_concrete
from jaxgd.core.precision import abs_sq, hyper, refuse_complex, upcast
from jaxgd.core.transform import Transform, safe_increment, stateless
from jaxgd.core.tree import tree_all_finite, tree_l2_norm

__all__ = ["clip", "clip_by_block_rms", "clip_by_global_norm", "apply_if_finite", "ApplyIfFiniteState"]


def clip(max_delta: float) -> Transform:
    """Clip every element into ``[-max_delta, max_delta]``.

        u_i = min(max(g_i, -max_delta), max_delta)

    Args:
        max_delta: the largest absolute value of an update element (>= 0).

    Returns:
        A `Transform` whose state is ``EmptyState()``.

    Raises:
        ConfigError: ``max_delta`` is negative or not finite.
        UnsupportedDtypeError: from update(), complex gradients (a TypeError; so does optax).

    See Also:
        ``optax.clip``; ``torch.nn.utils.clip_grad_value_(params, max_delta)``.
    """
    check_nonnegative("max_delta", max_delta, fix="Use a positive bound such as 1.0.")

    def clip_tree(grads, params):
        del params
        refuse_complex("clip", grads, "an interval [-max_delta, max_delta] bounds real numbers only",
                       "Use clip_by_block_rms or clip_by_global_norm, which bound the modulus.")
        return jax.tree.map(lambda g: jnp.clip(g, -max_delta, max_delta), grads)

    return stateless(clip_tree)


def clip_by_block_rms(threshold: float) -> Transform:
    """Rescale each leaf (a weight matrix or vector) whose root-mean-square exceeds ``threshold``.

        rms(g) = sqrt(mean(|g|**2))                  (per leaf, in at least float32)
        u = g / max(1, rms(g) / threshold)

    A leaf's direction is kept; only its length shrinks. This is the update clipping
    of Adafactor, applied to the gradients.

    Args:
        threshold: the largest rms a leaf keeps (> 0).

    Returns:
        A `Transform` whose state is ``EmptyState()``.

    Raises:
        ConfigError: ``threshold`` is not > 0 or not finite.

    References:
        Shazeer & Stern (2018), "Adafactor: adaptive learning rates with sublinear
        memory cost", ICML, arXiv:1804.04235 (update clipping, threshold d).

    See Also:
        ``optax.clip_by_block_rms``.
    """
    check_positive("threshold", threshold, fix="Use a positive bound such as 1.0.")

    def clip_leaf(g):
        denominator = jnp.maximum(1.0, jnp.sqrt(jnp.mean(abs_sq(upcast(g)))) / threshold)
        return (upcast(g) / denominator).astype(g.dtype)

    return stateless(lambda grads, _: jax.tree.map(clip_leaf, grads))


def clip_by_global_norm(max_norm: float) -> Transform:
    """Rescale the whole gradient when its global norm exceeds ``max_norm`` (Pascanu et al., 2013).

        n = sqrt(sum over leaves of sum(|g|**2))
        u = g                       if n <= max_norm
        u = (g / n) * max_norm      otherwise

    The direction is kept; only the length is capped. Every leaf shares the one
    factor, unlike `clip_by_block_rms` (per leaf) or `clip` (per element). Each
    leaf is squared and summed in at least float32 (optax sums a float16 leaf in
    float16, which overflows at a norm of 256), and ``|g|**2 = g * conj(g)`` for
    complex gradients. The boundary is ``<=``: a zero gradient with ``max_norm``
    set to 0 (through `inject_hyperparams`) stays 0, where optax computes 0/0.

    Args:
        max_norm: the largest global norm an update keeps (> 0).

    Returns:
        A `Transform` whose state is ``EmptyState()``.

    Raises:
        ConfigError: ``max_norm`` is not > 0 or not finite.

    References:
        Pascanu et al. (2013), "On the difficulty of training recurrent neural
        networks", ICML, arXiv:1211.5063.

    See Also:
        ``optax.clip_by_global_norm``; ``torch.nn.utils.clip_grad_norm_(params,
        max_norm)``, which scales by ``max_norm / (n + 1e-6)`` when that is below 1.
    """
    check_positive("max_norm", max_norm, fix="Use a positive bound such as 1.0.")

    def clip_tree(grads, params):
        del params
        n = tree_l2_norm(grads)
        keep = n <= max_norm
        safe_n = jnp.where(keep, jnp.ones_like(n), n)  # never 0 where it divides
        clipped = lambda g: ((upcast(g) / hyper(safe_n, g)) * max_norm).astype(g.dtype)
        return jax.tree.map(lambda g: jnp.where(keep, g, clipped(g)), grads)

    return stateless(clip_tree)


class ApplyIfFiniteState(NamedTuple):
    """State of `apply_if_finite` (the fields of ``optax.ApplyIfFiniteState``).

    Attributes:
        notfinite_count: int32 scalar, the non-finite steps in a row (0 after a finite one).
        last_finite: bool scalar, whether the last gradients were all finite.
        total_notfinite: int32 scalar, the non-finite steps since init (never reset).
        inner_state: the wrapped transform's state.
    """

    notfinite_count: jax.Array  # int32 scalar: consecutive non-finite steps (0 after a finite one)
    last_finite: jax.Array  # bool scalar: the last gradients were all finite
    total_notfinite: jax.Array  # int32 scalar: non-finite steps since init (never reset)
    inner_state: Any  # the wrapped transform's state


def apply_if_finite(inner: Transform, max_consecutive_errors: int) -> Transform:
    """Skip steps whose gradients hold a NaN or inf; give up after too many in a row.

        finite_t = all(isfinite(g_t))                          (last_finite)
        c_t = 0 if finite_t else c_{t-1} + 1                   (notfinite_count)
        (u_t, s_t) = inner(g_t, s_{t-1})    if finite_t or c_t > max_consecutive_errors
        (u_t, s_t) = (0, s_{t-1})           otherwise (the step is skipped)
        n_t = n_{t-1} + (0 if finite_t else 1)                 (total_notfinite)

    A skipped step leaves both the parameters and the inner state untouched.

    Args:
        inner: the optimizer to protect.
        max_consecutive_errors: non-finite steps in a row that are skipped (>= 0);
            the next one is applied (and will usually spread the NaN).

    Returns:
        A `Transform` whose state is ``ApplyIfFiniteState(notfinite_count,
        last_finite, total_notfinite, inner_state)``.

    Raises:
        ConfigError: ``inner`` is not a transform (no callable init and update);
            ``max_consecutive_errors`` is not an int >= 0 (a bool is refused).

    See Also:
        ``optax.apply_if_finite``; the skipped steps of PyTorch's ``GradScaler``.
    """
    check_transform("inner", inner)
    n = max_consecutive_errors
    if is_concrete(n) and (isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0):
        raise ConfigError(f"max_consecutive_errors={max_consecutive_errors!r} is not accepted; accepted: "
                          "an int >= 0, e.g. max_consecutive_errors=5.")

    def init(params):
        return ApplyIfFiniteState(notfinite_count=jnp.zeros([], jnp.int32),
                                  last_finite=jnp.array(True, jnp.bool_),
                                  total_notfinite=jnp.zeros([], jnp.int32),
                                  inner_state=inner.init(params))

    def update(grads, state, params=None, **extra):
        finite = tree_all_finite(grads)
        count = jnp.where(finite, jnp.zeros([], jnp.int32), safe_increment(state.notfinite_count))
        updates, inner_state = jax.lax.cond(
            finite | (count > max_consecutive_errors),
            lambda: inner.update(grads, state.inner_state, params, **extra),
            lambda: (jax.tree.map(jnp.zeros_like, grads), state.inner_state),
        )
        total = jnp.where(finite, state.total_notfinite, safe_increment(state.total_notfinite))
        return updates, ApplyIfFiniteState(count, finite, total, inner_state)

    return Transform(init, update)
