"""Timing rules of the benchmark: warm-up, compile apart, interleaved repeats, medians.

An implementation is a `Impl(name, prepare)`: ``prepare()`` builds and compiles
everything (timed as compile time) and returns ``run()``, which does the whole
workload once and blocks until its result is ready. All implementations of a
workload are measured in one process, round-robin, so drift in the machine's
speed hits them alike.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from typing import Any, NamedTuple


class Impl(NamedTuple):
    name: str
    prepare: Callable[[], Callable[[], Any]]  # compiles; returns run()
    note: str = ""


class Timing(NamedTuple):
    name: str
    compile_s: float  # prepare(): tracing + XLA compilation (0 for eager code)
    median_s: float
    min_s: float
    max_s: float
    repeats: int
    note: str


def measure(impls: list[Impl], repeats: int = 5, warmup: int = 1) -> list[Timing]:
    """Compile each, warm each up, then time ``repeats`` interleaved rounds."""
    runs, compile_s = {}, {}
    for impl in impls:
        t0 = time.perf_counter()
        runs[impl.name] = impl.prepare()
        compile_s[impl.name] = time.perf_counter() - t0
    for _ in range(warmup):
        for impl in impls:
            runs[impl.name]()
    samples: dict[str, list[float]] = {i.name: [] for i in impls}
    for _ in range(repeats):
        for impl in impls:
            gc.collect()
            t0 = time.perf_counter()
            runs[impl.name]()
            samples[impl.name].append(time.perf_counter() - t0)
    return [Timing(i.name, compile_s[i.name], statistics.median(samples[i.name]),
                   min(samples[i.name]), max(samples[i.name]), repeats, i.note) for i in impls]


def block(tree: Any) -> Any:
    """Wait for every array in ``tree`` (jax or torch) to be computed."""
    import jax

    return jax.block_until_ready(tree)
