"""The training engine against independent references: the tutorial's numpy loop, manual loops."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgd import optimizers as O
from jaxgd.core.errors import ConfigError, DivergenceError
from jaxgd.core.transform import apply_updates
from jaxgd.data import sine, xor
from jaxgd.data.batching import epoch_indices
from jaxgd.nn.backprop import tutorial_backprop
from jaxgd.nn.losses import make_loss_fn
from jaxgd.nn.models import init_mlp
from jaxgd.training.engine import fit, init_state

TUTORIAL_LOSS = make_loss_fn("mse", "sigmoid", "sigmoid")


def numpy_seed_run(params, x, y, lr, epochs):
    """Slides 4-8 of the tutorial, transcribed in numpy: full-batch GD with its backprop."""
    (w1, b1), (w2, b2) = [(np.array(p.w, np.float64), np.array(p.b, np.float64)) for p in params]
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    sig = lambda z: 1 / (1 + np.exp(-z))
    costs = []
    for _ in range(epochs):
        h = sig(x @ w1 + b1)
        o = sig(h @ w2 + b2)
        costs.append(np.mean((o - y) ** 2))
        d_o = (o - y) * o * (1 - o)
        d_h = (d_o @ w2.T) * h * (1 - h)
        w2, b2 = w2 - lr * h.T @ d_o, b2 - lr * d_o.sum(0)
        w1, b1 = w1 - lr * x.T @ d_h, b1 - lr * d_h.sum(0)
    return (w1, b1, w2, b2), np.array(costs)


def test_full_batch_fit_reproduces_the_seed_loop():
    ds = xor()
    params = init_mlp(jax.random.key(3), (2, 3, 1))

    def tutorial_vg(p, x, y):
        return TUTORIAL_LOSS(p, x, y), tutorial_backprop(p, x, y)

    res = fit(None, params, O.sgd(0.1), ds.x, ds.y, epochs=300, value_and_grad=tutorial_vg)
    (w1, b1, w2, b2), costs = numpy_seed_run(params, ds.x, ds.y, 0.1, 300)
    np.testing.assert_allclose(res.history["loss"], costs, rtol=2e-5)
    np.testing.assert_allclose(res.state.params[0].w, w1, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(res.state.params[1].b, b2, rtol=1e-4, atol=1e-5)
    assert res.epochs == 300 and not res.converged


def test_minibatch_fit_equals_a_manual_loop_over_epoch_indices():
    ds = sine(jax.random.key(1), n=40)
    params = init_mlp(jax.random.key(2), (1, 8, 1), "glorot")
    loss = make_loss_fn("mse", "tanh", "identity")
    tx = O.sgd(0.05, momentum=0.9)
    res = fit(loss, params, tx, ds.x, ds.y, epochs=5, batch_size=8, key=jax.random.key(7))

    p, s, key = params, tx.init(params), jax.random.key(7)
    losses = []
    for _ in range(5):
        key, sub = jax.random.split(key)
        batch_losses = []
        for rows in epoch_indices(sub, 40, 8):
            value, g = jax.value_and_grad(loss)(p, ds.x[rows], ds.y[rows])
            u, s = tx.update(g, s, p)
            p = apply_updates(p, u)
            batch_losses.append(value)
        losses.append(np.mean(batch_losses))
    np.testing.assert_allclose(res.history["loss"], losses, rtol=1e-5)
    np.testing.assert_allclose(res.state.params[0].w, p[0].w, rtol=1e-5, atol=1e-6)
    assert int(res.state.step) == 5 * 5


def test_online_sgd_takes_one_step_per_example():
    ds = xor()
    params = init_mlp(jax.random.key(0), (2, 3, 1))
    res = fit(TUTORIAL_LOSS, params, O.sgd(0.5), ds.x, ds.y, epochs=3, batch_size=1)
    assert int(res.state.step) == 12


def test_chunk_size_does_not_change_the_result():
    ds = xor()
    params = init_mlp(jax.random.key(0), (2, 3, 1))
    a = fit(TUTORIAL_LOSS, params, O.adam(0.05), ds.x, ds.y, epochs=50, chunk=7)
    b = fit(TUTORIAL_LOSS, params, O.adam(0.05), ds.x, ds.y, epochs=50, chunk=50)
    np.testing.assert_array_equal(a.history["loss"], b.history["loss"])
    np.testing.assert_array_equal(a.state.params[0].w, b.state.params[0].w)


def test_tolerance_stops_when_the_loss_stops_changing():
    ds = xor()
    params = init_mlp(jax.random.key(0), (2, 3, 1))
    res = fit(TUTORIAL_LOSS, params, O.sgd(0.5), ds.x, ds.y, epochs=20000, tol=1e-7, chunk=500)
    assert res.converged and res.epochs < 20000
    h = res.history["loss"]
    assert abs(h[-1] - h[-2]) < 1e-7 and np.all(np.abs(np.diff(h[:-1])) >= 1e-7)


def test_gradient_norm_tolerance():
    ds = xor()
    params = init_mlp(jax.random.key(0), (2, 3, 1))
    res = fit(TUTORIAL_LOSS, params, O.sgd(0.5), ds.x, ds.y, epochs=20000, gtol=1e-2)
    assert res.converged and res.history["grad_norm"][-1] < 1e-2 <= res.history["grad_norm"][-2]


def test_divergence_names_epoch_and_learning_rate():
    ds = sine(jax.random.key(0), n=32)
    params = init_mlp(jax.random.key(0), (1, 16, 1), "he")
    loss = make_loss_fn("mse", "relu", "identity")
    with pytest.raises(DivergenceError, match=r"diverged at epoch \d+ of 500 with learning rate 50") as e:
        fit(loss, params, O.sgd(50.0), ds.x, ds.y, epochs=500, learning_rate=50.0)
    assert 1 <= e.value.epoch < 500 and e.value.learning_rate == 50.0


def test_resume_from_state_equals_uninterrupted_run():
    ds = sine(jax.random.key(1), n=32)
    params = init_mlp(jax.random.key(2), (1, 8, 1), "glorot")
    loss = make_loss_fn("mse", "tanh", "identity")
    tx = O.adam(0.01)
    full = fit(loss, params, tx, ds.x, ds.y, epochs=20, batch_size=8, key=jax.random.key(5))
    half = fit(loss, params, tx, ds.x, ds.y, epochs=8, batch_size=8, key=jax.random.key(5))
    rest = fit(loss, None, tx, ds.x, ds.y, epochs=20, batch_size=8, state=half.state)
    assert rest.epochs == 20
    np.testing.assert_array_equal(np.concatenate([half.history["loss"], rest.history["loss"]]),
                                  full.history["loss"])
    np.testing.assert_array_equal(rest.state.params[0].w, full.state.params[0].w)


def test_traces_once_for_many_chunks_and_keeps_caller_params():
    ds = xor()
    params = init_mlp(jax.random.key(0), (2, 3, 1))
    traces = []

    def loss(p, x, y):
        traces.append(1)
        return TUTORIAL_LOSS(p, x, y)

    res = fit(loss, params, O.sgd(0.5), ds.x, ds.y, epochs=100, chunk=10)
    assert res.epochs == 100 and len(traces) == 1
    assert float(jnp.sum(params[0].w)) == float(jnp.sum(params[0].w))  # not donated away


def test_eval_metrics_recorded_per_epoch():
    ds = xor()
    params = init_mlp(jax.random.key(0), (2, 3, 1))

    def eval_fn(p):
        return {"double_loss": 2 * TUTORIAL_LOSS(p, ds.x, ds.y)}

    res = fit(TUTORIAL_LOSS, params, O.sgd(0.5), ds.x, ds.y, epochs=10, eval_fn=eval_fn)
    # eval runs after each epoch's update: it equals the next epoch's pre-update loss
    np.testing.assert_allclose(res.history["double_loss"][:-1], 2 * res.history["loss"][1:], rtol=1e-6)


@pytest.mark.parametrize("every, chunk", [(3, None), (4, 5), (1, 3)])
def test_eval_every_n_epochs_and_the_last(every, chunk):
    """eval_every=N: the metric at epochs N, 2N, ... and the last, equal to eval_every=1's there;
    NaN elsewhere; the training itself unchanged. Chunk edges do not move the evaluated epochs."""
    ds = xor()
    params = init_mlp(jax.random.key(0), (2, 3, 1))

    def eval_fn(p):
        return {"double_loss": 2 * TUTORIAL_LOSS(p, ds.x, ds.y)}

    def run(n):
        return fit(TUTORIAL_LOSS, params, O.sgd(0.5), ds.x, ds.y, epochs=10, eval_fn=eval_fn,
                   eval_every=n, chunk=chunk)

    every_epoch, sparse = run(1), run(every)
    due = [e for e in range(1, 11) if e % every == 0 or e == 10]
    got = sparse.history["double_loss"]
    assert [e for e in range(1, 11) if np.isfinite(got[e - 1])] == due
    np.testing.assert_allclose(got[np.array(due) - 1],
                               every_epoch.history["double_loss"][np.array(due) - 1], rtol=1e-6)
    np.testing.assert_array_equal(sparse.history["loss"], every_epoch.history["loss"])


def test_eval_every_is_checked():
    ds = xor()
    params = init_mlp(jax.random.key(0), (2, 3, 1))
    with pytest.raises(ConfigError, match="eval_every=0"):
        fit(TUTORIAL_LOSS, params, O.sgd(0.5), ds.x, ds.y, epochs=2, eval_every=0,
            eval_fn=lambda p: {"l": TUTORIAL_LOSS(p, ds.x, ds.y)})


def test_init_state_has_step_zero():
    params = init_mlp(jax.random.key(0), (2, 3, 1))
    s = init_state(params, O.adam(0.1), jax.random.key(0))
    assert int(s.step) == 0 and int(s.opt_state[0].count) == 0
