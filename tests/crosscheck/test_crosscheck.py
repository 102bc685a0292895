"""The cross-check tool on planted differences: does it find them, where and when?

Each expected step, leaf and size is computed here independently (NumPy formulas,
closed forms), never read back from the tool.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from lockstep import gradient_stream
from planted_rules import rmsprop_eps_inside, rmsprop_eps_outside

from jaxgd import optimizers as hand
from jaxgd import schedules
from jaxgd.cli import main
from jaxgd.core.errors import ConfigError
from jaxgd.core.transform import Transform
from jaxgd.crosscheck import crosscheck, crosscheck_schedule
from jaxgd.crosscheck.report import CrosscheckReport
from jaxgd.crosscheck.rows import crosscheck_row, example_params

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def adam_report():
    """Hand-written Adam vs optax.adam on the example tree, float32, 60 shared random steps."""
    return crosscheck(hand.adam(0.01), optax.adam(0.01), example_params(), steps=60,
                      names=("hand", "optax"))


# (1) ------------------------------------------------------------ eps placement
def test_eps_inside_vs_outside_sqrt_is_found_at_step_0_on_the_small_gradient_leaf():
    steps, lr, decay, eps = 30, 0.01, 0.9, 1e-3
    params = {"a_big": jnp.ones(3, jnp.float32), "b_small": jnp.ones(4, jnp.float32)}
    scale = {"a_big": 1e4, "b_small": 1e-2}
    g = jax.tree.map(lambda s, x: s * x, scale, gradient_stream(params, steps))
    report = crosscheck(rmsprop_eps_inside(lr, decay, eps), rmsprop_eps_outside(lr, decay, eps),
                        params, grads=g, names=("inside", "outside"))

    first = report.first_divergence
    assert (first.step, first.kind, first.path) == (0, "updates", "['b_small']")
    # the same difference, by hand: v_0 = (1 - decay) g_0**2
    g0 = np.asarray(g["b_small"][0], np.float64)
    v0 = (1 - decay) * g0**2
    expected = np.max(np.abs(lr * g0 / np.sqrt(v0 + eps) - lr * g0 / (np.sqrt(v0) + eps)))
    np.testing.assert_allclose(first.abs, expected, rtol=1e-4)
    # large gradients hide eps: that leaf agrees; nu is the same on both sides
    big = [leaf for leaf in report.of("updates") if leaf.path == "['a_big']"][0]
    assert big.first_step is None
    assert report.first("state") is None and [x.path for x in report.of("state")] == [
        ".nu['a_big']", ".nu['b_small']"]


# (2) ------------------------------------------------------------ seed momentum vs optax.sgd
def test_seed_momentum_parts_from_optax_sgd_under_decay_exactly_where_tolerance_is_passed(x64):
    steps, mu, rtol = 40, 0.9, 1e-4
    lr = 0.1 * 0.9999 ** np.arange(steps)
    sched = lambda count: 0.1 * 0.9999**count
    params = {"b": jnp.asarray(0.3), "w": jnp.ones(3)}
    grads = gradient_stream(params, steps)
    report = crosscheck(hand.tutorial_momentum(sched, mu), optax.sgd(sched, mu), params,
                        grads=grads, rtol=rtol)
    g = jax.tree.map(np.asarray, grads)

    ratios = {}
    for name, gs in g.items():  # seed: v = mu v + lr g, u = -v;  optax: m = g + mu m, u = -lr m
        v, m, u_seed, u_optax = 0 * gs[0], 0 * gs[0], [], []
        for t in range(steps):
            v = mu * v + lr[t] * gs[t]
            m = gs[t] + mu * m
            u_seed.append(-v)
            u_optax.append(-lr[t] * m)
        a, b = (np.reshape(u, (steps, -1)) for u in (u_seed, u_optax))
        d = np.max(np.abs(a - b), axis=1)
        mag = np.max(np.maximum(np.abs(a), np.abs(b)), axis=1)
        ratios[name] = d / (rtol * np.max(mag) + rtol * mag)  # > 1: passes the tolerance
    step = min(int(np.argmax(r > 1)) for r in ratios.values() if np.any(r > 1))
    worst = max(ratios, key=lambda name: ratios[name][step])
    first = report.first("updates")
    assert first.step == step and step > 1  # agree at step 0 (and 1), part later
    assert first.path == f"['{worst}']"
    assert 1 < ratios[worst][step] < 1.5  # the crossing itself, not a leap past it


# (3) ------------------------------------------------------------ identical rules
def test_identical_rules_agree_with_zero_deviation():
    report = crosscheck(hand.sgd(0.1, 0.9), hand.sgd(0.1, 0.9), example_params(), steps=30)
    assert report.verdict == "agree" and report.first_divergence is None
    assert all(report.max_abs(kind) == 0.0 for kind in ("updates", "params", "state"))


def test_hand_adam_agrees_with_optax_in_float32(adam_report):
    assert adam_report.verdict == "agree"
    # rounding, not zero: optax's float32 1 - b2**t is off by up to ~1e-5 relative at small t,
    # jaxgd's -expm1(t log b2) by a few ulp (see test_oracle_float32_shows_optaxs_bias_correction)
    assert 0 < adam_report.max_scaled("updates") < 2e-5


# (4) ------------------------------------------------------------ one leaf deep in a pytree
def test_planted_difference_in_one_nested_leaf_is_reported_by_key_path():
    base = hand.sgd(0.1)

    def update(grads, state, params=None):
        u, state = base.update(grads, state, params)
        w, (bias, rest), v = u["w"], u["nested"], u["v"]
        bias = {"b": bias["b"] * (1 + 1e-3)}
        return {"w": w, "nested": (bias, rest), "v": v}, state

    report = crosscheck(base, Transform(base.init, update), example_params(), steps=5)
    first = report.first_divergence
    assert (first.step, first.kind, first.path) == (0, "updates", "['nested'][0]['b']")
    assert [leaf.path for leaf in report.leaves if leaf.first_step is not None] == [
        "['nested'][0]['b']", "['nested'][0]['b']"]  # its update and its param, nothing else
    np.testing.assert_allclose(first.rel, 1e-3 / (1 + 1e-3), rtol=1e-3)


# (5) ------------------------------------------------------------ state matched by key path
def test_adam_state_is_matched_leaf_by_leaf_with_optax(adam_report):
    paths = {leaf.path for leaf in adam_report.of("state")}
    leaves = ["['nested'][0]['b']", "['nested'][1][0]", "['nested'][1][1]", "['v']", "['w']"]
    assert paths == {"[0].count"} | {f"[0].{m}{p}" for m in ("mu", "nu") for p in leaves}
    assert adam_report.unmatched == ()


def test_namedtuple_field_matches_dict_key_and_missing_leaves_are_listed():
    from typing import NamedTuple

    class Buf(NamedTuple):
        trace: jax.Array

    def make(as_dict, extra):
        def init(p):
            state = {"trace": jnp.zeros_like(p)} if as_dict else Buf(jnp.zeros_like(p))
            return (state, {"count": jnp.zeros([], jnp.int32)}) if extra else (state,)

        def update(g, s, p=None):
            t = s[0]["trace"] if as_dict else s[0].trace
            t = 0.5 * t + g
            new = {"trace": t} if as_dict else Buf(t)
            return -0.1 * t, (new, {"count": s[1]["count"] + 1}) if extra else (new,)

        return Transform(init, update)

    report = crosscheck(make(False, False), make(True, True), jnp.ones(3), steps=4,
                        names=("hand", "other"))
    (state,) = report.of("state")
    assert (state.path, state.path_b) == ("[0].trace", "[0]['trace']")
    assert report.verdict == "agree"
    assert [(u.side, u.path) for u in report.unmatched] == [("other", "[1]['count']")]


# (6) ------------------------------------------------------------ JSON
def test_json_round_trip(adam_report):
    text = adam_report.to_json()
    back = CrosscheckReport.from_json(text)
    assert back.to_dict() == json.loads(text)
    assert back.verdict == adam_report.verdict
    assert back.max_scaled("updates") == adam_report.max_scaled("updates")
    summary = json.loads(adam_report.to_json(per_step=False))
    assert "abs" not in summary["leaves"][0] and summary["max"]["updates"]["scaled"] > 0


# ------------------------------------------------------------ loss mode
def test_loss_mode_follows_each_sides_own_gradients():
    steps, lr = 12, 0.1
    batches = jnp.linspace(0.0, 1.0, steps, dtype=jnp.float32)[:, None] * jnp.ones(3, jnp.float32)
    loss = lambda p, b: 0.5 * jnp.sum((p - b) ** 2)
    report = crosscheck(hand.sgd(lr), hand.sgd(lr * 1.01), jnp.zeros(3, jnp.float32),
                        loss_fn=loss, batches=batches)
    p, losses = np.zeros(3), []  # gradient descent on the quadratic, by hand
    for b in np.asarray(batches, np.float64):
        losses.append(0.5 * np.sum((p - b) ** 2))
        p = p - lr * (p - b)
    np.testing.assert_allclose(report.losses[:, 0], losses, rtol=1e-5)
    dev = report.per_step("params")["abs"]
    assert report.mode == "loss" and np.all(np.diff(dev) > 0)  # the gap grows


# ------------------------------------------------------------ schedules
def test_optax_schedule_float32_floor_under_x64_is_reported(x64):
    report = crosscheck_schedule(schedules.exponential_decay(0.1, 200, 0.1),
                                 optax.exponential_decay(0.1, 200, 0.1), 200)
    assert report.meta["value_dtypes"] == ["float64", "float32"]
    assert report.verdict == "differ" and 1e-9 < report.max_rel("schedule") < 1e-6
    assert any("float32" in note for note in report.notes)
    # a float64 run through the two schedules shows that floor; one schedule on both: exact
    sep = crosscheck_row("sgd", dtype=jnp.float64, steps=50, schedule="exponential")
    same = crosscheck_row("sgd", dtype=jnp.float64, steps=50, schedule="exponential",
                          same_schedule=True)
    assert sep.verdict == "differ" and 1e-9 < sep.max_scaled("updates") < 1e-6
    assert same.verdict == "agree" and same.max_abs("updates") == 0.0


def test_crosscheck_rejects_bad_input():
    with pytest.raises(ConfigError, match="grads="):
        crosscheck(hand.sgd(0.1), hand.sgd(0.1), jnp.ones(2), grads=jnp.ones((3, 2)),
                   loss_fn=jnp.sum)
    with pytest.raises(ConfigError, match="steps=5 but grads holds only 3"):
        crosscheck(hand.sgd(0.1), hand.sgd(0.1), jnp.ones(2), grads=jnp.ones((3, 2)), steps=5)
    with pytest.raises(ConfigError, match="tx_b="):
        crosscheck(hand.sgd(0.1), object(), jnp.ones(2))


# (7) ------------------------------------------------------------ the command line
def test_cli_sgd_json_agrees(capsys):
    assert main(["crosscheck", "--optimizer", "sgd", "--steps", "20", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["verdict"] == "agree" and doc["settings"]["steps"] == 20
    ids = [r["id"] for r in doc["results"]]
    assert "sgd" in ids and all(i == "sgd" or i.startswith("sgd-") for i in ids)
    assert all(r["report"]["steps"] == 20 for r in doc["results"])


def test_cli_user_factory_against_reference_exits_1_and_names_the_divergence(
        capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    monkeypatch.setattr(sys, "path", list(sys.path))
    code = main(["crosscheck", "--hand", "tests.planted_rules:sgd_forgetful_momentum",
                 "--reference", "sgd-momentum", "--steps", "8"])
    out = capsys.readouterr().out
    # m_t = g_t + mu*g_{t-1}: the stored buffer parts at step 1, the update at step 2
    assert code == 1
    assert "step 1 state [0].trace" in out and "step 2 ['" in out and "differ" in out


def test_cli_unknown_optimizer_exits_2_with_a_suggestion(capsys):
    assert main(["crosscheck", "--optimizer", "adamm"]) == 2
    assert "Did you mean 'adam'" in capsys.readouterr().err
    assert main(["crosscheck", "--optimizer", "sgd", "--b1", "0.5"]) == 2
    assert "--b1" in capsys.readouterr().err
