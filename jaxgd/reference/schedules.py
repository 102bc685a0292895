"""optax twins of the hand-written schedules, and the table that pairs them.

``jaxgd.reference.schedules.NAME(**kw)`` builds with optax what
``jaxgd.schedules.NAME(**kw)`` builds by hand. Mostly that is ``optax.NAME``
itself; the epoch-based step decays are composed from
``optax.exponential_decay(..., staircase=True)``. `SCHEDULES` maps each name to
``(hand_fn, optax_fn, example_kwargs)``; every example's phases end before step
`EXAMPLE_STEPS`, so steps ``0..EXAMPLE_STEPS`` cover them all.
"""

from __future__ import annotations

from typing import Any

import optax

from jaxgd import schedules as hand
from jaxgd.core.deprecation import deprecated_alias

EXAMPLE_STEPS = 128

constant_schedule = optax.constant_schedule
polynomial_schedule = optax.polynomial_schedule
linear_schedule = optax.linear_schedule
warmup_constant_schedule = optax.warmup_constant_schedule
exponential_decay = optax.exponential_decay
warmup_exponential_decay_schedule = optax.warmup_exponential_decay_schedule
cosine_decay_schedule = optax.cosine_decay_schedule
warmup_cosine_decay_schedule = optax.warmup_cosine_decay_schedule
sgdr_schedule = optax.sgdr_schedule
piecewise_constant_schedule = optax.piecewise_constant_schedule
piecewise_interpolate_schedule = optax.piecewise_interpolate_schedule
linear_onecycle_schedule = optax.linear_onecycle_schedule
cosine_onecycle_schedule = optax.cosine_onecycle_schedule
join_schedules = optax.join_schedules


def step_decay(init_value: Any, every: int, factor: Any, steps_per_epoch: int = 1):
    """PyTorch-style step decay with optax: the first decay after ``every`` epochs."""
    return optax.exponential_decay(init_value, every * steps_per_epoch, factor, staircase=True)


def tutorial_step_decay(init_value: Any, every: int = 100, factor: Any = 0.9,
                    steps_per_epoch: int = 1):
    """The tutorial's step decay with optax: one factor already applied at epoch 0."""
    return optax.exponential_decay(init_value * factor, every * steps_per_epoch, factor,
                                   staircase=True)


def ramp(count):
    """A plain child schedule for the join example: 0.0025 * t (default float dtype)."""
    return 0.0025 * count


def geometric(count):
    """A plain child schedule for the join example: 0.1 * 0.97**t (default float dtype)."""
    return 0.1 * 0.97**count


_EXAMPLES: dict[str, dict[str, Any]] = {
    "constant_schedule": dict(value=0.1),
    "polynomial_schedule": dict(init_value=0.1, end_value=0.001, power=2.0,
                                transition_steps=60, transition_begin=20),
    "linear_schedule": dict(init_value=0.0, end_value=0.1, transition_steps=50,
                            transition_begin=10),
    "warmup_constant_schedule": dict(init_value=0.0, peak_value=0.1, warmup_steps=30),
    "exponential_decay": dict(init_value=0.1, transition_steps=10, decay_rate=0.8,
                              transition_begin=5, staircase=False, end_value=0.01),
    "warmup_exponential_decay_schedule": dict(
        init_value=0.0, peak_value=0.1, warmup_steps=20, transition_steps=15, decay_rate=0.5,
        transition_begin=10, staircase=True, end_value=0.005),
    "cosine_decay_schedule": dict(init_value=0.1, decay_steps=80, alpha=0.1, exponent=2.0),
    "warmup_cosine_decay_schedule": dict(init_value=0.0, peak_value=0.1, warmup_steps=20,
                                         decay_steps=100, end_value=0.001, exponent=1.0),
    "sgdr_schedule": dict(cosine_kwargs=(
        dict(init_value=0.0, peak_value=0.1, warmup_steps=5, decay_steps=40),
        dict(init_value=0.0, peak_value=0.05, warmup_steps=5, decay_steps=50, end_value=0.001),
    )),
    "piecewise_constant_schedule": dict(init_value=0.1,
                                        boundaries_and_scales={30: 0.5, 60: 0.1, 90: 2.0}),
    "piecewise_interpolate_schedule": dict(interpolate_type="linear", init_value=0.1,
                                           boundaries_and_scales={20: 0.5, 50: 0.1, 90: 3.0}),
    "linear_onecycle_schedule": dict(transition_steps=100, peak_value=0.1, pct_start=0.3,
                                     pct_final=0.85, div_factor=25.0, final_div_factor=1e4),
    "cosine_onecycle_schedule": dict(transition_steps=100, peak_value=0.1, pct_start=0.25,
                                     div_factor=25.0, final_div_factor=1e4),
    "join_schedules": dict(schedules=(ramp, geometric), boundaries=(40,)),
    "tutorial_step_decay": dict(init_value=0.1, every=10, factor=0.9, steps_per_epoch=3),
    "step_decay": dict(init_value=0.1, every=10, factor=0.5, steps_per_epoch=2),
}

SCHEDULES: dict[str, tuple[Any, Any, dict[str, Any]]] = {
    name: (getattr(hand, name), globals()[name], kwargs) for name, kwargs in _EXAMPLES.items()
}


seed_step_decay = deprecated_alias(tutorial_step_decay, "jaxgd.reference.schedules.seed_step_decay",
                                   "jaxgd.reference.schedules.tutorial_step_decay")
