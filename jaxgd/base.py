"""Core types of jaxgd: parameters as pytrees, and an update rule as two pure functions.

A `Transform` has the same fields, order and sign convention as
`optax.GradientTransformation`: ``init(params) -> state`` and
``update(grads, state, params=None, **extra) -> (updates, state)``. Updates are
ADDED to the parameters (`apply_updates`), so a descent step carries its own minus
sign. A hand-written rule and an optax one are interchangeable wherever a ``tx``
is taken.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

Params = Any  # any pytree of float arrays
Updates = Any  # a pytree with the structure of Params
OptState = Any  # a pytree (NamedTuples of arrays)
Schedule = Callable[[jax.Array], jax.Array]  # step count -> value
ScalarOrSchedule = float | jax.Array | Schedule


class Transform(NamedTuple):
    """An update rule: ``init(params) -> state``; ``update(grads, state, params, **extra)``."""

    init: Callable[..., OptState]
    update: Callable[..., tuple[Updates, OptState]]


class EmptyState(NamedTuple):
    """State of a stateless transform."""


def identity() -> Transform:
    """The transform that returns the gradients unchanged."""

    def init(params):
        del params
        return EmptyState()

    def update(grads, state, params=None, **extra):
        del params, extra
        return grads, state

    return Transform(init, update)


def stateless(fn: Callable[[Updates, Params | None], Updates]) -> Transform:
    """A transform from a pure function ``fn(grads, params) -> updates``."""

    def init(params):
        del params
        return EmptyState()

    def update(grads, state, params=None, **extra):
        del extra
        return fn(grads, params), state

    return Transform(init, update)


def apply_updates(params: Params, updates: Updates) -> Params:
    """``params + updates`` leaf by leaf, keeping each parameter's dtype."""
    return jax.tree.map(
        lambda p, u: None if p is None else jnp.asarray(p + u).astype(jnp.asarray(p).dtype),
        params,
        updates,
        is_leaf=lambda x: x is None,
    )


def safe_increment(count: jax.Array) -> jax.Array:
    """``count + 1`` that saturates at the int32 maximum instead of wrapping."""
    big = jnp.iinfo(jnp.int32).max
    return jnp.where(count < big, count + 1, big).astype(jnp.int32)


# ---------------------------------------------------------------- tree helpers


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
