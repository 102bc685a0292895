"""jaxgd: gradient descent for neural networks in JAX, every rule by hand and with optax.

The flat API below re-exports the names most programs need; the packages hold the
rest, in layers (docs/architecture.md): `jaxgd.core` (types, errors) ->
`jaxgd.nn`, `jaxgd.data`, `jaxgd.optimizers` (hand-written rules), `jaxgd.schedules` ->
`jaxgd.reference` (their optax twins and the table that pairs them), `jaxgd.training`
-> `jaxgd.crosscheck`, `jaxgd.experiments` (config, sweeps, comparisons, plots) ->
`jaxgd.cli`, `jaxgd.benchmark`.
"""

from jaxgd import _compat, optimizers, reference, schedules
from jaxgd._version import __version__
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
from jaxgd.core.transform import EmptyState, Transform, apply_updates, identity
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
