"""Every hand-written rule against its optax twin, driven by `jaxgd.reference.OPTIMIZERS`.

Capabilities live in the table (Row fields), test-only settings in row_settings.py
(keyed by row id); no test body names an optimizer.
"""

from __future__ import annotations

import inspect

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from lockstep import at, gradient_stream, lockstep
from row_settings import SETTINGS

from jaxgd import ConfigError
from jaxgd.crosscheck.rows import example_loss, objective_extras
from jaxgd.reference import OPTIMIZERS
from jaxgd.training.problems import descend, parabola, rosenbrock

STEPS = 200
ROWS = {r.id: r for r in OPTIMIZERS}


@pytest.fixture(autouse=True, scope="module")
def fast_compiles():
    """These tests compile a few hundred small programs: skip XLA's slow optimisation
    passes (numerics stay IEEE; hand and optax are compiled alike), then restore."""
    before = jax.config.values["jax_disable_most_optimizations"]
    jax.config.update("jax_disable_most_optimizations", True)
    yield
    jax.config.update("jax_disable_most_optimizations", before)


def random_tree(dtype):
    """Nested dict/tuple/list with a 0-d leaf and a zero-size leaf."""
    k = jax.random.split(jax.random.key(0), 2)
    return {
        "w": jax.random.normal(k[0], (3, 4), dtype),
        "nested": (
            {"b": jax.random.normal(k[1], (4,), dtype)},
            [jnp.asarray(0.5, dtype), jnp.zeros((0, 3), dtype)],
        ),
    }


def decaying(lr):
    return lambda count: lr * 0.99 ** count


def value_arg(row, value):
    """The extra update() arguments of rows that need them: ``fn(g, p) -> dict`` for `run`; a
    loss row's come from `example_loss` (`objective_extras`)."""
    if row.mode == "loss":
        made = objective_extras(row.extra, example_loss)
        return lambda g, p: {k: f(g, p) for k, f in made.items()}
    return (lambda g, p: {"value": value(g)}) if "value" in row.extra else None


def row_lockstep(row, kwargs, params, grads, scheduled):
    """Both rules of the row over the same gradient stream: ``(hand Run, optax Run)``."""
    kw = dict(kwargs)
    if scheduled:
        kw["learning_rate"] = decaying(kw["learning_rate"])
    extra = value_arg(row, lambda g: jnp.sum(jax.tree.leaves(g)[0]))
    loss_fn = example_loss if row.mode == "loss" else None  # the rule evaluates it: no stream
    return lockstep(row.hand(**kw), row.ref(**kw), params, grads, extra, loss_fn)


def assert_close_rel(a, b, rtol, what):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        if x.size == 0:
            continue
        scale = 1.0 + float(jnp.max(jnp.abs(y)))
        dev = float(jnp.max(jnp.abs(x - y)))
        assert dev <= rtol * scale, f"{what}: max |hand - optax| = {dev:.3g} > {rtol:.1g} * {scale:.3g}"


def hyper_start(row):
    """The row's own values of its drawable hyperparameters (kwargs, else the default)."""
    sig = inspect.signature(row.hand).parameters
    return {k: row.kwargs.get(k, sig[k].default) for k in SETTINGS[row.id].ranges}


def check_lockstep(runs, params, rtol, what):
    hand, ref = runs
    chex.assert_trees_all_equal_shapes_and_dtypes(hand.updates, ref.updates)
    for r in runs:  # state survives lax.scan
        chex.assert_trees_all_equal_shapes_and_dtypes(r.state, r.init)
        chex.assert_trees_all_equal_shapes_and_dtypes(at(r.params, -1), params)
    assert_close_rel(hand.updates, ref.updates, rtol, f"updates, {what}")
    assert_close_rel(hand.params, ref.params, rtol, f"params, {what}")


def test_every_row_has_test_settings_and_no_settings_id_is_stale():
    ids = [r.id for r in OPTIMIZERS]
    assert len(set(ids)) == len(ids), f"duplicate row ids: {sorted(i for i in ids if ids.count(i) > 1)}"
    missing = sorted(set(ids) - set(SETTINGS))
    stale = sorted(set(SETTINGS) - set(ids))
    assert not missing, f"rows without an entry in tests/optimizers/row_settings.py: {missing}"
    assert not stale, f"row_settings.py keys that are no row id of OPTIMIZERS: {stale}"
    for r in OPTIMIZERS:  # drawn and refused arguments are the rule's own
        test, params = SETTINGS[r.id], inspect.signature(r.hand).parameters
        named = set(test.ranges) | {k for bad, _ in test.invalid for k in bad} | set(test.minimize or {})
        assert named <= set(params), f"{r.id}: {sorted(named - set(params))} are no arguments of {r.hand}"



def radam_branches_part(kw: dict, drawn: tuple = ()) -> bool:
    """Whether RAdam's switch ``rho_t >= threshold`` goes two ways between the sides at some step.

    optax computes ``rho_t = rho_inf - 2 t b2**t / (1 - b2**t)`` directly: in float32 it is off
    by up to ~1e-4 of rho_inf (0.04 at t = 28 with b2 = 0.999; documented on the radam rows),
    jaxgd's series form is exact to rounding. A drawn threshold between the two values of some
    rho_t (27.84375: optax 27.826, exact 27.869) sends the sides down different branches.
    optax's value is recomputed as optax runs it: one scalar step at a time, compiled, with the
    ``drawn`` keys traced in float32 and the others Python constants (as `run_all` has them).
    """
    if "threshold" not in kw:
        return False
    traced = {k: jnp.float32(kw[k]) for k in drawn if k in ("b2", "threshold")}

    @jax.jit
    def optax_rho(traced):
        b2 = traced.get("b2", kw.get("b2", 0.999))

        def one(t):
            b2t = b2**t
            return (2 / (1 - b2) - 1) - 2 * t * b2t / (1 - b2t)

        return jax.lax.map(one, jnp.arange(1, STEPS + 1, dtype=jnp.int32))

    b = float(np.float32(kw.get("b2", 0.999))) if "b2" in drawn else float(kw.get("b2", 0.999))
    t = np.arange(1, STEPS + 1, dtype=np.float64)
    exact = (2 / (1 - b) - 1) - 2 * t * np.exp(t * np.log(b)) / -np.expm1(t * np.log(b))
    thr = float(np.float32(kw["threshold"]))
    return bool(np.any((np.asarray(optax_rho(traced), np.float64) >= thr) != (exact >= thr)))


def test_radam_threshold_27_84375_parted_the_sides_at_step_28():
    # the drawn threshold that failed: optax's float32 rho_28 = 27.826 < 27.84375 <= 27.869
    assert radam_branches_part({"threshold": 27.84375}, drawn=("threshold",))
    assert not radam_branches_part({"threshold": 27.8}, drawn=("threshold",))
    assert not radam_branches_part({"threshold": 50.0})
    assert not radam_branches_part({"learning_rate": 0.01})


@pytest.mark.parametrize("row", OPTIMIZERS, ids=[r.id for r in OPTIMIZERS])
def test_float32_agreement_and_drawn_hyperparameters(row):
    """One compiled program per row, called once with the row's values and then with
    hyperparameters drawn by hypothesis (traced, so never recompiled): hand == optax per
    step over 200 steps, constant and decaying lr (float32). Low precision, complex
    params and zero gradients: test_precision.py.
    """
    test = SETTINGS[row.id]
    p32 = random_tree(jnp.float32)
    g32 = gradient_stream(p32, STEPS)
    variants = (False, True) if row.schedule else (False,)
    chex.clear_trace_counter()  # the counter is keyed by code location, shared across rows

    @jax.jit
    @chex.assert_max_traces(n=1)
    def run_all(hyper):
        kw = {**row.kwargs, **hyper}
        return {"lockstep": [row_lockstep(row, kw, p32, g32, scheduled=v) for v in variants]}

    out = run_all({k: jnp.float32(v) for k, v in hyper_start(row).items()})
    for v, runs in zip(variants, out["lockstep"], strict=True):
        check_lockstep(runs, p32, row.rtol32, "decaying lr" if v else "constant lr")
    if not test.ranges:
        return

    @settings(max_examples=4, deadline=None, database=None)
    @given(st.fixed_dictionaries({k: st.floats(lo, hi) for k, (lo, hi) in test.ranges.items()}))
    def drawn(hyper):
        assume(not radam_branches_part({**row.kwargs, **hyper}, drawn=tuple(hyper)))
        runs = run_all({k: jnp.float32(v) for k, v in hyper.items()})["lockstep"][0]
        check_lockstep(runs, p32, row.rtol32 * 10, f"drawn {hyper}")

    drawn()


@pytest.mark.parametrize("row", OPTIMIZERS, ids=[r.id for r in OPTIMIZERS])
def test_float64_agreement(row, x64):
    """hand == optax per step over 200 steps in float64, constant and decaying lr."""
    params = random_tree(jnp.float64)
    grads = gradient_stream(params, STEPS)
    variants = (False, True) if row.schedule else (False,)
    run_all = jax.jit(lambda p, g: [row_lockstep(row, row.kwargs, p, g, scheduled=v) for v in variants])
    for v, runs in zip(variants, run_all(params, grads), strict=True):
        check_lockstep(runs, params, row.rtol64, "decaying lr" if v else "constant lr")


MINIMIZERS = [r for r in OPTIMIZERS if SETTINGS[r.id].minimize]


@pytest.mark.parametrize("row", MINIMIZERS, ids=[r.id for r in MINIMIZERS])
def test_reaches_minimum_of_parabola_and_rosenbrock(row):
    test = SETTINGS[row.id]
    problems = (parabola(), rosenbrock())
    tols = (test.parabola_tol, test.rosen_tol)
    tx = row.hand(**test.minimize)
    descend_all = jax.jit(lambda: [descend(pb.f, pb.x0, tx, test.steps, extras=row.extra)
                                   for pb in problems])
    for pb, tol, (x, values) in zip(problems, tols, descend_all(), strict=True):
        dist = float(jnp.max(jnp.abs(x - pb.x_star)))
        assert dist <= tol, f"{row.id} on {pb.name}: |x - x*| = {dist:.3g} > {tol}"
        assert float(values[-1]) < float(values[0])


def _id(value) -> str:
    """A test id that is the same in every process: a function by name, not by address."""
    return getattr(value, "__name__", None) or str(value) if callable(value) else str(value)


INVALID = [(r, bad, arg) for r in OPTIMIZERS for bad, arg in SETTINGS[r.id].invalid]


@pytest.mark.parametrize(("row", "bad", "arg"), INVALID,
                         ids=[f"{r.id}-{a}={_id(b[a])}" for r, b, a in INVALID])
@pytest.mark.parametrize("side", ["hand", "ref"])
def test_rejects_invalid_hyperparameters(row, bad, arg, side):
    factory = row.hand if side == "hand" else row.ref
    with pytest.raises(ConfigError, match=rf"{arg}=") as err:
        factory(**{**row.kwargs, **bad})
    assert "accepted" in str(err.value) or "must" in str(err.value)


@pytest.mark.parametrize("row", OPTIMIZERS, ids=[r.id for r in OPTIMIZERS])
def test_init_on_shape_dtype_structs(row):
    params = random_tree(jnp.float32)
    abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), params)
    tx = row.hand(**row.kwargs)
    state = jax.eval_shape(tx.init, abstract)
    chex.assert_trees_all_equal_shapes_and_dtypes(state, tx.init(params))


