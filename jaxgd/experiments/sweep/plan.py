"""How a sweep is laid out on devices: memory per run, chunks, calls, CPU devices.

A grid runs in chunks of equal size (a multiple of the device count, so the run
axis splits evenly); a chunk holds as many runs as fit in a memory budget per
device, estimated from the shapes of the parameters, the optimizer state and one
batch of activations. Each chunk runs its epochs in about ten compiled calls, so
the host can show progress between them.
"""

from __future__ import annotations

import math
import os

import jax
import numpy as np

from jaxgd.core.errors import check_positive_int
from jaxgd.experiments.build import Problem, make_tx
from jaxgd.experiments.config import TrainConfig
from jaxgd.experiments.defaults import resolve_defaults
from jaxgd.experiments.sweep.grid import point_config
from jaxgd.nn.models import init_mlp


def bytes_per_run(cfg: TrainConfig, pb: Problem, impl: str, names: tuple[str, ...],
                  values: np.ndarray, batch: int, epochs_per_call: int) -> int:
    """Estimated device memory of one run: state twice, gradients, activations, metrics."""
    cfg = resolve_defaults(cfg)
    params = jax.eval_shape(lambda: init_mlp(jax.random.key(0), pb.sizes, cfg.init))
    tx = make_tx(point_config(cfg, names, values), impl, pb.data.n // batch)
    opt = jax.eval_shape(tx.init, params)
    size = lambda tree: sum(math.prod(leaf.shape) * leaf.dtype.itemsize for leaf in jax.tree.leaves(tree))
    p = size(params)
    rows = max(batch, pb.data.n if pb.data.task != "regression" else batch)  # eval runs on all x
    activations = 4 * rows * sum(pb.sizes) * 4  # z, a, delta, dL/da in float32
    metrics = 8 * epochs_per_call * 4
    return 2 * (p + size(opt)) + p + activations + metrics + 4 * pb.data.n


def default_memory_budget(device) -> int:
    """Bytes per device a sweep may use: half an accelerator, or a quarter of host RAM shared."""
    try:
        stats = device.memory_stats() or {}
    except Exception:  # noqa: BLE001 - backends without memory stats
        stats = {}
    if "bytes_limit" in stats:
        return int(0.5 * stats["bytes_limit"])
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 << 30
    return int(0.25 * total / max(1, len(jax.devices(device.platform))))


def plan_chunks(runs: int, devices: int, per_run: int, budget: int,
                max_runs_per_chunk: int | None = None) -> tuple[int, int]:
    """``(runs_per_chunk, chunks)``: chunks of equal size, a multiple of ``devices``.

    At most ``budget // per_run`` runs per device (at least one), at most
    ``max_runs_per_chunk`` in all, and no bigger than the grid needs.
    """
    cap = max(1, budget // max(per_run, 1)) * devices
    if max_runs_per_chunk is not None:
        cap = min(cap, max(devices, max_runs_per_chunk // devices * devices))
    chunks = math.ceil(runs / cap)
    per_chunk = math.ceil(math.ceil(runs / chunks) / devices) * devices
    return per_chunk, chunks


def epoch_calls(epochs: int, calls: int = 10) -> list[int]:
    """Split ``epochs`` into about ``calls`` compiled calls (the host wakes between them)."""
    k = max(1, epochs // calls)
    out = [k] * (epochs // k)
    return out + ([epochs % k] if epochs % k else [])


def use_cpu_devices(n: int) -> str | None:
    """Ask JAX for ``n`` CPU devices; a note instead when its backend has already started.

    Equivalent to ``XLA_FLAGS=--xla_force_host_platform_device_count=N``, which must
    also be set before JAX's first computation.
    """
    check_positive_int("cpu_devices", n, fix="e.g. --cpu-devices 8.")
    try:
        jax.config.update("jax_num_cpu_devices", n)
        return None
    except RuntimeError:
        have = len(jax.devices("cpu"))
        if have == n:
            return None
        return (f"note: --cpu-devices {n} has no effect: JAX already started with {have} CPU "
                f"device(s) in this process. Start a new process with "
                f"XLA_FLAGS=--xla_force_host_platform_device_count={n} set in the environment.")
