"""The labels of a user's file: text encoded as classes, the task inferred, shaped by task.

    encode_text   text labels -> class indices 0..K-1 (the sorted unique values) and the names
    infer_task    0/1 -> binary; class indices 0..K-1 -> multiclass; other numbers -> regression
    shape_labels  labels as a task trains on them: (n, k) floats, (n, 1) 0/1, (n,) indices

Each function names the file (``source``) and the place of a bad value in its own terms:
the caller passes ``where(i)``, which turns a row index into ``y[i]`` for an array or
``line L, column C`` for a text file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from jaxgd.core.errors import DataError

TASK_FLAG = "--task (task=)"


def is_text(y) -> bool:
    """True for labels held as text (numpy string dtypes)."""
    return np.asarray(y).dtype.kind in "US"


def encode_text(source: str, parts: Sequence[np.ndarray | None], task: str | None
                ) -> tuple[list[np.ndarray | None], tuple[str, ...]]:
    """Text labels as class indices: class i is the i-th of the sorted unique values.

    Args:
      source: the file, for messages.
      parts: the label arrays (training, then test; None where absent), one label a row.
      task: the task asked for, or None.

    Returns:
      (the parts as int64 indices, the class names in index order).
    """
    texts = [None if p is None else np.asarray(p).astype(str).reshape(len(p), -1) for p in parts]
    if any(t is not None and t.shape[1] != 1 for t in texts):
        raise DataError(f"{source}: text labels must be one column, one label per example; got "
                        f"{max(t.shape[1] for t in texts if t is not None)} columns.")
    classes = tuple(sorted({v for t in texts if t is not None for v in t[:, 0].tolist()}))
    if task == "regression":
        raise DataError(f"{source}: the labels are text ({classes[0]!r}, ...), but task "
                        f"'regression' ({TASK_FLAG}) trains on numbers. Leave --task out to "
                        "use the names as classes, or write the targets as numbers.")
    if len(classes) < 2:
        raise DataError(f"{source}: every label is {classes[0]!r}; a classifier needs at least "
                        "two classes. Check the label column.")
    if task == "binary" and len(classes) != 2:
        raise DataError(f"{source}: task 'binary' ({TASK_FLAG}) needs two classes, but the "
                        f"labels hold {len(classes)}: {', '.join(map(repr, classes[:6]))}"
                        f"{', ...' if len(classes) > 6 else ''}. Use --task multiclass.")
    codes = [None if t is None else np.searchsorted(classes, t[:, 0]) for t in texts]
    return codes, classes


def describe_classes(classes: Sequence[str], limit: int = 8) -> str:
    """``'cat -> 0, dog -> 1'`` (the first ``limit``, then how many in all)."""
    shown = ", ".join(f"{c} -> {i}" for i, c in enumerate(classes[:limit]))
    return shown + (f", ... ({len(classes)} classes)" if len(classes) > limit else "")


def infer_task(y: np.ndarray) -> tuple[str, str]:
    """The task that fits numeric labels ``y`` (all rows, training and test), and why.

    One column of integers: binary when they are 0 and 1 only, else multiclass (the
    class indices are checked by `shape_labels`); anything else regression.
    """
    flat = y.reshape(len(y), -1).astype(np.float64)
    if flat.shape[1] != 1:
        return "regression", f"{flat.shape[1]} target columns"
    if flat.size == 0 or not np.isfinite(flat).all() or (flat != np.round(flat)).any():
        return "regression", "real-valued targets"
    if flat.min() >= 0 and flat.max() <= 1:
        return "binary", "labels 0 and 1"
    return "multiclass", "integer labels"


def shape_labels(source: str, y: np.ndarray, task: str, where: Callable[[int], str]
                 ) -> np.ndarray:
    """Numeric labels shaped for ``task``: (n, k) floats, (n, 1) 0/1, or (n,) class indices.

    Args:
      source: the file, for messages.
      y: the labels, one row per example.
      task: "regression", "binary" or "multiclass".
      where: row index -> the place of that label in the file, for messages.
    """
    y = y.reshape(len(y), -1).astype(np.float64)
    bad = ~np.isfinite(y).all(axis=1)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{source}, {where(i)}: the label {y[i].tolist()} is not a finite number "
                        "(NaN or inf). Fill or drop that example.")
    if task == "regression":
        return y
    if y.shape[1] != 1:
        raise DataError(f"{source}: the labels have {y.shape[1]} columns, but task {task!r} needs "
                        f"one label per example. Use --task regression for several targets.")
    if task == "binary":
        bad = (y[:, 0] != 0) & (y[:, 0] != 1)
        fix = ("Use --task multiclass for class indices 0..K-1, or --task regression for real "
               "targets.")
        want = "0 or 1"
    else:
        bad = (y[:, 0] != np.round(y[:, 0])) | (y[:, 0] < 0)
        fix = "Number the classes 0..K-1, or use --task regression for real targets."
        want = "a class index 0, 1, 2, ..."
    if bad.any():
        i = int(np.argmax(bad))
        more = f"; {int(bad.sum())} labels like it" if bad.sum() > 1 else ""
        raise DataError(f"{source}, {where(i)}: the label {y[i, 0]:g} is not {want} (task "
                        f"{task!r}{more}). {fix}")
    return y if task == "binary" else y[:, 0].astype(np.int64)
