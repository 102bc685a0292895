"""The pure pieces of training, each a function of arrays that `jit` and `vmap` take:

    TrainState   the carry of every scan (params, optimizer state, step, shuffling key)
    make_step    (TrainState, (x_batch, y_batch)) -> (TrainState, StepMetrics)
    make_epoch   a `lax.scan` of the step over a shuffled (steps, batch) index table
    run_epochs   a fixed number of epochs in one scan (what sweeps map over runs)

`jaxgd.training.engine.fit` runs them in compiled chunks with the host in between.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.sharding import Mesh

from jaxgd.core.transform import Transform, apply_updates
from jaxgd.core.tree import tree_l2_norm
from jaxgd.data.batching import epoch_indices
from jaxgd.training.parallel import constrain_batch

__all__ = ["StepMetrics", "TrainState", "ValueAndGradFn", "init_state", "make_epoch", "make_step",
           "run_epochs"]

ValueAndGradFn = Callable[[Any, jax.Array, jax.Array], tuple[jax.Array, Any]]


class TrainState(NamedTuple):
    """The carry of every scan: everything a run needs to continue."""

    params: Any  # pytree of float arrays
    opt_state: Any  # the update rule's state
    step: jax.Array  # int32 scalar: updates applied so far
    key: jax.Array  # PRNG key for shuffling (and noisy rules)


class StepMetrics(NamedTuple):
    loss: jax.Array  # scalar: loss at the params before the update
    grad_norm: jax.Array  # scalar: global l2 norm of the gradient


def init_state(params: Any, tx: Transform, key: jax.Array) -> TrainState:
    """A fresh TrainState: ``tx.init(params)``, step 0."""
    return TrainState(params, tx.init(params), jnp.zeros([], jnp.int32), key)


def make_step(value_and_grad: ValueAndGradFn, tx: Transform, pass_value: bool = False):
    """One update: gradients at the current params, then ``params += tx(grads)``.

    Args:
        value_and_grad: ``(params, x, y) -> (loss, grads)``: ``jax.value_and_grad`` of a
            loss, or a hand-written backprop such as `jaxgd.nn.backprop.mlp_value_and_grad`.
        tx: the update rule.
        pass_value: also give ``value=loss`` to ``tx.update`` (Polyak step sizes).
    """

    def step(state: TrainState, batch) -> tuple[TrainState, StepMetrics]:
        x, y = batch
        loss, grads = value_and_grad(state.params, x, y)
        extra = {"value": loss} if pass_value else {}
        updates, opt_state = tx.update(grads, state.opt_state, state.params, **extra)
        params = apply_updates(state.params, updates)
        new = TrainState(params, opt_state, state.step + 1, state.key)
        return new, StepMetrics(loss, tree_l2_norm(grads))

    return step


def make_epoch(step, n: int, batch_size: int, mesh: Mesh | None = None,
               gather_per_epoch: bool = False):
    """One pass over the data: ``epoch(state, x, y) -> (state, StepMetrics averaged)``.

    Full batch (``batch_size == n``) takes one step on the data in order, as the
    seed does; otherwise the data is shuffled with a key split from ``state.key``
    and the last ``n % batch_size`` examples of the permutation are left out.
    With a ``mesh``, each batch is split by rows over its devices.

    ``gather_per_epoch`` gathers the whole shuffled epoch once (a copy of the data)
    instead of one batch per step: the same numbers, and much faster under `vmap`,
    where every run has its own order (sweeps use it).
    """
    if batch_size == n:

        def full_batch_epoch(state, x, y):
            return step(state, constrain_batch((x, y), mesh))

        return full_batch_epoch

    def epoch(state, x, y):
        key, sub = jax.random.split(state.key)
        idx = epoch_indices(sub, n, batch_size)  # (steps, batch)
        if gather_per_epoch:
            batches = (x[idx], y[idx])  # (steps, batch, ...): one gather for the epoch

            def body(s, b):
                return step(s, constrain_batch(b, mesh))
        else:
            batches = idx

            def body(s, rows):
                return step(s, constrain_batch((x[rows], y[rows]), mesh))

        state, metrics = jax.lax.scan(body, state._replace(key=key), batches)
        return state, jax.tree.map(jnp.mean, metrics)

    return epoch


def run_epochs(epoch, state: TrainState, x, y, num_epochs: int):
    """``num_epochs`` epochs in one scan: ``(state, StepMetrics with a leading epochs axis)``.

    Pure and fixed-length: what `jaxgd.experiments.sweep` maps over seeds and hyperparameters.
    """

    def body(s, _):
        return epoch(s, x, y)

    return jax.lax.scan(body, state, None, length=num_epochs)
