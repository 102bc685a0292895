"""`jaxgd train`: train an MLP; by default the tutorial's 2-3-1 sigmoid net on XOR.

Data-parallel over devices with --devices, over processes with --coordinator,
--num-processes and --process-id; checkpoints every --checkpoint-every epochs
into the run folder, and --resume RUN_DIR continues such a run.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path

import numpy as np

from jaxgd.cli.common import add_data_flags
from jaxgd.core.errors import ConfigError, TrainingInterrupted
from jaxgd.core.limits import DEFAULT_INIT_TIMEOUT
from jaxgd.experiments.config import (
    GRADS,
    IMPLS,
    SCHEDULES,
    TrainConfig,
    parse_assignments,
    parse_hidden,
    resume_config,
    validate,
)

HYPER_FLAGS = ("momentum", "b1", "b2", "eps", "weight_decay")


def register(sub) -> None:
    p = sub.add_parser("train", help="train a network (default: the tutorial's XOR network)",
                       description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    d = TrainConfig()
    g = p.add_argument_group("problem")
    add_data_flags(g)
    g = p.add_argument_group("optimizer")
    g.add_argument("--optimizer", default=d.optimizer)
    g.add_argument("--learning-rate", "--lr", type=float, default=d.learning_rate)
    for name in HYPER_FLAGS:
        g.add_argument(f"--{name.replace('_', '-')}", type=float, default=None)
    g.add_argument("--nesterov", action="store_true")
    g.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="any other optimizer argument, repeatable")
    g.add_argument("--impl", choices=IMPLS, default=d.impl,
                   help="hand-written rule, its optax twin, or both side by side")
    g.add_argument("--grad", choices=GRADS, default=d.grad,
                   help="hand-written backprop, jax.grad, or the tutorial's slide-7 formula")
    g.add_argument("--schedule", choices=SCHEDULES, default=d.schedule)
    g.add_argument("--decay-rate", type=float, default=d.decay_rate)
    g.add_argument("--decay-every", type=int, default=d.decay_every, help="epochs")
    g.add_argument("--warmup-epochs", type=int, default=d.warmup_epochs)
    g.add_argument("--l2", type=float, default=d.l2, help="the tutorial's lambda*sum(W**2) in the loss")
    g = p.add_argument_group("run")
    g.add_argument("--batch-size", type=int, default=None, help="default: full batch")
    g.add_argument("--epochs", type=int, default=d.epochs)
    g.add_argument("--tol", type=float, default=d.tol, help="stop when |loss change| < tol")
    g.add_argument("--gtol", type=float, default=d.gtol, help="stop when gradient norm < gtol")
    g.add_argument("--seed", type=int, default=d.seed)
    g.add_argument("--device", choices=("cpu", "gpu"), default=d.device)
    g.add_argument("--out", default=None, help="run folder (default: runs/<dataset>-<optimizer>-<time>)")
    g.add_argument("--overwrite", action="store_true", help="replace an existing run folder")
    g.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every, metavar="EPOCHS",
                   help="save a checkpoint into the run folder every EPOCHS epochs (0: at the end)")
    g.add_argument("--resume", default=None, metavar="RUN_DIR",
                   help="continue the run in RUN_DIR up to --epochs in total (default: its own)")
    g.add_argument("--json", action="store_true", help="print one JSON summary line on stdout")
    g.add_argument("--plot", action="store_true",
                   help="also write loss.png (and boundary.png for 2-D data) into the run folder")
    g.add_argument("--quiet", action="store_true", help="no progress bar or report")
    g = p.add_argument_group("parallel")
    g.add_argument("--devices", default=None, metavar="N|all",
                   help="split each batch over N devices (params replicated); default one device")
    g.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                   help="address of process 0 of a multi-process run")
    g.add_argument("--num-processes", type=int, default=None, help="processes in the run")
    g.add_argument("--process-id", type=int, default=None, help="this process, 0..N-1")
    g.add_argument("--init-timeout", type=float, default=DEFAULT_INIT_TIMEOUT, metavar="SECONDS",
                   help="how long the processes of a multi-process run wait for each other")
    p.set_defaults(func=run, given_flags=frozenset())
    for action in p._actions:
        if action.option_strings and action.dest != "help":
            action.__class__ = _recording(type(action))


@functools.cache
def _recording(base: type) -> type:
    """``base`` that also adds its dest to ``namespace.given_flags`` (what --resume may not change)."""

    def __call__(self, parser, namespace, values, option_string=None):
        namespace.given_flags = frozenset(namespace.given_flags) | {self.dest}
        base.__call__(self, parser, namespace, values, option_string)

    return type(f"Recording{base.__name__}", (base,), {"__call__": __call__})


def given_fields(a: argparse.Namespace) -> set[str]:
    """TrainConfig fields set by a flag on the command line (hyper flags count as ``hyper``)."""
    extra = {"set", "nesterov", *HYPER_FLAGS}
    return {"hyper" if d in extra else d for d in a.given_flags}


def parse_devices(text: str | None) -> int | str | None:
    """--devices: None, 'all' or a positive int."""
    if text is None or text == "all":
        return text
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"--devices {text!r}: expected a positive int or 'all', e.g. "
                          "--devices 8.") from None


def config_from_args(a: argparse.Namespace) -> TrainConfig:
    hyper = {k: getattr(a, k) for k in HYPER_FLAGS if getattr(a, k) is not None}
    if a.nesterov:
        hyper["nesterov"] = True
    hyper.update(dict(parse_assignments(a.set)))
    return validate(TrainConfig(
        dataset=a.dataset, hidden=parse_hidden(a.hidden), activation=a.activation,
        output_activation=a.output_activation, loss=a.loss, init=a.init, optimizer=a.optimizer,
        learning_rate=a.learning_rate, hyper=tuple(sorted(hyper.items())), impl=a.impl,
        grad=a.grad, schedule=a.schedule, decay_rate=a.decay_rate, decay_every=a.decay_every,
        warmup_epochs=a.warmup_epochs, batch_size=a.batch_size, epochs=a.epochs, tol=a.tol,
        gtol=a.gtol, l2=a.l2, seed=a.seed, n_samples=a.n_samples, test_fraction=a.test_fraction,
        label_column=a.label_column, standardize=a.standardize, device=a.device,
        devices=parse_devices(a.devices), checkpoint_every=a.checkpoint_every))


def interrupted_message(epoch: int | None, folder, cfg: TrainConfig) -> str:
    """What Ctrl-C left behind, and the command that continues the run."""
    at = f"interrupted at epoch {epoch}" if epoch is not None else "interrupted"
    saved = folder.saved_epoch
    if folder.live and saved is None and (folder.path / "checkpoint.npz").is_file():
        saved = folder.epochs_done()  # a resumed run stopped before its first new checkpoint
    if folder.live and saved is not None:
        return (f"{at}; last checkpoint epoch {saved} in {str(folder.path)!r}; resume with: "
                f"jaxgd train --resume {folder.path} --epochs {cfg.epochs}")
    if getattr(folder, "replacing", False):
        return (f"{at}; the new run was discarded and {str(folder.path)!r} still holds the earlier "
                "result, unchanged.")
    return (f"{at}, before any checkpoint; nothing was written. Add --checkpoint-every EPOCHS to "
            "make a run resumable.")


def run(a: argparse.Namespace) -> int:
    if (a.coordinator, a.num_processes, a.process_id) != (None, None, None):
        from jaxgd.training.parallel import initialize_distributed

        initialize_distributed(a.coordinator, a.num_processes, a.process_id,
                               a.init_timeout)  # before any JAX use
    from jaxgd.experiments.run import predictions, train, write_run
    from jaxgd.experiments.runfolder import RunFolder

    t0 = time.perf_counter()
    given = config_from_args(a)
    if a.resume is not None:
        if a.out is not None and Path(a.out).resolve() != Path(a.resume).resolve():
            raise ConfigError(f"--out {a.out!r} with --resume {a.resume!r}: a resumed run writes "
                              "into its own folder; leave --out out.")
        folder = RunFolder(a.resume, resume=True)
        try:
            cfg = resume_config(folder.stored_config(), given, folder.epochs_done(), given_fields(a))
        except BaseException:
            folder.close()
            raise
    else:
        cfg = given
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
    print(f"jaxgd train: {cfg.dataset}, sizes {outcome.problem.sizes}, {cfg.activation}, "
          f"loss {outcome.problem.loss}, {cfg.optimizer}(lr={cfg.learning_rate}"
          + "".join(f", {k}={v}" for k, v in cfg.hyper) + f"), impl {cfg.impl}, grad {cfg.grad}")
    print(f"epochs run     {summary['epochs']}" + ("  (converged)" if summary["converged"] else ""))
    print(f"final loss     {summary['final_loss']:.6g}")
    for k in ("train_accuracy", "test_accuracy"):
        if k in summary:
            print(f"{k.replace('_', ' '):<15}{summary[k]:.4f}")
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
