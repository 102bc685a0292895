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


def empty_init(params: Params) -> EmptyState:
    """The ``init`` of every stateless transform."""
    del params
    return EmptyState()


def identity() -> Transform:
    """The transform that returns the gradients unchanged."""

    def update(grads, state, params=None, **extra):
        del params, extra
        return grads, state

    return Transform(empty_init, update)


def stateless(fn: Callable[[Updates, Params | None], Updates]) -> Transform:
    """A transform from a pure function ``fn(grads, params) -> updates``."""

    def update(grads, state, params=None, **extra):
        del extra
        return fn(grads, params), state

    return Transform(empty_init, update)


def set_to_zero() -> Transform:
    """``u = 0`` for every leaf: applied updates leave the parameters where they are.

    Used with `masked` (see `freeze`) to hold part of the parameters fixed.
    """

    def update(grads, state, params=None, **extra):
        del params, extra
        return jax.tree.map(jnp.zeros_like, grads), state

    return Transform(empty_init, update)


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


