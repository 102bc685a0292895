"""From a validated `TrainConfig` to a trained model and a run folder.

    config -> dataset -> init_mlp -> update rule(s) (hand and/or optax) -> fit
           -> run folder: config.json, checkpoint.npz, metrics.csv, params.npz, summary.json

The pieces come from `jaxgd.experiments.build`; the folder, its checkpoints and resuming from
them from `jaxgd.experiments.runfolder`. With ``devices`` set, or in a multi-process run,
`fit` runs data-parallel over a mesh (`jaxgd.training.parallel`). With ``data_sharding``
"sharded" (the default of a multi-process run) each process loads the dataset, keeps only
its devices' rows of the training split (`jaxgd.training.sharded`) and lets the rest go
before training; the test split stays whole on every process.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import numpy as np

from jaxgd.core.errors import ConfigError, TrainingInterrupted
from jaxgd.core.transform import eval_params
from jaxgd.core.tree import tree_max_abs_diff
from jaxgd.experiments.build import (
    Problem,
    data_summary,
    default_loss,
    make_eval_fn,
    make_objective,
    make_problem,
    make_schedule,
    make_tx,
    probe_user_rule,
    select_device,
)
from jaxgd.experiments.checks import check_batch
from jaxgd.experiments.config import TrainConfig, full_batch, needs_extras, validate
from jaxgd.experiments.defaults import resolve_defaults
from jaxgd.experiments.runfolder import RunFolder, Snapshot
from jaxgd.experiments.tracking import make_track, track_columns
from jaxgd.nn.models import init_mlp, mlp
from jaxgd.training.engine import FitResult, check_int32_steps, fit, init_state
from jaxgd.training.parallel import make_mesh
from jaxgd.training.resources import array_bytes, check_memory
from jaxgd.training.sharded import keep_local_rows, resolve_data_sharding, row_share, rows_held, shard_rows

__all__ = ["Problem", "TrainOutcome", "check_checkpoint", "default_loss", "make_eval_fn", "make_objective",
           "make_problem", "make_schedule", "make_tx", "predictions", "select_device",
           "summarize", "train", "write_run"]


class TrainOutcome(NamedTuple):
    config: TrainConfig
    problem: Problem
    results: dict[str, FitResult]  # by impl: "hand", "optax"; histories from epoch 1
    summary: dict[str, Any]


def _joined(prior: dict[str, np.ndarray], new: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The history before a resume followed by the epochs run since."""
    if not prior or not new:
        return prior or new
    return {k: np.concatenate([prior[k], v]) for k, v in new.items()}


def train(cfg: TrainConfig, progress: bool = False, *, folder: RunFolder | None = None,
          resume: bool = False, on_start: Callable[[TrainConfig, Problem], None] | None = None
          ) -> TrainOutcome:
    """Run the configured training, each requested impl from the same init and key.

    Args:
        cfg: the run's configuration; its unset defaults are resolved first
            (`jaxgd.experiments.defaults`), and the outcome's ``config`` holds them.
        progress: show a progress bar.
        folder: where checkpoints go every ``cfg.checkpoint_every`` epochs (the caller
            writes the final results with ``folder.finish``); None: no checkpoints.
        resume: continue from ``folder``'s checkpoint up to ``cfg.epochs`` in total.
        on_start: called once as ``on_start(cfg, problem)`` (the config with its defaults
            resolved, the problem as trained) when every check has passed, before the first
            epoch; e.g. to print the run's header (`jaxgd.experiments.header.run_header`).
    """
    cfg = validate(resolve_defaults(validate(cfg)))  # the values used, saved in config.json
    if resume and folder is None:
        raise ConfigError("train(resume=True) needs the run folder to resume from: folder=RunFolder(...).")
    mesh = make_mesh(cfg.devices, cfg.device) if cfg.devices is not None or jax.process_count() > 1 else None
    sharding = resolve_data_sharding(cfg.data_sharding, mesh)
    # the run folder records the split itself, so a resume (in any number of processes) keeps it
    cfg = dataclasses.replace(cfg, data_sharding=sharding)
    with jax.default_device(select_device(cfg.device)):
        pb = make_problem(cfg)
        n_all = pb.data.n
        if sharding == "sharded":  # from here on, the host and the devices hold only this process's rows
            pb, x, y = shard_problem(pb, mesh)
        else:
            x, y = pb.data.x, pb.data.y
        n = len(x)
        batch = n if full_batch(cfg.batch_size) or cfg.batch_size == n_all else cfg.batch_size
        check_batch(cfg.optimizer, batch, n)
        steps_per_epoch = n // batch
        check_int32_steps(cfg.epochs, steps_per_epoch)
        impls = ("hand", "optax") if cfg.impl == "both" else (cfg.impl,)
        txs = {impl: make_tx(cfg, impl, steps_per_epoch) for impl in impls}
        for tx in txs.values():
            probe_user_rule(cfg, pb, tx)  # a broken user rule fails here, before any work
        check_fits(cfg, pb, txs, batch, folder)  # before any large allocation
        loss_fn, vg = make_objective(cfg, pb)
        eval_fn = make_eval_fn(cfg, pb, loss_fn, with_data=True)
        snap = Snapshot(cfg, initial_states(cfg, pb, txs), {s: {} for s in impls}, {s: False for s in impls})
        if resume:
            snap = folder.load(cfg, snap.states)
        if on_start is not None:
            on_start(cfg, pb)
        t0 = time.perf_counter()
        results = {}
        for impl in impls:
            prior = snap.history[impl]

            def on_checkpoint(state, _epochs, new, impl=impl, prior=prior, now=snap):
                folder.save(now._replace(states={**now.states, impl: state},
                                         history={**now.history, impl: _joined(prior, new)}))

            if snap.converged[impl]:  # stopped by tol before: nothing to continue
                res = FitResult(snap.states[impl], {}, len(prior["loss"]), True, 0.0)
            else:
                res = _fit_side(impl, len(impls) > 1, txs[impl], x, y, epochs=cfg.epochs,
                                batch_size=batch, value_and_grad=vg, tol=cfg.tol, gtol=cfg.gtol,
                                eval_fn=eval_fn, eval_every=cfg.eval_every, eval_with_data=True,
                                data_sharding=sharding, learning_rate=cfg.learning_rate, progress=progress,
                                state=snap.states[impl], mesh=mesh, extras=needs_extras(cfg.optimizer),
                                checkpoint_every=cfg.checkpoint_every if folder else 0,
                                on_checkpoint=on_checkpoint if folder and cfg.checkpoint_every else None,
                                prev_loss=float(prior["loss"][-1]) if len(prior.get("loss", ()))
                                else math.inf,
                                track=make_track(cfg, pb, loss_fn, steps_per_epoch, impl,
                                                 snap.states[impl].params))
            results[impl] = res._replace(history=_joined(prior, res.history))
            snap = snap._replace(states={**snap.states, impl: res.state},
                                 history={**snap.history, impl: results[impl].history},
                                 converged={**snap.converged, impl: res.converged})
        seconds = time.perf_counter() - t0
    summary = summarize(cfg, pb, results, seconds)
    main = results.get("hand") or results["optax"]
    at = eval_params(main.state.opt_state, main.state.params)
    if at is not main.state.params:  # a rule that evaluates elsewhere (schedule-free's average x)
        summary["final_loss_at_eval_params"] = float(jax.jit(loss_fn)(at, x, y))
    per_device, local = rows_held(x) if sharding == "sharded" else (n, n)
    summary.update(devices=mesh.size if mesh is not None else 1, processes=jax.process_count(),
                   data_sharding=sharding, train_rows=n, rows_per_device=per_device,
                   rows_this_process=local)
    return TrainOutcome(cfg, pb, results, summary)


def _fit_side(impl: str, named: bool, *args, **kwargs) -> FitResult:
    """`fit` for one impl; with ``named`` (both impls run, in turn) an interruption says whose run
    it stopped, e.g. "interrupted in the optax run at epoch 3"."""
    try:
        return fit(None, None, *args, **kwargs)
    except TrainingInterrupted as err:
        if not named:
            raise
        text = str(err).replace("interrupted", f"interrupted in the {impl} run", 1)
        raise TrainingInterrupted(text, epoch=err.epoch) from None


def shard_problem(pb: Problem, mesh) -> tuple[Problem, Any, Any]:
    """``(pb, x, y)``: ``pb`` with only this process's training rows, and the training arrays
    split by rows over ``mesh`` built from those rows alone (`jaxgd.training.sharded`)."""
    ds = pb.data
    share = row_share(ds.n, mesh)
    x_local, y_local = keep_local_rows((ds.x, ds.y), share)
    x, y = shard_rows((x_local, y_local), mesh, share, local=True)
    pb = pb._replace(data=ds._replace(x=x_local, y=y_local), notes=(*pb.notes, share.note(mesh.size)))
    return pb, x, y


def initial_states(cfg: TrainConfig, pb: Problem, txs: dict[str, Any]) -> dict[str, Any]:
    """Each impl's TrainState before the first epoch: params from key(seed), shuffling key(seed + 2)."""
    params = init_mlp(jax.random.key(cfg.seed), pb.sizes, cfg.init)
    key = jax.random.key(cfg.seed + 2)
    return {s: init_state(params, tx, key) for s, tx in txs.items()}


def check_checkpoint(cfg: TrainConfig, folder: RunFolder) -> None:
    """Refuse, as `train` with ``resume=True`` would, a checkpoint in ``folder`` that another
    model, optimizer or dataset wrote; it trains nothing and writes nothing.

    Raises:
        CheckpointError: the checkpoint does not fit ``cfg`` (names the key path).
    """
    cfg = validate(resolve_defaults(validate(cfg)))  # as `train` resolves them
    with jax.default_device(select_device(cfg.device)):
        pb = make_problem(cfg)
        per_epoch = pb.data.n // (pb.data.n if full_batch(cfg.batch_size) else min(cfg.batch_size, pb.data.n))
        impls = ("hand", "optax") if cfg.impl == "both" else (cfg.impl,)
        folder.load(cfg, initial_states(cfg, pb, {s: make_tx(cfg, s, per_epoch) for s in impls}))


def check_fits(cfg: TrainConfig, pb: Problem, txs: dict[str, Any], batch: int,
               folder: RunFolder | None) -> None:
    """Refuse a run whose arrays cannot fit in memory, or whose folder cannot fit on the disk."""
    shapes = jax.eval_shape(lambda: init_mlp(jax.random.key(0), pb.sizes, cfg.init))
    states = [jax.eval_shape(tx.init, shapes) for tx in txs.values()]
    ds = pb.data
    data = [a for a in (ds.x, ds.y, ds.x_test, ds.y_test) if a is not None]
    check_memory(params=shapes, opt_states=states, data=data, batch=batch, widths=pb.sizes,
                 eval_rows=ds.n, what=f"training a {'-'.join(map(str, pb.sizes))} network")
    if folder is not None:
        columns = 2 + (pb.data.task != "regression") + 2 * (pb.data.x_test is not None) \
            + len(track_columns(cfg.track, shapes, True))
        history = cfg.epochs * columns * (8 + 24)  # float64 in the checkpoint, ~24 chars in metrics.csv
        per_impl = 2 * array_bytes(shapes) + array_bytes(states[0]) + history
        folder.check_space(2 * len(txs) * per_impl + 2**16)  # x2: a file and its replacement


def summarize(cfg: TrainConfig, pb: Problem, results: dict[str, FitResult], seconds: float) -> dict:
    main = results.get("hand") or results["optax"]
    h = main.history
    out: dict[str, Any] = {
        "final_loss": float(h["loss"][-1]),
        "epochs": int(main.epochs),
        "converged": bool(main.converged),
        "seconds": round(seconds, 4),
        "dataset": pb.data.name,
        "optimizer": cfg.optimizer,
        "impl": cfg.impl,
        "data": data_summary(pb),
    }
    for k in ("train_accuracy", "test_accuracy", "test_loss"):
        if k in h:
            out[k] = float(h[k][-1])
    if len(results) == 2:
        out["max_abs_dev_vs_optax"] = tree_max_abs_diff(results["hand"].state.params,
                                                        results["optax"].state.params)
        out["optax_final_loss"] = float(results["optax"].history["loss"][-1])
    return out


def predictions(cfg: TrainConfig, outcome: TrainOutcome, limit: int = 8) -> np.ndarray:
    """Network outputs on the first ``limit`` training inputs (XOR: all 4)."""
    pb, main = outcome.problem, outcome.results.get("hand") or outcome.results["optax"]
    params = eval_params(main.state.opt_state, main.state.params)
    return np.asarray(mlp(params, pb.data.x[:limit], cfg.activation, pb.output_activation))


def outcome_snapshot(outcome: TrainOutcome) -> Snapshot:
    """The final checkpoint of a finished run."""
    res = outcome.results
    return Snapshot(outcome.config, {s: r.state for s, r in res.items()},
                    {s: r.history for s, r in res.items()}, {s: r.converged for s, r in res.items()})


def write_run(out_dir, outcome: TrainOutcome, overwrite: bool = False,
              folder: RunFolder | None = None) -> None:
    """Write the results into the run folder (created atomically if it is new; an earlier
    result is replaced only with ``overwrite``); ``folder`` is one claimed before training."""
    if folder is None:
        with RunFolder(out_dir, overwrite) as folder:
            folder.finish(outcome_snapshot(outcome), outcome.results, outcome.summary)
        return
    folder.finish(outcome_snapshot(outcome), outcome.results, outcome.summary)
