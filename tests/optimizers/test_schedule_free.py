"""Schedule-Free SGD and AdamW (Defazio et al. 2024) against the paper's equations, optax's
evaluation point, and the engine's use of it. Per-step agreement with optax.contrib runs
from the optimizer table (test_optimizers.py, test_precision.py)."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from lockstep import gradient_stream, run

import jaxgd
from jaxgd import ConfigError
from jaxgd import optimizers as hand
from jaxgd import reference as ref
from jaxgd.core.transform import EmptyState, eval_params

A = np.array([1.0, 0.5, 2.0, 0.25])  # f(w) = 0.5 sum(A w**2): the gradient at y is A y
W0 = np.array([1.0, -2.0, 0.5, 3.0])


def on_quadratic(tx, steps):
    """Run ``tx`` on f from W0: per step the params y_t and the evaluation point x_t (float64)."""
    p, s, ys, xs = jnp.asarray(W0), None, [], []
    s = tx.init(p)
    update = jax.jit(tx.update)
    for _ in range(steps):
        u, s = update(jnp.asarray(A) * p, s, p)
        p = optax.apply_updates(p, u)
        ys.append(np.asarray(p))
        xs.append(np.asarray(eval_params(s, p)))
    return np.array(ys), np.array(xs), s


def sf_sgd_paper(lr, b1, steps, lrs=None, weight_lrs=None):
    """The paper's eq. (1)-(3) with c_{t+1} = lr_t**2 / sum_{i<=t} lr_i**2: (y_{t+1}, x_{t+1}, z).
    ``lrs``: lr_t per step (default lr); ``weight_lrs``: another lr_t for the weights only."""
    z = x = W0.copy()
    ys, xs, zs, total = [], [], [z], 0.0
    for t in range(1, steps + 1):
        gamma = lr if lrs is None else lrs[t - 1]
        weight = gamma**2 if weight_lrs is None else weight_lrs[t - 1] ** 2
        y = (1 - b1) * z + b1 * x
        z = z - gamma * A * y
        total += weight
        c = weight / total if total else 0.0
        x = (1 - c) * x + c * z
        ys.append((1 - b1) * z + b1 * x)
        xs.append(x)
        zs.append(z)
    return np.array(ys), np.array(xs), np.array(zs)


@pytest.mark.parametrize("b1", [0.9, 0.5])
def test_schedule_free_sgd_is_the_papers_equations_on_a_quadratic(b1, x64):
    ys, xs, _ = on_quadratic(hand.schedule_free_sgd(0.3, b1=b1), 12)
    ys_p, xs_p, zs = sf_sgd_paper(0.3, b1, 12)
    np.testing.assert_allclose(ys, ys_p, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(xs, xs_p, rtol=1e-12, atol=1e-14)
    # constant lr: x is the plain average of z_2 .. z_{T+1}, which leaves out z_1 = w_0
    # (eq. (1)'s c_{t+1} = 1/(t+1) would include it)
    np.testing.assert_allclose(xs[-1], zs[1:].mean(axis=0), rtol=1e-12)
    assert np.max(np.abs(xs[-1] - zs.mean(axis=0))) > 1e-3


def test_schedule_free_sgd_warmup_first_step_of_z_is_zero_as_optax_not_the_paper(x64):
    """optax reads the warmup at the count from 0 for z (lr_1 = 0) and at t from 1 for the weights."""
    lr, w = 0.5, 4  # lr * t / w exact in float32, where optax computes its schedules
    ys, xs, state = on_quadratic(hand.schedule_free_sgd(lr, warmup_steps=w), 6)
    ys_o, _, _ = on_quadratic(optax.contrib.schedule_free_sgd(lr, warmup_steps=w), 6)
    np.testing.assert_allclose(ys, ys_o, rtol=1e-12)
    np.testing.assert_array_equal(ys[0], W0)  # the first update is exactly 0
    optax_form, _, _ = sf_sgd_paper(None, 0.9, 6, lrs=[lr * min(t - 1, w) / w for t in range(1, 7)],
                                    weight_lrs=[lr * min(t, w) / w for t in range(1, 7)])
    np.testing.assert_allclose(ys, optax_form, rtol=1e-12)  # z: lr(t - 1); weights: lr(t)
    wrong, _, _ = sf_sgd_paper(None, 0.9, 6, lrs=[lr * min(t - 1, w) / w for t in range(1, 7)])
    assert np.max(np.abs(ys - wrong)) > 1e-3  # weights read one step ahead of z's lr
    paper, _, _ = sf_sgd_paper(None, 0.9, 6, lrs=[lr * min(t, w) / w for t in range(1, 7)])
    assert np.max(np.abs(paper[0] - W0)) > 1e-2  # the paper's warmup moves at step 1
    assert int(state.step_count) == 7


def test_schedule_free_adamw_weights_by_lr_not_by_the_papers_bias_corrected_lr(x64):
    """The paper's Algorithm 1: lr_t = lr sqrt(1 - b2**t) on g / sqrt(v_t) and in the weights
    c = lr_t**2 / sum lr_i**2. optax (and jaxgd) correct v instead, so with eps = 0 the z steps
    are the same and only the weights differ: x is the plain average of the z's."""
    lr, b1, b2, steps = 0.1, 0.9, 0.999, 8
    _, xs, _ = on_quadratic(hand.schedule_free_adamw(lr, b1=b1, b2=b2, eps=0.0), steps)

    def paper(bias_in_weights):
        z = x = W0.copy()
        v, total, out, zs = 0.0, 0.0, [], []
        for t in range(1, steps + 1):
            y = (1 - b1) * z + b1 * x
            g = A * y
            v = b2 * v + (1 - b2) * g**2
            gamma = lr * np.sqrt(1 - b2**t)
            z = z - gamma * g / np.sqrt(v)
            weight = gamma**2 if bias_in_weights else lr**2
            total += weight
            x = (1 - weight / total) * x + weight / total * z
            out.append(x)
            zs.append(z)
        return np.array(out), np.array(zs)

    ours_form, zs = paper(bias_in_weights=False)
    np.testing.assert_allclose(xs, ours_form, rtol=1e-12)
    np.testing.assert_allclose(xs[-1], zs.mean(axis=0), rtol=1e-12)
    assert np.max(np.abs(xs - paper(bias_in_weights=True)[0])) > 1e-3


@pytest.mark.parametrize("name", ["schedule_free_sgd", "schedule_free_adamw"])
def test_eval_params_is_optaxs_evaluation_point_for_hand_and_optax_states(name, x64):
    params = {"w": jnp.linspace(-1.0, 1.0, 12).reshape(3, 4), "b": jnp.ones(4)}
    grads = gradient_stream(params, 20)
    kw = {"learning_rate": 0.05, "b1": 0.8}
    h, o = jax.jit(lambda: (run(getattr(hand, name)(**kw), params, grads),
                            run(getattr(ref, name)(**kw), params, grads)))()
    y_h, y_o = jax.tree.map(lambda a: a[-1], h.params), jax.tree.map(lambda a: a[-1], o.params)
    x_h = eval_params(h.state, y_h)
    optax_x_h = optax.contrib.schedule_free_eval_params(h.state, y_h)
    for a, b in zip(jax.tree.leaves(x_h), jax.tree.leaves(optax_x_h), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    x_o = eval_params(o.state, y_o)
    jax.tree.map(np.testing.assert_array_equal, x_o, optax.contrib.schedule_free_eval_params(o.state, y_o))
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-10), x_h, x_o)
    assert float(jnp.max(jnp.abs(x_h["w"] - y_h["w"]))) > 1e-3  # x is not y
    # found inside a larger state; ordinary states give the params back
    assert eval_params((EmptyState(), [h.state]), y_h)["w"] is not y_h["w"]
    sgd = hand.sgd(0.1, momentum=0.9)
    assert eval_params(sgd.init(params), params) is params
    with pytest.raises(ValueError, match="at most one"):
        eval_params((h.state, o.state), y_h)


@pytest.mark.parametrize(("kwargs", "arg"), [
    ({"b1": 0.0}, "b1"), ({"b1": 1.0}, "b1"), ({"b1": -0.1}, "b1"),
    ({"learning_rate": -0.1}, "learning_rate"),
    ({"warmup_steps": -1}, "warmup_steps"), ({"warmup_steps": 0}, "warmup_steps"),
    ({"weight_lr_power": -2.0}, "weight_lr_power"), ({"state_dtype": "int32"}, "state_dtype"),
    ({"weight_decay": -1e-4}, "weight_decay"), ({"b2": 1.0}, "b2"), ({"eps": -1.0}, "eps")])
def test_refuses_bad_hyperparameters_by_name(kwargs, arg):
    with pytest.raises(ConfigError, match=rf"{arg}=") as err:
        hand.schedule_free_adamw(**kwargs)
    text = str(err.value)
    assert "accepted" in text
    if "b2" not in kwargs and "eps" not in kwargs:
        with pytest.raises(ConfigError, match=rf"{arg}="):
            ref.schedule_free_sgd(**kwargs)  # the twin refuses what optax would take


@pytest.mark.parametrize("side", [hand, ref])
def test_update_compiles_once_over_steps(side):
    tx = side.schedule_free_adamw(0.01, warmup_steps=3, weight_decay=1e-3)
    params = {"w": jnp.ones((2, 3)), "b": jnp.zeros(3)}
    state, update = tx.init(params), jax.jit(tx.update)
    for t in range(5):
        u, state = update(jax.tree.map(lambda p, t=t: p + t, params), state, params)
        params = optax.apply_updates(params, u)
    assert update._cache_size() == 1
    assert int(state.step_count) == 6


def test_fit_evaluates_at_the_average_x(x64):
    x = jnp.linspace(-1.0, 1.0, 16)[:, None]
    y = 3.0 * x[:, 0] - 1.0

    def loss(p, x, y):
        return jnp.mean((x[:, 0] * p["w"] + p["b"] - y) ** 2)

    eval_fn = lambda p: {"eval_loss": loss(p, x, y), "w": p["w"]}  # noqa: E731
    res = jaxgd.fit(loss, {"w": jnp.zeros(()), "b": jnp.zeros(())}, hand.schedule_free_sgd(0.2), x, y,
                    epochs=6, batch_size=4, eval_fn=eval_fn)
    at_x = eval_fn(jaxgd.eval_params(res.state.opt_state, res.state.params))
    at_y = eval_fn(res.state.params)
    assert res.history["w"][-1] == pytest.approx(float(at_x["w"]), rel=1e-12)
    assert res.history["eval_loss"][-1] == pytest.approx(float(at_x["eval_loss"]), rel=1e-12)
    assert abs(float(at_x["w"]) - float(at_y["w"])) > 1e-3


@pytest.mark.slow
def test_train_cli_reports_and_saves_the_evaluation_params(tmp_path, capsys):
    from jaxgd.cli import main
    from jaxgd.experiments.build import make_eval_fn, make_objective, make_problem
    from jaxgd.experiments.config import TrainConfig
    from jaxgd.experiments.records import load_params
    from jaxgd.experiments.run import initial_states, make_tx
    from jaxgd.experiments.runfolder import CHECKPOINT, load_snapshot

    out = tmp_path / "sf"
    assert main(["train", "--dataset", "moons", "--hidden", "8", "--activation", "tanh", "--optimizer",
                 "schedule_free_adamw", "--lr", "0.05", "--batch-size", "50", "--epochs", "50",
                 "--test-fraction", "0.25", "--impl", "hand", "--json", "--quiet", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    cfg = TrainConfig.from_dict(json.loads((out / "config.json").read_text()))
    pb = make_problem(cfg)
    loss_fn, _ = make_objective(cfg, pb)
    eval_fn = make_eval_fn(cfg, pb, loss_fn)
    like = initial_states(cfg, pb, {"hand": make_tx(cfg, "hand", pb.data.n // 50)})
    state = load_snapshot(out / CHECKPOINT, cfg, like).states["hand"]
    x = eval_params(state.opt_state, state.params)
    saved = load_params(out / "params.npz", state.params)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), saved, x)
    at_x, at_y = eval_fn(x), eval_fn(state.params)
    assert summary["test_loss"] == pytest.approx(float(at_x["test_loss"]), rel=1e-5)
    assert summary["test_accuracy"] == pytest.approx(float(at_x["test_accuracy"]))
    assert abs(float(at_x["test_loss"]) - float(at_y["test_loss"])) > 1e-4
    assert summary["final_loss_at_eval_params"] == pytest.approx(float(loss_fn(x, pb.data.x, pb.data.y)),
                                                                 rel=1e-5)
