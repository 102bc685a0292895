"""A run's tables and parameters on disk: metrics.csv and params.npz, read back with clear errors."""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from jaxgd.core.errors import CheckpointError, DataError


def write_metrics_csv(path: Path, columns: Mapping[str, np.ndarray]) -> None:
    """One row per epoch: ``epoch`` (1-based) then each column."""
    names = list(columns)
    n = max((len(v) for v in columns.values()), default=0)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["epoch", *names])
        for i in range(n):
            w.writerow([i + 1, *(repr(float(columns[k][i])) if i < len(columns[k]) else ""
                                 for k in names)])


def read_metrics_csv(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The columns of a metrics.csv as float arrays.

    Raises:
        DataError: the file is missing, empty, ragged or holds a cell that is not a number.
    """
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"could not read {str(path)!r}: {err}.") from None
    if not rows or not rows[0]:
        raise DataError(f"{str(path)!r} is empty; expected a header row (epoch, loss, ...) and one "
                        "row per epoch. Re-run the training to write it again.")
    header, body = rows[0], rows[1:]
    out = {}
    for i, h in enumerate(header):
        col = []
        for line, r in enumerate(body, start=2):
            try:
                col.append(float(r[i]) if r[i] else np.nan)
            except (IndexError, ValueError):
                cell = r[i] if i < len(r) else "(missing)"
                raise DataError(f"{str(path)!r} line {line}, column {i + 1} ({h}): {cell!r} is not a "
                                "number; the file is damaged. Re-run the training to write it "
                                "again.") from None
        out[h] = np.array(col)
    return out


def key_path_name(path: tuple) -> str:
    """A stable string for a pytree key path, e.g. ``[0].w``."""
    import jax

    return jax.tree_util.keystr(path)


def save_params(path, params: Any) -> None:
    """Leaves of ``params`` in an .npz, one array per key path."""
    import jax

    flat = jax.tree_util.tree_flatten_with_path(params)[0]
    np.savez(path, **{key_path_name(p): np.asarray(x) for p, x in flat})


def load_params(path: str | os.PathLike, like: Any) -> Any:
    """Params saved by `save_params`, into the structure of ``like``.

    Raises:
        CheckpointError: the file is missing, not an .npz, damaged, or lacks a leaf of ``like``.
    """
    import zipfile

    import jax

    try:
        with np.load(path, allow_pickle=False) as z:
            flat, treedef = jax.tree_util.tree_flatten_with_path(like)
            leaves = []
            for p, ref in flat:
                arr = z[key_path_name(p)]
                if arr.shape != np.shape(ref):
                    raise CheckpointError(f"{str(path)!r}: leaf {key_path_name(p)} has shape "
                                          f"{arr.shape}, the model needs {np.shape(ref)}.")
                leaves.append(arr)
            return treedef.unflatten(leaves)
    except CheckpointError:
        raise
    except KeyError as err:
        raise CheckpointError(f"{str(path)!r} lacks the parameter {err}; it was written for "
                              "another model.") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise CheckpointError(f"could not read the parameters in {str(path)!r}: {err}. The file is "
                              "damaged or not written by jaxgd; re-run the training.") from None
