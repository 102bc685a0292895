"""The benchmark compares equal work: every baseline trains to the same parameters."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxgd import reference
from jaxgd.benchmark import baselines as B
from jaxgd.benchmark import run_bench
from jaxgd.benchmark.report import markdown
from jaxgd.benchmark.workloads import index_table, mlp_flops
from jaxgd.data import sine, xor
from jaxgd.nn.losses import make_loss_fn
from jaxgd.nn.models import init_mlp
from jaxgd.optimizers import sgd
from jaxgd.training.engine import fit


def test_w1_baselines_reach_jaxgds_parameters():
    ds = xor()
    params = init_mlp(jax.random.key(0), (2, 3, 1))
    epochs = 200
    res = fit(make_loss_fn("mse", "sigmoid", "sigmoid"), params, sgd(0.5), ds.x, ds.y, epochs=epochs)
    want = np.asarray(res.state.params[0].w)
    tuples = B.as_tuples(params)
    loss = B.bare_loss("mse", jax.nn.sigmoid)
    tx = reference.sgd(0.5)
    idx = index_table(jax.random.key(1), 4, 4, epochs)
    got = {
        "bare": B.bare_scan(loss, tx, tuples, ds.x, ds.y, 4, epochs, jax.random.key(1))()[0][0][0],
        "bare+loss": B.bare_scan(loss, tx, tuples, ds.x, ds.y, 4, epochs, jax.random.key(1),
                                 record_loss=True)()[0][0][0],
        "python loop": B.python_loop(loss, tx, tuples, ds.x, ds.y, idx)()[0][0],
        "numpy": B.numpy_loop("mse", "sigmoid", {"name": "sgd", "lr": 0.5}, tuples, ds.x, ds.y, idx)()[0][0],
    }
    for name, w in got.items():
        np.testing.assert_allclose(np.asarray(w), want, rtol=1e-4, atol=1e-5, err_msg=name)


def test_numpy_minibatch_adam_matches_optax_adam():
    ds = sine(jax.random.key(0), n=32)
    params = init_mlp(jax.random.key(1), (1, 8, 10), "he")
    y = jnp.asarray(np.arange(32) % 10, jnp.int32)
    idx = index_table(jax.random.key(2), 32, 8, 3)
    tuples = B.as_tuples(params)
    opt = {"name": "adam", "lr": 1e-2}
    ref = B.python_loop(B.bare_loss("ce", jax.nn.relu), reference.adam(1e-2), tuples, ds.x, y, idx)()
    mine = B.numpy_loop("ce", "relu", opt, tuples, ds.x, y, idx)()
    for (w_ref, _), (w, _) in zip(ref, mine, strict=True):
        np.testing.assert_allclose(w, np.asarray(w_ref), rtol=1e-3, atol=1e-5)


def test_training_flops_count_the_input_gradient_only_above_the_first_layer():
    # forward + weight gradient everywhere (2 * 2*B*in*out), input gradient above layer 1
    assert mlp_flops((4, 3, 2), batch=5, steps=1) == 2 * (2 * 5 * 12) + 3 * (2 * 5 * 6)


def test_quick_bench_runs_and_reports():
    res = run_bench(("W1",), repeats=1, quick=True, end_to_end=False)
    rows = {r["name"]: r for r in res["workloads"][0]["rows"]}
    assert rows["jaxgd (hand)"]["ratio_to_jaxgd"] == 1.0
    assert rows["NumPy (the tutorial's way)"]["median_s"] > rows["jaxgd (hand)"]["median_s"]
    assert all(r["compile_s"] >= 0 and r["min_s"] <= r["median_s"] <= r["max_s"] for r in rows.values())
    assert "| jaxgd (hand) |" in markdown(res)


def test_sweep_matmul_work_matches_xla_cost_analysis():
    # an independent count: XLA's own flops for one training step and one evaluation pass
    from jaxgd.benchmark.sweep_bare import matmul_gflop
    sizes, batch = (64, 128, 10), 32
    params = init_mlp(jax.random.key(0), sizes, init="he")
    loss = make_loss_fn("softmax_ce", "relu", "identity")
    x, y = jnp.ones((batch, 64)), jnp.zeros((batch,), jnp.int32)
    step = jax.jit(jax.grad(loss)).lower(params, x, y).compile().cost_analysis()
    fwd = jax.jit(loss).lower(params, x, y).compile().cost_analysis()
    step, fwd = (c[0] if isinstance(c, list) else c for c in (step, fwd))
    want = (step["flops"] + fwd["flops"]) / 1e9
    got = matmul_gflop(sizes, batch, batch, epochs=1, evals=1, runs=1)
    assert abs(got - want) / want < 0.05, (got, want)
