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

from jaxgd.core.errors import ConfigError
from jaxgd.core.transform import Transform, apply_updates
from jaxgd.core.tree import tree_l2_norm
from jaxgd.data.batching import epoch_indices
from jaxgd.training.parallel import constrain_batch

__all__ = ["EXTRAS", "StepMetrics", "TrainState", "ValueAndGradFn", "check_extras", "init_state",
           "make_epoch", "make_step", "run_epochs", "update_extras"]

ValueAndGradFn = Callable[[Any, jax.Array, jax.Array], tuple[jax.Array, Any]]

# the extra update() arguments the engine can give a rule, all on the step's batch:
#   value     the loss at the params              grad      its gradient
#   value_fn  params -> loss                      grad_fn   (params, i) -> gradient
EXTRAS = ("value", "grad", "value_fn", "grad_fn")


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


def check_extras(extras: Any) -> tuple[str, ...]:
    """``extras`` as a tuple of names of `EXTRAS`; ConfigError for anything else."""
    names = (extras,) if isinstance(extras, str) else tuple(extras or ())
    bad = [n for n in names if n not in EXTRAS]
    if bad:
        raise ConfigError(f"extras={extras!r} names {bad}; accepted: names of {EXTRAS}, e.g. "
                          "extras=('value', 'grad', 'value_fn') for lbfgs.")
    return names


def update_extras(extras: tuple[str, ...], value: jax.Array, grads: Any,
                  value_and_grad_at: Callable[[Any], tuple[jax.Array, Any]]) -> dict:
    """The extra update() arguments named in ``extras`` (see `EXTRAS`) for one step.

    Args:
        extras: names of `EXTRAS`.
        value, grads: the loss and its gradient at the step's params.
        value_and_grad_at: ``params -> (loss, grads)`` on the step's batch: ``value_fn``
            and ``grad_fn`` evaluate it elsewhere (``grad_fn``'s index ``i`` is ignored:
            every adversarial step of `jaxgd.optimizers.sam` uses the same batch).
    """
    made = {"value": lambda: value, "grad": lambda: grads,
            "value_fn": lambda: (lambda p: value_and_grad_at(p)[0]),
            "grad_fn": lambda: (lambda p, i: value_and_grad_at(p)[1])}
    return {name: made[name]() for name in extras}


def make_step(value_and_grad: ValueAndGradFn, tx: Transform, pass_value: bool = False,
              extras: tuple[str, ...] = ()):
    """One update: gradients at the current params, then ``params += tx(grads)``.

    Args:
        value_and_grad: ``(params, x, y) -> (loss, grads)``: ``jax.value_and_grad`` of a
            loss, or a hand-written backprop such as `jaxgd.nn.backprop.mlp_value_and_grad`.
        tx: the update rule.
        pass_value: also give ``value=loss`` to ``tx.update`` (Polyak step sizes); the
            same as ``"value"`` in ``extras``.
        extras: names of `EXTRAS` given to ``tx.update``, all on the step's batch:
            ``value``, ``grad``, ``value_fn`` (L-BFGS's line search) and ``grad_fn`` (SAM).

    Raises:
        ConfigError: a name in ``extras`` that is not one of `EXTRAS`.
    """
    names = tuple(dict.fromkeys((*(("value",) if pass_value else ()), *check_extras(extras))))

    def step(state: TrainState, batch) -> tuple[TrainState, StepMetrics]:
        x, y = batch
        loss, grads = value_and_grad(state.params, x, y)
        extra = update_extras(names, loss, grads, lambda p: value_and_grad(p, x, y))
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
