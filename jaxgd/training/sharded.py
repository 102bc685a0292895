"""Sharded data: every device holds its own rows, every process only its devices' rows.

    rows      the first ``n_keep = (n // D) * D`` examples, in order, cut into D contiguous
              blocks of ``m = n // D`` rows: device k of the mesh (axis "data") holds rows
              ``k*m .. (k+1)*m - 1``; the last ``n % D`` examples are left out (`RowShare`)
    process   keeps on the host and puts on its devices only its devices' blocks (one
              contiguous block when its devices are adjacent in the mesh, as `jax.devices()`
              orders them); `shard_rows` builds the global array from those rows alone
    batches   each epoch, device k shuffles its own m rows with the epoch key folded with k
              and cuts them into local batches of ``b = batch_size / D`` rows; the global
              batch is the concatenation in mesh order (device 0's rows first)
    gradient  `jax.grad` of the mean loss over that global batch, under plain `jit` with the
              batch sharded by rows: XLA sums the per-device partial sums once. `shard_map`
              only builds the index tables and gathers each device's local rows; the
              gradient is never taken inside it (where the gradient of replicated params is
              already summed over devices and a `pmean` would count it D times)

Full batch (``batch_size = n_keep``) is one step on all kept rows in order: the same
numbers as one device on those rows.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import numpy as np
from jax.sharding import Mesh, PartitionSpec

from jaxgd.core.errors import ConfigError
from jaxgd.core.names import DATA_SHARDINGS
from jaxgd.data.batching import epoch_indices
from jaxgd.training.parallel import DATA_AXIS, batch_sharded


def resolve_data_sharding(value: str | None, mesh: Mesh | None) -> str:
    """``"replicated"`` or ``"sharded"``: what ``value`` asks for on ``mesh``.

    ``None`` or ``"auto"``: sharded in a multi-process run, replicated otherwise (and
    always without a mesh). ``"sharded"`` without a mesh is refused.

    Raises:
        ConfigError: a value outside `DATA_SHARDINGS`, or ``"sharded"`` with no mesh.
    """
    if value is None or value == "auto":
        return "sharded" if mesh is not None and jax.process_count() > 1 else "replicated"
    if not isinstance(value, str) or value not in DATA_SHARDINGS:
        raise ConfigError(f"data_sharding={value!r}: accepted 'replicated' (every process holds "
                          "all the data), 'sharded' (each device its own rows) or 'auto' (sharded "
                          "with several processes); e.g. --data-sharding sharded.")
    if value == "sharded" and mesh is None:
        raise ConfigError("data_sharding='sharded' needs a device mesh: pass mesh=make_mesh(N) "
                          "(--devices N), or use data_sharding='replicated'.")
    return value


class RowShare(NamedTuple):
    """How ``n`` examples split over the mesh, and which of them this process keeps."""

    n: int  # examples before the split
    n_keep: int  # (n // devices) * devices: the rows the global array holds
    per_device: int  # n // devices
    blocks: tuple[tuple[int, int], ...]  # this process's [start, stop) row ranges, in mesh order

    @property
    def dropped(self) -> int:
        return self.n - self.n_keep

    @property
    def local_rows(self) -> int:
        return sum(stop - start for start, stop in self.blocks)

    def note(self, devices: int) -> str:
        """One line for a run header: the split and any rows left out."""
        text = f"data sharded over {devices} devices: {self.per_device} rows each"
        if self.dropped:
            text += (f"; the last {self.dropped} of {self.n} examples are left out (n is not a "
                     f"multiple of {devices})")
        return text


def row_share(n: int, mesh: Mesh) -> RowShare:
    """The split of ``n`` rows over ``mesh`` and this process's blocks of it.

    Raises:
        ConfigError: fewer examples than devices.
    """
    d = mesh.size
    if n < d:
        raise ConfigError(f"n={n} examples cannot be sharded over {d} devices (each device needs "
                          f"at least one row); use --devices {max(n, 1)} or fewer, or "
                          "--data-sharding replicated.")
    m = n // d
    index_map = batch_sharded(mesh).addressable_devices_indices_map((m * d,))
    local = set(index_map)
    blocks = tuple((k * m, (k + 1) * m) for k, dev in enumerate(mesh.devices.flat) if dev in local)
    return RowShare(n, m * d, m, blocks)


def keep_local_rows(tree: Any, share: RowShare) -> Any:
    """This process's rows of every array of ``tree`` (host numpy arrays of all ``n`` rows)."""
    def cut(a):
        a = np.asarray(a)
        return np.concatenate([a[start:stop] for start, stop in share.blocks])
    return jax.tree.map(cut, tree)


def shard_rows(tree: Any, mesh: Mesh, share: RowShare, local: bool = False) -> Any:
    """Global arrays of ``share.n_keep`` rows, split by rows over ``mesh``.

    Args:
        tree: arrays whose first axis is examples: all ``share.n`` rows (``local=False``;
            only this process's blocks are read), or only this process's rows as
            `keep_local_rows` gives them (``local=True``).
        mesh: the 1-D mesh.
        share: `row_share` of the full row count over ``mesh``.

    Returns:
        jax.Arrays of shape ``(n_keep, ...)`` with sharding ``PartitionSpec("data")``; each
        device holds ``share.per_device`` rows, each process only its own.
    """
    sharding = batch_sharded(mesh)
    offset, at = {}, 0
    for start, stop in share.blocks:
        offset[start] = at
        at += stop - start

    def place(leaf):
        host = np.asarray(leaf)
        expected, what = (share.local_rows, "this process's share") if local else (share.n, "all rows")
        if host.shape[0] != expected:
            raise ConfigError(f"shard_rows: an array has {host.shape[0]} rows, expected {expected} "
                              f"({what}).")
        shape = (share.n_keep, *host.shape[1:])

        def rows(index):
            start = index[0].start or 0
            stop = index[0].stop if index[0].stop is not None else share.n_keep
            if local:  # the same rows in the process's concatenated blocks
                start, stop = offset[start], offset[start] + stop - start
            return host[(slice(start, stop), *index[1:])]

        return jax.make_array_from_callback(shape, sharding, rows)

    return jax.tree.map(place, tree)


def make_sharded_epoch(step, n_keep: int, batch_size: int, mesh: Mesh,
                       gather_per_epoch: bool = False):
    """One pass over row-sharded data: ``epoch(state, x, y) -> (state, StepMetrics averaged)``.

    ``x``, ``y`` are ``(n_keep, ...)`` arrays sharded by rows over ``mesh`` (`shard_rows`);
    ``batch_size`` is the global batch, a multiple of the device count. Each device draws
    ``batch_size / D`` rows per step from its own block with its own permutation (the
    epoch key folded with its index on the "data" axis); the last ``m % (batch_size / D)``
    rows of each device's permutation are left out of that epoch. ``step`` sees the
    global batch, sharded by rows, and takes the gradient of its mean loss.
    """
    d = mesh.size
    if batch_size == n_keep:
        return lambda state, x, y: step(state, (x, y))  # all rows in order
    m, b = n_keep // d, batch_size // d
    rows_spec = PartitionSpec(None, DATA_AXIS)

    def local_indices(key):  # on one device: its own permutation of its m rows
        mine = jax.random.fold_in(key, jax.lax.axis_index(DATA_AXIS))
        return epoch_indices(mine, m, b)[:, None]  # (steps, 1, b)

    indices = jax.shard_map(local_indices, mesh=mesh, in_specs=PartitionSpec(),
                            out_specs=rows_spec)  # global (steps, D, b)
    data_spec = PartitionSpec(DATA_AXIS)

    def gather_step(x, y, rows):  # rows (1, b): one step's local rows
        return x[rows[0]], y[rows[0]]

    def gather_epoch(x, y, rows):  # rows (steps, 1, b)
        return x[rows[:, 0]], y[rows[:, 0]]  # (steps, b, ...)

    take_step = jax.shard_map(gather_step, mesh=mesh, in_specs=(data_spec, data_spec, data_spec),
                              out_specs=data_spec)
    take_epoch = jax.shard_map(gather_epoch, mesh=mesh, in_specs=(data_spec, data_spec, rows_spec),
                               out_specs=rows_spec)

    def epoch(state, x, y):
        key, sub = jax.random.split(state.key)
        idx = indices(sub)  # (steps, D, b), device k's rows in column k
        if gather_per_epoch:
            batches = take_epoch(x, y, idx)  # (steps, batch, ...)

            def body(s, batch):
                return step(s, batch)
        else:
            batches = idx

            def body(s, rows):
                return step(s, take_step(x, y, rows))

        state, metrics = jax.lax.scan(body, state._replace(key=key), batches)
        return state, jax.tree.map(lambda v: v.mean(), metrics)

    return epoch



def is_row_sharded(a: Any, mesh: Mesh) -> bool:
    """True for a jax.Array already split by rows over ``mesh`` (e.g. from `shard_rows`)."""
    return isinstance(a, jax.Array) and a.ndim >= 1 and \
        a.sharding.is_equivalent_to(batch_sharded(mesh), a.ndim)


def place_rows(x: Any, y: Any, mesh: Mesh) -> tuple[jax.Array, jax.Array, RowShare]:
    """``(x, y, share)``: the training arrays split by rows over ``mesh``.

    Arrays that already are (each process built them from its own rows with
    ``shard_rows(..., local=True)``) are used as they are; host arrays of all ``n`` rows
    are cut to the first ``n_keep`` and each process puts only its own rows on its devices.

    Raises:
        ConfigError: ``x`` and ``y`` are not both sharded or both whole, or have different
            row counts; fewer rows than devices.
    """
    sharded = is_row_sharded(x, mesh), is_row_sharded(y, mesh)
    if sharded[0] != sharded[1] or len(x) != len(y):
        raise ConfigError(f"x has {len(x)} rows ({'sharded' if sharded[0] else 'whole'}) and y "
                          f"{len(y)} ({'sharded' if sharded[1] else 'whole'}); pass both whole "
                          "(host arrays of all rows) or both from shard_rows.")
    if all(sharded):
        return x, y, row_share(int(x.shape[0]), mesh)
    share = row_share(len(x), mesh)
    x, y = shard_rows((x, y), mesh, share)
    return x, y, share


def local_part(a: Any) -> Any:
    """This process's rows of ``a`` (``a`` itself when this process holds all of it): what
    checks outside `jit` can read in a multi-process run."""
    if isinstance(a, jax.Array) and not a.is_fully_addressable:
        shards = sorted(a.addressable_shards, key=lambda s: s.index[0].start or 0)
        return np.concatenate([np.asarray(s.data) for s in shards])
    return a


def rows_held(a: Any) -> tuple[int, int]:
    """``(rows on each of this process's devices, distinct rows this process holds)`` of an
    array whose first axis is examples (a host array: all of them, on one device)."""
    if not isinstance(a, jax.Array):
        return len(a), len(a)
    n = a.shape[0]
    spans = {index[0].indices(n)[:2] for index in (s.index for s in a.addressable_shards)}
    per_device = {stop - start for start, stop in spans}
    covered = np.zeros(n, bool)
    for start, stop in spans:
        covered[start:stop] = True
    return max(per_device), int(covered.sum())
