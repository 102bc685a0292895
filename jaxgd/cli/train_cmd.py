"""`jaxgd train`: train an MLP; by default the tutorial's 2-3-1 sigmoid net on XOR.

Data-parallel over devices with --devices, over processes with --coordinator,
--num-processes and --process-id (each process then holding only its share of the
training rows: --data-sharding); checkpoints every --checkpoint-every epochs
into the run folder, and --resume RUN_DIR continues such a run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from jaxgd.cli.common import (
    DATA_FIELDS,
    add_config_flags,
    add_flag,
    config_from_args,
    given_fields,
    start_compile_cache,
)
from jaxgd.core.errors import ConfigError, TrainingInterrupted, check_range
from jaxgd.core.limits import DEFAULT_INIT_TIMEOUT, MAX_INIT_TIMEOUT
from jaxgd.experiments.config import FIELDS, RESUMABLE, TrainConfig, resume_config
from jaxgd.experiments.fields import flags_of

OPTIMIZER_FIELDS = ("optimizer", "learning_rate", "hyper", "impl", "grad", "schedule", "decay_rate",
                    "decay_every", "warmup_epochs", "l2")
RUN_FIELDS = ("batch_size", "epochs", "tol", "gtol", "seed", "device", "checkpoint_every", "eval_every")
PARALLEL_FIELDS = ("devices", "data_sharding")
TRAIN_FIELDS = (*DATA_FIELDS, *OPTIMIZER_FIELDS, *RUN_FIELDS, *PARALLEL_FIELDS)  # every TrainConfig field


def register(sub) -> None:
    p = sub.add_parser("train", help="train a network (default: the tutorial's XOR network)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_flags(p.add_argument_group("problem"), DATA_FIELDS)
    add_config_flags(p.add_argument_group("optimizer"), OPTIMIZER_FIELDS)
    g = p.add_argument_group("run")
    add_config_flags(g, RUN_FIELDS)
    add_flag(g, "--out", help="run folder", show_default="runs/<dataset>-<optimizer>-<time>")
    add_flag(g, "--overwrite", action="store_true", help="replace an existing run folder")
    add_flag(g, "--resume", metavar="RUN_DIR", show_default="a new run",
             help="continue the run in RUN_DIR up to --epochs in "
             "total; it may change " + ", ".join(flags_of(n, FIELDS[n][1])[0] for n in RESUMABLE)
             + ", the other config flags must be left out or equal the run's")
    add_flag(g, "--json", action="store_true", help="print one JSON summary line on stdout")
    add_flag(g, "--plot", action="store_true",
             help="also write loss.png (and boundary.png for 2-D data) into the run folder")
    add_flag(g, "--quiet", action="store_true", help="no progress bar or report")
    g = p.add_argument_group("parallel")
    add_config_flags(g, PARALLEL_FIELDS)
    add_flag(g, "--coordinator", metavar="HOST:PORT", help="address of process 0 of a multi-process run",
             show_default="one process")
    add_flag(g, "--num-processes", type=int, metavar="N", help="processes in the run", show_default=1)
    add_flag(g, "--process-id", type=int, metavar="I", help="this process, 0..N-1", show_default=0)
    add_flag(g, "--init-timeout", type=float, default=DEFAULT_INIT_TIMEOUT, metavar="SECONDS",
             help="how long the processes of a multi-process run wait for each other")
    p.set_defaults(func=run)


def interrupted_message(epoch: int | None, folder, cfg: TrainConfig) -> str:
    """What Ctrl-C left behind, and the command that continues the run."""
    at = f"interrupted at epoch {epoch}" if epoch is not None else "interrupted"
    saved = folder.saved_epoch
    if folder.live and saved is None and (folder.path / "checkpoint.npz").is_file():
        saved = folder.epochs_done()  # a resumed run stopped before its first new checkpoint
    if folder.live and saved is not None:
        return (f"{at}; last checkpoint epoch {saved} in {str(folder.path)!r}; resume with: "
                f"jaxgd train --resume {folder.path}"
                + (f" --epochs {cfg.epochs}" if cfg.epochs is not None else ""))
    if getattr(folder, "replacing", False):
        return (f"{at}; the new run was discarded and {str(folder.path)!r} still holds the earlier "
                "result, unchanged.")
    return (f"{at}, before any checkpoint; nothing was written. Add --checkpoint-every EPOCHS to "
            "make a run resumable.")


def run(a: argparse.Namespace) -> int:
    cfg = None if a.resume is not None else config_from_args(a)  # checked before JAX is imported
    check_range("--init-timeout", a.init_timeout, low=0.0, low_open=True, high=MAX_INIT_TIMEOUT,
                fix="Give the seconds the processes of a multi-process run wait, e.g. --init-timeout 120.")
    if (a.coordinator, a.num_processes, a.process_id) != (None, None, None):
        from jaxgd.training.parallel import initialize_distributed

        initialize_distributed(a.coordinator, a.num_processes, a.process_id,
                               a.init_timeout)  # before any JAX use
    start_compile_cache(a)
    from jaxgd.experiments.run import predictions, train, write_run
    from jaxgd.experiments.runfolder import RunFolder

    t0 = time.perf_counter()
    if a.resume is not None:
        if a.out is not None and Path(a.out).resolve() != Path(a.resume).resolve():
            raise ConfigError(f"--out {a.out!r} with --resume {a.resume!r}: a resumed run writes "
                              "into its own folder; leave --out out.")
        folder = RunFolder(a.resume, resume=True)
        try:
            cfg = resume_config(folder.stored_config(), given_fields(a), folder.epochs_done())
        except BaseException:
            folder.close()
            raise
    else:
        name = Path(cfg.dataset).stem
        out = a.out or f"runs/{name}-{cfg.optimizer}-{time.strftime('%Y%m%d-%H%M%S')}"
        folder = RunFolder(out, a.overwrite)  # fails before training if out holds results
    out = folder.path
    show = not a.quiet and not a.json and sys.stderr.isatty()
    try:
        with folder:
            outcome = train(cfg, progress=show, folder=folder, resume=a.resume is not None)
            write_run(out, outcome, folder=folder)
    except KeyboardInterrupt as err:
        epoch = err.epoch if isinstance(err, TrainingInterrupted) else None
        raise TrainingInterrupted(interrupted_message(epoch, folder, cfg), epoch=epoch) from None
    summary = dict(outcome.summary, seconds=round(time.perf_counter() - t0, 4), run_dir=str(out))
    if a.plot and folder.writer:
        from jaxgd.experiments.plots import plot_run

        summary["plots"] = [str(p) for p in plot_run(out)]
    if a.json:
        print(json.dumps(summary))
        return 0
    if a.quiet:
        return 0
    from jaxgd.experiments.header import run_header

    cfg = outcome.config  # the defaults resolved: the values the run used
    print("\n".join(run_header(cfg, outcome.problem)))
    for note in outcome.problem.notes:
        print(f"data           {note}")
    print(f"epochs run     {summary['epochs']}" + ("  (converged)" if summary["converged"] else ""))
    print(f"final loss     {summary['final_loss']:.6g}")
    for k in ("train_accuracy", "test_accuracy"):
        if k in summary:
            print(f"{k.replace('_', ' '):<15}{summary[k]:.4f}")
    import numpy as np

    preds = predictions(cfg, outcome)
    x = np.asarray(outcome.problem.data.x[: len(preds)])
    y = np.asarray(outcome.problem.data.y[: len(preds)])
    print("predictions    (x -> output | target)")
    for xi, pi, yi in zip(x, preds, y, strict=True):
        print(f"  {np.array2string(xi, precision=3)} -> {np.array2string(pi, precision=4)} | {yi}")
    if "max_abs_dev_vs_optax" in summary:
        print(f"max |hand - optax| over params  {summary['max_abs_dev_vs_optax']:.3g}")
    print(f"wall time      {summary['seconds']:.2f} s")
    print(f"run folder     {out}" + ("" if folder.writer else "  (written by process 0)"))
    for p in summary.get("plots", []):
        print(f"plot           {p}")
    return 0
