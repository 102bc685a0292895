"""Every hand-written schedule against its optax twin and a float64 closed form.

Driven by `jaxgd.reference.schedules.SCHEDULES` (plus a few extra argument sets);
the closed forms below are written from the formulas with numpy, in float64.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgd import schedules
from jaxgd.core.errors import ConfigError, UnknownNameError
from jaxgd.reference.schedules import EXAMPLE_STEPS, SCHEDULES, geometric, ramp

T_INT = np.arange(EXAMPLE_STEPS + 1)  # int64 steps for the numpy closed forms

EXTRA = [
    ("exponential_decay", dict(init_value=0.1, transition_steps=7, decay_rate=0.7, staircase=True)),
    ("exponential_decay", dict(init_value=0.01, transition_steps=10, decay_rate=1.5,
                               transition_begin=3, end_value=0.2)),
    ("exponential_decay", dict(init_value=0.1, transition_steps=0, decay_rate=0.5)),
    ("polynomial_schedule", dict(init_value=1.0, end_value=0.5, power=0.5, transition_steps=-3)),
    ("piecewise_interpolate_schedule", dict(interpolate_type="cosine", init_value=1.0,
     boundaries_and_scales={0: 0.5, 40: 0.2, 41: 4.0, 100: 0.5})),
    ("piecewise_constant_schedule", dict(init_value=0.3)),
    ("warmup_cosine_decay_schedule", dict(init_value=0.05, peak_value=0.0, warmup_steps=0,
                                          decay_steps=60, exponent=3.0)),
    ("warmup_exponential_decay_schedule", dict(init_value=0.01, peak_value=0.2, warmup_steps=7,
                                               transition_steps=9, decay_rate=0.9)),
    ("cosine_decay_schedule", dict(init_value=2.0, decay_steps=100)),
]
CASES = [(name, kw) for name, (_, _, kw) in SCHEDULES.items()] + EXTRA
IDS = [f"{name}-{i}" for i, (name, _) in enumerate(CASES)]


# ---------------------------------------------------------------- float64 closed forms


def np_polynomial(t, init_value, end_value, power, transition_steps, transition_begin=0):
    if transition_steps <= 0:
        return np.full(t.shape, init_value, float)
    x = np.clip((t - transition_begin) / transition_steps, 0.0, 1.0)
    return end_value + (init_value - end_value) * (1.0 - x) ** power


def np_exponential(t, init_value, transition_steps, decay_rate, transition_begin=0,
                   staircase=False, end_value=None):
    if transition_steps <= 0:
        return np.full(t.shape, init_value, float)
    d = t - transition_begin
    e = d // transition_steps if staircase else d / transition_steps
    v = np.where(d > 0, init_value * decay_rate ** e.astype(float), init_value)
    if end_value is not None:
        v = np.maximum(v, end_value) if decay_rate < 1 else np.minimum(v, end_value)
    return v


def np_cosine(t, init_value, decay_steps, alpha=0.0, exponent=1.0):
    c = 0.5 + 0.5 * np.cos(np.pi * np.minimum(t, decay_steps) / decay_steps)
    return init_value * (alpha + (1.0 - alpha) * c**exponent)


def np_warmup_cosine(t, init_value, peak_value, warmup_steps, decay_steps, end_value=0.0,
                     exponent=1.0):
    u = np.minimum(np.maximum(t - warmup_steps, 0), decay_steps - warmup_steps)
    c = 0.5 + 0.5 * np.cos(np.pi * u / (decay_steps - warmup_steps))
    rise = init_value + (peak_value - init_value) * t / max(warmup_steps, 1)
    return np.where(t < warmup_steps, rise, end_value + (peak_value - end_value) * c**exponent)


def np_sgdr(t, cosine_kwargs):
    v, start = np.zeros(t.shape), 0
    for kw in cosine_kwargs:
        v = np.where(t >= start, np_warmup_cosine(t - start, **kw), v)
        start += kw["decay_steps"]
    return v


def np_piecewise_constant(t, init_value, boundaries_and_scales=None):
    pairs = (boundaries_and_scales or {}).items()
    return np.array([init_value * math.prod(s for b, s in pairs if k >= b) for k in t])


def np_interpolate(t, interpolate_type, init_value, boundaries_and_scales=None):
    bounds = [0, *sorted(boundaries_and_scales or {})]
    values = [init_value]
    for b in bounds[1:]:
        values.append(values[-1] * boundaries_and_scales[b])
    if interpolate_type == "linear":
        return np.interp(t, bounds, values)
    out = np.full(t.shape, values[-1])
    for k in range(1, len(bounds)):
        a, b, lo, hi = values[k - 1], values[k], bounds[k - 1], bounds[k]
        x = (t - lo) / max(hi - lo, 1)
        out = np.where((t >= lo) & (t < hi), b + (a - b) * (1 + np.cos(np.pi * x)) / 2, out)
    return out


def np_linear_onecycle(t, transition_steps, peak_value, pct_start, pct_final, div_factor,
                       final_div_factor):
    a = peak_value / div_factor
    s, f, T = int(pct_start * transition_steps), int(pct_final * transition_steps), transition_steps
    return np.interp(t, [0, s, f, T], [a, peak_value, a, a / final_div_factor])


def np_cosine_onecycle(t, transition_steps, peak_value, pct_start, div_factor, final_div_factor):
    a, T = peak_value / div_factor, transition_steps
    z, s = a / final_div_factor, int(pct_start * T)
    up = peak_value + (a - peak_value) * (1 + np.cos(np.pi * t / s)) / 2
    down = z + (peak_value - z) * (1 + np.cos(np.pi * np.minimum(t - s, T - s) / (T - s))) / 2
    return np.where(t < s, up, down)


def np_join(t, schedules, boundaries):
    v = schedules[0](t)
    for b, s in zip(boundaries, schedules[1:], strict=True):
        v = np.where(t < b, v, s(t - b))
    return v


def np_seed_step_decay(t, init_value, every=100, factor=0.9, steps_per_epoch=1):
    return init_value * factor ** ((t // steps_per_epoch) // every + 1.0)


def np_step_decay(t, init_value, every, factor, steps_per_epoch=1):
    return init_value * factor ** ((t // steps_per_epoch) // every * 1.0)


CLOSED_FORMS = {
    "constant_schedule": lambda t, value: np.full(t.shape, value, float),
    "polynomial_schedule": np_polynomial,
    "linear_schedule": lambda t, **kw: np_polynomial(t, power=1.0, **kw),
    "warmup_constant_schedule": lambda t, init_value, peak_value, warmup_steps: np_polynomial(
        t, init_value, peak_value, 1.0, warmup_steps),
    "exponential_decay": np_exponential,
    "warmup_exponential_decay_schedule": lambda t, init_value, peak_value, warmup_steps, **kw:
        np.where(t < warmup_steps, np_polynomial(t, init_value, peak_value, 1.0, warmup_steps),
                 np_exponential(t - warmup_steps, peak_value, **kw)),
    "cosine_decay_schedule": np_cosine,
    "warmup_cosine_decay_schedule": np_warmup_cosine,
    "sgdr_schedule": np_sgdr,
    "piecewise_constant_schedule": np_piecewise_constant,
    "piecewise_interpolate_schedule": np_interpolate,
    "linear_onecycle_schedule": np_linear_onecycle,
    "cosine_onecycle_schedule": np_cosine_onecycle,
    "join_schedules": np_join,
    "tutorial_step_decay": np_seed_step_decay,
    "step_decay": np_step_decay,
}


def optax_values(name, kw, steps):
    """The optax twin evaluated one scalar step at a time (some reject step arrays)."""
    return np.asarray(jax.vmap(SCHEDULES[name][1](**kw))(steps))


def test_table_covers_every_hand_schedule():
    names = set(schedules.__all__) - {"epochs_to_steps"}
    assert set(SCHEDULES) == names
    assert set(CLOSED_FORMS) == names


@pytest.mark.parametrize(("name", "kw"), CASES, ids=IDS)
def test_hand_equals_optax_in_float32(name, kw):
    steps = jnp.asarray(T_INT, jnp.int32)
    hand = SCHEDULES[name][0](**kw)
    got = hand(steps)
    assert got.dtype == jnp.float32 and got.shape == steps.shape
    np.testing.assert_allclose(got, optax_values(name, kw, steps), rtol=1e-6, atol=1e-10)
    assert float(hand(37)) == pytest.approx(float(got[37]), rel=1e-6)  # a Python int step


@pytest.mark.parametrize(("name", "kw"), CASES, ids=IDS)
def test_hand_float64_is_exact_and_optax_sits_at_its_float32_floor(name, kw, x64):
    steps = jnp.asarray(T_INT, jnp.int32)
    got = np.asarray(SCHEDULES[name][0](**kw, dtype=jnp.float64)(steps))
    exact = CLOSED_FORMS[name](T_INT, **kw)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, exact, rtol=1e-12, atol=1e-15)
    scale = np.max(np.abs(exact))
    assert np.max(np.abs(got - optax_values(name, kw, steps))) <= 2e-7 * scale


@pytest.mark.parametrize("name", ["polynomial_schedule", "exponential_decay",
                                  "warmup_cosine_decay_schedule", "cosine_onecycle_schedule"])
def test_optax_under_x64_is_float32_where_hand_float64_is_not(name, x64):
    """CONVENTIONS.md: optax schedules fed int32 counts compute in float32 even under x64."""
    kw = SCHEDULES[name][2]
    steps = jnp.asarray(T_INT, jnp.int32)
    exact = CLOSED_FORMS[name](T_INT, **kw)
    scale = np.max(np.abs(exact))
    optax_err = np.max(np.abs(optax_values(name, kw, steps) - exact)) / scale
    hand_err = np.max(np.abs(np.asarray(SCHEDULES[name][0](**kw)(steps)) - exact)) / scale
    assert 1e-9 < optax_err < 2e-7
    assert hand_err < 1e-15


def test_default_dtype_is_read_at_call_time():
    sched = schedules.cosine_decay_schedule(0.1, 50)
    pinned = schedules.cosine_decay_schedule(0.1, 50, dtype=jnp.float32)
    assert sched(3).dtype == jnp.float32
    with jax.enable_x64(True):
        assert sched(3).dtype == jnp.float64
        assert pinned(3).dtype == jnp.float32
        assert float(sched(3)) == pytest.approx(np_cosine(np.array(3), 0.1, 50), rel=1e-15)


def seed_loop_learning_rates(lr0, num_epochs):
    """Seed slide 10, transcribed literally: the rate used by each epoch's update."""
    learning_rate = lr0
    used = []
    for epoch in range(num_epochs):
        if epoch % 100 == 0:
            learning_rate *= 0.9
        used.append(learning_rate)  # Perform gradient descent update with adjusted learning rate
    return np.array(used)


@pytest.mark.parametrize("steps_per_epoch", [1, 4])
def test_seed_step_decay_equals_the_seed_loop(steps_per_epoch, x64):
    expected = seed_loop_learning_rates(0.1, 350)
    sched = schedules.tutorial_step_decay(0.1, steps_per_epoch=steps_per_epoch)
    steps = jnp.arange(350 * steps_per_epoch, dtype=jnp.int32)
    got = np.asarray(sched(steps))
    np.testing.assert_allclose(got, np.repeat(expected, steps_per_epoch), rtol=1e-12)
    got32 = np.asarray(schedules.tutorial_step_decay(0.1, steps_per_epoch=steps_per_epoch,
                                                 dtype=jnp.float32)(steps))
    np.testing.assert_allclose(got32, np.repeat(expected, steps_per_epoch), rtol=1e-6)


def test_seed_step_decay_is_one_period_ahead_of_optax_staircase(x64):
    seed = np.asarray(schedules.tutorial_step_decay(0.1)(jnp.arange(350, dtype=jnp.int32)))
    staircase = optax.exponential_decay(0.1, 100, 0.9, staircase=True)
    later = np.asarray(jax.vmap(staircase)(jnp.arange(100, 450, dtype=jnp.int32)))
    same = np.asarray(jax.vmap(staircase)(jnp.arange(350, dtype=jnp.int32)))
    # optax (float32 even under x64) at t + 100 == seed at t; at the same t one factor apart
    np.testing.assert_allclose(seed, later, rtol=3e-7)
    np.testing.assert_allclose(seed / same, 0.9, rtol=3e-7)
    textbook = np.asarray(schedules.step_decay(0.1, 100, 0.9)(jnp.arange(350, dtype=jnp.int32)))
    np.testing.assert_allclose(seed, 0.9 * textbook, rtol=1e-14)
    assert (seed[0], textbook[0], textbook[99], textbook[100]) == pytest.approx(
        (0.09, 0.1, 0.1, 0.09), rel=1e-15)


def _value_key(kw):
    return next((k for k in ("init_value", "value", "peak_value") if k in kw), None)


VMAPPED = [(name, kw) for name, (_, _, kw) in SCHEDULES.items() if _value_key(kw)]


@pytest.mark.parametrize(("name", "kw"), VMAPPED, ids=[n for n, _ in VMAPPED])
def test_jit_and_vmap_over_the_initial_value(name, kw):
    key = _value_key(kw)
    values = np.array([0.02, 0.1, 0.3], np.float32)
    steps = jnp.asarray(T_INT, jnp.int32)

    @jax.jit
    def sweep(v):
        return jax.vmap(lambda x: SCHEDULES[name][0](**{**kw, key: x})(steps))(v)

    expected = np.stack([optax_values(name, {**kw, key: float(v)}, steps) for v in values])
    # a traced value is divided in float32 where optax divides Python floats: a few ulps
    np.testing.assert_allclose(sweep(jnp.asarray(values)), expected, rtol=1e-6,
                               atol=1e-7 * np.max(np.abs(expected)))


def test_vmap_over_decay_rate_picks_the_bound_per_rate():
    kw = dict(init_value=0.1, transition_steps=10, transition_begin=2, end_value=0.05)
    rates = [0.5, 0.9, 1.2]
    steps = jnp.asarray(T_INT, jnp.int32)
    got = jax.jit(jax.vmap(lambda r: schedules.exponential_decay(decay_rate=r, **kw)(steps)))(
        jnp.asarray(rates, jnp.float32))
    expected = np.stack([np_exponential(T_INT, decay_rate=r, **kw) for r in rates])
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_epochs_to_steps_turns_an_epoch_schedule_into_a_step_schedule():
    assert schedules.epochs_to_steps(30, 7) == 210
    steps = jnp.arange(500, dtype=jnp.int32)
    by_epoch = schedules.step_decay(0.1, every=30, factor=0.5, steps_per_epoch=7)
    by_step = optax.exponential_decay(0.1, schedules.epochs_to_steps(30, 7), 0.5, staircase=True)
    np.testing.assert_allclose(by_epoch(steps), jax.vmap(by_step)(steps), rtol=1e-6)
    with pytest.raises(ConfigError, match=r"steps_per_epoch=0 is below the accepted minimum 1"):
        schedules.epochs_to_steps(30, 0)


NAN, INF = float("nan"), float("inf")
BAD = [
    ("constant_schedule", dict(value=NAN), r"value=nan is not finite"),
    ("constant_schedule", dict(value=0.1, dtype=jnp.int32), r"not a floating dtype"),
    ("polynomial_schedule", dict(init_value=0.1, end_value=0.0, power=0.0, transition_steps=10),
     r"power=0.0 is outside the accepted range; accepted: \(0, inf\]"),
    ("linear_schedule", dict(init_value=0.1, end_value=0.0, transition_steps=10,
                             transition_begin=-1), r"transition_begin=-1 is below .* >= 0"),
    ("linear_schedule", dict(init_value=0.1, end_value=0.0, transition_steps=10.0),
     r"transition_steps=10.0 must be an integer number of steps"),
    ("exponential_decay", dict(init_value=NAN, transition_steps=10, decay_rate=0.9),
     r"init_value=nan is not finite"),
    ("exponential_decay", dict(init_value=0.1, transition_steps=10, decay_rate=0.0),
     r"decay_rate=0.0 is outside the accepted range; accepted: \(0, inf\]"),
    ("exponential_decay", dict(init_value=0.1, transition_steps=10, decay_rate=-0.5),
     r"decay_rate=-0.5 is outside"),
    ("exponential_decay", dict(init_value=0.1, transition_steps=10, decay_rate=0.9,
                               staircase="yes"), r"staircase='yes' must be True or False"),
    ("exponential_decay", dict(init_value=0.1, transition_steps=10, decay_rate=0.9,
                               end_value=INF), r"end_value=inf is not finite"),
    ("cosine_decay_schedule", dict(init_value=0.1, decay_steps=0),
     r"decay_steps=0 is below the accepted minimum 1"),
    ("cosine_decay_schedule", dict(init_value=0.1, decay_steps=10, alpha=-0.1),
     r"alpha=-0.1 is outside the accepted range; accepted: \[0, inf\]"),
    ("cosine_decay_schedule", dict(init_value=0.1, decay_steps=10, exponent=0.0),
     r"exponent=0.0 is outside"),
    ("warmup_cosine_decay_schedule", dict(init_value=0.0, peak_value=0.1, warmup_steps=50,
                                          decay_steps=50),
     r"decay_steps=50 is below the accepted minimum 51.*warmup_steps=50 included"),
    ("warmup_cosine_decay_schedule", dict(init_value=0.0, peak_value=NAN, warmup_steps=5,
                                          decay_steps=50), r"peak_value=nan is not finite"),
    ("warmup_exponential_decay_schedule", dict(init_value=0.0, peak_value=0.1, warmup_steps=-5,
                                               transition_steps=10, decay_rate=0.9),
     r"warmup_steps=-5 is below"),
    ("piecewise_constant_schedule", dict(init_value=0.1, boundaries_and_scales={10: -0.5}),
     r"boundaries_and_scales\[10\]=-0.5 is outside the accepted range; accepted: \[0, inf\]"),
    ("piecewise_constant_schedule", dict(init_value=0.1, boundaries_and_scales={-10: 0.5}),
     r"boundaries_and_scales key=-10 is below the accepted minimum 0"),
    ("piecewise_constant_schedule", dict(init_value=0.1, boundaries_and_scales={10: NAN}),
     r"boundaries_and_scales\[10\]=nan is not finite"),
    ("piecewise_constant_schedule", dict(init_value=0.1, boundaries_and_scales=[(10, 0.5)]),
     r"must be a dict \{step: scale\}"),
    ("piecewise_interpolate_schedule", dict(interpolate_type="cosin", init_value=0.1),
     r"unknown interpolate_type 'cosin'. Did you mean 'cosine'\?"),
    ("linear_onecycle_schedule", dict(transition_steps=0, peak_value=0.1),
     r"transition_steps=0 is below the accepted minimum 1"),
    ("linear_onecycle_schedule", dict(transition_steps=100, peak_value=0.1, pct_start=0.5,
                                      pct_final=0.4), r"phase boundaries 50, 40, 100"),
    ("linear_onecycle_schedule", dict(transition_steps=100, peak_value=0.1, pct_final=1.0),
     r"pct_final=1.0 is outside the accepted range; accepted: \(0, 1\)"),
    ("cosine_onecycle_schedule", dict(transition_steps=3, peak_value=0.1, pct_start=0.3),
     r"gives a rise of 0 steps"),
    ("cosine_onecycle_schedule", dict(transition_steps=100, peak_value=0.1, div_factor=0.0),
     r"div_factor=0.0 is outside"),
    ("join_schedules", dict(schedules=(ramp, geometric, ramp), boundaries=(50, 20)),
     r"boundaries=\[50, 20\] are not strictly increasing"),
    ("join_schedules", dict(schedules=(ramp, geometric), boundaries=()),
     r"has 0 entries for 2 schedules; accepted: exactly 1"),
    ("sgdr_schedule", dict(cosine_kwargs=[]), r"must be a non-empty list of dicts"),
    ("sgdr_schedule", dict(cosine_kwargs=[dict(init_value=0.0, peak_value=0.1, warmup_steps=5,
                                               decay_steps=5)]),
     r"cosine_kwargs\[0\]=.*decay_steps=5 is below the accepted minimum 6"),
    ("sgdr_schedule", dict(cosine_kwargs=[dict(peak_value=0.1, decay_steps=5)]),
     r"cosine_kwargs\[0\]=.*missing"),
    ("tutorial_step_decay", dict(init_value=0.1, every=0), r"every=0 is below the accepted minimum 1"),
    ("tutorial_step_decay", dict(init_value=0.1, factor=0.0), r"factor=0.0 is outside"),
    ("step_decay", dict(init_value=0.1, every=10, factor=0.5, steps_per_epoch=0),
     r"steps_per_epoch=0 is below the accepted minimum 1"),
]


@pytest.mark.parametrize(("name", "kw", "match"), BAD, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD)])
def test_bad_arguments_raise_config_error(name, kw, match):
    with pytest.raises(ConfigError, match=match):
        getattr(schedules, name)(**kw)


def test_unknown_interpolation_is_an_unknown_name_error():
    with pytest.raises(UnknownNameError, match=r"Accepted interpolate_type values: cosine, linear"):
        schedules.piecewise_interpolate_schedule("cubic", 0.1)
