"""User data files: ``.npz`` archives and ``.csv`` tables, read into a validated `Dataset`.

A ``.npz`` holds arrays ``x``, ``y`` and optionally ``x_test``, ``y_test``; a ``.csv`` is
a table with one label column (`jaxgd.data.csvfile`). Labels may be numbers or text
(text is encoded as classes 0..K-1 in sorted order). The task is inferred unless given,
and what loading decided is kept in the dataset's ``notes``.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from jaxgd.core.errors import DataError
from jaxgd.data.csvfile import load_csv
from jaxgd.data.dataset import Dataset
from jaxgd.data.filedata import existing_file, from_arrays

__all__ = ["load_csv", "load_file", "load_npz"]

NPZ_HOWTO = "Write one with np.savez(path, x=x, y=y) (optionally x_test=..., y_test=...)."


def load_npz(path, key=None, *, task: str | None = None, n_classes: int | None = None,
             test_fraction: float = 0.0, dtype=jnp.float32) -> Dataset:
    """A dataset from a .npz archive with arrays x, y and optionally x_test, y_test.

    The task is inferred unless given: one column of 0/1 is binary, of other class
    indices 0..K-1 multiclass (n_classes = max label + 1), text labels are classes
    (K = 2: binary), anything else regression. Features deeper than (n, d), such as
    images, are flattened (and the dataset's ``notes`` say so).
    """
    path = existing_file(path)
    source = repr(str(path))
    if not zipfile.is_zipfile(path):  # np.load would try it as a pickle
        raise DataError(f"{source} is not a valid .npz file (a .npz is a zip archive of arrays, "
                        f"this file is not one). {NPZ_HOWTO}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
    except ValueError as err:
        if "allow_pickle" not in str(err):
            raise DataError(f"cannot read {source} as a .npz archive ({err}). {NPZ_HOWTO}") from None
        raise DataError(f"{source} holds an array of Python objects (dtype object), which jaxgd "
                        f"does not load. Save numbers, or labels as text (a numpy str array). "
                        f"{NPZ_HOWTO}") from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError) as err:
        raise DataError(f"cannot read {source} as a .npz archive ({err}); the file is damaged "
                        f"or truncated. {NPZ_HOWTO}") from None
    expected = "arrays 'x' (n, d) and 'y' (n,) or (n, k), optionally 'x_test' and 'y_test'"
    for k in ("x", "y"):
        if k not in arrays:
            raise DataError(f"{source} has no array {k!r} (found {sorted(arrays)}); expected "
                            f"{expected}. {NPZ_HOWTO}")
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise DataError(f"{source} has only one of 'x_test' and 'y_test'; give both or neither.")
    for xk, yk in (("x", "y"), ("x_test", "y_test")):
        if xk in arrays and np.ndim(arrays[xk]) and np.ndim(arrays[yk]) and (
                len(arrays[xk]) != len(arrays[yk])):
            raise DataError(f"{source}: {xk} has {len(arrays[xk])} rows but {yk} has "
                            f"{len(arrays[yk])}; they need one row per example.")
    return from_arrays(source, path.name, arrays["x"], arrays["y"], arrays.get("x_test"),
                       arrays.get("y_test"), key=key, task=task, n_classes=n_classes,
                       test_fraction=test_fraction, dtype=dtype)


def load_file(path: str | os.PathLike, key=None, **kwargs) -> Dataset:
    """`load_npz` or `load_csv`, chosen by the file's suffix."""
    suffix = Path(path).suffix.lower()
    loaders = {".npz": load_npz, ".csv": load_csv}
    if suffix not in loaders:
        kind = f"the suffix {suffix!r}" if suffix else "no suffix"
        raise DataError(f"dataset file {str(path)!r} has {kind}, which jaxgd does not read; "
                        "accepted: .npz (arrays x and y, from np.savez) or .csv (a "
                        "table with one label column). Convert the file to one of those.")
    return loaders[suffix](path, key, **kwargs)
