"""The training engine: a step is a scan body, epochs run in compiled chunks.

    step   (TrainState, (x_batch, y_batch)) -> (TrainState, StepMetrics)
    epoch  lax.scan of `step` over a shuffled (steps, batch) index table
    chunk  lax.while_loop over up to `chunk` epochs, stopping early when converged
           or non-finite ("while not converged", slide 3 of the seed), writing
           per-epoch metrics into fixed-size buffers
    fit    Python loop over chunks: the host wakes only between chunks (progress
           bar, divergence check); one compilation for the whole run

All pieces below `fit` are pure functions of arrays, so `jax.vmap` maps them over
seeds and hyperparameters (see `jaxgd.sweep`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxgd.base import Transform, apply_updates, tree_all_finite, tree_l2_norm
from jaxgd.data import epoch_indices
from jaxgd.errors import ConfigError, DivergenceError, check_nonnegative, check_positive_int

LossFn = Callable[[Any, jax.Array, jax.Array], jax.Array]  # (params, x, y) -> scalar
ValueAndGradFn = Callable[[Any, jax.Array, jax.Array], tuple[jax.Array, Any]]
EvalFn = Callable[[Any], dict[str, jax.Array]]  # params -> named scalars


class TrainState(NamedTuple):
    """The carry of every scan: everything a run needs to continue."""

    params: Any  # pytree of float arrays
    opt_state: Any  # the update rule's state
    step: jax.Array  # int32 scalar: updates applied so far
    key: jax.Array  # PRNG key for shuffling (and noisy rules)


class StepMetrics(NamedTuple):
    loss: jax.Array  # scalar: loss at the params before the update
    grad_norm: jax.Array  # scalar: global l2 norm of the gradient


class FitResult(NamedTuple):
    """What `fit` returns: the final state and one row of metrics per epoch run."""

    state: TrainState
    history: dict[str, np.ndarray]  # "loss", "grad_norm", and any eval metrics, (epochs,)
    epochs: int  # epochs actually run
    converged: bool  # stopped by the tolerance before max epochs
    seconds: float  # wall time including compilation


def init_state(params: Any, tx: Transform, key: jax.Array) -> TrainState:
    """A fresh TrainState: ``tx.init(params)``, step 0."""
    return TrainState(params, tx.init(params), jnp.zeros([], jnp.int32), key)


def make_step(value_and_grad: ValueAndGradFn, tx: Transform, pass_value: bool = False):
    """One update: gradients at the current params, then ``params += tx(grads)``.

    Args:
        value_and_grad: ``(params, x, y) -> (loss, grads)``: ``jax.value_and_grad`` of a
            loss, or a hand-written backprop such as `jaxgd.backprop.mlp_value_and_grad`.
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


def make_epoch(step, n: int, batch_size: int):
    """One pass over the data: ``epoch(state, x, y) -> (state, StepMetrics averaged)``.

    Full batch (``batch_size == n``) takes one step on the data in order, as the
    seed does; otherwise the data is shuffled with a key split from ``state.key``
    and the last ``n % batch_size`` examples of the permutation are left out.
    """
    if batch_size == n:

        def full_batch_epoch(state, x, y):
            return step(state, (x, y))

        return full_batch_epoch

    def epoch(state, x, y):
        key, sub = jax.random.split(state.key)
        idx = epoch_indices(sub, n, batch_size)  # (steps, batch)

        def body(s, rows):
            return step(s, (x[rows], y[rows]))

        state, metrics = jax.lax.scan(body, state._replace(key=key), idx)
        return state, jax.tree.map(jnp.mean, metrics)

    return epoch


def run_epochs(epoch, state: TrainState, x, y, num_epochs: int):
    """``num_epochs`` epochs in one scan: ``(state, StepMetrics with a leading epochs axis)``.

    Pure and fixed-length: what `jaxgd.sweep` maps over seeds and hyperparameters.
    """

    def body(s, _):
        return epoch(s, x, y)

    return jax.lax.scan(body, state, None, length=num_epochs)


def make_chunk(epoch, chunk: int, tol: float = 0.0, gtol: float = 0.0,
               eval_fn: EvalFn | None = None, eval_names: tuple[str, ...] = ()):
    """Up to ``chunk`` epochs in a `lax.while_loop`, metrics into fixed buffers.

    ``run(state, x, y, epoch0, max_epochs, prev_loss) -> (state, buffers, done, stop)``
    where ``stop`` is 0 (keep going), 1 (converged: |loss change| < tol or
    gradient norm < gtol) or 2 (non-finite loss, gradient or params).
    """
    names = ("loss", "grad_norm", *eval_names)

    def run(state, x, y, epoch0, max_epochs, prev_loss):
        dtype = jnp.result_type(float)
        bufs = {k: jnp.full((chunk,), jnp.nan, dtype) for k in names}

        def cond(c):
            _, i, _, stop, _ = c
            return (i < chunk) & (epoch0 + i < max_epochs) & (stop == 0)

        def body(c):
            state, i, prev, _, bufs = c
            state, m = epoch(state, x, y)
            row = {"loss": m.loss, "grad_norm": m.grad_norm}
            if eval_fn is not None:
                row.update(eval_fn(state.params))
            bufs = {k: bufs[k].at[i].set(row[k].astype(dtype)) for k in names}
            finite = jnp.isfinite(m.loss) & jnp.isfinite(m.grad_norm) & tree_all_finite(state.params)
            converged = (jnp.abs(m.loss - prev) < tol) | (m.grad_norm < gtol)
            stop = jnp.where(finite, jnp.where(converged, 1, 0), 2)
            return state, i + 1, m.loss.astype(dtype), stop, bufs

        init = (state, jnp.zeros([], jnp.int32), prev_loss.astype(dtype), jnp.zeros([], jnp.int32), bufs)
        state, done, last, stop, bufs = jax.lax.while_loop(cond, body, init)
        return state, bufs, done, stop, last

    return run


def _validate(epochs, batch_size, n, tol, gtol, chunk):
    check_positive_int("epochs", epochs, fix="Train for at least one epoch, e.g. epochs=1000.")
    check_positive_int("batch_size", batch_size)
    if batch_size > n:
        raise ConfigError(f"batch_size={batch_size} is larger than the data (n={n}); "
                          f"accepted: 1..{n}. Use batch_size={n} for full-batch gradient descent.")
    check_nonnegative("tol", tol, fix="Use 0 to always run all epochs.")
    check_nonnegative("gtol", gtol, fix="Use 0 to ignore the gradient norm.")
    if chunk is not None:
        check_positive_int("chunk", chunk)


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
    chunk: int | None = None,
    state: TrainState | None = None,
    pass_value: bool = False,
    learning_rate: Any = None,
    progress: bool | Callable[[int, dict[str, float]], None] = False,
) -> FitResult:
    """Train until ``epochs`` run out or the loss stops changing ("while not converged").

    Args:
        loss_fn: ``(params, x, y) -> scalar``; differentiated with `jax.value_and_grad`
            unless ``value_and_grad`` is given (e.g. hand-written backprop).
        params: initial parameters (ignored when ``state`` is given).
        tx: the update rule, hand-written or optax.
        x, y: training data, first axis = examples.
        epochs: maximum number of epochs (total, counting a resumed ``state``'s).
        batch_size: examples per update; None = full batch (the seed's GD);
            1 = online SGD.
        key: PRNG key for shuffling; defaults to ``jax.random.key(0)``.
        tol: stop when ``|loss_e - loss_{e-1}| < tol`` (0 disables).
        gtol: stop when the epoch's mean gradient norm is below ``gtol`` (0 disables).
        eval_fn: ``params -> {name: scalar}`` evaluated after every epoch inside the
            compiled loop (accuracy, test loss, ...); the names become history columns.
        chunk: epochs per compiled chunk (the host wakes between chunks); default
            about 1/20 of the run.
        state: continue from this TrainState (resume); its ``step`` counts updates.
        pass_value: give ``value=loss`` to ``tx.update``.
        learning_rate: only used to name the learning rate in a divergence error.
        progress: False, True (a tqdm bar) or a callback ``(epochs_done, last_row)``.

    Returns:
        FitResult with the final state and the per-epoch history as numpy arrays.

    Raises:
        DivergenceError: a non-finite loss, gradient or parameter; names the epoch.
    """
    t0 = time.perf_counter()
    x, y = jnp.asarray(x), jnp.asarray(y)
    n = int(x.shape[0])
    batch_size = n if batch_size is None else batch_size
    _validate(epochs, batch_size, n, tol, gtol, chunk)
    if value_and_grad is None:
        if loss_fn is None:
            raise ConfigError("fit needs loss_fn or value_and_grad; pass loss_fn(params, x, y).")
        value_and_grad = jax.value_and_grad(loss_fn)
    if state is None:
        state = init_state(params, tx, jax.random.key(0) if key is None else key)
    state = jax.tree.map(jnp.copy, state)  # chunks donate their input; keep the caller's arrays
    steps_per_epoch = n // batch_size
    epoch0 = int(state.step) // steps_per_epoch
    remaining = max(epochs - epoch0, 0)
    chunk = chunk or max(1, math.ceil(max(remaining, 1) / 20))
    eval_names = tuple(jax.eval_shape(eval_fn, state.params)) if eval_fn else ()

    epoch = make_epoch(make_step(value_and_grad, tx, pass_value), n, batch_size)
    run_chunk = jax.jit(make_chunk(epoch, chunk, tol, gtol, eval_fn, eval_names), donate_argnums=0)

    bar = _progress_bar(progress, remaining)
    rows: list[dict[str, np.ndarray]] = []
    done, stop = epoch0, 0
    prev = jnp.full((), jnp.inf, jnp.result_type(float))  # same type as the chunk returns
    while done < epochs and stop == 0:
        state, bufs, k, stop, prev = run_chunk(state, x, y, jnp.int32(done), jnp.int32(epochs), prev)
        k, stop = int(k), int(stop)  # the host wakes here, once per chunk
        rows.append({name: np.asarray(b[:k]) for name, b in bufs.items()})
        done += k
        if callable(bar):
            bar(done, {name: float(v[-1]) for name, v in rows[-1].items() if len(v)})
        elif bar is not None:
            bar.update(k)
            bar.set_postfix(loss=f"{float(rows[-1]['loss'][-1]):.4g}")
    if bar is not None and not callable(bar):
        bar.close()
    history = {name: np.concatenate([r[name] for r in rows]) if rows else np.zeros(0)
               for name in ("loss", "grad_norm", *eval_names)}
    if stop == 2:
        lr = f" with learning rate {learning_rate}" if learning_rate is not None else ""
        raise DivergenceError(
            f"training diverged at epoch {done} of {epochs}{lr}: the loss, gradient or parameters "
            f"became non-finite (last loss {history['loss'][-1]}). Lower the learning rate "
            f"(e.g. divide it by 10) or add gradient clipping.",
            epoch=done, learning_rate=learning_rate)
    return FitResult(state, history, done, stop == 1, time.perf_counter() - t0)


def _progress_bar(progress, total):
    if callable(progress):
        return progress
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="epoch", leave=False, dynamic_ncols=True)
