"""Layer 2: instruments that look inside training. Pure functions of arrays, jit- and vmap-able.

    curvature        `hvp`, `top_hessian_eigenvalue` (sharpness), `hessian_trace`,
                     `preconditioned_sharpness`
    preconditioners  `adam_preconditioner`, `rmsprop_preconditioner`: P from optimizer state
    noise            `per_example_grads`, `gradient_noise_scale` (B_simple)
    monitors         `update_monitors`: update norm, update-to-parameter ratios
    landscape        `interpolate_loss`, `lr_range_test`
"""

from jaxgd.instruments.curvature import hessian_trace, hvp, preconditioned_sharpness, top_hessian_eigenvalue
from jaxgd.instruments.landscape import LRRangeResult, interpolate_loss, lr_range_test
from jaxgd.instruments.monitors import update_monitors
from jaxgd.instruments.noise import NoiseScale, gradient_noise_scale, per_example_grads
from jaxgd.instruments.preconditioners import adam_preconditioner, rmsprop_preconditioner

__all__ = [
    "LRRangeResult", "NoiseScale", "adam_preconditioner", "gradient_noise_scale", "hessian_trace", "hvp",
    "interpolate_loss", "lr_range_test", "per_example_grads", "preconditioned_sharpness",
    "rmsprop_preconditioner", "top_hessian_eigenvalue", "update_monitors",
]
