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
    """An update rule as two pure functions, with the fields of ``optax.GradientTransformation``.

    A descent step is ``updates, state = tx.update(grads, state, params)`` followed
    by ``params = apply_updates(params, updates)``.

    Attributes:
        init: ``init(params) -> state``; the state is a pytree (NamedTuples of arrays).
        update: ``update(grads, state, params=None, **extra) -> (updates, state)``;
            ``updates`` has the structure of ``grads`` and is ADDED to the params.
            ``extra`` carries keyword inputs some rules need, e.g. ``value=f(x)``.
    """

    init: Callable[..., OptState]
    update: Callable[..., tuple[Updates, OptState]]


class EmptyState(NamedTuple):
    """The state of a stateless transform: a NamedTuple with no fields (``optax.EmptyState``)."""


def empty_init(params: Params) -> EmptyState:
    """The ``init`` of every stateless transform (``optax.init_empty_state``).

    Args:
        params: the parameters (ignored).

    Returns:
        ``EmptyState()``.
    """
    del params
    return EmptyState()


def identity() -> Transform:
    """The transform that returns the gradients unchanged (``optax.identity``).

        u = g

    Returns:
        A `Transform` whose state is ``EmptyState()``.
    """

    def update(grads, state, params=None, **extra):
        del params, extra
        return grads, state

    return Transform(empty_init, update)


def stateless(fn: Callable[[Updates, Params | None], Updates]) -> Transform:
    """A transform from a pure function of the gradients and params (``optax.stateless``).

        u = fn(g, p)

    Args:
        fn: ``fn(grads, params) -> updates``; ``params`` is None when update() is
            called without them.

    Returns:
        A `Transform` whose state is ``EmptyState()``; extra update() keywords are ignored.
    """

    def update(grads, state, params=None, **extra):
        del extra
        return fn(grads, params), state

    return Transform(empty_init, update)


def set_to_zero() -> Transform:
    """Zero every update, so applied updates leave the parameters where they are.

        u = 0      (for every leaf, in the gradient's shape and dtype)

    Used with `masked` (see `freeze`) to hold part of the parameters fixed.

    Returns:
        A `Transform` whose state is ``EmptyState()``.

    See Also:
        ``optax.set_to_zero``; in PyTorch, ``requires_grad_(False)`` on the frozen tensors.
    """

    def update(grads, state, params=None, **extra):
        del params, extra
        return jax.tree.map(jnp.zeros_like, grads), state

    return Transform(empty_init, update)


def apply_updates(params: Params, updates: Updates) -> Params:
    """Add the updates to the parameters, leaf by leaf, keeping each parameter's dtype.

        p_new = (p + u).astype(p.dtype)      (a None leaf of params stays None)

    Args:
        params: a pytree of arrays.
        updates: a pytree with the structure of ``params`` (as returned by update()).

    Returns:
        The new parameters: the structure, shapes and dtypes of ``params``. A float32
        parameter stays float32 under a float64 update (optax casts the same way).

    See Also:
        ``optax.apply_updates``.
    """
    return jax.tree.map(
        lambda p, u: None if p is None else jnp.asarray(p + u).astype(jnp.asarray(p).dtype),
        params,
        updates,
        is_leaf=lambda x: x is None,
    )


def safe_increment(count: jax.Array) -> jax.Array:
    """Add one to a step count, saturating at the int32 maximum instead of wrapping.

        count_new = count + 1     if count < 2**31 - 1
        count_new = 2**31 - 1     otherwise

    Args:
        count: an integer scalar (or array), usually a state's int32 ``count``.

    Returns:
        The incremented count as int32 (whatever the input's integer dtype).

    See Also:
        ``optax.safe_increment`` (``optax.safe_int32_increment`` in older releases),
        which keeps the input's dtype.
    """
    big = jnp.iinfo(jnp.int32).max
    return jnp.where(count < big, count + 1, big).astype(jnp.int32)


# state type -> ``fn(state, params) -> evaluation params``; filled by the modules that define
# such states (jaxgd.optimizers.schedule_free; jaxgd.reference for optax's)
_EVAL_POINTS: dict[type, Callable[[Any, Params], Params]] = {}


def register_eval_params(state_type: type, fn: Callable[[Any, Params], Params]) -> None:
    """Declare that a state of ``state_type`` evaluates its model elsewhere than at its params.

    `eval_params` then finds such a state anywhere in an optimizer state (inside a
    chain, a mask, a wrapper) and returns ``fn(state, params)``.

    Args:
        state_type: the state's class, e.g. a NamedTuple.
        fn: ``fn(state, params) -> params for evaluation``, same structure and dtypes as params.
    """
    _EVAL_POINTS[state_type] = fn


def eval_params(opt_state: OptState, params: Params) -> Params:
    """The params a model is evaluated, reported and saved at (test loss, accuracy, params.npz).

    For most rules these are the params themselves. A rule that steps at one point and
    evaluates at another (schedule-free: gradients at ``y``, evaluation at the average
    ``x``) keeps a state whose type is registered with `register_eval_params`.

    Args:
        opt_state: the optimizer state (any pytree).
        params: the params the optimizer steps at, as given to its update().

    Returns:
        ``params`` unchanged when ``opt_state`` holds no registered state, else the
        registered function of that state and ``params`` (same structure and dtypes).

    Raises:
        ValueError: ``opt_state`` holds more than one registered state (two evaluation
            points for one set of params).
    """
    kinds = tuple(_EVAL_POINTS)
    if not kinds:
        return params
    found = [s for s in jax.tree.leaves(opt_state, is_leaf=lambda x: isinstance(x, kinds))
             if isinstance(s, kinds)]
    if not found:
        return params
    if len(found) > 1:
        raise ValueError(f"eval_params: the optimizer state holds {len(found)} states with an evaluation "
                         f"point ({', '.join(type(s).__name__ for s in found)}); accepted: at most one. "
                         "Wrap one rule in schedule-free, not several.")
    state = found[0]
    return next(fn for kind, fn in _EVAL_POINTS.items() if isinstance(state, kind))(state, params)
