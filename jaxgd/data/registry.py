"""Datasets by name, and minibatches: the entry point to every dataset in jaxgd.

    load_dataset         a validated `Dataset` by name ("moons", "digits", ...) or file path
    epoch_indices        one shuffled epoch of minibatch indices, (steps, batch)
    iterate_minibatches  the same as a Python loop of (x_batch, y_batch)

The pieces live in their own modules and are importable from here as well:
`jaxgd.data.dataset` (the `Dataset` type, `validate_arrays`, `validate_dataset`),
`jaxgd.data.synthetic` (xor, moons, circles, spirals, sine), `jaxgd.data.real` (digits,
mnist1d) and `jaxgd.data.files` (``.npz`` and ``.csv`` files).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np

from jaxgd.core.errors import (
    ConfigError,
    check_choice,
    check_range,
)
from jaxgd.core.names import FILE_SUFFIXES, is_file_name
from jaxgd.data.dataset import Dataset, validate_dataset
from jaxgd.data.files import load_file
from jaxgd.data.real import digits, mnist1d
from jaxgd.data.splits import train_test_split
from jaxgd.data.synthetic import circles, moons, sine, spirals, xor

__all__ = ["DATASETS", "FILE_SUFFIXES", "NETWORK_DEFAULTS", "SYNTHETIC", "NetworkDefaults",
           "is_file_name", "load_dataset", "network_defaults"]

SYNTHETIC = {"xor": xor, "moons": moons, "circles": circles, "spirals": spirals, "sine": sine}
DATASETS: dict[str, Callable[..., Dataset]] = {**SYNTHETIC, "digits": digits, "mnist1d": mnist1d}


class NetworkDefaults(NamedTuple):
    """The network, batch and epochs a dataset trains with when the run does not set them."""

    hidden: tuple[int, ...]  # hidden layer widths
    activation: str  # hidden-layer activation (a name of jaxgd.nn.models.ACTIVATIONS)
    batch_size: int | None  # examples per update; None: the full batch
    epochs: int = 10_000  # passes over the training rows


# The tutorial's 2-3-1 sigmoid network, full batch: XOR, the other generated sets and files.
TUTORIAL_NETWORK = NetworkDefaults((3,), "sigmoid", None)
# The real datasets: a ReLU MLP with minibatches, and epochs counted in passes of
# minibatches (digits: 30 epochs of 44 Adam steps reach about 0.97 test accuracy;
# MNIST-1D's published MLP has two hidden layers of 100 and trains for about 6,000
# steps of 100 examples, 150 epochs of its 4,000 training rows; 256 wide trains to a
# higher test accuracy in the same epochs).
NETWORK_DEFAULTS: dict[str, NetworkDefaults] = {
    **dict.fromkeys(SYNTHETIC, TUTORIAL_NETWORK),
    "digits": NetworkDefaults((128,), "relu", 32, epochs=30),
    "mnist1d": NetworkDefaults((256, 256), "relu", 128, epochs=150),
}


def network_defaults(name: str | os.PathLike) -> NetworkDefaults:
    """The default network and batch of a built-in dataset; a file gets the tutorial's."""
    return NETWORK_DEFAULTS.get(name, TUTORIAL_NETWORK) if isinstance(name, str) else TUTORIAL_NETWORK


# ----------------------------------------------------------------------------- by name


def _looks_like_path(name: Any) -> bool:
    """A name with a suffix or a folder in it is meant as a file, not a built-in dataset."""
    text = str(name) if isinstance(name, str | os.PathLike) else ""
    return bool(Path(text).suffix) or "/" in text or os.sep in text


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
    if is_file_name(name) or _looks_like_path(name):  # load_file names the accepted suffixes
        return validate_dataset(load_file(name, key, **kwargs))
    check_choice("dataset", name, DATASETS, also="or a path ending in .npz or .csv")
    test_fraction = kwargs.pop("test_fraction", 0.0) if name in SYNTHETIC else 0.0
    check_range("test_fraction", test_fraction, low=0.0, high=1.0, high_open=True,
                fix="Use e.g. test_fraction=0.2, or 0 for no test set.")
    fn = DATASETS[name]
    try:
        inspect.signature(fn).bind(key, **kwargs)
    except TypeError:
        accepted = [p for p in inspect.signature(fn).parameters if p != "key"]
        fixed = " (its 4 points are fixed)" if name == "xor" else ""
        raise ConfigError(f"dataset {name!r}{fixed} got unexpected arguments "
                          f"{sorted(set(kwargs) - set(accepted))}; it accepts {accepted}.") from None
    ds = fn(key, **kwargs)
    if test_fraction > 0:
        split = train_test_split(jax.random.fold_in(key, 1), ds.x, ds.y, test_fraction,
                                 stratify=ds.task != "regression")
        ds = ds._replace(x=split[0], y=split[1], x_test=split[2], y_test=split[3])
    return validate_dataset(ds)
