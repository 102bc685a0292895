"""Joining schedules: run one schedule after another, each restarting its step count."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax.numpy as jnp

from jaxgd.core.errors import ConfigError
from jaxgd.core.transform import Schedule
from jaxgd.schedules.core import check_dtype, check_int, compute_dtype, rounded


def check_join(schedules: Sequence[Schedule], boundaries: Sequence[int]) -> tuple[int, ...]:
    """Check that n schedules come with n - 1 strictly increasing boundaries >= 0.

    Args:
        schedules: the schedules to join.
        boundaries: the steps at which to switch.

    Returns:
        The boundaries as a tuple of Python ints.

    Raises:
        ConfigError: as listed in `join_schedules`.
    """
    schedules, boundaries = list(schedules), list(boundaries)
    if not schedules or not all(callable(s) for s in schedules):
        raise ConfigError(f"schedules={schedules!r} must be a non-empty list of schedules "
                          "(callables of the step count).")
    if len(boundaries) != len(schedules) - 1:
        raise ConfigError(
            f"boundaries={boundaries!r} has {len(boundaries)} entries for {len(schedules)} "
            f"schedules; accepted: exactly {len(schedules) - 1} (one step per switch).")
    bounds = tuple(check_int("boundaries entry", b, low=0) for b in boundaries)
    if any(b1 <= b0 for b0, b1 in zip(bounds, bounds[1:], strict=False)):
        raise ConfigError(f"boundaries={list(bounds)!r} are not strictly increasing; accepted: "
                          "increasing steps at which to switch, e.g. [100, 300].")
    return bounds


def join_schedules(
    schedules: Sequence[Schedule], boundaries: Sequence[int], *, dtype: Any = None
) -> Schedule:
    """Run ``schedules`` one after another, switching at ``boundaries``.

    With schedules s_0..s_n and boundaries b_1 < ... < b_n, each schedule sees the
    steps since its own start:

        v(t) = s_0(t)          for t < b_1
        v(t) = s_k(t - b_k)    for b_k <= t < b_(k+1)

    Args:
        schedules: n + 1 callables of the step count.
        boundaries: n strictly increasing steps >= 0.
        dtype: float dtype of the result (None: the default float at call time);
            each piece's value is cast to it.

    Returns:
        ``schedule(step)`` for an integer step (an optimizer's int32 count, or an
        array of counts): the value has the step's shape and the float ``dtype``.

    Raises:
        ConfigError: ``schedules`` is empty or holds a non-callable; ``boundaries``
            does not have one entry fewer than ``schedules``; a boundary is not an
            int >= 0; the boundaries are not strictly increasing; ``dtype`` is not a
            float dtype.

    See Also:
        ``optax.join_schedules``; ``torch.optim.lr_scheduler.SequentialLR(schedulers,
        milestones=boundaries)``.
    """
    bounds = check_join(schedules, boundaries)
    schedules = tuple(schedules)
    dtype = check_dtype(dtype)

    def schedule(step):
        dt = compute_dtype(dtype)
        step = jnp.asarray(step)
        value = jnp.broadcast_to(jnp.asarray(schedules[0](step), dt), step.shape)
        for b, s in zip(bounds, schedules[1:], strict=True):
            value = jnp.where(step < b, value, jnp.asarray(s(step - b), dt))
        return value

    return rounded(schedule, dtype)
