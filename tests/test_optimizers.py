"""Every hand-written rule against its optax twin, driven by `jaxgd.reference.OPTIMIZERS`.

Capabilities live in the table (Row fields); no test body names an optimizer.
"""

from __future__ import annotations

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxgd import ConfigError
from jaxgd.base import apply_updates
from jaxgd.problems import minimize, parabola, rosenbrock
from jaxgd.reference import OPTIMIZERS

STEPS = 200
ROWS = {r.id: r for r in OPTIMIZERS}


def random_tree(dtype):
    """Nested dict/tuple/list with a 0-d leaf and a zero-size leaf."""
    k = jax.random.split(jax.random.key(0), 3)
    return {
        "w": jax.random.normal(k[0], (3, 4), dtype),
        "nested": (
            {"b": jax.random.normal(k[1], (4,), dtype)},
            [jnp.asarray(0.5, dtype), jnp.zeros((0, 3), dtype)],
        ),
        "v": jax.random.normal(k[2], (5,), dtype),
    }


def gradient_stream(params, steps, seed=42):
    """``steps`` random gradients shaped like params (a leading steps axis)."""
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    return treedef.unflatten([
        jax.random.normal(k, (steps,) + x.shape, x.dtype) for k, x in zip(keys, leaves, strict=True)
    ])


def decaying(lr):
    return lambda count: lr * 0.99 ** count


def lockstep(row, kwargs, params, grads, scheduled):
    """Run both rules on the same gradient stream; return per-step updates and params."""
    kw = dict(kwargs)
    if scheduled:
        kw["learning_rate"] = decaying(kw["learning_rate"])
    txs = (row.hand(**kw), row.ref(**kw))

    def body(carry, g):
        out = []
        for tx, (p, s) in zip(txs, carry, strict=True):
            extra = {"value": jnp.sum(jax.tree.leaves(g)[0])} if "value" in row.extra else {}
            u, s = tx.update(g, s, p, **extra)
            out.append((apply_updates(p, u), s, u))
        return tuple((p, s) for p, s, _ in out), tuple((u, p) for p, _, u in out)

    init = tuple((params, tx.init(params)) for tx in txs)
    final, hist = jax.lax.scan(body, init, grads)
    return hist, init, final


def assert_close_rel(a, b, rtol, what):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        if x.size == 0:
            continue
        scale = 1.0 + float(jnp.max(jnp.abs(y)))
        dev = float(jnp.max(jnp.abs(x - y)))
        assert dev <= rtol * scale, f"{what}: max |hand - optax| = {dev:.3g} > {rtol:.1g} * {scale:.3g}"


def check_agreement(row, kwargs, dtype, scheduled, rtol):
    params = random_tree(dtype)
    grads = gradient_stream(params, STEPS)
    hist, init, final = jax.jit(
        functools.partial(lockstep, row, kwargs, scheduled=scheduled))(params, grads)
    (u_h, p_h), (u_r, p_r) = hist
    chex.assert_trees_all_equal_shapes_and_dtypes(u_h, u_r)
    for (_, s0), (p1, s1) in zip(init, final, strict=True):  # state survives lax.scan
        chex.assert_trees_all_equal_shapes_and_dtypes(s1, s0)
        chex.assert_trees_all_equal_shapes_and_dtypes(p1, params)
    assert_close_rel(u_h, u_r, rtol, "updates")
    assert_close_rel(p_h, p_r, rtol, "params")


SCHED_ROWS = [(r, s) for r in OPTIMIZERS for s in ((False, True) if r.schedule else (False,))]


@pytest.mark.parametrize(("row", "scheduled"), SCHED_ROWS,
                         ids=[f"{r.id}-{'sched' if s else 'const'}" for r, s in SCHED_ROWS])
def test_agrees_with_optax_float32(row, scheduled):
    check_agreement(row, row.kwargs, jnp.float32, scheduled, row.rtol32)


@pytest.mark.parametrize(("row", "scheduled"), SCHED_ROWS,
                         ids=[f"{r.id}-{'sched' if s else 'const'}" for r, s in SCHED_ROWS])
def test_agrees_with_optax_float64(row, scheduled, x64):
    check_agreement(row, row.kwargs, jnp.float64, scheduled, row.rtol64)


RANGED = [r for r in OPTIMIZERS if r.ranges]


@pytest.mark.parametrize("row", RANGED, ids=[r.id for r in RANGED])
def test_agrees_on_drawn_hyperparameters(row):
    """Hyperparameters drawn within their valid ranges; traced, so compiled once per row."""
    params = random_tree(jnp.float32)
    grads = gradient_stream(params, 50)

    @jax.jit
    def run(hyper):
        return lockstep(row, {**row.kwargs, **hyper}, params, grads, scheduled=False)

    strategies = {k: st.floats(lo, hi) for k, (lo, hi) in row.ranges.items()}

    @settings(max_examples=4, deadline=None, database=None)
    @given(st.fixed_dictionaries(strategies))
    def check(hyper):
        ((u_h, p_h), (u_r, p_r)), _, _ = run({k: jnp.float32(v) for k, v in hyper.items()})
        assert_close_rel(u_h, u_r, row.rtol32 * 10, f"updates with {hyper}")
        assert_close_rel(p_h, p_r, row.rtol32 * 10, f"params with {hyper}")

    check()


MINIMIZERS = [(r, pb) for r in OPTIMIZERS if r.minimize for pb in ("parabola", "rosenbrock")]


@pytest.mark.parametrize(("row", "problem"), MINIMIZERS,
                         ids=[f"{r.id}-{p}" for r, p in MINIMIZERS])
def test_reaches_minimum(row, problem):
    pb = parabola() if problem == "parabola" else rosenbrock()
    tol = row.parabola_tol if problem == "parabola" else row.rosen_tol
    x, values = minimize(pb.f, pb.x0, row.hand(**row.minimize), row.steps,
                         extra_value="value" in row.extra)
    dist = float(jnp.max(jnp.abs(x - pb.x_star)))
    assert dist <= tol, f"{row.id} on {problem}: |x - x*| = {dist:.3g} > {tol}"
    assert float(values[-1]) < float(values[0])


INVALID = [(r, bad, arg) for r in OPTIMIZERS for bad, arg in r.invalid]


@pytest.mark.parametrize(("row", "bad", "arg"), INVALID,
                         ids=[f"{r.id}-{a}={b[a]}" for r, b, a in INVALID])
@pytest.mark.parametrize("side", ["hand", "ref"])
def test_rejects_invalid_hyperparameters(row, bad, arg, side):
    factory = row.hand if side == "hand" else row.ref
    with pytest.raises(ConfigError, match=rf"{arg}=") as err:
        factory(**{**row.kwargs, **bad})
    assert "accepted" in str(err.value) or "must" in str(err.value)


@pytest.mark.parametrize("row", OPTIMIZERS, ids=[r.id for r in OPTIMIZERS])
def test_bfloat16_state_survives_scan_and_no_retrace(row):
    """bf16 params: state keeps structure, shapes and dtypes; a second call does not retrace.

    float32 and float64 are covered by the agreement tests, which also scan."""
    for dtype in (jnp.bfloat16,):
        params = random_tree(dtype)
        tx = row.hand(**row.kwargs)
        state0 = tx.init(params)

        @jax.jit
        @chex.assert_max_traces(n=1)
        def run(params, state, grads, tx=tx, dtype=dtype):
            def body(carry, g):
                p, s = carry
                extra = {"value": jnp.asarray(1.0, dtype)} if "value" in row.extra else {}
                u, s = tx.update(g, s, p, **extra)
                return (apply_updates(p, u), s), None

            return jax.lax.scan(body, (params, state), grads)[0]

        grads = gradient_stream(params, 3)
        p1, s1 = run(params, state0, grads)
        p2, s2 = run(p1, s1, grads)  # second call: same shapes, no retrace
        chex.assert_trees_all_equal_shapes_and_dtypes(s2, state0)
        chex.assert_trees_all_equal_shapes_and_dtypes(p2, params)
        chex.clear_trace_counter()


@pytest.mark.parametrize("row", OPTIMIZERS, ids=[r.id for r in OPTIMIZERS])
def test_init_on_shape_dtype_structs(row):
    params = random_tree(jnp.float32)
    abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), params)
    tx = row.hand(**row.kwargs)
    state = jax.eval_shape(tx.init, abstract)
    chex.assert_trees_all_equal_shapes_and_dtypes(state, tx.init(params))


ZERO = [r for r in OPTIMIZERS if r.zero_grad_fixed]


@pytest.mark.parametrize("row", ZERO, ids=[r.id for r in ZERO])
def test_zero_gradients_leave_params_unchanged(row):
    params = random_tree(jnp.float32)
    tx = row.hand(**row.kwargs)
    zeros = jax.tree.map(jnp.zeros_like, params)
    extra = {"value": jnp.float32(0.0)} if "value" in row.extra else {}

    @jax.jit
    def three_steps(params):
        state = tx.init(params)
        for _ in range(3):
            updates, state = tx.update(zeros, state, params, **extra)
            params = apply_updates(params, updates)
        return params

    new = three_steps(params)
    for a, b in zip(jax.tree.leaves(new), jax.tree.leaves(params), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
