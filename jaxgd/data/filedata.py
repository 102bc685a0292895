"""A user's file, read into arrays, made a validated `Dataset`: the part every file kind shares.

Text labels are encoded as classes 0..K-1 in sorted order, the task is inferred unless
given, and what loading decided goes into the dataset's ``notes``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from jaxgd.core.errors import ConfigError, DataError, check_choice, check_positive_int
from jaxgd.data.dataset import TASKS, Dataset, first_index
from jaxgd.data.labels import describe_classes, encode_text, infer_task, is_text, shape_labels
from jaxgd.data.splits import check_fraction, finish_dataset

__all__ = ["existing_file", "from_arrays"]


def _features(source: str, key: str, a, notes: list[str]) -> np.ndarray:
    """Numeric features as (n, d): a vector becomes one column, anything deeper is flattened."""
    a = np.asarray(a)
    if a.dtype.kind not in "biuf" or a.ndim == 0:
        raise DataError(f"{source}: {key!r} must be a numeric array (n, d), one row per example; "
                        f"got dtype {a.dtype}, shape {a.shape}. Save the features as numbers.")
    bad = ~np.isfinite(a)
    if bad.any():
        raise DataError(f"{source}: {key} has {int(bad.sum())} values that are not finite (NaN "
                        f"or inf), the first at {first_index(key, bad)}. Fill or drop those rows.")
    if a.ndim != 2:
        flat = (a.shape[0], int(np.prod(a.shape[1:])))
        notes.append(f"{key} of shape {a.shape} read as {flat[1]} feature"
                     f"{'s' if flat[1] != 1 else ''} per example (reshaped to {flat})")
    return a.reshape(a.shape[0], int(np.prod(a.shape[1:]))).astype(np.float64)


def from_arrays(source: str, name: str, x, y, x_test, y_test, *, key, task: str | None,
                n_classes: int | None, test_fraction: float, dtype,
                where: tuple[Callable[[int], str], Callable[[int], str]] | None = None,
                notes: tuple[str, ...] = ()) -> Dataset:
    """A Dataset from the arrays of a file: text labels encoded, the task inferred unless given.

    Args:
      source: the file, for messages; name: the dataset's name.
      x, y, x_test, y_test: the arrays (the test pair may be None).
      task: "regression", "binary", "multiclass", or None to infer it from the labels.
      n_classes: for multiclass, None for max label + 1 (or the number of text classes).
      where: (training, test) row index -> the place of that label in the file;
        default ``y[i]`` and ``y_test[i]``.
      notes: what the caller decided already (e.g. the label column).
    """
    notes = list(notes)
    where = where or ((lambda i: f"y[{i}]"), (lambda i: f"y_test[{i}]"))
    x = _features(source, "x", x, notes)
    x_test = None if x_test is None else _features(source, "x_test", x_test, notes)
    task = None if task is None else check_choice("task", task, TASKS)
    for k, a in (("y", y), ("y_test", y_test)):
        a = None if a is None else np.asarray(a)
        if a is not None and (a.ndim == 0 or a.dtype.kind not in "biufUS"):
            raise DataError(f"{source}: {k!r} must hold one label per example, numbers or "
                            f"text; got dtype {a.dtype}, shape {a.shape}.")
    classes: tuple[str, ...] = ()
    if is_text(y) or (y_test is not None and is_text(y_test)):
        (y, y_test), classes = encode_text(source, [y, y_test], task)
        reason = f"{len(classes)} text labels"
        inferred = task is None
        task = task or ("binary" if len(classes) == 2 else "multiclass")
        notes.append(f"labels encoded as classes: {describe_classes(classes)}")
    else:
        y, y_test = np.asarray(y), None if y_test is None else np.asarray(y_test)
        both = y if y_test is None else np.concatenate([y.reshape(len(y), -1),
                                                        y_test.reshape(len(y_test), -1)])
        inferred_task, reason = infer_task(both)
        inferred = task is None
        task = task or inferred_task
    y = shape_labels(source, y, task, where[0])
    y_test = None if y_test is None else shape_labels(source, y_test, task, where[1])
    if task != "multiclass":
        if n_classes not in (None, 2 if task == "binary" else 0):
            raise ConfigError(f"n_classes={n_classes!r} does not apply to task {task!r}; "
                              "leave it out.")
        n_classes = 2 if task == "binary" else 0
    elif n_classes is None:
        top = max(int(a.max(initial=0)) for a in (y, y_test) if a is not None)
        n_classes = max(top + 1, len(classes), 2)
    else:
        n_classes = check_positive_int("n_classes", n_classes)
    told = f"inferred from {reason}; --task sets it" if inferred else "--task"
    count = f", {n_classes} classes" if task == "multiclass" else ""
    notes.insert(0, f"task {task}{count} ({told})")
    ds = finish_dataset(key, name, x, y, x_test, y_test, task, n_classes,
                        check_fraction(test_fraction), dtype)
    return ds._replace(classes=classes, notes=tuple(notes))


def existing_file(path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"dataset file {str(path)!r} does not exist or is not a file; check "
                        "the path.")
    return path
