"""Hand-written update rules (no optax here). Same names and keywords as optax."""

from jaxgd.optimizers.adam import adam
from jaxgd.optimizers.combine import MaskedNode, MaskedState, chain, masked
from jaxgd.optimizers.sgd import seed_momentum, sgd, sgd_l2, weights_mask
from jaxgd.optimizers.transforms import (
    add_decayed_weights,
    scale,
    scale_by_adam,
    scale_by_learning_rate,
    scale_by_schedule,
    trace,
)
