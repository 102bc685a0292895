"""The `Dataset` type and the checks every dataset passes before training.

Labels by task:
  regression  y float (n, k)
  binary      y float (n, 1) of 0/1 (the tutorial's XOR trains on these with MSE)
  multiclass  y int32 (n,) in [0, n_classes)

A place in an array is written as its index, ``x[3, 1]`` (from 0, as numpy counts); a
place in a text file as ``line 4, column 2`` (from 1, as editors count).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from jaxgd.core.errors import DataError, check_choice, is_concrete

TASKS = ("regression", "binary", "multiclass")


class Dataset(NamedTuple):
    """Training (and optional test) arrays plus what the labels mean.

    Pass ``ds.x`` and ``ds.y`` to compiled code, not the whole tuple (it holds strings).
    """

    x: Any  # (n, d) float features
    y: Any  # (n, k) float | (n, 1) float 0/1 | (n,) int32, by task
    x_test: Any  # (n_test, d) float, or None
    y_test: Any  # like y with n_test rows, or None
    task: str  # "regression" | "binary" | "multiclass"
    n_classes: int  # 0 for regression, 2 for binary, >= 2 for multiclass
    name: str  # dataset name or file name
    classes: tuple[str, ...] = ()  # the original label of class i, when text labels were encoded
    notes: tuple[str, ...] = ()  # what loading decided: label column, task, encoding, reshaping

    @property
    def n(self) -> int:
        """Number of training examples."""
        return int(self.x.shape[0])

    @property
    def n_features(self) -> int:
        """Number of input features d."""
        return int(self.x.shape[1])


# ----------------------------------------------------------------------------- validation


def first_index(name: str, mask: np.ndarray) -> str:
    """``'x[3, 1]'``: the index of the first True of ``mask`` in the array ``name``."""
    return f"{name}[{', '.join(str(i) for i in np.argwhere(mask)[0])}]"


def validate_arrays(x, y, task: str, n_classes: int, *, names: tuple[str, str] = ("x", "y"),
                    where: str = "") -> None:
    """Raise DataError unless (x, y) can be trained on as ``task`` with ``n_classes``.

    Checks ranks, dtypes, matching lengths, emptiness, NaN/inf, and label range.
    Tracers (arrays inside jit) pass unchecked.
    """
    check_choice("task", task, TASKS)
    xn, yn = names
    at = f"{where}: " if where else ""
    expected = {"regression": 0, "binary": 2}.get(task)
    if isinstance(n_classes, bool) or not isinstance(n_classes, int | np.integer) or (
            n_classes != expected if expected is not None else n_classes < 2):
        want = f"n_classes={expected}" if expected is not None else "an int n_classes >= 2"
        raise DataError(f"{at}n_classes={n_classes!r} does not fit task {task!r}; "
                        f"expected {want}.")
    if not (is_concrete(x) and is_concrete(y)):
        return
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 2 or x.dtype.kind != "f":
        raise DataError(f"{at}{xn} must be a float array of shape (n, d); got dtype {x.dtype}, "
                        f"shape {x.shape}. Use {xn}.reshape(len({xn}), -1).astype(np.float32).")
    want_y = {"regression": "a float array (n, k)", "binary": "a float array (n, 1) of 0/1",
              "multiclass": "an int array (n,) of class indices"}[task]
    ok = (y.ndim == 1 and y.dtype.kind in "iu") if task == "multiclass" else (
        y.ndim == 2 and y.dtype.kind == "f" and (task == "regression" or y.shape[1] == 1))
    if not ok:
        raise DataError(f"{at}{yn} must be {want_y} for task {task!r}; got dtype {y.dtype}, "
                        f"shape {y.shape}.")
    if x.shape[0] != y.shape[0]:
        raise DataError(f"{at}{xn} has {x.shape[0]} rows but {yn} has {y.shape[0]}; "
                        "they must have one row per example.")
    if x.shape[0] == 0 or x.shape[1] == 0 or y.size == 0:
        raise DataError(f"{at}the data are empty ({xn} shape {x.shape}, {yn} shape {y.shape}); "
                        "need at least one example with one feature.")
    for arr, label in ((x, xn), (y, yn)):
        bad = ~np.isfinite(arr)
        if bad.any():
            raise DataError(f"{at}{label} has {int(bad.sum())} non-finite values (NaN or inf), "
                            f"the first at {first_index(label, bad)}. Drop or fill those rows.")
    if task == "multiclass":
        bad = (y < 0) | (y >= n_classes)
        fix = "Remap labels to 0..n_classes-1 or raise n_classes."
        allowed = f"[0, {n_classes})"
    else:
        bad = (y != 0) & (y != 1) if task == "binary" else np.zeros(y.shape, bool)
        fix, allowed = "Binary labels must be 0 or 1.", "{0, 1}"
    if bad.any():
        raise DataError(f"{at}{yn} has {int(bad.sum())} labels outside {allowed}; the first is "
                        f"{y[bad][0]} at {first_index(yn, bad)}. {fix}")


def validate_dataset(ds: Dataset) -> Dataset:
    """Raise DataError unless ``ds`` (train and test parts) is consistent; return it."""
    where = f"dataset {ds.name!r}"
    validate_arrays(ds.x, ds.y, ds.task, ds.n_classes, where=where)
    if (ds.x_test is None) != (ds.y_test is None):
        raise DataError(f"{where}: x_test and y_test must both be given or both be None.")
    if ds.x_test is not None:
        validate_arrays(ds.x_test, ds.y_test, ds.task, ds.n_classes,
                        names=("x_test", "y_test"), where=where)
        for a, b in ((ds.x, ds.x_test), (ds.y, ds.y_test)):
            if a.shape[1:] != b.shape[1:]:
                raise DataError(f"{where}: test arrays have rows of shape {b.shape[1:]} but "
                                f"training arrays have {a.shape[1:]}; they must match.")
    return ds
