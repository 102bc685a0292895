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
import math
import sys
from pathlib import Path

from jaxgd.cli.common import (
    DATA_FIELDS,
    add_config_flags,
    add_flag,
    config_from_args,
    start_compile_cache,
)
from jaxgd.core.errors import ConfigError, check_range
from jaxgd.experiments.config import FIELDS, SINGLE_IMPLS, TrainConfig

GRID_FLAGS = ("learning_rate", "momentum", "b1", "b2", "eps", "weight_decay", "l2", "decay_rate")
PROBLEM_FIELDS = (*DATA_FIELDS, "grad", "schedule", "decay_every", "warmup_epochs")
RUN_FIELDS = ("batch_size", "epochs", "seed", "device", "eval_every")
SEED_HELP = "data seed, and the first run seed"
MIN_BUDGET_MB = 1.0  # below a MiB, no network with its data fits: a typo for GiB or a unit


def add_problem_flags(p: argparse.ArgumentParser, command: str, seeds: str = "1",
                      seeds_help: str = "run seeds: a count N (seed..seed+N-1) or a list 0,3,7") -> None:
    """Flags shared by `sweep`, `compare` and `tune`: data, network, epochs, batch, seeds, output."""
    add_config_flags(p.add_argument_group("problem"), PROBLEM_FIELDS)
    g = p.add_argument_group("run")
    add_config_flags(g, RUN_FIELDS, overrides={"seed": {"help": SEED_HELP}})
    add_flag(g, "--seeds", default=seeds, help=seeds_help)
    add_flag(g, "--cpu-devices", type=int, metavar="N",
             help="split the CPU into N devices (only before JAX starts; see XLA_FLAGS)",
             show_default="as XLA_FLAGS says, else 1")
    add_flag(g, "--out", help="run folder", show_default=f"runs/{command}-<dataset>-<time>-<random>")
    add_flag(g, "--overwrite", action="store_true", help="replace an existing run folder")
    add_flag(g, "--plot", action="store_true", help="also write PNG figures (needs matplotlib)")
    add_flag(g, "--json", action="store_true",
             help="print one JSON object on stdout and nothing else: runs, compile_seconds, "
                  "run_seconds, runs_per_second (runs / run_seconds), device, each run's final "
                  "metrics, the run folder")
    add_flag(g, "--quiet", action="store_true", help="no progress bar or table")


def register(sub) -> None:
    p = sub.add_parser("sweep", help="train a grid of runs at once (vmap over seeds and hyperparameters)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_problem_flags(p, "sweep")
    g = p.add_argument_group("optimizer and grid (SPEC: START:STOP:NUM:log|lin or a,b,c)")
    add_config_flags(g, ("optimizer", "impl", "hyper"), shortcuts=("nesterov",), overrides={
        "impl": {"default": "hand", "choices": SINGLE_IMPLS,
                 "help": "the hand-written rule or its optax twin"},
        "hyper": {"help": "a fixed optimizer argument, repeatable"}})
    add_flag(g, "--learning-rate", "--lr", dest="grid_learning_rate", metavar="SPEC",
             help="learning rates", show_default=FIELDS["learning_rate"][1].unset)
    for name in GRID_FLAGS[1:]:
        add_flag(g, f"--{name.replace('_', '-')}", dest=f"grid_{name}", metavar="SPEC",
                 help=f"values of {name}", show_default="the optimizer's own"
                 if name not in ("l2", "decay_rate") else getattr(TrainConfig(), name))
    add_flag(g, "--grid", action="append", metavar="KEY=SPEC", help="any float hyperparameter, repeatable",
             show_default="no other axis")
    add_flag(g, "--max-runs-per-chunk", type=int, help="runs per compiled call",
             show_default="from a memory estimate")
    add_flag(g, "--memory-budget-mb", type=float, help="device memory per device for one chunk",
             show_default="half a GPU or a share of RAM")
    p.set_defaults(func=run)


def grid_axes(a: argparse.Namespace) -> dict:
    """The grid's axes from the named flags, then ``--grid KEY=SPEC`` in order."""
    from jaxgd.experiments.sweep.grid import parse_spec

    axes = {}
    for name in GRID_FLAGS:
        spec = getattr(a, f"grid_{name}")
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


def prepare(a: argparse.Namespace, command: str, cfg: TrainConfig):
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
    from jaxgd.experiments.foldername import new_run_folder

    out = Path(a.out) if a.out else new_run_folder(f"{command}-{Path(cfg.dataset).stem}")
    claim = OutputDir(out, a.overwrite, kind=command, made=not a.out)  # fail before training, not after
    return claim, not a.quiet and sys.stderr.isatty()  # the bar is on stderr, also with --json


def speed(results) -> dict:
    """The figures ``--json`` reports for the sweeps of one command, summed over them.

    ``runs_per_second`` is ``runs / run_seconds``: compilation is not counted.
    """
    from jaxgd.experiments.build import select_device

    runs = sum(r.grid.runs for r in results)
    compile_s = sum(r.compile_seconds for r in results)
    run_s = sum(r.run_seconds for r in results)
    device = select_device(results[0].config.device)
    return {"runs": runs, "compile_seconds": compile_s, "run_seconds": run_s,
            "runs_per_second": runs / run_s if run_s > 0 else None, "device": device.platform,
            "device_kind": device.device_kind, "devices": results[0].devices}


def per_run(result) -> list[dict]:
    """Each run's seed, hyperparameters, final metrics (None after it diverged) and the epoch
    it diverged at (0: never)."""
    names = list(result.grid.names)
    return [{"run": i, "seed": int(result.grid.seeds[i]),
             "hyper": dict(zip(names, map(float, result.grid.values[i]), strict=True)),
             "final": {k: _finite(v[i, -1]) for k, v in result.history.items()},
             "diverged_at": int(result.diverged_at[i])} for i in range(result.grid.runs)]


def _finite(x) -> float | None:
    return float(x) if math.isfinite(x) else None


def run(a: argparse.Namespace) -> int:
    cfg = config_from_args(a)  # checked before JAX is imported
    if a.memory_budget_mb is not None:
        check_range("--memory-budget-mb", a.memory_budget_mb, low=MIN_BUDGET_MB,
                    fix="Give the MiB one chunk of runs may use on each device, e.g. "
                        "--memory-budget-mb 2048, or leave it out for the default.")
    start_compile_cache(a)
    from jaxgd.experiments.sweep.engine import sweep
    from jaxgd.experiments.sweep.grid import make_grid, parse_seeds
    from jaxgd.experiments.sweep.report import format_table, summarize, write_sweep

    axes = grid_axes(a)
    grid = make_grid(axes, parse_seeds(a.seeds, cfg.seed))
    budget = None if a.memory_budget_mb is None else int(a.memory_budget_mb * 2**20)
    claim, show = prepare(a, "sweep", cfg)
    with claim:
        result = sweep(cfg, grid, impl=cfg.impl, max_runs_per_chunk=a.max_runs_per_chunk,
                       memory_budget=budget, progress=show)
        summary = summarize(result)
        pngs = write_sweep(claim, result, summary, plot=a.plot)
    out = claim.path
    if a.json:
        print(json.dumps({**speed([result]), "seconds": result.seconds, "best": summary["best"],
                          "diverged_runs": summary["diverged_runs"], "per_run": per_run(result),
                          "run_dir": str(out), "plots": [str(p) for p in pngs]}))
        return 0
    if a.quiet:
        return 0
    seeds = len(set(grid.seeds.tolist()))
    print(f"jaxgd sweep: {cfg.dataset}, {cfg.optimizer} ({cfg.impl}), {_count(grid.runs, 'run')} "
          f"({_count(len(grid.values) // seeds, 'setting')} x {_count(seeds, 'seed')}), "
          f"{result.config.epochs} epochs, {_count(result.devices, 'device')}, "
          f"{_count(result.chunks, 'chunk')} of {result.runs_per_chunk}")
    print(format_table(summary))
    if summary["diverged_runs"]:
        print(f"diverged runs  {summary['diverged_runs']} of {grid.runs} (see summary.json)")
    print(f"wall time      {result.seconds:.2f} s (compile {result.compile_seconds:.2f} s)")
    print(f"run folder     {out}")
    for p in pngs:
        print(f"plot           {p}")
    return 0


def _count(n: int, noun: str) -> str:
    """``1 seed``, ``3 seeds``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"
