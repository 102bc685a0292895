"""Layer 1: the network, its losses, and backprop written by hand (never autodiff).

    models    `Dense`, activations with their hand derivatives, `init_mlp`, `mlp`
    losses    per-example losses, averaged over the batch only; `make_loss_fn`
    backprop  `mlp_value_and_grad` (the chain rule by hand) and the tutorial's slide-7 formula
"""

from jaxgd.nn.backprop import mlp_value_and_grad, seed_backprop, tutorial_backprop
from jaxgd.nn.losses import (
    LOSSES,
    accuracy,
    binary_cross_entropy,
    l2_penalty,
    make_loss_fn,
    mse,
    softmax_cross_entropy,
)
from jaxgd.nn.models import ACTIVATIONS, INITS, Dense, init_mlp, mlp

__all__ = ["ACTIVATIONS", "INITS", "LOSSES", "Dense", "accuracy", "binary_cross_entropy", "init_mlp",
           "l2_penalty", "make_loss_fn", "mlp", "mlp_value_and_grad", "mse", "softmax_cross_entropy",
           "tutorial_backprop"]
