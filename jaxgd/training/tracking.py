"""Columns recorded from inside the compiled loop besides loss and gradient norm.

    Track       what to record: the column names, a per-step ``monitor`` and a per-epoch
                ``measure`` (either may be None)
    monitored   a step wrapped so its metrics also carry ``monitor(state_before, state_after)``
                for that step; an epoch averages them over its steps, as it does the loss
    periodic    ``fn`` at epochs that are multiples of ``every``, NaN at the others

The engine knows nothing of what is measured: `jaxgd.experiments.tracking` builds a
`Track` from `jaxgd.instruments` (sharpness, noise scale, update monitors). A run
without a Track compiles exactly the program it did before: no wrapper, no column.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

__all__ = ["Track", "TrackedMetrics", "monitored", "periodic", "track_row"]

# (state before the step, state after it) -> {name: float scalar}
MonitorFn = Callable[[Any, Any], dict[str, jax.Array]]
# (params after the epoch, epoch counted from 1, x, y) -> {name: float scalar}
MeasureFn = Callable[[Any, jax.Array, Any, Any], dict[str, jax.Array]]


class Track(NamedTuple):
    """What `jaxgd.training.fit` records besides ``loss`` and ``grad_norm``.

    ``names`` are the history columns, exactly the keys that ``monitor`` and ``measure``
    return together.
    """

    names: tuple[str, ...]
    monitor: MonitorFn | None = None  # per step; fit records the epoch's mean over its steps
    measure: MeasureFn | None = None  # per epoch, after the epoch's updates


class TrackedMetrics(NamedTuple):
    """`StepMetrics` and the monitor's values of the same step."""

    loss: jax.Array  # scalar: loss at the params before the update
    grad_norm: jax.Array  # scalar: global l2 norm of the gradient
    extra: dict[str, jax.Array]  # the monitor's scalars


def monitored(step, monitor: MonitorFn):
    """``step`` whose metrics also carry ``monitor(state, new_state)`` (`TrackedMetrics`).

    The step itself is called unchanged: whatever it computes, the applied update is
    ``new_state.params - state.params``.
    """

    def tracked(state, batch):
        new, m = step(state, batch)
        return new, TrackedMetrics(m.loss, m.grad_norm, monitor(state, new))

    return tracked


def periodic(fn: Callable[..., dict[str, jax.Array]], every: int):
    """``(params, epoch, *data) -> fn(params, *data)`` when ``epoch % every == 0``, else
    the same names filled with NaN. ``every=1`` calls ``fn`` with no `jax.lax.cond`."""
    if every == 1:
        return lambda params, epoch, *data: fn(params, *data)

    def skip(params, *data):
        shapes = jax.eval_shape(fn, params, *data)
        return {k: jnp.full(s.shape, jnp.nan, s.dtype) for k, s in shapes.items()}

    def row(params, epoch, *data):
        return jax.lax.cond(epoch % every == 0, fn, skip, params, *data)

    return row


def track_row(track: Track, params: Any, metrics: Any, epoch: jax.Array, x: Any, y: Any
              ) -> dict[str, jax.Array]:
    """One epoch's tracked columns: the monitor's (averaged by the epoch) and the measure's."""
    row = dict(getattr(metrics, "extra", {}))
    if track.measure is not None:
        row.update(track.measure(params, epoch, x, y))
    return row
