"""Real datasets that need no network: scikit-learn's digits and MNIST-1D.

"digits" comes with scikit-learn's wheel; "mnist1d" is generated locally by the
``mnist1d`` package. Both are optional: ``pip install -e ".[data]"``.

User files, splitting and standardizing live in `jaxgd.data.files` and `jaxgd.data.splits`;
their public names are importable from here as well.
"""

from __future__ import annotations

import importlib
import random
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgd.core.cache import cache_dir, cache_key
from jaxgd.core.errors import ConfigError, JaxgdError, MissingDependencyError, check_positive_int
from jaxgd.core.io import replace_file
from jaxgd.data.dataset import Dataset
from jaxgd.data.files import load_csv, load_file, load_npz
from jaxgd.data.splits import (
    Standardization,
    check_fraction,
    finish_dataset,
    standardize,
    standardize_dataset,
    train_test_split,
)

__all__ = ["MissingDependencyError", "Standardization", "digits", "load_csv", "load_file",
           "load_npz", "mnist1d", "standardize", "standardize_dataset", "train_test_split"]


def _require(module: str, package: str, what: str):
    """Import ``module`` or say which extra brings it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingDependencyError(
            f"{what} needs the {package!r} package, which is not installed. Install jaxgd's "
            f"data extra: pip install -e \".[data]\"") from err


def _generated(name: str, make, args) -> dict[str, Any]:
    """``make(args)`` (x, y, x_test, y_test, templates' y), cached on disk by its arguments.

    The cache (`jaxgd.core.cache`, "datasets") is keyed by the dataset, the generator
    package's version and every argument; generation reseeds numpy's and Python's
    global RNGs, so both are restored afterwards.
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        package = version(name)
    except PackageNotFoundError:
        package = "unknown"
    path = cache_dir("datasets") / f"{name}-{cache_key(name=name, package=package, args=vars(args))}.npz"
    keys = ("x", "y", "x_test", "y_test", "classes")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in keys}
    except (OSError, ValueError, KeyError, EOFError):
        pass  # not cached yet, or a damaged entry: generate it again
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        raw = make(args)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    out = {"x": np.asarray(raw["x"]), "y": np.asarray(raw["y"]), "x_test": np.asarray(raw["x_test"]),
           "y_test": np.asarray(raw["y_test"]), "classes": np.asarray(raw["templates"]["y"])}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_file(path, lambda tmp: _save(tmp, out))
    except (OSError, JaxgdError):
        pass  # an unwritable cache only costs the next run the generation time
    return out


def _save(tmp, arrays) -> None:
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)


def digits(key, test_fraction: float = 0.2, *, dtype=jnp.float32) -> Dataset:
    """scikit-learn's 8x8 handwritten digits: 1797 images, 64 pixels scaled to [0, 1].

    Multiclass with 10 classes; a stratified test split drawn from ``key``.
    """
    datasets = _require("sklearn.datasets", "scikit-learn", "the 'digits' dataset")
    test_fraction = check_fraction(test_fraction)
    raw = datasets.load_digits()
    x = np.asarray(raw.data, np.float32) / 16.0  # pixel intensities 0..16
    y = np.asarray(raw.target, np.int32)
    return finish_dataset(key, "digits", x, y, None, None, "multiclass", 10, test_fraction, dtype)


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
    test_fraction = check_fraction(test_fraction)
    if seed is None:
        seed = int(jax.random.randint(key, (), 0, 2**31 - 1))
    args = data.get_dataset_args()
    args.num_samples, args.train_split, args.seed = num_samples, 1.0 - test_fraction, seed
    raw = _generated("mnist1d", data.make_dataset, args)
    has_test = len(raw["y_test"]) > 0
    return finish_dataset(None, "mnist1d", raw["x"], raw["y"], raw["x_test"] if has_test else None,
                   raw["y_test"] if has_test else None, "multiclass",
                   len(raw["classes"]), 0.0, dtype)
