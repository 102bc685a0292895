"""Datasets as arrays: synthetic generators, the dataset table, validation, minibatches.

Every generator takes an explicit PRNG key (no global RNG) and returns a `Dataset`.
Real datasets ("digits", "mnist1d") and user files (``.npz``, ``.csv``) live in
`jaxgd.realdata`; `load_dataset` reaches all of them by name.

Labels by task:
  regression  y float (n, k)
  binary      y float (n, 1) of 0/1 (the seed's XOR trains on these with MSE)
  multiclass  y int32 (n,) in [0, n_classes)
"""

from __future__ import annotations

import inspect
import math
import os
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxgd.errors import (
    ConfigError,
    DataError,
    UnknownNameError,
    check_choice,
    check_nonnegative,
    check_positive_int,
    check_range,
    is_concrete,
)

TASKS = ("regression", "binary", "multiclass")
FILE_SUFFIXES = (".npz", ".csv")


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

    @property
    def n(self) -> int:
        """Number of training examples."""
        return int(self.x.shape[0])

    @property
    def n_features(self) -> int:
        """Number of input features d."""
        return int(self.x.shape[1])


# ----------------------------------------------------------------------------- generators


def _shuffle(key, x, y):
    """x and y with their rows in one random order drawn from ``key``."""
    perm = jax.random.permutation(key, x.shape[0])
    return x[perm], y[perm]


def _two_class_labels(n0: int, n1: int, dtype) -> jax.Array:
    """n0 zeros then n1 ones, shape (n0 + n1, 1)."""
    return jnp.concatenate([jnp.zeros(n0, dtype), jnp.ones(n1, dtype)])[:, None]


def _static(fn):
    """jit ``fn`` with its keyword-only arguments (sizes, dtype) static: one compile per shape."""
    names = [p.name for p in inspect.signature(fn).parameters.values() if p.kind == p.KEYWORD_ONLY]
    return jax.jit(fn, static_argnames=names)


def xor(key: Any = None, *, dtype=jnp.float32) -> Dataset:
    """The seed's XOR problem: the 4 corners of the unit square, y = x1 XOR x2.

    Args:
      key: unused (the data are fixed); accepted so every generator is called alike.
      dtype: float dtype of x and y.
    """
    del key
    x = jnp.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=dtype)  # (4, 2)
    y = jnp.array([[0], [1], [1], [0]], dtype=dtype)  # (4, 1)
    return Dataset(x, y, None, None, "binary", 2, "xor")


@_static
def _moons(key, noise, *, n, dtype):
    n0, n1 = n // 2, n - n // 2
    t0 = jnp.linspace(0.0, math.pi, n0, dtype=dtype)
    t1 = jnp.linspace(0.0, math.pi, n1, dtype=dtype)
    upper = jnp.stack([jnp.cos(t0), jnp.sin(t0)], axis=1)
    lower = jnp.stack([1 - jnp.cos(t1), 0.5 - jnp.sin(t1)], axis=1)
    k_noise, k_perm = jax.random.split(key)
    x = jnp.concatenate([upper, lower]) + noise * jax.random.normal(k_noise, (n, 2), dtype)
    return _shuffle(k_perm, x, _two_class_labels(n0, n1, dtype))


def moons(key, n: int = 200, noise: float = 0.1, *, dtype=jnp.float32) -> Dataset:
    """Two interleaving half circles (binary), as scikit-learn's ``make_moons``.

    class 0 (n // 2 points):      (cos t, sin t),           t evenly spaced in [0, pi]
    class 1 (n - n // 2 points):  (1 - cos t, 1/2 - sin t)
    x += noise * N(0, I), then the rows are shuffled.
    """
    n = check_positive_int("n", n, fix="Use n >= 2 so both classes get points.")
    check_nonnegative("noise", noise)
    x, y = _moons(key, jnp.asarray(noise, dtype), n=n, dtype=dtype)
    return Dataset(x, y, None, None, "binary", 2, "moons")


@_static
def _circles(key, noise, factor, *, n, dtype):
    n0, n1 = n // 2, n - n // 2
    t0 = jnp.arange(n0, dtype=dtype) * (2 * math.pi / max(n0, 1))
    t1 = jnp.arange(n1, dtype=dtype) * (2 * math.pi / n1)
    outer = jnp.stack([jnp.cos(t0), jnp.sin(t0)], axis=1)
    inner = factor * jnp.stack([jnp.cos(t1), jnp.sin(t1)], axis=1)
    k_noise, k_perm = jax.random.split(key)
    x = jnp.concatenate([outer, inner]) + noise * jax.random.normal(k_noise, (n, 2), dtype)
    return _shuffle(k_perm, x, _two_class_labels(n0, n1, dtype))


def circles(key, n: int = 200, noise: float = 0.05, factor: float = 0.5, *,
            dtype=jnp.float32) -> Dataset:
    """A small circle inside a large one (binary), as scikit-learn's ``make_circles``.

    class 0 (n // 2 points):      (cos t, sin t),            t evenly spaced in [0, 2 pi)
    class 1 (n - n // 2 points):  factor * (cos t, sin t)
    x += noise * N(0, I), then the rows are shuffled.
    """
    n = check_positive_int("n", n, fix="Use n >= 2 so both classes get points.")
    check_nonnegative("noise", noise)
    check_range("factor", factor, low=0.0, high=1.0, low_open=True, high_open=True,
                fix="The inner radius as a fraction of the outer one, e.g. factor=0.5.")
    x, y = _circles(key, jnp.asarray(noise, dtype), jnp.asarray(factor, dtype), n=n, dtype=dtype)
    return Dataset(x, y, None, None, "binary", 2, "circles")


@_static
def _spirals(key, noise, *, n, classes, dtype):
    i = np.arange(n)
    label = i % classes
    arm_len = np.bincount(label, minlength=classes)[label]  # points on this point's arm
    r = jnp.asarray((i // classes) / np.maximum(arm_len - 1, 1), dtype)  # (n,)
    k_noise, k_perm = jax.random.split(key)
    t = (jnp.asarray(2 * math.pi * label / classes, dtype) + 4 * r
         + noise * jax.random.normal(k_noise, (n,), dtype))
    x = r[:, None] * jnp.stack([jnp.sin(t), jnp.cos(t)], axis=1)
    return _shuffle(k_perm, x, jnp.asarray(label, jnp.int32))


def spirals(key, n: int = 300, classes: int = 3, noise: float = 0.2, *,
            dtype=jnp.float32) -> Dataset:
    """Interleaved spiral arms, one per class (multiclass; the CS231n toy problem).

    Point i belongs to class c = i mod classes; r runs evenly over [0, 1] along the arm:
    t = 2 pi c / classes + 4 r + noise * N(0, 1)
    x = r * (sin t, cos t)
    Class sizes differ by at most one; the rows are shuffled.
    """
    n = check_positive_int("n", n)
    classes = check_positive_int("classes", classes, fix="Use classes >= 2, e.g. classes=3.")
    check_nonnegative("noise", noise)
    if classes < 2 or n < classes:
        raise ConfigError(f"spirals(n={n}, classes={classes}): need classes >= 2 and "
                          f"n >= classes so every arm gets a point. Try n=300, classes=3.")
    x, y = _spirals(key, jnp.asarray(noise, dtype), n=n, classes=classes, dtype=dtype)
    return Dataset(x, y, None, None, "multiclass", classes, "spirals")


@_static
def _sine(key, noise, *, n, dtype):
    k_x, k_noise = jax.random.split(key)
    x = jax.random.uniform(k_x, (n, 1), dtype, minval=-math.pi, maxval=math.pi)
    return x, jnp.sin(x) + noise * jax.random.normal(k_noise, (n, 1), dtype)


def sine(key, n: int = 200, noise: float = 0.1, *, dtype=jnp.float32) -> Dataset:
    """Noisy sine regression: x ~ U[-pi, pi], y = sin(x) + noise * N(0, 1), both (n, 1)."""
    n = check_positive_int("n", n)
    check_nonnegative("noise", noise)
    x, y = _sine(key, jnp.asarray(noise, dtype), n=n, dtype=dtype)
    return Dataset(x, y, None, None, "regression", 0, "sine")


# ----------------------------------------------------------------------------- table


def _real_loader(name: str) -> Callable[..., Dataset]:
    """``jaxgd.realdata.<name>``, imported on first use (realdata imports this module)."""
    from jaxgd import realdata

    return getattr(realdata, name)


def _real(name: str) -> Callable[..., Dataset]:
    """A table entry that defers the import of jaxgd.realdata to the call."""
    load = lambda key, **kwargs: _real_loader(name)(key, **kwargs)
    load.__name__ = name
    return load


SYNTHETIC = {"xor": xor, "moons": moons, "circles": circles, "spirals": spirals, "sine": sine}
DATASETS: dict[str, Callable[..., Dataset]] = {
    **SYNTHETIC, "digits": _real("digits"), "mnist1d": _real("mnist1d")}


def is_file_name(name: Any) -> bool:
    """True when ``name`` is a path to a dataset file (ends in .npz or .csv)."""
    return isinstance(name, str | os.PathLike) and str(name).lower().endswith(FILE_SUFFIXES)


def load_dataset(name: str | os.PathLike, key: Any, **kwargs) -> Dataset:
    """A validated dataset by name ("moons", "digits", ...) or by .npz / .csv path.

    Args:
      name: a key of `DATASETS` or a path ending in .npz or .csv.
      key: a PRNG key (or an int seed) for generation and splitting.
      **kwargs: passed to the generator or loader. For synthetic datasets,
        ``test_fraction`` (default 0) holds out that share of the rows, stratified
        by class, with a key derived from ``key`` (so the data equal ``gen(key)``).

    Returns:
      The dataset, checked by `validate_dataset`.
    """
    if isinstance(key, int | np.integer) and not isinstance(key, bool):
        key = jax.random.PRNGKey(int(key))
    elif key is None or isinstance(key, bool):
        raise ConfigError(f"load_dataset: key={key!r} is not a PRNG key; pass "
                          "jax.random.PRNGKey(seed) or an int seed.")
    if is_file_name(name):
        from jaxgd import realdata

        return validate_dataset(realdata.load_file(name, key, **kwargs))
    try:
        check_choice("dataset", name, DATASETS)
    except UnknownNameError as err:
        raise UnknownNameError(f"{err} Or pass a path ending in .npz or .csv.") from None
    test_fraction = kwargs.pop("test_fraction", 0.0) if name in SYNTHETIC else 0.0
    check_range("test_fraction", test_fraction, low=0.0, high=1.0, high_open=True,
                fix="Use e.g. test_fraction=0.2, or 0 for no test set.")
    fn = SYNTHETIC.get(name) or _real_loader(name)
    try:
        inspect.signature(fn).bind(key, **kwargs)
    except TypeError:
        accepted = [p for p in inspect.signature(fn).parameters if p != "key"]
        raise ConfigError(f"dataset {name!r} got unexpected arguments {sorted(kwargs)}; it "
                          f"accepts {accepted}.") from None
    ds = fn(key, **kwargs)
    if test_fraction > 0:
        from jaxgd.realdata import train_test_split

        split = train_test_split(jax.random.fold_in(key, 1), ds.x, ds.y, test_fraction,
                                 stratify=ds.task != "regression")
        ds = ds._replace(x=split[0], y=split[1], x_test=split[2], y_test=split[3])
    return validate_dataset(ds)


# ----------------------------------------------------------------------------- validation


def _first(mask: np.ndarray) -> str:
    """'row 3' or 'row 3, column 1': where the first True of ``mask`` is."""
    idx = np.argwhere(mask)[0]
    return f"row {idx[0]}" + (f", column {idx[1]}" if len(idx) > 1 else "")


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
                            f"the first at {_first(bad)}. Drop or fill those rows.")
    if task == "multiclass":
        bad = (y < 0) | (y >= n_classes)
        fix = "Remap labels to 0..n_classes-1 or raise n_classes."
        allowed = f"[0, {n_classes})"
    else:
        bad = (y != 0) & (y != 1) if task == "binary" else np.zeros(y.shape, bool)
        fix, allowed = "Binary labels must be 0 or 1.", "{0, 1}"
    if bad.any():
        raise DataError(f"{at}{yn} has {int(bad.sum())} labels outside {allowed}; the first is "
                        f"{y[bad][0]} at {_first(bad)}. {fix}")


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


# ----------------------------------------------------------------------------- minibatches


def epoch_indices(key, n: int, batch: int) -> jax.Array:
    """One epoch of shuffled minibatch indices, int32 (n // batch, batch).

    A permutation of range(n) cut into rows of ``batch``. The last n % batch
    examples of the permutation are dropped, so every step has the same shape;
    a fresh key per epoch drops different ones. ``batch == n`` is full-batch
    gradient descent, ``batch == 1`` online SGD. ``n`` and ``batch`` must be static
    Python ints (under jit: ``static_argnums=(1, 2)``).
    """
    if not (isinstance(n, int | np.integer) and is_concrete(n)) or isinstance(n, bool) or n < 1:
        raise ConfigError(f"epoch_indices: n={n!r} must be a static positive int (the number "
                          "of training examples); under jit mark it static.")
    if isinstance(batch, bool) or not isinstance(batch, int | np.integer) or not 1 <= batch <= n:
        raise ConfigError(f"batch_size={batch!r} is not accepted for n={n} examples; accepted: "
                          f"an int in [1, {n}]. Use 1 for online SGD, {n} for full batch, or "
                          "a size in between.")
    steps = n // batch
    perm = jax.random.permutation(key, n)
    return perm[: steps * batch].reshape(steps, batch).astype(jnp.int32)


def iterate_minibatches(key, x, y, batch: int) -> Iterator[tuple[Any, Any]]:
    """Yield (x_batch, y_batch) for one shuffled epoch: the seed's ``data_loader``.

    A Python loop for reading and teaching; the training engine gathers the
    same `epoch_indices` inside a compiled scan instead.
    """
    for rows in np.asarray(epoch_indices(key, int(x.shape[0]), batch)):
        yield x[rows], y[rows]
