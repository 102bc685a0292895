"""`jaxgd sweep`: many runs of one model and optimizer in one program (vmap over a grid).

Grid axes: ``--lr 1e-4:1e-1:32:log`` (START:STOP:NUM:log|lin), ``--momentum 0,0.9``
(a list), ``--grid KEY=SPEC`` for any float hyperparameter; ``--seeds 8``. The
grid is the product. On a CPU, ``--cpu-devices N`` (or
``XLA_FLAGS=--xla_force_host_platform_device_count=N``) shards the runs over N
devices.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from jaxgd.cli.common import add_data_flags
from jaxgd.core.errors import ConfigError
from jaxgd.experiments.config import GRADS, SCHEDULES, TrainConfig, parse_assignments, parse_hidden, validate

GRID_FLAGS = ("learning_rate", "momentum", "b1", "b2", "eps", "weight_decay", "l2", "decay_rate")


def add_problem_flags(p: argparse.ArgumentParser) -> None:
    """Flags shared by `sweep` and `compare`: data, network, epochs, batch, seeds, output."""
    d = TrainConfig()
    g = p.add_argument_group("problem")
    add_data_flags(g)
    g.add_argument("--grad", choices=GRADS, default=d.grad)
    g.add_argument("--schedule", choices=SCHEDULES, default=d.schedule)
    g.add_argument("--decay-every", type=int, default=d.decay_every, help="epochs")
    g.add_argument("--warmup-epochs", type=int, default=d.warmup_epochs)
    g = p.add_argument_group("run")
    g.add_argument("--batch-size", type=int, default=None, help="default: full batch")
    g.add_argument("--epochs", type=int, default=d.epochs)
    g.add_argument("--seed", type=int, default=d.seed, help="data seed, and the first run seed")
    g.add_argument("--seeds", default="1", help="run seeds: a count N (seed..seed+N-1) or a list 0,3,7")
    g.add_argument("--device", choices=("cpu", "gpu"), default=d.device)
    g.add_argument("--cpu-devices", type=int, default=None, metavar="N",
                   help="split the CPU into N devices (only before JAX starts; see XLA_FLAGS)")
    g.add_argument("--out", default=None, help="run folder (default: runs/<command>-<dataset>-<time>)")
    g.add_argument("--overwrite", action="store_true", help="replace an existing run folder")
    g.add_argument("--plot", action="store_true", help="also write PNG figures (needs matplotlib)")
    g.add_argument("--json", action="store_true", help="print one JSON summary line on stdout")
    g.add_argument("--quiet", action="store_true", help="no progress bar or table")


def register(sub) -> None:
    p = sub.add_parser("sweep", help="train a grid of runs at once (vmap over seeds and hyperparameters)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_problem_flags(p)
    g = p.add_argument_group("optimizer and grid (SPEC: START:STOP:NUM:log|lin or a,b,c)")
    g.add_argument("--optimizer", default=TrainConfig().optimizer)
    g.add_argument("--impl", choices=("hand", "optax"), default="hand")
    g.add_argument("--learning-rate", "--lr", dest="learning_rate", metavar="SPEC")
    for name in GRID_FLAGS[1:]:
        g.add_argument(f"--{name.replace('_', '-')}", metavar="SPEC")
    g.add_argument("--grid", action="append", metavar="KEY=SPEC", help="any float hyperparameter")
    g.add_argument("--nesterov", action="store_true")
    g.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="a fixed optimizer argument, repeatable")
    g.add_argument("--max-runs-per-chunk", type=int, default=None,
                   help="runs per compiled call (default: from a memory estimate)")
    g.add_argument("--memory-budget-mb", type=float, default=None,
                   help="device memory per device for one chunk (default: half a GPU or a share of RAM)")
    p.set_defaults(func=run)


def base_config(a: argparse.Namespace, optimizer: str, hyper: dict) -> TrainConfig:
    """The TrainConfig of the shared flags (learning rate and hyperparameters fixed by the caller)."""
    lr = hyper.pop("learning_rate", TrainConfig().learning_rate)
    return validate(TrainConfig(
        dataset=a.dataset, hidden=parse_hidden(a.hidden), activation=a.activation,
        output_activation=a.output_activation, loss=a.loss, init=a.init, optimizer=optimizer,
        learning_rate=lr, hyper=tuple(sorted(hyper.items())), impl="hand", grad=a.grad,
        schedule=a.schedule, decay_every=a.decay_every, warmup_epochs=a.warmup_epochs,
        batch_size=a.batch_size, epochs=a.epochs, seed=a.seed, n_samples=a.n_samples,
        test_fraction=a.test_fraction, label_column=a.label_column, standardize=a.standardize,
        device=a.device))


def grid_axes(a: argparse.Namespace) -> dict:
    """The grid's axes from the named flags, then ``--grid KEY=SPEC`` in order."""
    from jaxgd.experiments.sweep.grid import parse_spec

    axes = {}
    for name in GRID_FLAGS:
        spec = getattr(a, name)
        if spec is not None:
            flag = "--lr" if name == "learning_rate" else f"--{name.replace('_', '-')}"
            axes[name] = parse_spec(flag, spec)
    for item in a.grid or []:
        if "=" not in item:
            raise ConfigError(f"--grid {item!r}: expected KEY=SPEC, e.g. --grid b2=0.9,0.99,0.999.")
        key, spec = (s.strip() for s in item.split("=", 1))
        key = key.replace("-", "_")
        if key in axes:
            raise ConfigError(f"--grid {item!r}: {key} already has a grid; give it once.")
        axes[key] = parse_spec(f"--grid {key}", spec)
    return axes


def prepare(a: argparse.Namespace, command: str):
    """Common start of sweep/compare: CPU devices, matplotlib check, and the output folder
    claimed (checked, locked, staged) before any work. Returns ``(OutputDir, show_progress)``;
    the caller closes the claim (`write_sweep`/`write_compare` do, or a ``with`` block)."""
    from jaxgd.experiments.outdir import OutputDir
    from jaxgd.experiments.sweep.plan import use_cpu_devices

    if a.cpu_devices is not None:
        note = use_cpu_devices(a.cpu_devices)
        if note:
            print(note, file=sys.stderr)
    if a.plot:
        from jaxgd.experiments.plots import require_matplotlib

        require_matplotlib()
    out = Path(a.out or f"runs/{command}-{Path(a.dataset).stem}-{time.strftime('%Y%m%d-%H%M%S')}")
    claim = OutputDir(out, a.overwrite, kind=command)  # fail before training, not after
    return claim, not a.quiet and not a.json and sys.stderr.isatty()


def run(a: argparse.Namespace) -> int:
    from jaxgd.experiments.sweep.engine import sweep
    from jaxgd.experiments.sweep.grid import make_grid, parse_seeds
    from jaxgd.experiments.sweep.report import format_table, summarize, write_sweep

    hyper = dict(parse_assignments(a.set))
    if a.nesterov:
        hyper["nesterov"] = True
    axes = grid_axes(a)
    cfg = base_config(a, a.optimizer, hyper)
    grid = make_grid(axes, parse_seeds(a.seeds, a.seed))
    budget = None if a.memory_budget_mb is None else int(a.memory_budget_mb * 2**20)
    claim, show = prepare(a, "sweep")
    with claim:
        result = sweep(cfg, grid, side=a.impl, max_runs_per_chunk=a.max_runs_per_chunk,
                       memory_budget=budget, progress=show)
        summary = summarize(result)
        pngs = write_sweep(claim, result, summary, plot=a.plot)
    out = claim.path
    if a.json:
        print(json.dumps({"best": summary["best"], "runs": grid.runs,
                          "diverged_runs": summary["diverged_runs"], "seconds": summary["seconds"],
                          "run_dir": str(out), "plots": [str(p) for p in pngs]}))
        return 0
    if a.quiet:
        return 0
    print(f"jaxgd sweep: {cfg.dataset}, {cfg.optimizer} ({a.impl}), {grid.runs} runs "
          f"({len(grid.values) // len(set(grid.seeds.tolist()))} settings x "
          f"{len(set(grid.seeds.tolist()))} seeds), {cfg.epochs} epochs, {result.devices} device(s), "
          f"{result.chunks} chunk(s) of {result.runs_per_chunk}")
    print(format_table(summary))
    if summary["diverged_runs"]:
        print(f"diverged runs  {summary['diverged_runs']} of {grid.runs} (see summary.json)")
    print(f"wall time      {result.seconds:.2f} s (compile {result.compile_seconds:.2f} s)")
    print(f"run folder     {out}")
    for p in pngs:
        print(f"plot           {p}")
    return 0
