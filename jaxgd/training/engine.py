"""The training engine: a step is a scan body, epochs run in compiled chunks.

    step   (TrainState, (x_batch, y_batch)) -> (TrainState, StepMetrics)
    epoch  lax.scan of `step` over a shuffled (steps, batch) index table
    chunk  lax.while_loop over up to `chunk` epochs (see `jaxgd.training.chunks`)
    fit    Python loop over chunks: the host wakes only between chunks (progress
           bar, divergence check, checkpoints); one compilation for the whole run

With a `mesh` (see `jaxgd.training.parallel`) the same program runs data-parallel: each
gathered batch is split over the devices, params and optimizer state replicated. With
``data_sharding="sharded"`` each device holds only its own rows and draws its part of
every batch from them (`jaxgd.training.sharded`).

All pieces below `fit` (in `jaxgd.training.steps`) are pure functions of arrays, so `jax.vmap` maps them over
seeds and hyperparameters (see `jaxgd.experiments.sweep`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from jaxgd.core.errors import (
    ConfigError,
    DivergenceError,
    ResourceError,
    check_instance,
    check_nonnegative,
    check_positive_int,
    check_transform,
)
from jaxgd.core.limits import MAX_INT32
from jaxgd.core.transform import Transform
from jaxgd.nn.losses import data_error_of
from jaxgd.training.chunks import NON_FINITE, CheckpointFn, EvalFn, make_chunk, progress_bar, run_chunks
from jaxgd.training.parallel import (
    batch_sharded,
    check_batch_divisible,
    replicate,
    replicated,
)
from jaxgd.training.sharded import local_part, make_sharded_epoch, place_rows, resolve_data_sharding
from jaxgd.training.steps import (
    StepMetrics,
    TrainState,
    ValueAndGradFn,
    init_state,
    make_epoch,
    make_step,
    run_epochs,
)
from jaxgd.training.tracking import Track, monitored

__all__ = ["FitResult", "StepMetrics", "TrainState", "fit", "init_state", "make_chunk",
           "make_epoch", "make_step", "run_epochs"]

LossFn = Callable[[Any, jax.Array, jax.Array], jax.Array]  # (params, x, y) -> scalar


class FitResult(NamedTuple):
    """What `fit` returns: the final state and one row of metrics per epoch run."""

    state: TrainState
    history: dict[str, np.ndarray]  # "loss", "grad_norm", and any eval metrics, (epochs,)
    epochs: int  # epochs actually run
    converged: bool  # stopped by the tolerance before max epochs
    seconds: float  # wall time including compilation


def _validate(epochs, batch_size, n, tol, gtol, chunk):
    check_positive_int("epochs", epochs, fix="Train for at least one epoch, e.g. epochs=1000.")
    check_positive_int("batch_size", batch_size)
    if batch_size > n:
        raise ConfigError(f"batch_size={batch_size} is larger than the data (n={n}); "
                          f"accepted: 1..{n}. Use batch_size={n} for full-batch gradient descent.")
    check_int32_steps(epochs, n // batch_size)
    check_nonnegative("tol", tol, fix="Use 0 to always run all epochs.")
    check_nonnegative("gtol", gtol, fix="Use 0 to ignore the gradient norm.")
    if chunk is not None:
        check_positive_int("chunk", chunk)


@jax.jit
def _copy_tree(tree: Any) -> Any:
    """Fresh buffers for every leaf in one compiled program (op by op, each leaf shape
    compiles a copy of its own before the first epoch)."""
    return jax.tree.map(jnp.copy, tree)


def check_int32_steps(epochs: int, steps_per_epoch: int) -> None:
    """Refuse a run whose epoch or update count would overflow the device's int32 counters."""
    if epochs * steps_per_epoch > MAX_INT32:
        raise ResourceError(
            f"epochs={epochs} x {steps_per_epoch} update(s) per epoch = {epochs * steps_per_epoch:,} "
            f"updates, more than the int32 step counter holds ({MAX_INT32:,}); accepted: epochs <= "
            f"{MAX_INT32 // steps_per_epoch:,} at this batch size.")


def fit(
    loss_fn: LossFn | None,
    params: Any,
    tx: Transform,
    x: Any,
    y: Any,
    *,
    epochs: int = 1000,
    batch_size: int | None = None,
    key: jax.Array | None = None,
    value_and_grad: ValueAndGradFn | None = None,
    tol: float = 0.0,
    gtol: float = 0.0,
    eval_fn: EvalFn | None = None,
    eval_every: int = 1,
    chunk: int | None = None,
    state: TrainState | None = None,
    pass_value: bool = False,
    learning_rate: Any = None,
    progress: bool | Callable[[int, dict[str, float]], None] = False,
    mesh: Mesh | None = None,
    checkpoint_every: int = 0,
    on_checkpoint: CheckpointFn | None = None,
    prev_loss: float = math.inf,
    data_sharding: str | None = None,
    eval_with_data: bool = False,
    track: Track | None = None,
    extras: tuple[str, ...] = (),
) -> FitResult:
    """Train until ``epochs`` run out or the loss stops changing ("while not converged").

    Args:
        loss_fn: ``(params, x, y) -> scalar``; differentiated with `jax.value_and_grad`
            unless ``value_and_grad`` is given (e.g. hand-written backprop).
        params: initial parameters (ignored when ``state`` is given).
        tx: the update rule, hand-written or optax.
        x, y: training data, first axis = examples: host or device arrays of all rows,
            or (``data_sharding="sharded"``) arrays already split by rows over ``mesh``,
            each process having built them from its own rows
            (`jaxgd.training.sharded.shard_rows` with ``local=True``).
        epochs: maximum number of epochs (total, counting a resumed ``state``'s).
        batch_size: examples per update; None = full batch (the tutorial's GD);
            1 = online SGD.
        key: PRNG key for shuffling; defaults to ``jax.random.key(0)``.
        tol: stop when ``|loss_e - loss_{e-1}| < tol`` (0 disables).
        gtol: stop when the epoch's mean gradient norm is below ``gtol`` (0 disables).
        eval_fn: ``params -> {name: scalar}`` evaluated after every epoch inside the
            compiled loop (accuracy, test loss, ...); the names become history columns.
            It sees `jaxgd.eval_params` of the state (schedule-free's average ``x``; the
            params themselves for other rules).
            With ``eval_with_data``: ``(params, x, y) -> {name: scalar}``, given the
            training arrays as fit holds them (row-sharded ones too: a mean over them is
            a mean over every process's rows).
        eval_every: evaluate ``eval_fn`` only every this many epochs and at the last
            epoch (``epochs``); its columns are NaN at the other epochs. A test-set
            pass can cost as much as an epoch of small batches.
        chunk: epochs per compiled chunk (the host wakes between chunks); default
            about 1/20 of the run.
        state: continue from this TrainState (resume); its ``step`` counts updates.
        pass_value: give ``value=loss`` to ``tx.update`` (the same as ``extras=("value",)``).
        learning_rate: only used to name the learning rate in a divergence error.
        progress: False, True (a tqdm bar) or a callback ``(epochs_done, last_row)``.
        mesh: run data-parallel over this 1-D mesh (`jaxgd.training.parallel.make_mesh`): each
            batch split over its devices, the state replicated. ``batch_size`` must
            be a multiple of the device count. None: the default device.
        data_sharding: with a ``mesh``, where the training rows live. ``"replicated"``: every
            device holds all of them and each batch is gathered by a global permutation,
            then split. ``"sharded"``: device k holds rows ``k*m .. (k+1)*m - 1`` with
            ``m = n // D`` (the last ``n % D`` rows are left out), each process only its
            devices' rows, and each device draws ``batch_size / D`` rows per step from its own
            block with its own permutation; ``batch_size`` None or ``n`` is the full batch of
            the ``n_keep = m * D`` kept rows. None or ``"auto"``: sharded in a multi-process
            run, else replicated. See `jaxgd.training.sharded`.
        checkpoint_every: end a chunk at every multiple of this many epochs (0: never).
        on_checkpoint: ``(state, epochs_done, history_so_far)`` called at those epochs
            and at the end, never after a non-finite epoch (see `jaxgd.training.chunks`).
        prev_loss: the loss of the epoch before ``state`` (for ``tol`` on resume).
        track: more columns recorded inside the compiled loop (`jaxgd.training.tracking.Track`):
            a per-step monitor (the epoch's mean over its steps) and a per-epoch measure
            ``(params, epoch, x, y)``, given the training arrays as ``eval_with_data``.
            None: nothing more is computed.
        extras: names of `jaxgd.training.steps.EXTRAS` given to ``tx.update``, each on the
            step's batch: ``value``, ``grad``, ``value_fn`` (lbfgs) and ``grad_fn`` (sam).

    Returns:
        FitResult with the final state and the per-epoch history as numpy arrays.

    Raises:
        ConfigError: a bad argument, e.g. ``data_sharding`` not one of "auto",
            "replicated", "sharded", or "sharded" without a mesh.
        DataError: targets that do not suit the loss (``loss_fn.check_data``, before
            compiling; or the loss evaluated outside `jit` after a non-finite run).
        DivergenceError: a non-finite loss, gradient or parameter; names the epoch.
    """
    t0 = time.perf_counter()
    check_transform("tx", tx)
    if state is not None:
        check_instance("state", state, TrainState, "the TrainState of an earlier fit "
                       "(FitResult.state) or jaxgd.init_state(params, tx, key), or leave it out")
    if mesh is not None:
        check_instance("mesh", mesh, Mesh, "jaxgd.make_mesh(n), or leave it out")
    if loss_fn is not None and not callable(loss_fn):
        raise ConfigError(f"loss_fn={loss_fn!r} is not callable; pass a function (params, x, y) -> "
                          "scalar loss.")
    sharded = resolve_data_sharding(data_sharding, mesh) == "sharded"
    if sharded:  # only this process's rows reach its devices
        n_all = len(x)
        x, y, share = place_rows(x, y, mesh)
        n = share.n_keep
        batch_size = n if batch_size in (None, n_all) else batch_size
    else:
        x, y = jnp.asarray(x), jnp.asarray(y)
        n = int(x.shape[0])
        batch_size = n if batch_size is None else batch_size
    _validate(epochs, batch_size, n, tol, gtol, chunk)
    check_positive_int("eval_every", eval_every, fix="Use 1 to evaluate after every epoch.")
    if value_and_grad is None:
        if loss_fn is None:
            raise ConfigError("fit needs loss_fn or value_and_grad; pass loss_fn(params, x, y).")
        value_and_grad = jax.value_and_grad(loss_fn)
    if state is None:
        state = init_state(params, tx, jax.random.key(0) if key is None else key)
    if hasattr(loss_fn, "check_data"):  # make_loss_fn's: labels vs classes, before compiling
        loss_fn.check_data(state.params, local_part(x), local_part(y))
    start = state.params
    steps_per_epoch = n // batch_size
    epoch0 = int(state.step) // steps_per_epoch
    remaining = max(epochs - epoch0, 0)
    chunk = chunk or max(1, math.ceil(max(remaining, 1) / 20))
    if checkpoint_every:
        check_positive_int("checkpoint_every", checkpoint_every)
        chunk = min(chunk, checkpoint_every)
    data_args = (x, y) if eval_with_data else ()
    eval_names = tuple(jax.eval_shape(eval_fn, state.params, *data_args)) if eval_fn else ()

    jit_kwargs: dict[str, Any] = {}
    if mesh is not None:
        check_batch_divisible(batch_size, mesh.size, n)
        rep, rows = replicated(mesh), batch_sharded(mesh) if sharded else replicated(mesh)
        if sharded:
            state = replicate(state, mesh)
        else:
            state, x, y = replicate((state, x, y), mesh)  # fresh arrays: safe to donate
        jit_kwargs = {"in_shardings": (rep, rows, rows, rep, rep, rep), "out_shardings": rep}
    else:
        state = _copy_tree(state)  # chunks donate their input; keep the caller's arrays
    step = make_step(value_and_grad, tx, pass_value, extras)
    if track is not None and track.monitor is not None:
        step = monitored(step, track.monitor)
    track_names = track.names if track is not None else ()
    epoch = (make_sharded_epoch(step, n, batch_size, mesh) if sharded
             else make_epoch(step, n, batch_size, mesh))
    run_chunk = jax.jit(make_chunk(epoch, chunk, tol, gtol, eval_fn, eval_names, eval_every,
                                   eval_with_data, track), donate_argnums=0, **jit_kwargs)

    state, history, done, stop = run_chunks(
        run_chunk, state, x, y, epoch0=epoch0, epochs=epochs,
        names=("loss", "grad_norm", *eval_names, *track_names),
        prev_loss=prev_loss, checkpoint_every=checkpoint_every, on_checkpoint=on_checkpoint,
        bar=progress_bar(progress, remaining))
    if stop == NON_FINITE:
        if (err := data_error_of(loss_fn, start, local_part(x), local_part(y))) is not None:
            raise err  # e.g. a label >= the number of classes: not the learning rate's fault
        lr = f" with learning rate {learning_rate}" if learning_rate is not None else ""
        raise DivergenceError(
            f"training diverged at epoch {done} of {epochs}{lr}: the loss, gradient or parameters "
            f"became non-finite (last loss {history['loss'][-1]}). Lower the learning rate "
            f"(e.g. divide it by 10) or add gradient clipping.",
            epoch=done, learning_rate=learning_rate)
    return FitResult(state, history, done, stop == 1, time.perf_counter() - t0)
