"""Data parallelism over a device mesh, on one host or many.

    mesh      a 1-D `jax.sharding.Mesh` with axis "data" over N devices (of all hosts)
    params    replicated: every device holds the whole model and optimizer state
    batch     each step's gathered minibatch is split along "data"
              (`with_sharding_constraint`): device i computes the loss of its rows
    gradient  `jax.grad` of the batch mean: XLA sums the per-device partial sums
              (an all-reduce), so every device applies the same update

It is plain `jax.jit` with `NamedSharding`s, the same program on 1 or N devices.
(`shard_map` with a `pmean` over the gradient would count it N times: inside
`shard_map`, the gradient of replicated params is already summed.)

Where the training rows live (`fit`'s ``data_sharding``, ``--data-sharding``):

    replicated  every process holds the whole dataset; `replicate` builds global arrays
                from each process's full copy (`jax.make_array_from_callback`); each step
                gathers ``x[rows]`` by one global permutation, then splits it over the
                devices (`constrain_batch`)
    sharded     the default of a multi-process run (`jaxgd.training.sharded`): device k
                holds the contiguous block of rows ``k*m .. (k+1)*m - 1`` (``m = n // D``;
                the last ``n % D`` rows are left out), each process only its devices'
                blocks (one contiguous block per process), and each device draws
                ``batch_size / D`` rows per step from its own block with its own per-epoch
                permutation; the global batch is their concatenation and the gradient
                that of its mean, still under plain `jit`. Metrics computed in the
                compiled loop over the sharded arrays (training accuracy) are means over
                all rows of all processes.

Many hosts: `initialize_distributed` joins the processes before any other JAX use;
`jax.devices()` then lists every process's devices and the mesh spans them all.
`jaxgd train` loads the dataset in every process; with sharded data each process keeps
only its rows of the training split (host and device) and lets the rest go before
training (the test split stays whole on every process). Only process 0 writes files; a
resumed multi-process run needs the run folder where every process can read it.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxgd.core.errors import ConfigError, DistributedError, check_positive_int, check_range
from jaxgd.core.limits import DEFAULT_INIT_TIMEOUT

DATA_AXIS = "data"


def resolve_device_count(devices: int | str | None, available: int) -> int:
    """How many devices ``devices`` (None, "all" or an int) asks for, checked against ``available``."""
    if devices is None or devices == "all":
        return available
    if isinstance(devices, str):
        try:
            devices = int(devices)
        except ValueError:
            raise ConfigError(f"devices={devices!r}: expected a positive int or 'all', "
                              "e.g. --devices 8 or --devices all.") from None
    check_positive_int("devices", devices, fix="e.g. --devices 8 or --devices all.")
    if devices > available:
        raise ConfigError(f"devices={devices} but JAX sees {available} device(s); accepted: "
                          f"1..{available} or 'all'. On a CPU, more devices come from "
                          f"XLA_FLAGS=--xla_force_host_platform_device_count={devices} "
                          "set before JAX starts.")
    if jax.process_count() > 1 and devices != available:
        raise ConfigError(f"devices={devices} with {jax.process_count()} processes: a multi-process "
                          f"run uses every device of every process ({available}); "
                          "use --devices all or leave it out.")
    return devices


def make_mesh(devices: int | str | None = "all", platform: str | None = None) -> Mesh:
    """A 1-D mesh (axis "data") over the first ``devices`` devices of ``platform``.

    ``platform`` None or "auto": JAX's default backend.

    Raises:
        ConfigError: ``platform`` has no devices here, or fewer than ``devices``.
    """
    try:
        available = jax.devices(platform) if platform not in (None, "auto") else jax.devices()
    except RuntimeError:
        available = []
    if not available:
        raise ConfigError(f"device={platform!r} was asked for but JAX sees none (available: "
                          f"{sorted({d.platform for d in jax.devices()})}); use --device cpu, or "
                          'install the CUDA build of jaxlib (pip install -e ".[cuda]") on a machine '
                          "with an NVIDIA GPU.")
    count = resolve_device_count(devices, len(available))
    return Mesh(np.array(available[:count]), (DATA_AXIS,))


def check_batch_divisible(batch_size: int, n_devices: int, n: int) -> None:
    """Refuse a batch that does not split evenly over the devices; name the nearest sizes."""
    if batch_size % n_devices == 0:
        return
    below = batch_size // n_devices * n_devices
    above = below + n_devices
    nearest = [s for s in (below, above) if 1 <= s <= n]
    fits = next(d for d in range(n_devices, 0, -1) if batch_size % d == 0)
    what = f" (full batch: n={n})" if batch_size == n else ""
    if nearest:
        sizes = " or ".join(map(str, nearest))
        fix = f"Use --batch-size {nearest[0]}, or --devices {fits}."
    else:
        sizes = f"none (n={n} is smaller than one example per device)"
        fix = f"Use --devices {fits}."
    raise ConfigError(
        f"batch_size={batch_size}{what} does not split evenly over {n_devices} devices; "
        f"accepted: a multiple of {n_devices} up to n={n}. Nearest valid sizes: {sizes}. {fix}")


def replicated(mesh: Mesh) -> NamedSharding:
    """Every device holds the whole array."""
    return NamedSharding(mesh, PartitionSpec())


def batch_sharded(mesh: Mesh) -> NamedSharding:
    """The leading (example) axis split over the "data" axis."""
    return NamedSharding(mesh, PartitionSpec(DATA_AXIS))


def constrain_batch(batch: Any, mesh: Mesh | None) -> Any:
    """Inside jit: split each array of ``batch`` by rows over the mesh (identity without a mesh)."""
    if mesh is None:
        return batch
    return jax.lax.with_sharding_constraint(batch, batch_sharded(mesh))


def _is_key(leaf: Any) -> bool:
    return hasattr(leaf, "dtype") and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key)


def _global_array(value: Any, sharding: NamedSharding) -> jax.Array:
    host = np.asarray(value)
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Global arrays replicated over ``mesh``, built from this process's values.

    Every process must pass the same values (same seed, same data). Typed PRNG keys
    travel as their raw ``key_data`` and are wrapped again.
    """
    sharding = replicated(mesh)

    def place(leaf):
        if _is_key(leaf):
            impl = jax.random.key_impl(leaf)
            return jax.random.wrap_key_data(_global_array(jax.random.key_data(leaf), sharding),
                                            impl=impl)
        return _global_array(leaf, sharding)

    return jax.tree.map(place, tree)


def parse_coordinator(address: str) -> tuple[str, int]:
    """'HOST:PORT' -> (host, port), refusing anything else."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"coordinator={address!r}: expected HOST:PORT, e.g. "
                          "--coordinator 127.0.0.1:12345 (the address of process 0).")
    return host, int(port)


def initialize_distributed(coordinator: str | None, num_processes: int | None,
                           process_id: int | None, timeout: float = DEFAULT_INIT_TIMEOUT) -> None:
    """Join a multi-process run: `jax.distributed.initialize`, before any other JAX use.

    On CPU the processes talk over gloo collectives.

    Args:
        coordinator: ``HOST:PORT`` of process 0.
        num_processes: processes in the run.
        process_id: this process, ``0..num_processes-1``.
        timeout: seconds to wait for the coordinator and every peer.

    Raises:
        ConfigError: missing or invalid arguments.
        DistributedError: a process other than 0 cannot reach the coordinator in time.
            When the coordinator is reached but the run does not assemble in time, the
            process prints which process and address waited and exits with status 1
            (XLA's runtime would otherwise abort the process without a word).
    """
    if coordinator is None or num_processes is None or process_id is None:
        given = {"coordinator": coordinator, "num_processes": num_processes, "process_id": process_id}
        missing = [k for k, v in given.items() if v is None]
        raise ConfigError(f"a multi-process run needs --coordinator, --num-processes and "
                          f"--process-id together; missing {missing}.")
    parse_coordinator(coordinator)
    check_positive_int("num_processes", num_processes, fix="e.g. --num-processes 2.")
    if isinstance(process_id, bool) or not isinstance(process_id, int) or not 0 <= process_id < num_processes:
        raise ConfigError(f"process_id={process_id!r}: accepted 0..{num_processes - 1} "
                          f"for --num-processes {num_processes}; process 0 is the coordinator.")
    check_range("init_timeout", timeout, low=0.0, low_open=True, fix="e.g. --init-timeout 120.")
    host, port = parse_coordinator(coordinator)
    if process_id != 0:
        _wait_for_coordinator(host, port, process_id, timeout)
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    what = ("waited as the coordinator for the other processes (ids 1.."
            f"{num_processes - 1})" if process_id == 0 else "reached the coordinator, but the other "
            "processes did not all join")
    message = (f"jaxgd: error: process {process_id} of {num_processes} {what} at {coordinator} for "
               f"{timeout:g} s. Start every process 0..{num_processes - 1} with --coordinator "
               f"{coordinator} --num-processes {num_processes} and its own --process-id, or raise "
               "--init-timeout.")
    watchdog = threading.Timer(timeout, _give_up, (message,))
    watchdog.daemon = True
    watchdog.start()
    try:
        # XLA's own deadline later than ours: it aborts the process without a message
        jax.distributed.initialize(coordinator, num_processes, process_id,
                                   initialization_timeout=int(timeout) + 60)
    finally:
        watchdog.cancel()


def _give_up(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
    os._exit(1)


def _wait_for_coordinator(host: str, port: int, process_id: int, timeout: float) -> None:
    """Poll the coordinator's TCP port until it answers; DistributedError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=2):
                return
        except OSError as err:
            if time.monotonic() >= deadline:
                raise DistributedError(
                    f"process {process_id} could not reach the coordinator (process 0) at "
                    f"{host}:{port} within {timeout:g} s ({err.strerror or err}). Start process 0 "
                    "with the same --coordinator, check the address and port, or raise "
                    "--init-timeout.") from None
            time.sleep(0.5)


def is_main_process() -> bool:
    """True on process 0, the one that writes files."""
    return jax.process_index() == 0
