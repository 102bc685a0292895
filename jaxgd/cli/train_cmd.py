"""`jaxgd train`: train an MLP; by default the tutorial's 2-3-1 sigmoid net on XOR.

Data-parallel over devices with --devices, over processes with --coordinator,
--num-processes and --process-id (each process then holding only its share of the
training rows: --data-sharding); checkpoints every --checkpoint-every epochs
into the run folder, and --resume RUN_DIR continues such a run.

With --impl both (the default) the hand-written rule and its optax twin train side by
side, and the report judges them apart: per step (the two rules in lockstep on the
run's first 100 gradients, against the optimizer table's tolerance) and by how far
the two runs ended apart (which float32 rounding alone can make large).

Exit status: 0; 1 when the two rules disagree per step (as `jaxgd crosscheck`; the run
folder is written all the same); 2 on bad input; 130 / 143 when interrupted.
"""

from __future__ import annotations

import argparse
import json
import shlex
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
RUN_FIELDS = ("batch_size", "epochs", "tol", "gtol", "seed", "device", "checkpoint_every", "eval_every",
              "track")
PARALLEL_FIELDS = ("devices", "data_sharding")
TRAIN_FIELDS = (*DATA_FIELDS, *OPTIMIZER_FIELDS, *RUN_FIELDS, *PARALLEL_FIELDS)  # every TrainConfig field


def register(sub) -> None:
    p = sub.add_parser("train", help="train a network (default: the tutorial's XOR network)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_flags(p.add_argument_group("problem"), DATA_FIELDS)
    add_config_flags(p.add_argument_group("optimizer"), OPTIMIZER_FIELDS)
    g = p.add_argument_group("run")
    add_config_flags(g, RUN_FIELDS)
    add_flag(g, "--out", help="run folder", show_default="runs/<dataset>-<optimizer>-<time>-<random>")
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


def interrupted_message(epoch: int | None, folder, cfg: TrainConfig, at: str | None = None) -> str:
    """What Ctrl-C left behind, and the command that continues the run.

    ``at``: how training reported the stop (e.g. "interrupted while compiling, before the
    first epoch"); None: "interrupted at epoch EPOCH" (or "interrupted" without an epoch).
    """
    at = at or (f"interrupted at epoch {epoch}" if epoch is not None else "interrupted")
    saved, sides = folder.saved_epoch, dict(folder.saved_epochs)
    if folder.live and saved is None and (folder.path / "checkpoint.npz").is_file():
        saved = folder.epochs_done()  # a resumed run stopped before its first new checkpoint
        sides = folder.stored_epochs()
    if folder.live and saved is not None:
        if len(set(sides.values())) > 1:  # --impl both: the sides train in turn
            last = ", ".join(f"{impl} at epoch {n}" for impl, n in sides.items())
            where = (f"last checkpoint {last} (a resumed run continues each side from its own "
                     "epoch)")
        else:
            where = f"last checkpoint epoch {saved}"
        return f"{at}; {where} in {str(folder.path)!r}; resume with: {resume_command(folder.path, cfg)}"
    if getattr(folder, "replacing", False):
        return (f"{at}; the new run was discarded and {str(folder.path)!r} still holds the earlier "
                "result, unchanged.")
    every = getattr(cfg, "checkpoint_every", 0) or 0
    before_any = "" if at.endswith("before the first epoch") else ", before any checkpoint"
    if every:
        first = min(every, cfg.epochs) if cfg.epochs else every
        return (f"{at}{before_any.replace('any', 'the first')} (epoch {first}); nothing is saved "
                "yet, so nothing was written." if before_any else
                f"{at}; nothing is saved yet (the first checkpoint comes at epoch {first}).")
    return (f"{at}{before_any}; nothing was written. Add --checkpoint-every EPOCHS to make a run "
            "resumable.")


def resume_command(path, cfg: TrainConfig) -> str:
    """The shell command that continues the run in ``path`` up to ``cfg.epochs`` (quoted for a
    POSIX shell; the other config flags come from the folder's config.json)."""
    epochs = "" if cfg.epochs is None else f" --epochs {cfg.epochs}"  # None: the run's own total
    return f"jaxgd train --resume {shlex.quote(str(path))}{epochs}"


def run(a: argparse.Namespace) -> int:
    cfg = None if a.resume is not None else config_from_args(a)  # checked before JAX is imported
    check_range("--init-timeout", a.init_timeout, low=0.0, low_open=True, high=MAX_INIT_TIMEOUT,
                fix="Give the seconds the processes of a multi-process run wait, e.g. --init-timeout 120.")
    if (a.coordinator, a.num_processes, a.process_id) != (None, None, None):
        from jaxgd.training.parallel import initialize_distributed

        initialize_distributed(a.coordinator, a.num_processes, a.process_id,
                               a.init_timeout)  # before any JAX use
    start_compile_cache(a)
    from jaxgd.cli.train_report import nothing_to_do_line, resume_state, resuming_line
    from jaxgd.experiments.run import check_checkpoint, train, write_run
    from jaxgd.experiments.runfolder import RunFolder

    t0 = time.perf_counter()
    talk = not a.quiet and not a.json
    resumed = None
    if a.resume is not None:
        if a.out is not None and Path(a.out).resolve() != Path(a.resume).resolve():
            raise ConfigError(f"--out {a.out!r} with --resume {a.resume!r}: a resumed run writes "
                              "into its own folder; leave --out out.")
        folder = RunFolder(a.resume, resume=True)
        try:
            cfg = resume_config(folder.stored_config(), given_fields(a), folder.epochs_done())
            resumed = resume_state(folder, cfg.epochs)
        except BaseException:
            folder.close()
            raise
        if resumed.nothing_left:  # the folder is left exactly as it is
            try:
                check_checkpoint(cfg, folder)  # refused as a resume would refuse it
            finally:
                folder.close()
            line = nothing_to_do_line(resumed)
            if a.json:
                print(json.dumps({"nothing_to_do": True, "message": line, "run_dir": str(folder.path),
                                  "epochs": max(resumed.epochs.values(), default=0)}))
            elif not a.quiet:
                print(line)
            return 0
        if talk:
            print(resuming_line(resumed), flush=True)
    else:
        folder = RunFolder(*_default_out(a, cfg))  # fails before training if out holds results
    out = folder.path
    show = talk and sys.stderr.isatty()
    try:
        with folder:
            outcome = train(cfg, progress=show, folder=folder, resume=a.resume is not None,
                            on_start=_print_header if talk else None)
            check = _hand_vs_optax(outcome.config, outcome)  # the defaults resolved
            if resumed is not None:
                outcome.summary["resumed"] = resumed.as_dict()
            write_run(out, outcome, folder=folder)
    except KeyboardInterrupt as err:
        epoch = err.epoch if isinstance(err, TrainingInterrupted) else None
        at = str(err) if isinstance(err, TrainingInterrupted) else None
        raise TrainingInterrupted(interrupted_message(epoch, folder, cfg, at), epoch=epoch) from None
    code = 1 if check and check["per_step"]["verdict"] != "agree" else 0
    summary = dict(outcome.summary, seconds=round(time.perf_counter() - t0, 4), run_dir=str(out))
    if a.plot and folder.writer:
        from jaxgd.experiments.plots import plot_run

        summary["plots"] = [str(p) for p in plot_run(out)]
    if a.json:
        print(json.dumps(summary))
        return code
    if a.quiet:
        return _disagreement(cfg, code)
    cfg = outcome.config  # the defaults resolved: the values the run used
    print(f"epochs run     {summary['epochs']}" + ("  (converged)" if summary["converged"] else ""))
    penalty = f" ({outcome.problem.loss} plus l2 {cfg.l2:g} * sum(W**2))" if cfg.l2 else ""
    print(f"final loss     {summary['final_loss']:.6g}{penalty}")
    for k in ("train_accuracy", "test_accuracy"):
        if k in summary:
            print(f"{k.replace('_', ' '):<15}{summary[k]:.4f}")
    from jaxgd.cli.train_agreement import report_lines
    from jaxgd.cli.train_report import prediction_lines

    for line in [*prediction_lines(cfg, outcome), *(report_lines(check) if check else ())]:
        print(line)
    print(f"wall time      {summary['seconds']:.2f} s")
    print(f"run folder     {out}" + ("" if folder.writer else "  (written by process 0)"))
    for p in summary.get("plots", []):
        print(f"plot           {p}")
    return _disagreement(cfg, code)


def _print_header(cfg: TrainConfig, problem) -> None:
    """The run's settings (`jaxgd.experiments.header.run_header`) and what loading the data
    decided, printed before the first epoch so that a long or interrupted run shows them."""
    from jaxgd.experiments.header import run_header

    lines = [*run_header(cfg, problem), *(f"data           {note}" for note in problem.notes)]
    print("\n".join(lines), flush=True)


def _disagreement(cfg: TrainConfig, code: int) -> int:
    """Say on stderr that the rules disagree (exit 1), as `jaxgd crosscheck` would."""
    if code:
        print(f"jaxgd train: the hand-written {cfg.optimizer} and its optax twin disagree per step "
              f"(exit 1); `jaxgd crosscheck --optimizer {cfg.optimizer}` checks the rule alone.",
              file=sys.stderr)
    return code


def _default_out(a: argparse.Namespace, cfg: TrainConfig) -> tuple:
    """``(path, overwrite, resume, made)`` of a new run's folder: --out, or a default name
    (`jaxgd.experiments.foldername`) made at once by process 0."""
    if a.out is not None:
        return a.out, a.overwrite, False, False
    from jaxgd.experiments.foldername import new_run_folder, run_folder_name
    from jaxgd.training.parallel import is_main_process

    stem = f"{Path(cfg.dataset).stem}-{cfg.optimizer}"
    if not is_main_process():
        return run_folder_name(stem), a.overwrite, False, False
    return new_run_folder(stem), a.overwrite, False, True


def _hand_vs_optax(cfg: TrainConfig, outcome) -> dict | None:
    """With both impls: the per-step check and the trajectories' gap, into the summary."""
    if set(outcome.results) != {"hand", "optax"}:
        return None
    from jaxgd.cli.train_agreement import hand_vs_optax

    check = hand_vs_optax(cfg, outcome)
    outcome.summary["hand_vs_optax"] = check
    return check
