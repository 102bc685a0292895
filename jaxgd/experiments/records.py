"""A run's files on disk: metrics.csv and the other tables, config.json and summary.json,
params.npz; each read back with an error that names the file and what is wrong with it."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from jaxgd.core.errors import CheckpointError, ConfigError, DataError
from jaxgd.experiments.config import TrainConfig, validate


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


REWRITE = "the file is damaged; run the command that wrote the folder again"


def read_metrics_csv(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The columns of a metrics.csv as float arrays.

    Raises:
        DataError: the file is missing, empty, ragged or holds a cell that is not a number.
    """
    return read_table(path, numeric=None)


def read_table(path: str | os.PathLike, numeric: Iterable[str] | None = (),
               text: Iterable[str] = ()) -> dict[str, np.ndarray]:
    """A CSV written by jaxgd as columns: numbers as float arrays (an empty cell: NaN), other
    columns as str arrays.

    Args:
        path: the file.
        numeric: columns that must be there and hold numbers (None: every column).
        text: columns that must be there, kept as text.

    Raises:
        DataError: the file is missing, unreadable, empty or ragged, lacks a column, or
            holds a cell that is not a number in a numeric column; the message names the
            file and the place.
    """
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"could not read {str(path)!r}: {getattr(err, 'strerror', None) or err}.") from None
    if not rows or not rows[0]:
        raise DataError(f"{str(path)!r} is empty; expected a header row (epoch, loss, ...) and one "
                        f"row per epoch: {REWRITE}.")
    header, body = rows[0], rows[1:]
    numeric = set(header if numeric is None else numeric)
    for name in (*sorted(numeric), *text):
        if name not in header:
            raise DataError(f"{str(path)!r} has no column {name!r} (its header: {', '.join(header)}); "
                            f"{REWRITE}.")
    out = {}
    for i, h in enumerate(header):
        col = []
        for line, r in enumerate(body, start=2):
            if i >= len(r):
                raise DataError(f"{str(path)!r} line {line} has {len(r)} cells, the header {len(header)}; "
                                f"{REWRITE}.")
            col.append(r[i])
        try:
            out[h] = np.array([float(c) if c else np.nan for c in col])
        except ValueError:
            if h in numeric:
                line, cell = next((n, c) for n, c in enumerate(col, start=2) if not _is_number(c))
                raise DataError(f"{str(path)!r} line {line}, column {i + 1} ({h}): {cell!r} is not a "
                                f"number; {REWRITE}.") from None
            out[h] = np.array(col)
    return out


def _is_number(cell: str) -> bool:
    try:
        float(cell or "nan")
    except ValueError:
        return False
    return True


def read_json(path: str | os.PathLike) -> dict[str, Any]:
    """A JSON object written by jaxgd (config.json, summary.json).

    Raises:
        DataError: the file is missing, unreadable, not JSON or not an object; names the file.
    """
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"could not read {str(path)!r}: {getattr(err, 'strerror', None) or err}; "
                        f"{REWRITE}.") from None
    except json.JSONDecodeError as err:
        raise DataError(f"{str(path)!r} is damaged (not JSON: {err}); run the command that wrote the "
                        "folder again.") from None
    if not isinstance(data, dict):
        raise DataError(f"{str(path)!r} holds a JSON {type(data).__name__}, not an object; {REWRITE}.")
    return data


def read_config(path: str | os.PathLike) -> TrainConfig:
    """The validated `TrainConfig` of a run's config.json.

    Raises:
        DataError: the file is missing, not JSON, or not a valid config (named).
    """
    try:
        return validate(TrainConfig.from_dict(read_json(path)))
    except DataError:
        raise
    except (ConfigError, TypeError, ValueError) as err:
        raise DataError(f"{str(path)!r} is not a valid run config ({err}); {REWRITE}.") from None


def key_path_name(path: tuple) -> str:
    """A stable string for a pytree key path, e.g. ``[0].w``."""
    import jax

    return jax.tree_util.keystr(path)


DAMAGED = ("the file is damaged or not written by jaxgd. Re-run the training that wrote the folder, "
           "or delete the file (the loss plot needs only metrics.csv).")


def save_params(path, params: Any) -> None:
    """Leaves of ``params`` in an .npz, one array per key path."""
    import jax

    flat = jax.tree_util.tree_flatten_with_path(params)[0]
    np.savez(path, **{key_path_name(p): np.asarray(x) for p, x in flat})


def load_params(path: str | os.PathLike, like: Any) -> Any:
    """Params saved by `save_params`, into the structure of ``like``.

    Raises:
        CheckpointError: the file is missing, not an .npz, damaged (truncated, or holding a
            pickle or an object array: never unpickled), or lacks a leaf of ``like``; one
            line naming the file.
    """
    import zipfile

    import jax

    if Path(path).is_file() and not zipfile.is_zipfile(path):  # np.load would try it as a pickle
        raise CheckpointError(f"could not read the parameters in {str(path)!r} (not an .npz "
                              f"archive, or truncated): {DAMAGED}")
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
        reason = (getattr(err, "strerror", None) or str(err) or type(err).__name__).splitlines()[0]
        if "pickle" in reason:  # numpy's words suggest loading it unsafely: jaxgd never does
            reason = "it holds pickled (object) data, which jaxgd never loads"
        raise CheckpointError(f"could not read the parameters in {str(path)!r} ({reason}): "
                              f"{DAMAGED}") from None
