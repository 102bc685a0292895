"""Held-out test sets and feature scaling, both drawn from the training data only.

    train_test_split     a random (optionally stratified) share of the rows as a test set
    standardize          z = (x - mean) / std with the training set's statistics
    finish_dataset       raw arrays -> split if asked -> cast -> validated `Dataset`
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxgd.core.errors import ConfigError, DataError, check_range
from jaxgd.data.dataset import Dataset, validate_dataset


def check_fraction(test_fraction: Any) -> float:
    """``test_fraction`` as a float in [0, 1), or a ConfigError naming the fix."""
    return float(check_range("test_fraction", test_fraction, low=0.0, high=1.0,
                             high_open=True, fix="Use e.g. 0.2, or 0 for no test set."))


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
    test_fraction = check_fraction(test_fraction)
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


def finish_dataset(key, name: str, x, y, x_test, y_test, task: str, n_classes: int,
            test_fraction: float, dtype) -> Dataset:
    """A validated `Dataset` from raw arrays: split off a test set if asked, cast.

    The test split is stratified by class unless ``task`` is regression; labels of
    a multiclass task become int32, everything else ``dtype``.
    """
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
