"""Epochs in compiled chunks: the device runs many epochs, the host wakes in between.

    chunk  up to ``chunk`` epochs on the device, stopping early when converged or
           non-finite ("while not converged", slide 3 of the tutorial): a `lax.while_loop`
           over blocks of epochs, each block a `lax.scan`, metrics into fixed buffers
    loop   Python over chunks: progress, the divergence check and checkpoints happen
           here, once per chunk; each chunk ends at the next checkpoint epoch at the
           latest (the epoch limit is an argument, so this never recompiles)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgd.core.errors import TrainingInterrupted
from jaxgd.core.transform import eval_params
from jaxgd.core.tree import tree_all_finite
from jaxgd.training.tracking import Track, track_row

EvalFn = Callable[[Any], dict[str, jax.Array]]  # params -> named scalars
# (state, epochs_done, history of this call so far) -> None; called between chunks
CheckpointFn = Callable[[Any, int, dict[str, np.ndarray]], None]
RUNNING, CONVERGED, NON_FINITE = 0, 1, 2


def every_nth(eval_fn: EvalFn, eval_names: tuple[str, ...], eval_every: int):
    """``(params, epoch, last_epoch, *data) -> row``: ``eval_fn(params, *data)`` at epochs that
    are multiples of ``eval_every`` and at ``last_epoch``, NaN at the others (``epoch`` counts
    from 1). ``data`` is empty, or the training arrays (`make_chunk`'s ``eval_with_data``).

    A `jax.lax.cond` on an epoch number that is the same for every run: under
    `jax.vmap` over runs (a sweep) the predicate is not batched, so the skipped
    evaluations cost nothing. ``eval_every=1`` calls ``eval_fn`` with no cond.
    """
    if eval_every == 1:
        return lambda params, epoch, last_epoch, *data: eval_fn(params, *data)

    def skip(params, *data):
        out = jax.eval_shape(eval_fn, params, *data)
        return {name: jnp.full(out[name].shape, jnp.nan, out[name].dtype) for name in eval_names}

    def row(params, epoch, last_epoch, *data):
        due = (epoch % eval_every == 0) | (epoch >= last_epoch)
        return jax.lax.cond(due, eval_fn, skip, params, *data)

    return row


def block_size(chunk: int, cap: int = 64) -> int:
    """Epochs per inner scan: the largest divisor of ``chunk`` that is at most ``cap``."""
    return max(k for k in range(1, min(chunk, cap) + 1) if chunk % k == 0)


def make_chunk(epoch, chunk: int, tol: float = 0.0, gtol: float = 0.0,
               eval_fn: EvalFn | None = None, eval_names: tuple[str, ...] = (),
               eval_every: int = 1, eval_with_data: bool = False, track: Track | None = None):
    """Up to ``chunk`` epochs on the device, stopping early when converged or non-finite.

    ``run(state, x, y, epoch0, max_epochs, prev_loss) -> (state, buffers, done, stop, last_loss)``
    where ``stop`` is 0 (keep going), 1 (converged: |loss change| < tol or
    gradient norm < gtol) or 2 (non-finite loss, gradient or params).

    The epochs run in blocks: a `lax.while_loop` over blocks, each a `lax.scan` of
    `block_size` epochs whose metrics come out as the scan's stacked outputs. On XLA's
    CPU backend this costs a fraction of writing one buffer element per epoch. An
    epoch after the stop (or past ``max_epochs``) inside the last block is computed
    but discarded: its state update is dropped by `jnp.where`, so results are the
    same as stopping exactly there. ``eval_fn`` runs after every ``eval_every``-th
    epoch and after epoch ``max_epochs`` (`every_nth`); its columns are NaN in between.
    With ``eval_with_data`` it is called as ``eval_fn(params, x, y)`` with the chunk's
    training arrays (row-sharded ones included), else as ``eval_fn(params)``. The params
    it is given are `jaxgd.core.transform.eval_params` of the state: schedule-free's
    average ``x``, the params themselves for other rules. A ``track``
    (`jaxgd.training.tracking`) adds its columns after those.
    """
    names = ("loss", "grad_norm", *eval_names, *(track.names if track is not None else ()))
    evaluate = every_nth(eval_fn, eval_names, eval_every) if eval_fn is not None else None
    k = block_size(chunk)

    def run(state, x, y, epoch0, max_epochs, prev_loss):
        dtype = jnp.result_type(float)

        def one_epoch(carry, _):
            state, i, prev, stop = carry
            new, m = epoch(state, x, y)
            row = {"loss": m.loss, "grad_norm": m.grad_norm}
            if evaluate is not None:
                data = (x, y) if eval_with_data else ()
                row.update(evaluate(eval_params(new.opt_state, new.params), epoch0 + i + 1, max_epochs,
                                    *data))
            if track is not None:
                row.update(track_row(track, new.params, m, epoch0 + i + 1, x, y))
            row = {name: v.astype(dtype) for name, v in row.items()}
            live = (stop == RUNNING) & (epoch0 + i < max_epochs)
            finite = jnp.isfinite(m.loss) & jnp.isfinite(m.grad_norm) & tree_all_finite(new.params)
            converged = (jnp.abs(row["loss"] - prev) < tol) | (m.grad_norm < gtol)
            verdict = jnp.where(finite, jnp.where(converged, CONVERGED, RUNNING), NON_FINITE)
            state = jax.tree.map(lambda a, b: jnp.where(live, a, b), new, state)
            carry = (state, i + live.astype(jnp.int32), jnp.where(live, row["loss"], prev),
                     jnp.where(live, verdict, stop))
            return carry, {name: jnp.where(live, v, jnp.nan) for name, v in row.items()}

        def cond(c):
            _, i, _, stop, _ = c
            return (i < chunk) & (epoch0 + i < max_epochs) & (stop == RUNNING)

        def block(c):
            state, i, prev, stop, bufs = c
            (state, done, prev, stop), rows = jax.lax.scan(
                one_epoch, (state, i, prev, stop), None, length=k)
            bufs = {name: jax.lax.dynamic_update_slice(bufs[name], rows[name], (i,)) for name in names}
            return state, done, prev, stop, bufs

        bufs = {name: jnp.full((chunk + k,), jnp.nan, dtype) for name in names}
        init = (state, jnp.zeros([], jnp.int32), prev_loss.astype(dtype), jnp.zeros([], jnp.int32), bufs)
        state, done, last, stop, bufs = jax.lax.while_loop(cond, block, init)
        return state, {name: b[:chunk] for name, b in bufs.items()}, done, stop, last

    return run


def run_chunks(run_chunk, state, x, y, *, epoch0: int, epochs: int, names: tuple[str, ...],
               prev_loss: float, checkpoint_every: int = 0,
               on_checkpoint: CheckpointFn | None = None, bar: Any = None):
    """Call the compiled chunk until ``epochs`` (a total) or a stop; ``(state, history, done, stop)``.

    ``on_checkpoint`` runs at every multiple of ``checkpoint_every`` and at the end
    (last epoch or converged), never after a non-finite epoch, so the last state it
    saw is the last good one. It must read the state before returning: the next
    chunk donates it.

    Raises:
        TrainingInterrupted: Ctrl-C (or SIGTERM); its ``epoch`` is the epochs done, its
            message says "while compiling" when the first chunk had not compiled yet.
    """
    rows: list[dict[str, np.ndarray]] = []
    done, stop = epoch0, RUNNING
    prev = np.full((), prev_loss, np.dtype(jnp.result_type(float)))

    def history():
        return {k: np.concatenate([r[k] for r in rows]) if rows else np.zeros(0, prev.dtype)
                for k in names}

    compiled = False
    try:
        while done < epochs and stop == RUNNING:
            limit = epochs
            if checkpoint_every:
                limit = min(epochs, (done // checkpoint_every + 1) * checkpoint_every)
            state, bufs, k, stop, prev = run_chunk(state, x, y, np.int32(done), np.int32(limit), prev)
            compiled = True  # the call returns once compiled and dispatched
            k, stop = int(k), int(stop)  # the host wakes here, once per chunk
            rows.append({name: np.asarray(b)[:k] for name, b in bufs.items()})
            done += k
            if callable(bar):
                bar(done, {name: float(v[-1]) for name, v in rows[-1].items() if len(v)})
            elif bar is not None:
                bar.update(k)
                bar.set_postfix(loss=f"{float(rows[-1]['loss'][-1]):.4g}")
            if on_checkpoint is not None and stop != NON_FINITE and (done == limit or stop == CONVERGED):
                on_checkpoint(state, done, history())
    except KeyboardInterrupt:
        if compiled:
            at = f"at epoch {done}"
        else:
            at = "while compiling, " + ("before the first epoch" if done == 0 else f"at epoch {done}")
        raise TrainingInterrupted(f"interrupted {at}", epoch=done) from None
    finally:
        if bar is not None and not callable(bar):
            bar.close()
    return state, history(), done, stop


def progress_bar(progress, total):
    """None, the caller's callback, or a tqdm bar over ``total`` epochs."""
    if callable(progress):
        return progress
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="epoch", leave=False, dynamic_ncols=True)
