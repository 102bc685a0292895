"""`jaxgd bench`: the side-by-side benchmark (jaxgd vs bare JAX, a Python loop, NumPy, PyTorch)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from jaxgd.cli.common import add_flag
from jaxgd.core.errors import ConfigError, check_choice, check_positive_int
from jaxgd.core.io import write_text, writing
from jaxgd.core.names import WORKLOADS


def register(sub) -> None:
    p = sub.add_parser("bench", help="benchmark jaxgd against other implementations",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_flag(p, "--workloads", default=",".join(WORKLOADS),
             help="comma-separated subset of W1..W5 (W5: the sweep against a bare vmapped program)")
    add_flag(p, "--repeats", type=int, default=5, help="timed repeats per implementation (the median "
             "is reported)")
    add_flag(p, "--quick", action="store_true", help="small sizes: a smoke run in seconds")
    add_flag(p, "--no-end-to-end", action="store_true", help="skip the fresh-process runs")
    add_flag(p, "--out", default="bench_out", help="folder for bench.json and bench.md")
    add_flag(p, "--json", action="store_true", help="print the JSON result on stdout")
    p.set_defaults(func=run)


def parse_workloads(text: str) -> tuple[str, ...]:
    """'W1, W3' -> ('W1', 'W3'); an empty list or an unknown name is refused."""
    workloads = tuple(w.strip() for w in text.split(",") if w.strip())
    if not workloads:
        raise ConfigError(f"--workloads {text!r} names no workload; accepted: a comma-separated "
                          f"subset of {', '.join(WORKLOADS)}, e.g. --workloads W1,W3 (or leave "
                          "--workloads out for all).")
    for w in workloads:
        check_choice("workload", w, WORKLOADS)
    return workloads


def check_out_folder(out: Path) -> Path:
    """``out`` is a folder bench can write into, or one it can create; checked before the
    benchmark runs, not after it."""
    for place in (out, *out.parents):
        if not place.exists():
            continue
        if not place.is_dir():
            where = "is a file" if place == out else f"lies under {str(place)!r}, which is a file"
            raise ConfigError(f"--out {str(out)!r} {where}; bench writes bench.json and bench.md "
                              "into a folder. Choose a folder, e.g. --out bench_out.")
        if not os.access(place, os.W_OK | os.X_OK):
            raise ConfigError(f"--out {str(out)!r}: {str(place)!r} is not writable; choose a folder "
                              "you can write to, e.g. --out bench_out.")
        break
    return out


def run(a: argparse.Namespace) -> int:
    workloads = parse_workloads(a.workloads)  # all checked before JAX starts
    check_positive_int("--repeats", a.repeats, fix="e.g. --repeats 5.")
    out = check_out_folder(Path(a.out))
    # No persistent compilation cache here: the benchmark measures compile times as a
    # first run sees them (its end-to-end part measures a warm cache apart).
    from jaxgd.benchmark import run_bench
    from jaxgd.benchmark.report import markdown

    res = run_bench(workloads, repeats=a.repeats, quick=a.quick,
                    end_to_end=not a.no_end_to_end, progress=not a.json)
    with writing(out):
        out.mkdir(parents=True, exist_ok=True)
    write_text(out / "bench.json", json.dumps(res, indent=2, default=str) + "\n")
    md = markdown(res)
    write_text(out / "bench.md", md + "\n")
    print(json.dumps(res, default=str) if a.json else md)
    return 0
