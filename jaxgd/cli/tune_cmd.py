"""`jaxgd tune`: a fair comparison of optimizers, each tuned with the same budget.

    jaxgd tune --dataset moons --optimizers sgd,momentum,adam --trials 16 --seeds 5 \\
        --epochs 300 --target 0.9 --metric val_accuracy --plot

Per optimizer: --trials quasi-random (Sobol) points of its search space run as one
vmapped sweep on the training rows minus a validation split; the point with the best
validation metric at the final epoch is re-run over --seeds fresh seeds and tested once
on the test split. Printed: the chosen hyperparameters, validation and test metric as
mean [95% bootstrap CI], time to --target, and for each pair of optimizers the paired
difference of the test metric and the probability of improvement (Agarwal et al. 2021).
--datasets a,b,c repeats the study per dataset and adds the performance profile.

Search spaces (see `jaxgd.reference.spaces`): the learning rate log-uniform from the
optimizer's default / 100 to default x 100 (at most 10); momentum and b1 uniform in
[0.5, 0.99]; b2 with 1 - b2 log-uniform in [1e-4, 1e-1]; weight_decay log-uniform in
[1e-6, 1e-1]; each where the rule uses it by default. "momentum" is sgd with momentum.
--space NAME:KEY=LO:HI[:lin|log|log1m] replaces or adds an axis.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

from jaxgd.cli.common import add_config_flags, add_flag, config_from_args, start_compile_cache
from jaxgd.cli.sweep_cmd import add_problem_flags, prepare
from jaxgd.core.errors import ConfigError, check_choice, check_positive_int, check_range
from jaxgd.experiments.config import SINGLE_IMPLS

METRICS = ("val_loss", "val_accuracy")


def register(sub) -> None:
    p = sub.add_parser("tune", help="compare optimizers fairly: tune each with the same budget, "
                       "test over seeds with bootstrap intervals", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_problem_flags(p, "tune", seeds="5",
                      seeds_help="seeds of each optimizer's re-run: a count S (seed+1..seed+S) or a "
                                 "list 1,4,7")
    g = p.add_argument_group("tuning")
    add_flag(g, "--optimizers", nargs="+", required=True, metavar="NAME",
             help="optimizers of the table or 'momentum' (sgd with momentum), space- or "
                  "comma-separated, e.g. sgd,momentum,adam")
    add_config_flags(g, ("impl",), overrides={
        "impl": {"default": "hand", "choices": SINGLE_IMPLS, "help": "the hand-written rules or "
                                                                     "their optax twins"}})
    add_flag(g, "--trials", type=int, default=16, help="quasi-random trials per optimizer "
             "(a power of 2 keeps Sobol's balance)")
    add_flag(g, "--space", action="append", metavar="NAME:KEY=LO:HI[:SCALE]",
             help="replace or add an axis of optimizer NAME's search space (SCALE: lin, log, "
                  "log1m), repeatable", show_default="the optimizer's own (see above)")
    add_flag(g, "--val-fraction", type=float, default=0.2,
             help="share of the training rows held out for validation (seeded by --seed)")
    add_flag(g, "--metric", default="val_loss", choices=METRICS,
             help="what selects the trial: the validation metric at the final epoch")
    add_flag(g, "--target", type=float, help="validation value to reach (val_loss <= T or "
             "val_accuracy >= T): epochs, steps and seconds to it", show_default="none")
    add_flag(g, "--datasets", metavar="A,B,...", help="run the study on each dataset and add the "
             "performance profile (with --target)", show_default="--dataset only")
    p.set_defaults(func=run)


def _items(texts) -> list[str]:
    return [s.strip() for t in texts for s in t.split(",") if s.strip()]


def run(a: argparse.Namespace) -> int:
    datasets = _items([a.datasets]) if a.datasets else []
    if datasets and "dataset" in vars(a):
        raise ConfigError(f"--dataset {a.dataset} and --datasets {a.datasets}: give one of them "
                          "(--datasets a,b,c runs the study on each).")
    if datasets:
        a.dataset = datasets[0]  # the config's checks see a dataset of the study
    cfg = config_from_args(a)  # checked before JAX is imported
    check_positive_int("--trials", a.trials)
    check_choice("--metric", a.metric, METRICS)
    check_range("--val-fraction", a.val_fraction, low=0.0, high=1.0, low_open=True, high_open=True,
                fix="Use e.g. --val-fraction 0.2.")
    if a.target is not None:
        check_range("--target", a.target, low=0.0, fix="A loss or accuracy is at least 0; e.g. "
                    "--target 0.9 with --metric val_accuracy.")
    names = _items(a.optimizers)
    if len(set(names)) != len(names):
        raise ConfigError(f"--optimizers {','.join(names)} lists an optimizer twice; give each once.")
    datasets = datasets or [cfg.dataset]
    from jaxgd.experiments.tune.trials import parse_space

    overrides = [parse_space(t) for t in a.space or []]
    start_compile_cache(a)
    from jaxgd.experiments.sweep.grid import parse_seeds
    from jaxgd.experiments.tune.report import format_tables, summarize, write_tune
    from jaxgd.experiments.tune.study import tune
    from jaxgd.experiments.tune.trials import spaces_for

    configs = [dataclasses.replace(cfg, dataset=d) for d in datasets]
    spaces = [spaces_for(names, c, overrides) for c in configs]  # every error before any work
    seeds = parse_seeds(a.seeds, cfg.seed + 1)
    claim, show = prepare(a, "tune", configs[0])
    t0 = time.perf_counter()
    with claim:
        results = [tune(c, s, a.trials, seeds, a.metric, a.target, a.val_fraction, cfg.impl,
                        progress=show) for c, s in zip(configs, spaces, strict=True)]
        summary = summarize(results, a.trials)
        summary["seconds"] = round(time.perf_counter() - t0, 3)
        pngs = write_tune(claim, results, summary, plot=a.plot)
    if a.json:
        print(json.dumps({**summary, "run_dir": str(claim.path), "plots": [str(p) for p in pngs]}))
        return 0
    if a.quiet:
        return 0
    print(f"jaxgd tune: {', '.join(datasets)}; {len(names)} optimizers ({', '.join(names)}), "
          f"{a.metric} at the final epoch selects, {summary['budget']['epochs']} epochs")
    print(format_tables(summary))
    print(f"wall time      {summary['seconds']:.1f} s")
    print(f"run folder     {claim.path}")
    for p in pngs:
        print(f"plot           {p}")
    return 0
