"""Every row of the optimizer table in float16, bfloat16, float32 and complex64, against
the same rule run in float64 (complex128) on the same inputs.

Properties, per row and dtype, float64 and complex128 included (hypothesis draws the
gradient stream's seed and scale):

- zero gradients give finite updates, and exactly 0 where the rule says so (the row's
  ``zero_grad_fixed`` setting);
- finite gradients give finite updates;
- over 50 steps (after the zero ones), updates and params stay within the rounding tolerance of the float64
  run: ``|x - x64| <= ROUNDING_K * eps * sqrt(t + 1) * (S + |x64|)`` per leaf (S: the
  leaf's largest float64 magnitude), the tolerance `jaxgd crosscheck --oracle` uses;
  unless the table documents the hand rule's departure in that dtype (``Row.known``);
- the state keeps its structure, shapes and dtypes through the run;
- a row that takes real params only (``Row.complex`` False) refuses complex64 by name.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from row_settings import SETTINGS

from jaxgd import optimizers as o
from jaxgd.core.precision import UnsupportedDtypeError
from jaxgd.core.transform import apply_updates
from jaxgd.crosscheck.oracle import ROUNDING_K
from jaxgd.crosscheck.rows import example_loss, objective_extras
from jaxgd.reference import OPTIMIZERS

STEPS, ZERO_STEPS = 50, 8
DTYPES = ("float16", "bfloat16", "float32", "complex64")
PHASE = np.exp(0.7j)  # complex64 params and gradients: real ones turned by a fixed phase


@pytest.fixture(autouse=True, scope="module")
def fast_compiles():
    """Skip XLA's slow optimisation passes (numerics stay IEEE), then restore."""
    before = jax.config.values["jax_disable_most_optimizations"]
    jax.config.update("jax_disable_most_optimizations", True)
    yield
    jax.config.update("jax_disable_most_optimizations", before)


def base_tree(seed: int, shape_prefix: tuple = ()) -> dict:
    """Float64 NumPy values for a (3, 4) matrix and a scalar (a weight and a 0-d leaf: masks by
    ndim, per-leaf norms and a global norm across leaves all see two different leaves)."""
    rng = np.random.default_rng(seed)
    return {"w": rng.standard_normal((*shape_prefix, 3, 4)),
            "s": rng.standard_normal(shape_prefix) if shape_prefix else np.float64(0.5)}


def in_dtype(tree: dict, dtype: str) -> dict:
    """``tree`` rounded to ``dtype`` (complex: turned by PHASE first)."""
    turn = PHASE if dtype.startswith("complex") else 1.0
    return {k: jnp.asarray(np.asarray(v) * turn).astype(dtype) for k, v in tree.items()}


def widened(tree: dict) -> dict:
    """The same values in float64 (complex128): exactly representable there."""
    wide = lambda x: np.asarray(x).astype(np.complex128 if np.iscomplexobj(x) else np.float64)
    return {k: wide(v) for k, v in tree.items()}


def run(tx, params, grads, extra, loss_fn=None):
    """``tx`` over the stream (with ``loss_fn``: on its gradients, the stream setting the
    number of steps): per step ``(updates, params)``, and the final state."""
    def body(carry, g):
        p, s = carry
        if loss_fn is not None:
            g = jax.grad(loss_fn)(p)
        u, s = tx.update(g, s, p, **(extra(g, p) if extra else {}))
        p = apply_updates(p, u)
        return (p, s), (u, p)

    (_, state), (updates, params_t) = jax.lax.scan(body, (params, tx.init(params)), grads)
    return updates, params_t, state


def value_arg(row):
    if row.mode == "loss":  # the rule evaluates the objective itself
        made = objective_extras(row.extra, example_loss)
        return lambda g, p: {k: f(g, p) for k, f in made.items()}
    return (lambda g, p: {"value": sum(jnp.sum(jnp.abs(x) ** 2) for x in jax.tree.leaves(g)) / 2}) \
        if "value" in row.extra else None


def loss_of(row):
    return example_loss if row.mode == "loss" else None


def dtypes_of(row) -> tuple[str, ...]:
    return tuple(d for d in DTYPES if row.complex or not d.startswith("complex"))


def assert_within_rounding(low, wide, dtype, what, k: float = 1.0):
    eps = k * float(jnp.finfo(dtype).eps)
    for (path, x), y in zip(jax.tree_util.tree_flatten_with_path(low)[0], jax.tree.leaves(wide),
                            strict=True):
        x, y = np.asarray(x, np.complex128), np.asarray(y, np.complex128)
        steps = x.shape[0]
        d = np.abs(x - y).reshape(steps, -1).max(axis=1)
        m = np.abs(y).reshape(steps, -1).max(axis=1)
        tol = ROUNDING_K * eps * np.sqrt(np.arange(1, steps + 1)) * (m.max() + m)
        bad = np.flatnonzero(~(d <= tol))
        assert not bad.size, (f"{what} {jax.tree_util.keystr(path)} in {dtype} departs from float64 at "
                              f"step {bad[0]}: |d| {d[bad[0]]:.3g} > tol {tol[bad[0]]:.3g}")


@pytest.mark.parametrize("row", OPTIMIZERS, ids=[r.id for r in OPTIMIZERS])
def test_low_precision_stays_within_rounding_of_float64(row):
    dtypes = dtypes_of(row)
    tx, extra = row.hand(**row.kwargs), value_arg(row)
    zero_fixed = SETTINGS[row.id].zero_grad_fixed

    # one scan per dtype: ZERO_STEPS zero gradients from the fresh state, then STEPS random ones
    loss_fn = loss_of(row)
    low = jax.jit(lambda params, grads: {d: run(tx, params[d], grads[d], extra, loss_fn) for d in dtypes})
    with jax.enable_x64(True):
        tx64 = row.hand(**row.kwargs)
        wide = jax.jit(lambda params, grads: {d: run(tx64, params[d], grads[d], extra, loss_fn)
                                              for d in dtypes})

    def check(seed, scale):
        params = {d: in_dtype(base_tree(seed), d) for d in dtypes}
        stream = {k: np.concatenate([np.zeros_like(v[:ZERO_STEPS]), scale * v])
                  for k, v in base_tree(seed + 1, (ZERO_STEPS + STEPS,)).items()}
        grads = {d: in_dtype(stream, d) for d in dtypes}
        out = low(params, grads)
        with jax.enable_x64(True):
            ref = wide({d: widened(params[d]) for d in dtypes}, {d: widened(grads[d]) for d in dtypes})
        for d in dtypes:
            updates, params_t, state = out[d]
            chex.assert_trees_all_equal_shapes_and_dtypes(state, tx.init(params[d]))  # state dtypes kept
            chex.assert_trees_all_equal_shapes_and_dtypes(jax.tree.map(lambda x: x[-1], params_t), params[d])
            wide_name = "complex128" if d.startswith("complex") else "float64"
            for name, run_updates in ((d, updates), (wide_name, ref[d][0])):
                for x in (np.asarray(x, np.complex128) for x in jax.tree.leaves(run_updates)):
                    assert np.isfinite(x[:ZERO_STEPS]).all(), f"zero gradients, {name}: not finite"
                    assert not (zero_fixed and x[:ZERO_STEPS].any()), f"zero gradients, {name}: update not 0"
                    assert np.isfinite(x).all(), f"seed {seed}, {name}: not finite"
            known = row.known_for(d)
            if known is None or "hand" not in known.sides:
                k = SETTINGS[row.id].rounding_k
                assert_within_rounding(updates, ref[d][0], d, f"seed {seed}: updates", k)
                assert_within_rounding(params_t, ref[d][1], d, f"seed {seed}: params", k)

    check(0, 1.0)

    @settings(max_examples=2, deadline=None, database=None)
    @given(st.integers(1, 10**6), st.floats(0.1, 10.0))
    def drawn(seed, scale):
        check(seed, scale)

    drawn()


@pytest.mark.parametrize("row", [r for r in OPTIMIZERS if not r.complex], ids=lambda r: r.id)
def test_rows_without_a_complex_form_refuse_complex64_by_name(row):
    tx = row.hand(**row.kwargs)
    params = in_dtype(base_tree(0), "complex64")
    with pytest.raises(UnsupportedDtypeError, match=r"real parameters only"):
        run(tx, params, jax.tree.map(lambda x: x[None], params), value_arg(row))


@pytest.mark.parametrize(("dtype", "nu", "update"), [("bfloat16", 0.25, -1.831e-3),
                                                     ("float16", 0.7559, -1.067e-3),
                                                     ("float32", 1 - 0.999**2000, -1e-3)])
def test_moments_kept_in_the_params_dtype_stall_as_documented(dtype, nu, update):
    """docs/conventions.md: Adam's v = 0.999 v + 0.001 g**2 stored in 16 bits stops once its
    step is below half an ulp; g = 1 for 2000 steps (right: v = 1 - 0.999**2000, u = -lr)."""
    tx, p = o.adam(1e-3), jnp.ones(1, dtype)
    state, u = jax.lax.scan(lambda s, g: tx.update(g, s, p)[::-1], tx.init(p), jnp.ones((2000, 1), dtype))
    assert float(state[0].nu[0]) == pytest.approx(nu, rel=1e-3)
    assert float(u[-1][0]) == pytest.approx(update, rel=1e-3)
