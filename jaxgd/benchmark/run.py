"""Run the side-by-side benchmark and gather its figures (see `jaxgd.benchmark`)."""

from __future__ import annotations

import os
import platform
import time
from typing import Any

import jax

from jaxgd.benchmark import workloads as W
from jaxgd.benchmark.endtoend import train_end_to_end
from jaxgd.benchmark.sweep_bare import w5
from jaxgd.benchmark.sweep_bench import w4
from jaxgd.benchmark.timing import measure
from jaxgd.core import names
from jaxgd.core.errors import check_choice, check_positive_int

__all__ = ["WORKLOADS", "machine", "run_bench"]

WORKLOADS = names.WORKLOADS


def machine() -> dict[str, Any]:
    """The machine, device and versions a benchmark ran on (JSON-able)."""
    dev = jax.devices()[0]
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "device": f"{dev.platform}: {getattr(dev, 'device_kind', '')}",
        "jax": jax.__version__,
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d"),
    }


def run_bench(workloads=WORKLOADS, repeats: int = 5, quick: bool = False,
              end_to_end: bool = True, progress: bool = False) -> dict[str, Any]:
    """Run the benchmark on JAX's default device; ``quick`` shrinks every workload.

    On a GPU, W3 is the large compute-bound MLP (1024-4096-4096-4096-10, batch 4096,
    20 steps) and W5 sweeps R = 1, 32, 256 and 1024 runs; on a CPU, W3 is
    1024-2048-2048-10 and W5 sweeps R = 1 and 32.
    """
    for w in workloads:
        check_choice("workload", w, WORKLOADS)
    check_positive_int("repeats", repeats)
    out: dict[str, Any] = {"machine": machine(), "repeats": repeats, "quick": quick, "workloads": []}
    builders = {
        "W1": lambda: W.w1(epochs=500 if quick else 10_000),
        "W2": lambda: W.w2(epochs=1 if quick else 20),
        "W3": lambda: W.w3(n=1024 if quick else 4096),
    }
    gpu = jax.default_backend() == "gpu"
    if gpu and not quick:
        builders["W3"] = lambda: W.w3(n=4096 * 20, sizes=(1024, 4096, 4096, 4096, 10), batch=4096)
    if "W3" in workloads:
        out["matmul_gflops"] = W.matmul_peak(512 if quick else 2048)
    for name in workloads:
        if progress:
            print(f"[bench] {name} ...", flush=True)
        if name == "W4":
            out["workloads"].append(w4(quick=quick, repeats=max(1, repeats // 2)))
            continue
        if name == "W5":
            runs = (1, 4) if quick else (1, 32, 256, 1024) if gpu else (1, 32)
            out["workloads"].append(w5(runs, epochs=2 if quick else 20, repeats=1 if quick else 5))
            continue
        wl = builders[name]()
        timings = measure(wl.impls, repeats=repeats)
        base = next(t for t in timings if t.name == "jaxgd (hand)").median_s
        rows = []
        for t in timings:
            row = t._asdict()
            row["ratio_to_jaxgd"] = t.median_s / base
            if wl.flops:
                row["gflops"] = wl.flops / t.median_s / 1e9
                if "matmul_gflops" in out:
                    row["fraction_of_matmul_peak"] = row["gflops"] / out["matmul_gflops"]
            rows.append(row)
        out["workloads"].append({"name": wl.name, "title": wl.title, "rows": rows})
    if end_to_end:
        if progress:
            print("[bench] jaxgd train end to end ...", flush=True)
        out["end_to_end"] = train_end_to_end(repeats=3 if not quick else 1)
    return out
