"""`jaxgd bench`: the side-by-side benchmark (jaxgd vs bare JAX, a Python loop, NumPy, PyTorch)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("bench", help="benchmark jaxgd against other implementations",
                       description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--workloads", default="W1,W2,W3,W4,W5",
                   help="comma-separated subset of W1..W5 (W5: the sweep against a bare vmapped "
                   "program)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--quick", action="store_true", help="small sizes: a smoke run in seconds")
    p.add_argument("--no-end-to-end", action="store_true", help="skip the fresh-process runs")
    p.add_argument("--out", default="bench_out", help="folder for bench.json and bench.md")
    p.add_argument("--json", action="store_true", help="print the JSON result on stdout")
    p.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    # No persistent compilation cache here: the benchmark measures compile times as a
    # first run sees them (its end-to-end part measures a warm cache apart).
    from jaxgd.benchmark import run_bench
    from jaxgd.benchmark.report import markdown

    workloads = tuple(w.strip() for w in a.workloads.split(",") if w.strip())
    res = run_bench(workloads, repeats=a.repeats, quick=a.quick,
                    end_to_end=not a.no_end_to_end, progress=not a.json)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(res, indent=2, default=str) + "\n")
    md = markdown(res)
    (out / "bench.md").write_text(md + "\n")
    print(json.dumps(res, default=str) if a.json else md)
    return 0
