"""Run folders: written whole or not at all.

A run writes into a hidden temporary folder next to the target and renames it
into place only when everything is written, so a failed or interrupted run never
leaves a half-written folder and never touches an earlier result. Replacing an
existing folder needs ``overwrite=True``.
"""

from __future__ import annotations

import contextlib
import csv
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jax
import numpy as np

from jaxgd.errors import OutputExistsError


def check_output_dir(path: str | os.PathLike, overwrite: bool) -> Path:
    """Refuse an existing non-empty folder unless ``overwrite``; return the path."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputExistsError(f"output folder {str(path)!r} exists and is a file; "
                                "choose another --out.")
    if path.exists() and any(path.iterdir()) and not overwrite:
        raise OutputExistsError(
            f"output folder {str(path)!r} already exists and holds results; pass --overwrite "
            "to replace it, or choose another --out.")
    return path


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder; on success it replaces ``path``, on error it is removed."""
    path = check_output_dir(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if path.exists():
        old = path.with_name(f".{path.name}.old-{os.getpid()}")
        path.rename(old)
    tmp.rename(path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


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
    """The columns of a metrics.csv as float arrays."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    return {h: np.array([float(r[i]) if r[i] else np.nan for r in body]) for i, h in enumerate(header)}


def key_path_name(path: tuple) -> str:
    """A stable string for a pytree key path, e.g. ``[0].w``."""
    return jax.tree_util.keystr(path)


def save_params(path: Path, params: Any) -> None:
    """Leaves of ``params`` in an .npz, one array per key path."""
    flat = jax.tree_util.tree_flatten_with_path(params)[0]
    np.savez(path, **{key_path_name(p): np.asarray(x) for p, x in flat})


def load_params(path: str | os.PathLike, like: Any) -> Any:
    """Params saved by `save_params`, into the structure of ``like``."""
    with np.load(path) as z:
        flat, treedef = jax.tree_util.tree_flatten_with_path(like)
        return treedef.unflatten([z[key_path_name(p)] for p, _ in flat])
