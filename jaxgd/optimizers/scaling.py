"""Scaling the gradients: by a constant, by a schedule of the step count, by minus the lr."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxgd.core.errors import check_learning_rate, check_range
from jaxgd.core.precision import hyper, upcast
from jaxgd.core.transform import ScalarOrSchedule, Schedule, Transform, empty_init, safe_increment

__all__ = ["scale", "scale_by_schedule", "scale_by_learning_rate", "ScaleByScheduleState"]


class ScaleByScheduleState(NamedTuple):
    """State of `scale_by_schedule` (the fields of ``optax.ScaleByScheduleState``).

    Attributes:
        count: int32 scalar, the updates applied so far: the step the schedule sees next.
    """

    count: jax.Array  # int32 scalar: updates applied so far


def scale(step_size: float) -> Transform:
    """Multiply every gradient by a constant.

        u = step_size * g

    The product is computed in at least float32 (a 16-bit ``step_size`` would be
    rounded first) and cast to each gradient's dtype, so the update keeps it.

    Args:
        step_size: the factor, a finite number of any sign (may be a tracer).

    Returns:
        A `Transform` whose state is ``EmptyState()``.

    Raises:
        ConfigError: ``step_size`` is not a finite real scalar (a bool is refused).

    See Also:
        ``optax.scale``.
    """
    check_range("step_size", step_size)

    def update(grads, state, params=None, **extra):
        del params, extra
        return jax.tree.map(lambda g: (hyper(step_size, g) * upcast(g)).astype(g.dtype), grads), state

    return Transform(empty_init, update)


def scale_by_schedule(step_size_fn: Schedule) -> Transform:
    """Multiply every gradient by a schedule of the update count.

        u_t = step_size_fn(count) * g_t
        count <- count + 1                  (saturating at the int32 maximum)

    ``count`` is the number of earlier updates, so the first update uses
    ``step_size_fn(0)``; the product is computed in at least float32 and cast to
    each gradient's dtype.

    Args:
        step_size_fn: a schedule ``count -> factor`` taking an int32 scalar.

    Returns:
        A `Transform` whose state is ``ScaleByScheduleState(count)`` (int32 scalar).

    See Also:
        ``optax.scale_by_schedule``.
    """

    def init(params):
        del params
        return ScaleByScheduleState(count=jnp.zeros([], jnp.int32))

    def update(grads, state, params=None, **extra):
        del params, extra
        step_size = step_size_fn(state.count)
        updates = jax.tree.map(lambda g: (hyper(step_size, g) * upcast(g)).astype(g.dtype), grads)
        return updates, ScaleByScheduleState(count=safe_increment(state.count))

    return Transform(init, update)


def scale_by_learning_rate(learning_rate: ScalarOrSchedule, *, flip_sign: bool = True) -> Transform:
    """Multiply by minus the learning rate: the last step of every descent rule.

        u_t = -lr_t * g_t          (flip_sign; lr_t = learning_rate(count) for a schedule)
        u_t = lr_t * g_t           (otherwise)

    A constant becomes `scale`, a schedule `scale_by_schedule`, so a schedule is
    evaluated before the count grows.

    Args:
        learning_rate: lr, a float > 0 or a schedule of the int32 update count.
        flip_sign: negate the factor (True: descent on the updates given).

    Returns:
        A `Transform` whose state is ``EmptyState()`` for a constant and
        ``ScaleByScheduleState(count)`` for a schedule.

    Raises:
        ConfigError: ``learning_rate`` is not a finite number > 0 or a callable.

    See Also:
        ``optax.scale_by_learning_rate``.
    """
    check_learning_rate(learning_rate)
    sign = -1 if flip_sign else 1
    if callable(learning_rate):
        return scale_by_schedule(lambda count: sign * learning_rate(count))
    return scale(sign * learning_rate)
