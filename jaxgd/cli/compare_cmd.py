"""`jaxgd compare`: several optimizers on one problem, each over several seeds.

    jaxgd compare --dataset moons --optimizers sgd:hand sgd:optax \\
        adam:hand:learning_rate=0.01 --seeds 8 --epochs 200 --target 0.1 --plot

An optimizer is NAME[:hand|optax][:KEY=VALUE,...], or your own rule
MODULE:FACTORY[:KEY=VALUE,...] (see `jaxgd optimizers`); --lr and --set set the learning
rate and arguments of those that do not name their own.
"""

from __future__ import annotations

import argparse
import json

from jaxgd.cli.common import add_config_flags, add_flag, config_from_args, start_compile_cache
from jaxgd.cli.sweep_cmd import add_problem_flags, per_run, prepare, speed
from jaxgd.core.errors import check_nonnegative

TARGET_FIX = "A loss is finite and at least 0; e.g. --target 0.1."


def register(sub) -> None:
    p = sub.add_parser("compare", help="compare optimizers (hand-written and optax) over seeds",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_problem_flags(p, "compare")
    g = p.add_argument_group("optimizers")
    add_flag(g, "--optimizers", nargs="+", required=True, metavar="NAME[:IMPL][:K=V,...]",
             help="e.g. sgd:hand adam:optax adam:hand:learning_rate=0.01, or your own rule "
                  "MODULE:FACTORY (hand only), space- or comma-separated (IMPL: hand or optax, "
                  "hand when left out; learning_rate: the optimizer's default when neither it nor "
                  "--lr is given)")
    add_config_flags(g, ("learning_rate", "hyper", "l2", "decay_rate"), shortcuts=(), overrides={
        "learning_rate": {"help": "learning rate of the optimizers that do not set their own "
                                  "(each of the others: its default)"},
        "hyper": {"help": "an optimizer argument for every optimizer that does not set its own, "
                          "repeatable"}})
    add_flag(g, "--target", type=float, help="report the first epoch with loss <= target",
             show_default="none: not reported")
    add_flag(g, "--band", choices=("minmax", "std"), default="minmax",
             help="band of the loss plot over seeds: min-max or mean ± std")
    p.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    cfg = config_from_args(a)  # checked before JAX is imported
    if a.target is not None:
        check_nonnegative("--target", a.target, fix=TARGET_FIX)  # before JAX, as the config
    start_compile_cache(a)
    from jaxgd.experiments.compare import compare, compare_header, format_table, summarize, write_compare
    from jaxgd.experiments.sweep.grid import parse_seeds

    seeds = parse_seeds(a.seeds, cfg.seed)
    claim, show = prepare(a, "compare", cfg)
    with claim:
        result = compare(cfg, a.optimizers, seeds, progress=show)
        summary = summarize(result, a.target, a.band)
        pngs = write_compare(claim, result, summary, plot=a.plot)
    out = claim.path
    if a.json:
        rows = [{**row, "per_run": per_run(r)}
                for row, r in zip(summary["optimizers"], result.results, strict=True)]
        print(json.dumps({**speed(result.results), "seconds": sum(r.seconds for r in result.results),
                          "optimizers": rows, "run_dir": str(out), "plots": [str(p) for p in pngs]}))
        return 0
    if a.quiet:
        return 0
    print(compare_header(summary))
    print(format_table(summary))
    print(f"run folder     {out}")
    for p in pngs:
        print(f"plot           {p}")
    return 0
