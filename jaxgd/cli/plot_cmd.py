"""`jaxgd plot RUN_DIR`: draw the figures of a train, sweep or compare run folder into it.

Needs matplotlib: ``pip install -e ".[plot]"``.
"""

from __future__ import annotations

import argparse
import sys

from jaxgd.cli.common import add_flag


def register(sub) -> None:
    p = sub.add_parser("plot", help="draw loss curves, decision boundaries, sweep and compare plots",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="folders written by train/sweep/compare")
    add_flag(p, "--quiet", action="store_true", help="do not list the files written")
    p.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from jaxgd.experiments.plots import plot_run, require_matplotlib

    require_matplotlib()
    show = not a.quiet and sys.stderr.isatty()
    for d in tqdm(a.run_dirs, desc="plot", unit="folder", leave=False, disable=not show):
        for path in plot_run(d):
            if not a.quiet:
                tqdm.write(str(path), file=sys.stdout)
    return 0
