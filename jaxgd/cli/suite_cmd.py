"""`jaxgd suite`: the benchmark suite, seven small problems with shipped targets.

    jaxgd suite                                   sgd, momentum, adam on all seven problems
    jaxgd suite --problems quadratic,rosenbrock --trials 8 --seeds 3 --plot

Each problem (xor, moons, spirals, digits, mnist1d, quadratic, rosenbrock; the table is
`jaxgd.experiments.tune.suite.PROBLEMS`: target, epochs or steps, network) is tuned with
the protocol of `jaxgd tune`: per optimizer, --trials Sobol points of its search space as
one vmapped program, selection on the validation metric at the last epoch, the chosen
point re-run over --seeds, the time to the problem's target. The quadratic and Rosenbrock
have no data: the metric is the objective value f itself, the trials start at the
standard start and the seeds at random starts around it. Printed: per problem the table of
`jaxgd tune`; across problems the performance profile of the median updates to target.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time

from jaxgd.cli.common import add_config_flags, add_flag, given_fields, start_compile_cache
from jaxgd.core.errors import ConfigError, check_positive_int
from jaxgd.experiments.config import SINGLE_IMPLS


def register(sub) -> None:
    from jaxgd.experiments.tune.suite import DEFAULT_OPTIMIZERS, PROBLEMS

    p = sub.add_parser("suite", help="benchmark suite: tune optimizers on seven small problems with "
                       "shipped targets, and the performance profile across them", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_flag(p, "--problems", metavar="A,B,...", default=",".join(PROBLEMS),
             help=f"problems of the suite, comma-separated ({', '.join(PROBLEMS)})")
    add_flag(p, "--optimizers", nargs="+", metavar="NAME", default=[",".join(DEFAULT_OPTIMIZERS)],
             help="optimizers of the table or 'momentum' (sgd with momentum), space- or comma-separated")
    add_flag(p, "--trials", type=int, default=16, help="quasi-random trials per optimizer and problem")
    add_flag(p, "--seeds", default="5", help="seeds of each re-run: a count S (seed+1..seed+S) or a "
             "list 1,4,7")
    add_config_flags(p, ("impl", "seed"), overrides={
        "impl": {"default": "hand", "choices": SINGLE_IMPLS, "help": "the hand-written rules or "
                                                                     "their optax twins"},
        "seed": {"help": "data seed, the trials' seed, and the first re-run seed - 1"}})
    add_flag(p, "--out", help="run folder", show_default="runs/suite-<time>-<random>")
    add_flag(p, "--overwrite", action="store_true", help="replace an existing run folder")
    add_flag(p, "--plot", action="store_true", help="also write profile.png (needs matplotlib)")
    add_flag(p, "--json", action="store_true", help="print the summary as one JSON object and nothing else")
    add_flag(p, "--quiet", action="store_true", help="no tables")
    p.set_defaults(func=run)


def _items(texts) -> list[str]:
    return [s.strip() for t in texts for s in str(t).split(",") if s.strip()]


def run(a: argparse.Namespace) -> int:
    from jaxgd.experiments.tune.suite import PROBLEMS, check_problems

    names = check_problems(_items([a.problems]))
    contenders = _items(a.optimizers)
    if len(set(contenders)) != len(contenders) or not contenders:
        raise ConfigError(f"--optimizers {','.join(contenders)!r}: give each optimizer once, at least "
                          "one, e.g. --optimizers sgd,momentum,adam.")
    check_positive_int("--trials", a.trials)
    given = given_fields(a)  # parsed and checked as train's --seed and --impl
    seed, impl = int(given.get("seed", 0)), str(given.get("impl", "hand"))
    from jaxgd.reference.spaces import search_space

    for c in contenders:
        search_space(c)  # an unknown optimizer is refused before any work
    start_compile_cache(a)
    from pathlib import Path

    from jaxgd.experiments.foldername import new_run_folder
    from jaxgd.experiments.outdir import OutputDir
    from jaxgd.experiments.sweep.grid import parse_seeds
    from jaxgd.experiments.tune.suite import run_problem
    from jaxgd.experiments.tune.suite_report import format_suite, machine, suite_summary, write_suite

    seeds = parse_seeds(a.seeds, seed + 1)
    if a.plot:
        from jaxgd.experiments.plots import require_matplotlib

        require_matplotlib()
    claim = OutputDir(Path(a.out) if a.out else new_run_folder("suite"), a.overwrite, kind="suite",
                      made=not a.out)
    command = "jaxgd " + shlex.join(sys.argv[1:]) if sys.argv[1:2] == ["suite"] else "jaxgd suite"
    t0 = time.perf_counter()
    with claim:
        problems = [PROBLEMS[n] for n in names]
        summaries = []
        for p in problems:
            if not (a.json or a.quiet):
                print(f"jaxgd suite: {p.name} ({p.reached}, {p.length} {p.unit})", file=sys.stderr)
            summaries.append(run_problem(p, contenders, a.trials, seeds, seed, impl))
        suite = suite_summary(problems, summaries, contenders, a.trials, seeds)
        suite["seconds"] = round(time.perf_counter() - t0, 3)
        suite["machine"] = machine()
        pngs = write_suite(claim, suite, command, plot=a.plot)
    if a.json:
        print(json.dumps({**suite, "run_dir": str(claim.path), "plots": [str(p) for p in pngs]}))
        return 0
    if a.quiet:
        return 0
    print(format_suite(suite))
    print(f"wall time      {suite['seconds']:.1f} s")
    print(f"run folder     {claim.path}")
    for p in pngs:
        print(f"plot           {p}")
    return 0
