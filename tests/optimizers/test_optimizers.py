"""Every hand-written rule against its optax twin, driven by `jaxgd.reference.OPTIMIZERS`.

Capabilities live in the table (Row fields); no test body names an optimizer.
"""

from __future__ import annotations

import inspect

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxgd import ConfigError
from jaxgd.core.transform import apply_updates
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


def hyper_start(row):
    """The row's own values of its drawable hyperparameters (kwargs, else the default)."""
    sig = inspect.signature(row.hand).parameters
    return {k: row.kwargs.get(k, sig[k].default) for k in row.ranges}


def scan_hand(row, params, grads):
    """The hand rule alone over a short gradient stream: (params, state, initial state)."""
    tx = row.hand(**row.kwargs)
    state0 = tx.init(params)

    def body(carry, g):
        p, s = carry
        extra = {"value": jnp.asarray(1.0, jax.tree.leaves(g)[0].dtype)} if "value" in row.extra else {}
        u, s = tx.update(g, s, p, **extra)
        return (apply_updates(p, u), s), None

    (p, s), _ = jax.lax.scan(body, (params, state0), grads)
    return p, s, state0


def zero_steps(row, params):
    """Three updates with zero gradients."""
    tx = row.hand(**row.kwargs)
    zeros = jax.tree.map(jnp.zeros_like, params)
    extra = {"value": jnp.float32(0.0)} if "value" in row.extra else {}
    state = tx.init(params)
    for _ in range(3):
        updates, state = tx.update(zeros, state, params, **extra)
        params = apply_updates(params, updates)
    return params


def check_lockstep(row, hist, init, final, params, rtol, what):
    (u_h, p_h), (u_r, p_r) = hist
    chex.assert_trees_all_equal_shapes_and_dtypes(u_h, u_r)
    for (_, s0), (p1, s1) in zip(init, final, strict=True):  # state survives lax.scan
        chex.assert_trees_all_equal_shapes_and_dtypes(s1, s0)
        chex.assert_trees_all_equal_shapes_and_dtypes(p1, params)
    assert_close_rel(u_h, u_r, rtol, f"updates, {what}")
    assert_close_rel(p_h, p_r, rtol, f"params, {what}")


@pytest.mark.parametrize("row", OPTIMIZERS, ids=[r.id for r in OPTIMIZERS])
def test_float32_agreement_hyperparameters_bf16_zero_grads(row):
    """One compiled program per row, called once with the row's values and then with
    hyperparameters drawn by hypothesis (traced, so never recompiled):

    - hand == optax per step over 200 steps, constant and decaying lr (float32);
    - bf16 params: the state keeps its structure, shapes and dtypes through lax.scan;
    - zero gradients leave the params unchanged (rows where the rule says so).
    """
    p32 = random_tree(jnp.float32)
    g32 = gradient_stream(p32, STEPS)
    pbf = random_tree(jnp.bfloat16)
    gbf = gradient_stream(pbf, 3)
    variants = (False, True) if row.schedule else (False,)
    chex.clear_trace_counter()  # the counter is keyed by code location, shared across rows

    @jax.jit
    @chex.assert_max_traces(n=1)
    def run(hyper):
        kw = {**row.kwargs, **hyper}
        out = {"lockstep": [lockstep(row, kw, p32, g32, scheduled=v) for v in variants],
               "bf16": scan_hand(row, pbf, gbf)}
        if row.zero_grad_fixed:
            out["zero"] = zero_steps(row, p32)
        return out

    out = run({k: jnp.float32(v) for k, v in hyper_start(row).items()})
    for v, (hist, init, final) in zip(variants, out["lockstep"], strict=True):
        check_lockstep(row, hist, init, final, p32, row.rtol32, "decaying lr" if v else "constant lr")
    p_bf, s_bf, s0_bf = out["bf16"]
    chex.assert_trees_all_equal_shapes_and_dtypes(s_bf, s0_bf)
    chex.assert_trees_all_equal_shapes_and_dtypes(p_bf, pbf)
    if row.zero_grad_fixed:
        for a, b in zip(jax.tree.leaves(out["zero"]), jax.tree.leaves(p32), strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    if not row.ranges:
        return

    @settings(max_examples=4, deadline=None, database=None)
    @given(st.fixed_dictionaries({k: st.floats(lo, hi) for k, (lo, hi) in row.ranges.items()}))
    def drawn(hyper):
        hist, init, final = run({k: jnp.float32(v) for k, v in hyper.items()})["lockstep"][0]
        check_lockstep(row, hist, init, final, p32, row.rtol32 * 10, f"drawn {hyper}")

    drawn()


@pytest.mark.parametrize("row", OPTIMIZERS, ids=[r.id for r in OPTIMIZERS])
def test_float64_agreement(row, x64):
    """hand == optax per step over 200 steps in float64, constant and decaying lr."""
    params = random_tree(jnp.float64)
    grads = gradient_stream(params, STEPS)
    variants = (False, True) if row.schedule else (False,)
    run = jax.jit(lambda p, g: [lockstep(row, row.kwargs, p, g, scheduled=v) for v in variants])
    for v, (hist, init, final) in zip(variants, run(params, grads), strict=True):
        check_lockstep(row, hist, init, final, params, row.rtol64, "decaying lr" if v else "constant lr")


MINIMIZERS = [r for r in OPTIMIZERS if r.minimize]


@pytest.mark.parametrize("row", MINIMIZERS, ids=[r.id for r in MINIMIZERS])
def test_reaches_minimum_of_parabola_and_rosenbrock(row):
    problems = (parabola(), rosenbrock())
    tols = (row.parabola_tol, row.rosen_tol)
    tx = row.hand(**row.minimize)
    run = jax.jit(lambda: [descend(pb.f, pb.x0, tx, row.steps, "value" in row.extra) for pb in problems])
    for pb, tol, (x, values) in zip(problems, tols, run(), strict=True):
        dist = float(jnp.max(jnp.abs(x - pb.x_star)))
        assert dist <= tol, f"{row.id} on {pb.name}: |x - x*| = {dist:.3g} > {tol}"
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
def test_init_on_shape_dtype_structs(row):
    params = random_tree(jnp.float32)
    abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), params)
    tx = row.hand(**row.kwargs)
    state = jax.eval_shape(tx.init, abstract)
    chex.assert_trees_all_equal_shapes_and_dtypes(state, tx.init(params))


