"""Combinators and wrappers: behaviour the optimizer table cannot express.

Masks that hold a subtree fixed, per-group rules, gradient accumulation, skipped
non-finite steps, hyperparameters edited in the state, and closed forms for the
moving average and the clips. The per-step agreement with optax on a generic
gradient stream is in tests/test_optimizers.py (rows of jaxgd/reference/wrappers.py).
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from lockstep import at, gradient_stream, lockstep, run

from jaxgd import ConfigError
from jaxgd import optimizers as jo


def net(dtype=jnp.float32):
    """A two-part model: an encoder (a nested subtree) and a head."""
    k = jax.random.split(jax.random.key(0), 4)
    return {
        "encoder": {"w": jax.random.normal(k[0], (3, 4), dtype), "b": jax.random.normal(k[1], (4,), dtype)},
        "head": (jax.random.normal(k[2], (4, 2), dtype), jax.random.normal(k[3], (2,), dtype)),
    }


def key_paths(tree):
    return [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(tree)[0]]


# ------------------------------------------------------------------- masks and freezing

PREFIX = {"encoder": True, "head": False}  # a prefix of the params tree: whole subtrees


def test_freeze_never_moves_the_frozen_subtree_in_100_steps():
    params = net()
    tx = jo.chain(jo.freeze(PREFIX), jo.sgd(0.05, momentum=0.9))
    final = at(run(tx, params, gradient_stream(params, 100)).params, -1)
    chex.assert_trees_all_equal(final["encoder"], params["encoder"])  # bitwise
    for moved, start in zip(jax.tree.leaves(final["head"]), jax.tree.leaves(params["head"]), strict=True):
        assert float(jnp.min(jnp.abs(moved - start))) > 0.0


@pytest.mark.parametrize("mask", [PREFIX, lambda p: jax.tree.map(lambda x: x.ndim >= 2, p), True],
                         ids=["prefix", "function", "scalar"])
def test_masked_matches_optax_updates_and_state_paths(mask):
    params = net()
    grads = gradient_stream(params, 5)
    h, r = lockstep(jo.masked(jo.sgd(0.1, 0.9), mask),
                                      optax.masked(optax.sgd(0.1, 0.9), mask), params, grads)
    chex.assert_trees_all_close(h.updates, r.updates, rtol=1e-6)
    assert key_paths(h.state) == key_paths(r.state)  # MaskedState(inner_state) with MaskedNode holes
    resolved = mask(params) if callable(mask) else mask
    passed = jax.tree.map(lambda m, g: None if m else g, resolved, grads, is_leaf=lambda x: x is None)
    kept = jax.tree.map(lambda m, u: None if m else u, resolved, h.updates, is_leaf=lambda x: x is None)
    chex.assert_trees_all_equal(kept, passed)  # masked-out updates are the raw gradients


def test_masked_state_holds_placeholders_where_the_mask_is_false():
    state = jo.masked(jo.sgd(0.1, 0.9), PREFIX).init(net())
    trace = state.inner_state[0].trace
    assert isinstance(trace["head"], jo.MaskedNode)
    assert trace["encoder"]["w"].shape == (3, 4)


@pytest.mark.parametrize(("mask", "match"), [
    ({"encoder": True}, "not a prefix"),
    ({"encoder": True, "head": 1}, "not a Python bool"),
    (lambda p: jax.tree.map(lambda x: x, p), "not a Python bool"),
], ids=["structure", "int-leaf", "values"])
def test_masked_rejects_a_bad_mask(mask, match):
    with pytest.raises(ConfigError, match=match):
        jo.masked(jo.sgd(0.1), mask).init(net())


def test_masked_rejects_a_traced_mask():
    tx = jo.masked(jo.sgd(0.1), {"encoder": jnp.array(True), "head": jnp.array(False)})
    tx.init(net())  # a concrete bool array is static enough
    traced = jax.jit(lambda m: jo.masked(jo.sgd(0.1), {"encoder": m, "head": m}).init(net()))
    with pytest.raises(ConfigError, match="static"):
        traced(jnp.array(True))


def test_set_to_zero_keeps_shapes_and_dtypes():
    grads = {"a": jnp.ones((2, 3), jnp.bfloat16), "b": jnp.ones((4,), jnp.float32)}
    tx = jo.set_to_zero()
    updates, _ = tx.update(grads, tx.init(grads))
    chex.assert_trees_all_equal(updates, jax.tree.map(jnp.zeros_like, grads))
    chex.assert_trees_all_equal_dtypes(updates, grads)


def test_selective_transform_keeps_no_state_for_frozen_leaves():
    params = net()
    grads = gradient_stream(params, 4)
    h, r = lockstep(jo.selective_transform(jo.sgd(0.1, 0.9), freeze_mask=PREFIX),
                                      optax.selective_transform(optax.sgd(0.1, 0.9), freeze_mask=PREFIX),
                                      params, grads)
    chex.assert_trees_all_close(h.updates, r.updates, rtol=1e-6)
    assert key_paths(h.state) == key_paths(r.state)
    assert not any("encoder" in k for k in key_paths(h.state.inner_states["train"]))
    chex.assert_trees_all_equal(h.updates["encoder"], jax.tree.map(jnp.zeros_like, grads["encoder"]))


# ------------------------------------------------------------------- multi_transform


def test_multi_transform_applies_each_groups_rule_to_its_leaves_only():
    params = net()
    grads = gradient_stream(params, 6)
    labels = {"encoder": {"w": "plain", "b": "momentum"}, "head": "momentum"}  # a prefix at "head"
    make = lambda lib: lib.multi_transform(
        {"plain": lib.sgd(0.05), "momentum": lib.sgd(0.1, 0.9), "unused": lib.sgd(1.0, 0.5)}, labels)
    h, r = lockstep(make(jo), make(optax), params, grads)
    assert key_paths(h.state) == key_paths(r.state)
    assert set(h.state.inner_states) == {"plain", "momentum", "unused"}  # an unused label has a state too
    chex.assert_trees_all_close(h.updates, r.updates, rtol=1e-6)

    # independent reference: each rule run alone on its own leaves
    alone = lambda tx, p, g: run(tx, p, g).updates
    w_alone = alone(jo.sgd(0.05), params["encoder"]["w"], grads["encoder"]["w"])
    chex.assert_trees_all_close(h.updates["encoder"]["w"], w_alone, rtol=1e-6)
    sgd_part = {"b": params["encoder"]["b"], "head": params["head"]}
    sgd_grads = {"b": grads["encoder"]["b"], "head": grads["head"]}
    chex.assert_trees_all_close({"b": h.updates["encoder"]["b"], "head": h.updates["head"]},
                                alone(jo.sgd(0.1, 0.9), sgd_part, sgd_grads), rtol=1e-6)


def test_multi_transform_rejects_a_label_without_a_transform():
    tx = jo.multi_transform({"adam": jo.adam(0.1)}, {"encoder": "adam", "head": "sdg"})
    with pytest.raises(ConfigError, match="'sdg'"):
        tx.init(net())


# ------------------------------------------------------------------- MultiSteps


def test_multi_steps_emits_the_mean_of_k_gradients_every_k_calls():
    params = {"w": jnp.zeros((3,), jnp.float32)}
    grads = gradient_stream(params, 6)
    ms = jo.MultiSteps(jo.sgd(0.5), every_k_schedule=3)
    r = run(ms.gradient_transformation(), params, grads)
    g = np.asarray(grads["w"])
    zero = np.zeros(3, np.float32)
    expected = [zero, zero, -0.5 * g[0:3].mean(0), zero, zero, -0.5 * g[3:6].mean(0)]
    np.testing.assert_allclose(r.updates["w"], np.stack(expected), rtol=1e-6, atol=1e-7)
    steps = zip(r.states.mini_step.tolist(), r.states.gradient_step.tolist(),
                ms.has_updated(r.states).tolist(), strict=True)
    assert list(steps) == [(1, 0, False), (2, 0, False), (0, 1, True), (1, 1, False), (2, 1, False),
                           (0, 2, True)]
    chex.assert_trees_all_equal(r.state.acc_grads, {"w": jnp.zeros(3, jnp.float32)})


def test_multi_steps_sum_and_schedule_match_optax_with_state():
    params = net()
    grads = gradient_stream(params, 9)
    every_k = lambda step: jnp.where(step < 1, 2, 3)  # 2 mini-steps, then 3
    make = lambda lib: lib.MultiSteps(lib.sgd(0.1, 0.9), every_k,
                                      use_grad_mean=False).gradient_transformation()
    h, r = lockstep(make(jo), make(optax), params, grads)
    chex.assert_trees_all_close(h.updates, r.updates, rtol=1e-6)
    assert key_paths(h.state) == key_paths(r.state)
    counters = [(int(s.mini_step), int(s.gradient_step)) for s in (h.state, r.state)]
    assert counters == [(1, 3), (1, 3)]
    emitted = [t for t in range(9) if float(jnp.abs(h.updates["head"][0][t]).sum()) > 0]
    assert emitted == [1, 4, 7]


def test_multi_steps_skips_a_nan_mini_step():
    params = {"w": jnp.ones((2,), jnp.float32)}
    stream = {"w": jnp.array([[1.0, 2.0], [jnp.nan, 0.0], [3.0, 4.0]])}
    make = lambda lib: lib.MultiSteps(lib.sgd(1.0), 2, should_skip_update_fn=lib.skip_not_finite)
    h, r = lockstep(make(jo), make(optax), params, stream)
    for side in (h, r):
        np.testing.assert_allclose(side.updates["w"], [[0, 0], [0, 0], [-2.0, -3.0]])  # mean of steps 1, 3
    assert key_paths(h.state) == key_paths(r.state)
    assert int(h.state.skip_state["num_not_finite"]) == 0 and int(h.state.gradient_step) == 1


# ------------------------------------------------------------------- apply_if_finite


def test_apply_if_finite_skips_nan_steps_counts_them_and_gives_up():
    params = {"w": jnp.zeros((2,), jnp.float32)}
    stream = {"w": jnp.array([[1.0, 1.0], [jnp.nan, 1.0], [jnp.nan, 1.0], [jnp.nan, 1.0], [2.0, 2.0]])}
    make = lambda lib: lib.apply_if_finite(lib.sgd(0.1, momentum=0.5), max_consecutive_errors=2)
    hand, ref = lockstep(make(jo), make(optax), params, stream)
    u, trace = np.asarray(hand.updates["w"]), np.asarray(hand.states.inner_state[0].trace["w"])
    # step 0 applied; steps 1, 2 skipped (zero update, momentum untouched); step 3 is the third in a row
    np.testing.assert_allclose(u[0], [-0.1, -0.1])
    for t in (1, 2):
        np.testing.assert_array_equal(u[t], [0.0, 0.0])
        np.testing.assert_array_equal(trace[t], [1.0, 1.0])
    assert np.isnan(u[3][0])  # given up: the NaN goes through
    counters = lambda s: list(zip(s.notfinite_count.tolist(), s.last_finite.tolist(),
                                  s.total_notfinite.tolist(), strict=True))
    assert counters(hand.states) == [(0, True, 0), (1, False, 1), (2, False, 2), (3, False, 3),
                                     (0, True, 3)]
    np.testing.assert_array_equal(u, ref.updates["w"])
    assert counters(ref.states) == counters(hand.states)


def test_apply_if_finite_state_fields_match_optax():
    params = net()
    s_h = jo.apply_if_finite(jo.adam(0.1), 3).init(params)
    s_r = optax.apply_if_finite(optax.adam(0.1), 3).init(params)
    assert s_h._fields == s_r._fields
    assert key_paths(s_h) == key_paths(s_r)
    chex.assert_trees_all_equal_shapes_and_dtypes(s_h[:3], s_r[:3])


# ------------------------------------------------------------------- inject_hyperparams


def test_inject_hyperparams_reads_and_changes_the_learning_rate():
    params = {"w": jnp.ones((3,), jnp.float32)}
    g = {"w": jnp.array([1.0, -2.0, 4.0])}
    tx = jo.inject_hyperparams(jo.sgd)(learning_rate=0.1)
    state = tx.init(params)
    assert float(state.hyperparams["learning_rate"]) == pytest.approx(0.1)
    assert state.hyperparams["learning_rate"].dtype == jnp.float32
    step = jax.jit(tx.update)
    u, state = step(g, state, params)
    np.testing.assert_allclose(u["w"], [-0.1, 0.2, -0.4], rtol=1e-6)
    state.hyperparams["learning_rate"] = 0.01  # edit in place, as with optax
    u, state = step(g, state, params)
    np.testing.assert_allclose(u["w"], [-0.01, 0.02, -0.04], rtol=1e-6)
    state = state._replace(hyperparams={"learning_rate": jnp.float32(1.0)})
    u, state = step(g, state, params)
    np.testing.assert_allclose(u["w"], [-1.0, 2.0, -4.0], rtol=1e-6)
    assert int(state.count) == 3


def test_inject_hyperparams_schedule_matches_optax_and_ignores_edits():
    params = net()
    grads = gradient_stream(params, 4)
    warmup = lambda count: 0.05 * count  # 0 at step 0: not re-checked per step
    make = lambda lib: lib.inject_hyperparams(lib.sgd)(learning_rate=warmup, momentum=0.8)
    h, r = lockstep(make(jo), make(optax), params, grads)
    chex.assert_trees_all_close(h.updates, r.updates, rtol=1e-6)
    assert key_paths(h.state) == key_paths(r.state)
    chex.assert_trees_all_close(h.state.hyperparams, r.state.hyperparams)
    assert float(h.state.hyperparams["learning_rate"]) == pytest.approx(0.15)  # schedule(3)
    tx = make(jo)
    state = tx.init(params)
    state.hyperparams["learning_rate"] = 100.0  # a scheduled value: overwritten
    u, state = tx.update(at(grads, 0), state, params)  # eager, lr = schedule(0) = 0
    chex.assert_trees_all_equal(u, jax.tree.map(jnp.zeros_like, u))
    assert float(state.hyperparams["learning_rate"]) == 0.0


def test_inject_hyperparams_checks_arguments_when_built():
    with pytest.raises(ConfigError, match="learning_rate="):
        jo.inject_hyperparams(jo.sgd)(learning_rate=-1.0)
    with pytest.raises(ConfigError, match="momentum="):
        jo.inject_hyperparams(jo.sgd)(0.1, momentum=1.5)
    with pytest.raises(ConfigError, match="static_args="):
        jo.inject_hyperparams(jo.sgd, static_args="lr")


# ------------------------------------------------------------------- closed forms


def test_ema_matches_numpy_closed_form(x64):
    decay = 0.8
    params = jnp.zeros(3, jnp.float64)
    grads = gradient_stream(params, 7)
    g = np.asarray(grads)
    for debias in (True, False):
        r = run(jo.ema(decay, debias=debias), params, grads)
        for t in range(1, 8):
            weights = (1 - decay) * decay ** np.arange(t - 1, -1, -1)  # (1-d) d^(t-s), s = 1..t
            e = weights @ g[:t]
            expected = e / (1 - decay ** t) if debias else e
            np.testing.assert_allclose(np.asarray(r.updates[t - 1]), expected, rtol=1e-13)
        assert int(r.state.count) == 7
    const = jnp.full((3, 3), 2.5, jnp.float64)  # a constant input is reproduced exactly once debiased
    np.testing.assert_allclose(np.asarray(run(jo.ema(0.9), params, const).updates[-1]), 2.5, rtol=1e-14)


def test_clip_by_global_norm_closed_form(x64):
    grads = {"a": jnp.array([3.0, 4.0], jnp.float64), "b": jnp.array([[12.0]], jnp.float64)}  # norm 13
    tx = jo.clip_by_global_norm(1.0)
    u, _ = tx.update(grads, tx.init(grads))
    np.testing.assert_allclose(u["a"], [3 / 13, 4 / 13], rtol=1e-15)
    np.testing.assert_allclose(u["b"], [[12 / 13]], rtol=1e-15)
    np.testing.assert_allclose(float(jo.clip_by_global_norm(5.0).update(grads, ())[0]["b"][0, 0]),
                               12 * 5 / 13, rtol=1e-15)
    unclipped, _ = jo.clip_by_global_norm(13.5).update(grads, ())
    chex.assert_trees_all_equal(unclipped, grads)  # below the bound: bitwise unchanged


def test_clip_and_block_rms_closed_forms(x64):
    grads = {"a": jnp.array([-3.0, 0.5, 2.0], jnp.float64), "b": jnp.array([0.1, -0.2], jnp.float64)}
    u, _ = jo.clip(1.0).update(grads, ())
    np.testing.assert_array_equal(u["a"], [-1.0, 0.5, 1.0])
    u, _ = jo.clip_by_block_rms(1.0).update(grads, ())
    rms_a = np.sqrt(np.mean(np.array([9.0, 0.25, 4.0])))
    np.testing.assert_allclose(u["a"], np.array([-3.0, 0.5, 2.0]) / rms_a, rtol=1e-15)
    chex.assert_trees_all_equal(u["b"], grads["b"])  # rms 0.158 < 1: unchanged


@pytest.mark.parametrize(("make", "arg"), [
    (lambda: jo.clip(-1.0), "max_delta="),
    (lambda: jo.clip_by_global_norm(0.0), "max_norm="),
    (lambda: jo.clip_by_block_rms(-0.5), "threshold="),
    (lambda: jo.ema(1.0), "decay="),
    (lambda: jo.apply_if_finite(jo.sgd(0.1), 1.5), "max_consecutive_errors="),
    (lambda: jo.apply_if_finite("sgd", 2), "inner="),
    (lambda: jo.MultiSteps(jo.sgd(0.1), 0), "every_k_schedule="),
    (lambda: jo.MultiSteps(None, 2), "opt="),
], ids=["clip", "global_norm", "block_rms", "ema", "max_errors", "inner", "every_k", "opt"])
def test_bad_arguments_raise_config_error(make, arg):
    with pytest.raises(ConfigError, match=arg):
        make()
