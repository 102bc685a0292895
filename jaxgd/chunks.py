"""Epochs in compiled chunks: the device runs many epochs, the host wakes in between.

    chunk  `lax.while_loop` over up to ``chunk`` epochs, stopping early when converged
           or non-finite ("while not converged", slide 3 of the seed), writing
           per-epoch metrics into fixed-size buffers
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

from jaxgd.base import tree_all_finite

EvalFn = Callable[[Any], dict[str, jax.Array]]  # params -> named scalars
# (state, epochs_done, history of this call so far) -> None; called between chunks
CheckpointFn = Callable[[Any, int, dict[str, np.ndarray]], None]
RUNNING, CONVERGED, NON_FINITE = 0, 1, 2


def make_chunk(epoch, chunk: int, tol: float = 0.0, gtol: float = 0.0,
               eval_fn: EvalFn | None = None, eval_names: tuple[str, ...] = ()):
    """Up to ``chunk`` epochs in a `lax.while_loop`, metrics into fixed buffers.

    ``run(state, x, y, epoch0, max_epochs, prev_loss) -> (state, buffers, done, stop, last_loss)``
    where ``stop`` is 0 (keep going), 1 (converged: |loss change| < tol or
    gradient norm < gtol) or 2 (non-finite loss, gradient or params).
    """
    names = ("loss", "grad_norm", *eval_names)

    def run(state, x, y, epoch0, max_epochs, prev_loss):
        dtype = jnp.result_type(float)
        bufs = {k: jnp.full((chunk,), jnp.nan, dtype) for k in names}

        def cond(c):
            _, i, _, stop, _ = c
            return (i < chunk) & (epoch0 + i < max_epochs) & (stop == RUNNING)

        def body(c):
            state, i, prev, _, bufs = c
            state, m = epoch(state, x, y)
            row = {"loss": m.loss, "grad_norm": m.grad_norm}
            if eval_fn is not None:
                row.update(eval_fn(state.params))
            bufs = {k: bufs[k].at[i].set(row[k].astype(dtype)) for k in names}
            finite = jnp.isfinite(m.loss) & jnp.isfinite(m.grad_norm) & tree_all_finite(state.params)
            converged = (jnp.abs(m.loss - prev) < tol) | (m.grad_norm < gtol)
            stop = jnp.where(finite, jnp.where(converged, CONVERGED, RUNNING), NON_FINITE)
            return state, i + 1, m.loss.astype(dtype), stop, bufs

        init = (state, jnp.zeros([], jnp.int32), prev_loss.astype(dtype), jnp.zeros([], jnp.int32), bufs)
        state, done, last, stop, bufs = jax.lax.while_loop(cond, body, init)
        return state, bufs, done, stop, last

    return run


def run_chunks(run_chunk, state, x, y, *, epoch0: int, epochs: int, names: tuple[str, ...],
               prev_loss: float, checkpoint_every: int = 0,
               on_checkpoint: CheckpointFn | None = None, bar: Any = None):
    """Call the compiled chunk until ``epochs`` (a total) or a stop; ``(state, history, done, stop)``.

    ``on_checkpoint`` runs at every multiple of ``checkpoint_every`` and at the end
    (last epoch or converged), never after a non-finite epoch, so the last state it
    saw is the last good one. It must read the state before returning: the next
    chunk donates it.
    """
    rows: list[dict[str, np.ndarray]] = []
    done, stop = epoch0, RUNNING
    prev = np.full((), prev_loss, np.dtype(jnp.result_type(float)))

    def history():
        return {k: np.concatenate([r[k] for r in rows]) if rows else np.zeros(0, prev.dtype)
                for k in names}

    while done < epochs and stop == RUNNING:
        limit = epochs
        if checkpoint_every:
            limit = min(epochs, (done // checkpoint_every + 1) * checkpoint_every)
        state, bufs, k, stop, prev = run_chunk(state, x, y, np.int32(done), np.int32(limit), prev)
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
