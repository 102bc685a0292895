"""User data files: ``.npz`` archives and ``.csv`` tables, read into a validated `Dataset`.

A ``.npz`` holds keys ``x``, ``y`` and optionally ``x_test``, ``y_test``; a ``.csv`` is a
numeric table with one label column. The task is inferred unless given.
"""

from __future__ import annotations

import csv
import os
import zipfile
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from jaxgd.core.errors import ConfigError, DataError, check_choice, check_positive_int
from jaxgd.data.dataset import TASKS, Dataset
from jaxgd.data.splits import check_fraction, finish_dataset


def _rows(a: np.ndarray) -> np.ndarray:
    """``a`` as a float64 matrix with one row per example (also when empty)."""
    return a.reshape(a.shape[0], int(np.prod(a.shape[1:]))).astype(np.float64)


def _features(source: str, key: str, a) -> np.ndarray:
    """Numeric features as (n, d): a vector becomes one column, images are flattened."""
    a = np.asarray(a)
    if a.dtype.kind not in "biuf" or a.ndim == 0:
        raise DataError(f"{source}: {key!r} must be a numeric array (n, d); got dtype "
                        f"{a.dtype}, shape {a.shape}.")
    return _rows(a)


def _infer_task(y: np.ndarray) -> str:
    """multiclass for integer-valued labels in one column, else regression."""
    if y.dtype.kind not in "biuf" or y.ndim == 0 or y.size == 0:
        return "regression"  # _labels reports what is wrong
    flat = _rows(y)
    integral = np.isfinite(flat).all() and (flat == np.round(flat)).all()
    return "multiclass" if flat.shape[1] == 1 and integral else "regression"


def _labels(source: str, key: str, y, task: str) -> np.ndarray:
    """Labels shaped for ``task``: (n, k) floats, (n, 1) 0/1, or (n,) class indices."""
    y = np.asarray(y)
    if y.dtype.kind not in "biuf" or y.ndim == 0:
        raise DataError(f"{source}: {key!r} must be a numeric array with one row per example; "
                        f"got dtype {y.dtype}, shape {y.shape}.")
    y = _rows(y)
    if task == "regression":
        return y
    if y.shape[1] != 1:
        raise DataError(f"{source}: {key!r} has {y.shape[1]} columns; task {task!r} needs one "
                        "label per example. Pass task='regression' for several targets.")
    if task == "binary":
        return y
    bad = ~np.isfinite(y[:, 0]) | (y[:, 0] != np.round(y[:, 0])) | (y[:, 0] < 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{source}: {key!r} has {int(bad.sum())} labels that are not class "
                        f"indices 0, 1, 2, ...; the first is {y[i, 0]} at row {i}. Remap the "
                        "classes to 0..K-1, or pass task='regression' for real targets.")
    return y[:, 0].astype(np.int64)


def _from_arrays(source: str, name: str, x, y, x_test, y_test, *, key, task, n_classes,
                 test_fraction, dtype) -> Dataset:
    """A Dataset from raw file arrays, the task inferred unless given."""
    x = _features(source, "x", x)
    x_test = None if x_test is None else _features(source, "x_test", x_test)
    task = _infer_task(np.asarray(y)) if task is None else check_choice("task", task, TASKS)
    y = _labels(source, "y", y, task)
    y_test = None if y_test is None else _labels(source, "y_test", y_test, task)
    if task != "multiclass":
        if n_classes not in (None, 2 if task == "binary" else 0):
            raise ConfigError(f"n_classes={n_classes!r} does not apply to task {task!r}; "
                              "leave it out.")
        n_classes = 2 if task == "binary" else 0
    elif n_classes is None:
        top = max(int(a.max(initial=0)) for a in (y, y_test) if a is not None)
        n_classes = max(top + 1, 2)
    else:
        n_classes = check_positive_int("n_classes", n_classes)
    return finish_dataset(key, name, x, y, x_test, y_test, task, n_classes,
                   check_fraction(test_fraction), dtype)


def _existing(path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"dataset file {str(path)!r} does not exist or is not a file.")
    return path


def load_npz(path, key=None, *, task: str | None = None, n_classes: int | None = None,
             test_fraction: float = 0.0, dtype=jnp.float32) -> Dataset:
    """A dataset from a .npz archive with keys x, y and optionally x_test, y_test.

    The task is inferred unless given: one column of non-negative integers is
    multiclass (n_classes = max label + 1), anything else regression. Pass
    ``task="binary"`` for 0/1 targets trained with a sigmoid output.
    """
    path = _existing(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
    except (OSError, ValueError, EOFError, AttributeError, zipfile.BadZipFile) as err:
        raise DataError(f"cannot read {str(path)!r} as a .npz archive ({err}). Write one with "
                        "np.savez(path, x=x, y=y).") from None
    expected = "keys 'x' (n, d) and 'y' (n,) or (n, k), optionally 'x_test' and 'y_test'"
    for k in ("x", "y"):
        if k not in arrays:
            raise DataError(f"{str(path)!r} has no key {k!r} (found {sorted(arrays)}); "
                            f"expected {expected}.")
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise DataError(f"{str(path)!r} has only one of 'x_test' and 'y_test'; give both "
                        "or neither.")
    return _from_arrays(str(path), path.name, arrays["x"], arrays["y"], arrays.get("x_test"),
                        arrays.get("y_test"), key=key, task=task, n_classes=n_classes,
                        test_fraction=test_fraction, dtype=dtype)


def _is_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def _label_index(source: str, label_column: int | str, names: list[str] | None,
                 width: int) -> int:
    """The position of the label column, from an index or a header name."""
    if isinstance(label_column, str):
        if names is None:
            raise DataError(f"{source}: label_column={label_column!r} is a name but the file "
                            "has no header row; pass an index such as label_column=-1.")
        if label_column not in names:
            raise DataError(f"{source}: no column named {label_column!r}; columns: {names}.")
        return names.index(label_column)
    if isinstance(label_column, bool) or not isinstance(label_column, int | np.integer) or not (
            -width <= label_column < width):
        raise DataError(f"{source}: label_column={label_column!r} is not a column of the "
                        f"{width} columns; use an index in [{-width}, {width - 1}] or a name.")
    return int(label_column) % width


def load_csv(path, key=None, *, label_column: int | str = -1, header: bool | None = None,
             delimiter: str = ",", task: str | None = None, n_classes: int | None = None,
             test_fraction: float = 0.0, dtype=jnp.float32) -> Dataset:
    """A dataset from a numeric table: one label column, every other column a feature.

    Args:
      label_column: index (negative counts from the end) or header name of the labels.
      header: whether the first row holds names; None detects it (a non-number in it).
      task, n_classes: as in `load_npz` (inferred by default).
      test_fraction: share of rows held out (stratified by class), drawn from ``key``.
    """
    path = _existing(path)
    source = str(path)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = [(i + 1, [c.strip() for c in r]) for i, r in
                    enumerate(csv.reader(f, delimiter=delimiter)) if any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"cannot read {source!r} as a text table ({err}).") from None
    if header is None:
        header = bool(rows) and not all(_is_number(c) for c in rows[0][1])
    names = rows[0][1] if header and rows else None
    body = rows[1:] if header else rows
    if not body:
        raise DataError(f"{source!r} has no data rows; expected one example per line.")
    width = len(body[0][1])
    if width < 2:
        raise DataError(f"{source!r} has {width} column; expected features and a label column.")
    values = np.empty((len(body), width))
    for r, (line, fields) in enumerate(body):
        if len(fields) != width:
            raise DataError(f"{source!r}, line {line}: {len(fields)} fields, expected {width}.")
        for c, field in enumerate(fields):
            if not _is_number(field):
                raise DataError(f"{source!r}, line {line}, column {c + 1}: {field!r} is not a "
                                "number.")
            values[r, c] = float(field)
    col = _label_index(source, label_column, names, width)
    return _from_arrays(source, path.name, np.delete(values, col, axis=1), values[:, col],
                        None, None, key=key, task=task, n_classes=n_classes,
                        test_fraction=test_fraction, dtype=dtype)


def load_file(path: str | os.PathLike, key=None, **kwargs) -> Dataset:
    """`load_npz` or `load_csv`, chosen by the file's suffix."""
    suffix = Path(path).suffix.lower()
    loaders = {".npz": load_npz, ".csv": load_csv}
    if suffix not in loaders:
        raise DataError(f"dataset file {str(path)!r}: unknown suffix {suffix!r}; "
                        "accepted: .npz, .csv.")
    return loaders[suffix](path, key, **kwargs)
