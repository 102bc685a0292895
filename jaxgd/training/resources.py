"""Will a run fit? Memory and disk estimates, checked before anything is allocated.

    array_bytes      bytes of a pytree of arrays or ShapeDtypeStructs
    available_memory what the device can still hold (GPU: its allocator's limit;
                     CPU: the host's available memory)
    check_memory     refuse a run whose parameters, optimizer states, data and
                     activations cannot fit, naming the estimate and the limit
    check_fits       refuse any other allocation of about N bytes (e.g. generated data)
"""

from __future__ import annotations

import os
from typing import Any

import jax
import numpy as np

from jaxgd.core.errors import ResourceError


def array_bytes(tree: Any) -> int:
    """Total bytes of the arrays (or `jax.ShapeDtypeStruct`s) in ``tree``."""
    total = 0
    for leaf in jax.tree.leaves(tree):
        dtype = getattr(leaf, "dtype", None)
        if dtype is None or jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
            continue
        total += int(np.prod(np.shape(leaf), dtype=np.int64)) * np.dtype(dtype).itemsize
    return total


def available_memory(device: Any = None) -> int | None:
    """Bytes the device can still allocate; None when unknown.

    GPU/TPU: ``bytes_limit - bytes_in_use`` from the device's allocator. CPU: the
    host's ``MemAvailable`` (Linux) or free physical pages.
    """
    device = device or jax.devices()[0]
    if device.platform != "cpu":
        try:
            stats = device.memory_stats() or {}
        except Exception:  # noqa: BLE001 - some backends do not report
            stats = {}
        if "bytes_limit" in stats:
            return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
        return None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _gib(n: float) -> str:
    return f"{n / 2**30:,.2f} GiB"


def check_memory(*, params: Any, opt_states: list[Any], data: Any, batch: int, widths: tuple[int, ...],
                 eval_rows: int = 0, device: Any = None, what: str = "this run") -> int:
    """Raise ResourceError when the run's arrays cannot fit on ``device``; return the estimate.

    The estimate: parameters and each optimizer state twice (a step's input and
    output live together), the data, and the activations of a forward and backward
    pass for ``batch`` rows (and ``eval_rows`` rows of evaluation) over layers of
    ``widths``.

    Args:
        params: the parameters (arrays or ShapeDtypeStructs).
        opt_states: one optimizer state per side (arrays or ShapeDtypeStructs).
        data: the dataset's arrays.
        batch: rows per update.
        widths: layer sizes, input to output.
        eval_rows: rows evaluated per epoch (accuracy on the training set).
        device: where the run goes (default: JAX's first device).
        what: how the message names the run.
    """
    per_side = 2 * (array_bytes(params) + array_bytes(params))  # params and gradients, in and out
    states = sum(2 * array_bytes(s) for s in opt_states)
    itemsize = max((np.dtype(x.dtype).itemsize for x in jax.tree.leaves(params)), default=4)
    acts = 3 * max(batch, eval_rows) * sum(widths) * itemsize
    need = per_side * max(len(opt_states), 1) + states + array_bytes(data) + acts
    parts = (f"parameters {_gib(array_bytes(params))}, optimizer state "
             f"{_gib(sum(array_bytes(s) for s in opt_states))}, data {_gib(array_bytes(data))}, "
             f"activations {_gib(acts)}")
    check_fits(need, what=what, parts=parts, device=device,
               fix="Use a smaller network (--hidden), a smaller --batch-size, or a machine with more "
                   "memory.")
    return need


def check_fits(need: int, *, what: str, fix: str, parts: str = "", device: Any = None) -> None:
    """Raise ResourceError when about ``need`` bytes cannot fit on ``device`` (default: JAX's
    first); the message names ``what`` needs them, their ``parts``, what is free, and ``fix``."""
    have = available_memory(device)
    if have is not None and need > have:
        where = (device or jax.devices()[0]).platform.upper()
        raise ResourceError(f"{what} needs about {_gib(need)} of {where} memory"
                            + (f" ({parts})" if parts else "")
                            + f", but only {_gib(have)} is available. {fix}")
