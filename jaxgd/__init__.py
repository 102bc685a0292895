"""jaxgd: gradient descent for neural networks in JAX, every rule by hand and with optax.

The flat API below re-exports the names most programs need; the packages hold the
rest, in layers (docs/architecture.md): `jaxgd.core` (types, errors) ->
`jaxgd.nn`, `jaxgd.data`, `jaxgd.optimizers` (hand-written rules), `jaxgd.schedules` ->
`jaxgd.reference` (their optax twins and the table that pairs them), `jaxgd.training`
-> `jaxgd.crosscheck`, `jaxgd.experiments` (config, sweeps, comparisons, plots) ->
`jaxgd.cli`, `jaxgd.benchmark`.

The names are loaded on first use (a module ``__getattr__``, as in Scientific Python's
SPEC 1): importing any part of jaxgd runs this file first, and ``jaxgd --help`` must
not wait for JAX to import. ``jaxgd.fit`` or ``from jaxgd import fit`` imports the
module that defines it, once; the ``TYPE_CHECKING`` block gives type checkers and
editors the same names statically.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from jaxgd import _compat
from jaxgd._version import __version__

# name -> the module that defines it
_HOMES = {
    "jaxgd.core.errors": ("CheckpointError", "ConfigError", "DataError", "DivergenceError",
                          "JaxgdError", "MissingDependencyError", "OutputExistsError",
                          "UnknownNameError"),
    "jaxgd.core.transform": ("EmptyState", "Transform", "apply_updates", "eval_params", "identity"),
    "jaxgd.core.tree": ("tree_l2_norm", "tree_max_abs_diff"),
    "jaxgd.crosscheck.report": ("CrosscheckReport",),
    "jaxgd.crosscheck.rows": ("crosscheck_row",),
    "jaxgd.data": ("Dataset", "load_dataset"),
    "jaxgd.data.batching": ("epoch_indices", "iterate_minibatches"),
    "jaxgd.experiments.config": ("TrainConfig",),
    "jaxgd.nn.backprop": ("mlp_value_and_grad", "seed_backprop", "tutorial_backprop"),
    "jaxgd.nn.losses": ("accuracy", "binary_cross_entropy", "l2_penalty", "make_loss_fn", "mse",
                        "softmax_cross_entropy"),
    "jaxgd.nn.models": ("Dense", "init_mlp", "mlp"),
    "jaxgd.training.checkpoint": ("load_checkpoint", "save_checkpoint"),
    "jaxgd.training.engine": ("FitResult", "TrainState", "fit", "init_state", "make_epoch",
                              "make_step"),
    "jaxgd.training.parallel": ("make_mesh",),
    "jaxgd.training.problems": ("minimize", "parabola", "rosenbrock"),
}
_HOME = {name: module for module, names in _HOMES.items() for name in names}
# the packages, reachable as attributes (``jaxgd.optimizers.adam``) without an import of their own
_PACKAGES = ("benchmark", "cli", "core", "crosscheck", "data", "experiments", "nn", "optimizers",
             "reference", "schedules", "training")

__all__ = sorted([*_HOME, "optimizers", "reference", "schedules"])


def __getattr__(name: str):
    if name in _HOME:
        value = getattr(importlib.import_module(_HOME[name]), name)
    elif name in _PACKAGES:
        value = importlib.import_module(f"jaxgd.{name}")
    else:
        raise AttributeError(f"module 'jaxgd' has no attribute {name!r}")
    globals()[name] = value  # once: later lookups do not come here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOME, *_PACKAGES})


if TYPE_CHECKING:
    from jaxgd import optimizers, reference, schedules
    from jaxgd.core.errors import (
        CheckpointError,
        ConfigError,
        DataError,
        DivergenceError,
        JaxgdError,
        MissingDependencyError,
        OutputExistsError,
        UnknownNameError,
    )
    from jaxgd.core.transform import EmptyState, Transform, apply_updates, eval_params, identity
    from jaxgd.core.tree import tree_l2_norm, tree_max_abs_diff
    from jaxgd.crosscheck.report import CrosscheckReport
    from jaxgd.crosscheck.rows import crosscheck_row
    from jaxgd.data import Dataset, load_dataset
    from jaxgd.data.batching import epoch_indices, iterate_minibatches
    from jaxgd.experiments.config import TrainConfig
    from jaxgd.nn.backprop import mlp_value_and_grad, seed_backprop, tutorial_backprop
    from jaxgd.nn.losses import (
        accuracy,
        binary_cross_entropy,
        l2_penalty,
        make_loss_fn,
        mse,
        softmax_cross_entropy,
    )
    from jaxgd.nn.models import Dense, init_mlp, mlp
    from jaxgd.training.checkpoint import load_checkpoint, save_checkpoint
    from jaxgd.training.engine import FitResult, TrainState, fit, init_state, make_epoch, make_step
    from jaxgd.training.parallel import make_mesh
    from jaxgd.training.problems import minimize, parabola, rosenbrock

_compat.install()  # the module paths of jaxgd 0.1, with a DeprecationWarning
