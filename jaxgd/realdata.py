"""Real datasets that need no network, user files, splitting and standardizing.

"digits" comes with scikit-learn's wheel; "mnist1d" is generated locally by the
``mnist1d`` package. Both are optional: ``pip install -e ".[data]"``. User data are
``.npz`` archives (keys ``x``, ``y``, optional ``x_test``, ``y_test``) or ``.csv``
tables with one label column.
"""

from __future__ import annotations

import csv
import importlib
import os
import random
import zipfile
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxgd.data import TASKS, Dataset, validate_dataset
from jaxgd.errors import (
    ConfigError,
    DataError,
    JaxgdError,
    check_choice,
    check_positive_int,
    check_range,
)


class MissingDependencyError(JaxgdError, ImportError):
    """An optional package (an extra of jaxgd) is needed but not installed."""


def _require(module: str, package: str, what: str):
    """Import ``module`` or say which extra brings it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingDependencyError(
            f"{what} needs the {package!r} package, which is not installed. Install jaxgd's "
            f"data extra: pip install -e \".[data]\"") from err


def _check_fraction(test_fraction: Any) -> float:
    return float(check_range("test_fraction", test_fraction, low=0.0, high=1.0,
                             high_open=True, fix="Use e.g. 0.2, or 0 for no test set."))


# ----------------------------------------------------------------------------- split, scale


def _allocate(exact: np.ndarray, total: int, tiebreak: np.ndarray) -> np.ndarray:
    """Integers q, each floor or ceil of ``exact``, that sum to ``total`` (largest remainder).

    Among equal remainders the smaller ``tiebreak`` gets the extra one.
    """
    q = np.floor(exact).astype(np.int64)
    order = np.lexsort((tiebreak, -(exact - q)))
    q[order[: total - q.sum()]] += 1  # 0 <= total - sum(floor) <= len(q) by construction
    return q


def train_test_split(key, x, y, test_fraction: float, stratify: bool = False):
    """Hold out a random share of the rows, the same for the same key.

    With ``stratify``, each class (each distinct row of y) gives floor or ceil of
    ``test_fraction * n_class`` rows, so class proportions are kept within one example.
    Both parts keep the original row order.

    Returns:
      (x_train, y_train, x_test, y_test); the test part has at least one row and the
      training part at least one.
    """
    test_fraction = _check_fraction(test_fraction)
    n = int(x.shape[0])
    if int(y.shape[0]) != n:
        raise DataError(f"train_test_split: x has {n} rows but y has {y.shape[0]}.")
    if n < 2 or test_fraction == 0:
        raise ConfigError(f"train_test_split needs n >= 2 and test_fraction > 0; got n={n}, "
                          f"test_fraction={test_fraction}.")
    n_test = min(max(round(test_fraction * n), 1), n - 1)
    if stratify:
        labels = np.unique(np.asarray(y).reshape(n, -1), axis=0, return_inverse=True)[1]
        labels = labels.reshape(-1)
    else:
        labels = np.zeros(n, np.int64)
    counts = np.bincount(labels)
    perm = np.asarray(jax.random.permutation(key, n))
    grouped = perm[np.argsort(labels[perm], kind="stable")]  # by class, shuffled within
    first_seen = np.full(len(counts), n)
    np.minimum.at(first_seen, labels[perm], np.arange(n))  # random order of the classes
    share = test_fraction if n_test == round(test_fraction * n) else n_test / n  # clamped
    quota = _allocate(share * counts, n_test, tiebreak=first_seen)
    starts = np.cumsum(counts) - counts
    is_test = np.zeros(n, bool)
    for start, q in zip(starts, quota, strict=True):
        is_test[grouped[start:start + q]] = True
    train, test = np.flatnonzero(~is_test), np.flatnonzero(is_test)
    return x[train], y[train], x[test], y[test]


class Standardization(NamedTuple):
    """Feature statistics of a training set."""

    mean: jax.Array  # (d,) mean of each feature
    std: jax.Array  # (d,) std of each feature; 1 where the std was below the floor


def standardize(train_x, *others, floor: float = 1e-6):
    """Scale features with statistics of ``train_x`` only: z = (x - mean) / std.

    A feature whose training std is below ``floor`` (a constant pixel, say) is
    only centered, so it cannot blow up in the other sets. ``None`` passes through.

    Returns:
      (train_z, *others_z, Standardization(mean, std)).
    """
    train_x = jnp.asarray(train_x)
    mean = jnp.mean(train_x, axis=0)
    std = jnp.std(train_x, axis=0)
    std = jnp.where(std < floor, jnp.ones_like(std), std)
    scaled = [None if o is None else (jnp.asarray(o) - mean) / std for o in others]
    return ((train_x - mean) / std, *scaled, Standardization(mean, std))


def standardize_dataset(ds: Dataset, floor: float = 1e-6) -> tuple[Dataset, Standardization]:
    """``ds`` with x and x_test standardized by the training statistics."""
    x, x_test, stats = standardize(ds.x, ds.x_test, floor=floor)
    return ds._replace(x=x, x_test=x_test), stats


# ----------------------------------------------------------------------------- real datasets


def _finish(key, name: str, x, y, x_test, y_test, task: str, n_classes: int,
            test_fraction: float, dtype) -> Dataset:
    """Split off a test set if asked (stratified for classes), cast, validate."""
    if test_fraction > 0:
        if x_test is not None:
            raise ConfigError(f"{name} already has a test set (x_test, y_test); "
                              f"drop test_fraction={test_fraction} to use it.")
        if key is None:
            raise ConfigError(f"{name}: test_fraction={test_fraction} needs a PRNG key "
                              "to draw the split; pass key=jax.random.PRNGKey(0).")
        x, y, x_test, y_test = train_test_split(key, x, y, test_fraction,
                                                stratify=task != "regression")
    y_dtype = jnp.int32 if task == "multiclass" else dtype
    cast = lambda a, t: None if a is None else jnp.asarray(a, t)
    return validate_dataset(Dataset(cast(x, dtype), cast(y, y_dtype), cast(x_test, dtype),
                                    cast(y_test, y_dtype), task, n_classes, name))


def digits(key, test_fraction: float = 0.2, *, dtype=jnp.float32) -> Dataset:
    """scikit-learn's 8x8 handwritten digits: 1797 images, 64 pixels scaled to [0, 1].

    Multiclass with 10 classes; a stratified test split drawn from ``key``.
    """
    datasets = _require("sklearn.datasets", "scikit-learn", "the 'digits' dataset")
    test_fraction = _check_fraction(test_fraction)
    raw = datasets.load_digits()
    x = np.asarray(raw.data, np.float32) / 16.0  # pixel intensities 0..16
    y = np.asarray(raw.target, np.int32)
    return _finish(key, "digits", x, y, None, None, "multiclass", 10, test_fraction, dtype)


def mnist1d(key: Any = None, *, num_samples: int = 5000, test_fraction: float = 0.2,
            seed: int | None = 42, dtype=jnp.float32) -> Dataset:
    """MNIST-1D (Greydanus 2020): 10 classes of 1-D signals with 40 features.

    Generated locally with the ``mnist1d`` package (never its downloader), using
    its own shuffling and train/test split. The package reseeds numpy's and Python's
    global RNGs; both are restored afterwards, so the caller's streams are untouched.

    Args:
      key: used only when ``seed`` is None, to draw the package's integer seed.
      num_samples: total examples before the split (the published set: 5000).
      test_fraction: the share held out as the test set (published: 0.2).
      seed: the package's seed; 42 gives the published dataset and its accuracies.
      dtype: float dtype of x.
    """
    data = _require("mnist1d.data", "mnist1d", "the 'mnist1d' dataset")
    num_samples = check_positive_int("num_samples", num_samples)
    if num_samples < 10:
        raise ConfigError(f"num_samples={num_samples} gives no example per class; "
                          "use num_samples >= 10 (5000 is the published size).")
    test_fraction = _check_fraction(test_fraction)
    if seed is None:
        seed = int(jax.random.randint(key, (), 0, 2**31 - 1))
    args = data.get_dataset_args()
    args.num_samples, args.train_split, args.seed = num_samples, 1.0 - test_fraction, seed
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        raw = data.make_dataset(args)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    has_test = len(raw["y_test"]) > 0
    return _finish(None, "mnist1d", raw["x"], raw["y"], raw["x_test"] if has_test else None,
                   raw["y_test"] if has_test else None, "multiclass",
                   len(raw["templates"]["y"]), 0.0, dtype)


# ----------------------------------------------------------------------------- user files


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
    return _finish(key, name, x, y, x_test, y_test, task, n_classes,
                   _check_fraction(test_fraction), dtype)


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
