"""The learning-rate schedules a run can name: one table for train, sweep, compare and crosscheck.

Each name maps to a schedule function, found under the same name in `jaxgd.schedules`
(by hand) and in `jaxgd.reference.schedules` (with optax), and to its keyword
arguments as a function of the run's settings (`ScheduleSettings`):

    lr     the learning rate: the initial or peak value      (--learning-rate)
    k      updates per epoch
    T      updates in the whole run: epochs * k
    rate   the decay factor                                  (--decay-rate)
    every  epochs between decays                             (--decay-every)
    warm   warmup epochs                                     (--warmup-epochs)

    name           function                        keyword arguments
    constant       constant_schedule               value=lr
    exponential    exponential_decay               lr, transition_steps=every*k, decay_rate=rate
    staircase      exponential_decay               the same, staircase=True
    step           step_decay                      lr, every, factor=rate, steps_per_epoch=k
    tutorial_step  tutorial_step_decay             the same, one period earlier (the tutorial's)
    cosine         cosine_decay_schedule           lr, decay_steps=T
    warmup_cosine  warmup_cosine_decay_schedule    0 -> lr over max(warm*k, 1), then down to 0 at T
    linear         linear_schedule                 lr -> lr/100 over T
    polynomial     polynomial_schedule             lr -> lr/100 over T, power 2
    piecewise      piecewise_constant_schedule     times rate at T/3 and again at 2T/3
    onecycle       cosine_onecycle_schedule        up to lr and down over max(T, 10)

The table only names functions; the caller passes the module to build from, so the optax
side (layer 2) is never imported here.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any, NamedTuple

from jaxgd.core.deprecation import renamed_value
from jaxgd.core.errors import check_choice
from jaxgd.core.names import RENAMED_SCHEDULES

__all__ = ["RENAMED", "SCHEDULES", "ScheduleSettings", "build_schedule", "schedule_call",
           "schedule_name", "settings_for_steps", "shaped_by_length"]


class ScheduleSettings(NamedTuple):
    """What a schedule's arguments are made of; the learning rate and decay rate may be tracers."""

    learning_rate: Any  # lr
    steps_per_epoch: int = 1  # k
    total_steps: int = 1  # T
    decay_rate: Any = 0.9  # rate
    decay_every: int = 100  # every, in epochs
    warmup_epochs: int = 0  # warm


class ScheduleRow(NamedTuple):
    function: str  # the same name in jaxgd.schedules and jaxgd.reference.schedules
    kwargs: Callable[[ScheduleSettings], dict[str, Any]]


def _warmup_cosine(s: ScheduleSettings) -> dict[str, Any]:
    warm = max(s.warmup_epochs * s.steps_per_epoch, 1)
    return dict(init_value=0.0, peak_value=s.learning_rate, warmup_steps=warm,
                decay_steps=max(s.total_steps, warm + 1))


SCHEDULES: dict[str, ScheduleRow] = {
    "constant": ScheduleRow("constant_schedule", lambda s: dict(value=s.learning_rate)),
    "exponential": ScheduleRow("exponential_decay", lambda s: dict(
        init_value=s.learning_rate, transition_steps=s.decay_every * s.steps_per_epoch,
        decay_rate=s.decay_rate)),
    "staircase": ScheduleRow("exponential_decay", lambda s: dict(
        init_value=s.learning_rate, transition_steps=s.decay_every * s.steps_per_epoch,
        decay_rate=s.decay_rate, staircase=True)),
    "step": ScheduleRow("step_decay", lambda s: dict(
        init_value=s.learning_rate, every=s.decay_every, factor=s.decay_rate,
        steps_per_epoch=s.steps_per_epoch)),
    "tutorial_step": ScheduleRow("tutorial_step_decay", lambda s: dict(
        init_value=s.learning_rate, every=s.decay_every, factor=s.decay_rate,
        steps_per_epoch=s.steps_per_epoch)),
    "cosine": ScheduleRow("cosine_decay_schedule", lambda s: dict(
        init_value=s.learning_rate, decay_steps=s.total_steps)),
    "warmup_cosine": ScheduleRow("warmup_cosine_decay_schedule", _warmup_cosine),
    "linear": ScheduleRow("linear_schedule", lambda s: dict(
        init_value=s.learning_rate, end_value=s.learning_rate / 100, transition_steps=s.total_steps)),
    "polynomial": ScheduleRow("polynomial_schedule", lambda s: dict(
        init_value=s.learning_rate, end_value=s.learning_rate / 100, power=2.0,
        transition_steps=s.total_steps)),
    "piecewise": ScheduleRow("piecewise_constant_schedule", lambda s: dict(
        init_value=s.learning_rate, boundaries_and_scales={
            max(1, s.total_steps // 3): s.decay_rate, max(2, 2 * s.total_steps // 3): s.decay_rate})),
    "onecycle": ScheduleRow("cosine_onecycle_schedule", lambda s: dict(
        transition_steps=max(s.total_steps, 10), peak_value=s.learning_rate)),
}

# old spellings -> names of SCHEDULES (train had seed_step; crosscheck spelled the function names),
# kept in jaxgd.core.names so that a config is checked without importing JAX
RENAMED = RENAMED_SCHEDULES


def schedule_name(name: str) -> str:
    """``name`` if it is in `SCHEDULES`; its new spelling (with a `DeprecationWarning`) if it
    is an old one; else `UnknownNameError` listing the names."""
    return check_choice("schedule", renamed_value("schedule", name, RENAMED), SCHEDULES)


def schedule_call(name: str, settings: ScheduleSettings) -> tuple[str, dict[str, Any]]:
    """``(function name, keyword arguments)`` of the schedule ``name`` for ``settings``."""
    row = SCHEDULES[schedule_name(name)]
    return row.function, row.kwargs(settings)


def build_schedule(name: str, settings: ScheduleSettings, module: ModuleType) -> Callable:
    """The schedule ``name`` built from ``module``: `jaxgd.schedules` (by hand) or
    `jaxgd.reference.schedules` (with optax)."""
    function, kwargs = schedule_call(name, settings)
    return getattr(module, function)(**kwargs)


def shaped_by_length(name: str) -> bool:
    """True when the schedule's arguments depend on the run's length T (e.g. cosine), so a
    run resumed with more epochs would follow another schedule."""
    row = SCHEDULES[schedule_name(name)]
    short, long = (ScheduleSettings(0.1, 2, t, 0.5, 3, 1) for t in (1000, 2000))
    return row.kwargs(short) != row.kwargs(long)


def settings_for_steps(learning_rate: Any, steps: int) -> ScheduleSettings:
    """Settings for a schedule over ``steps`` updates with no epochs (the cross-check's):
    four decay periods by half, the first tenth a warmup."""
    return ScheduleSettings(learning_rate, steps_per_epoch=1, total_steps=steps, decay_rate=0.5,
                            decay_every=max(1, steps // 4), warmup_epochs=max(1, steps // 10))
