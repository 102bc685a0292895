"""`jaxgd plot RUN_DIR`: draw the figures of a train, sweep or compare run folder into it.

Needs matplotlib: ``pip install -e ".[plot]"``.
"""

from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser("plot", help="draw loss curves, decision boundaries, sweep and compare plots",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="folders written by train/sweep/compare")
    p.add_argument("--quiet", action="store_true", help="do not list the files written")
    p.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from jaxgd.plots import plot_run, require_matplotlib

    require_matplotlib()
    for d in a.run_dirs:
        for path in plot_run(d):
            if not a.quiet:
                print(path)
    return 0
