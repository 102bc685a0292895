"""jaxgd: gradient descent for neural networks in JAX, every rule by hand and with optax."""

from jaxgd.base import (
    EmptyState,
    Transform,
    apply_updates,
    identity,
    tree_l2_norm,
)
from jaxgd.errors import (
    CheckpointError,
    ConfigError,
    DataError,
    DivergenceError,
    JaxgdError,
    OutputExistsError,
    UnknownNameError,
)

__version__ = "0.1.0"
