"""Hand-written schedules: pure functions ``step -> value`` with optax's argument names.

Each takes the same arguments as its optax namesake plus a keyword ``dtype``
(None: the default float dtype at call time, float64 under x64), so one kwargs
dict builds both. `tutorial_step_decay` and `step_decay` are the epoch-based step
decays of the tutorial and of PyTorch; `epochs_to_steps` converts lengths.
"""

from jaxgd.schedules.core import epochs_to_steps
from jaxgd.schedules.cosine import (
    cosine_decay_schedule,
    sgdr_schedule,
    warmup_cosine_decay_schedule,
)
from jaxgd.schedules.exponential import (
    exponential_decay,
    seed_step_decay,
    step_decay,
    tutorial_step_decay,
    warmup_exponential_decay_schedule,
)
from jaxgd.schedules.join import join_schedules
from jaxgd.schedules.piecewise import (
    cosine_onecycle_schedule,
    linear_onecycle_schedule,
    piecewise_constant_schedule,
    piecewise_interpolate_schedule,
)
from jaxgd.schedules.polynomial import (
    constant_schedule,
    linear_schedule,
    polynomial_schedule,
    warmup_constant_schedule,
)

__all__ = [
    "constant_schedule",
    "cosine_decay_schedule",
    "cosine_onecycle_schedule",
    "epochs_to_steps",
    "exponential_decay",
    "join_schedules",
    "linear_onecycle_schedule",
    "linear_schedule",
    "piecewise_constant_schedule",
    "piecewise_interpolate_schedule",
    "polynomial_schedule",
    "tutorial_step_decay",
    "sgdr_schedule",
    "step_decay",
    "warmup_constant_schedule",
    "warmup_cosine_decay_schedule",
    "warmup_exponential_decay_schedule",
]
