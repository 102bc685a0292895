"""jaxgd: gradient descent for neural networks in JAX, every rule by hand and with optax.

The flat API below re-exports the names most programs need; the modules hold the
rest: `jaxgd.optimizers` (hand-written rules), `jaxgd.reference` (their optax twins
and the table that pairs them), `jaxgd.schedules`, `jaxgd.crosscheck`,
`jaxgd.sweep`, `jaxgd.compare`, `jaxgd.parallel`, `jaxgd.checkpoint`, `jaxgd.plots`.
"""

from jaxgd import optimizers, reference, schedules
from jaxgd.backprop import mlp_value_and_grad, seed_backprop
from jaxgd.base import (
    EmptyState,
    Transform,
    apply_updates,
    identity,
    tree_l2_norm,
    tree_max_abs_diff,
)
from jaxgd.checkpoint import load_checkpoint, save_checkpoint
from jaxgd.config import TrainConfig
from jaxgd.crosscheck_report import CrosscheckReport
from jaxgd.crosscheck_rows import crosscheck_row
from jaxgd.data import Dataset, epoch_indices, iterate_minibatches, load_dataset
from jaxgd.errors import (
    CheckpointError,
    ConfigError,
    DataError,
    DivergenceError,
    JaxgdError,
    MissingDependencyError,
    OutputExistsError,
    UnknownNameError,
)
from jaxgd.losses import (
    accuracy,
    binary_cross_entropy,
    l2_penalty,
    make_loss_fn,
    mse,
    softmax_cross_entropy,
)
from jaxgd.models import Dense, init_mlp, mlp
from jaxgd.parallel import make_mesh
from jaxgd.problems import minimize, parabola, rosenbrock
from jaxgd.train import FitResult, TrainState, fit, init_state, make_epoch, make_step

__version__ = "0.1.0"
