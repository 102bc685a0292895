"""L-BFGS, its zoom line search and SAM against closed forms (the table tests pair them with optax)."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgd import ConfigError
from jaxgd import optimizers as o
from jaxgd.core.transform import Transform, apply_updates
from jaxgd.training.steps import EXTRAS, TrainState, make_step


def quadratic(dim, seed=0):
    """``f(x) = x^T A x / 2 - b^T x`` with A symmetric positive definite: (f, A, b)."""
    rng = np.random.default_rng(seed)
    m = rng.standard_normal((dim, dim))
    a, b = m @ m.T + dim * np.eye(dim), rng.standard_normal(dim)
    return (lambda x: 0.5 * x @ jnp.asarray(a) @ x - jnp.asarray(b) @ x), a, b


def test_two_loop_direction_is_the_dense_inverse_bfgs_product(x64):
    """Nocedal & Wright (6.17): H_{i+1} = (I - rho s y^T) H_i (I - rho y s^T) + rho s s^T from
    H_0 = gamma I, over the stored pairs oldest first; the ring buffer's newest slot is 1."""
    dim, m = 6, 4
    rng = np.random.default_rng(1)
    _, a, _ = quadratic(dim)
    s = rng.standard_normal((m, dim))
    y = s @ a  # curvature pairs of the quadratic: <s, y> > 0
    rho = 1.0 / np.einsum("ij,ij->i", s, y)
    g, gamma, newest = rng.standard_normal(dim), 0.7, 1
    h = gamma * np.eye(dim)
    for i in [(newest + 1 + k) % m for k in range(m)]:  # oldest to newest
        v = np.eye(dim) - rho[i] * np.outer(y[i], s[i])
        h = v.T @ h @ v + rho[i] * np.outer(s[i], s[i])
    got = o.lbfgs_direction(jnp.asarray(g), jnp.asarray(s), jnp.asarray(y), jnp.asarray(rho), gamma,
                            jnp.asarray(newest))
    np.testing.assert_allclose(np.asarray(got), h @ g, rtol=1e-12)
    wrong = o.lbfgs_direction(jnp.asarray(g), jnp.asarray(s), jnp.asarray(y), jnp.asarray(rho), gamma,
                              jnp.asarray(0))  # another order of the same pairs: another matrix
    assert np.max(np.abs(np.asarray(wrong) - h @ g)) > 1e-3


def rosenbrock(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


@pytest.mark.parametrize("start", [(-1.2, 1.0), (0.5, 2.0), (2.0, 2.0)])
def test_zoom_step_meets_the_strong_wolfe_conditions(start, x64):
    x = jnp.asarray(start)
    value, grad = jax.value_and_grad(rosenbrock)(x)
    u = -grad  # steepest descent: eta = 1 overshoots badly, so both phases of the search run
    c1, c2 = 1e-4, 0.9
    ls = o.scale_by_zoom_linesearch(30, slope_rtol=c1, curv_rtol=c2, approx_dec_rtol=None)
    step, state = ls.update(u, ls.init(x), x, value=value, grad=grad, value_fn=rosenbrock)
    eta = float(state.learning_rate)
    np.testing.assert_allclose(np.asarray(step), eta * np.asarray(u), rtol=1e-15)
    slope0 = float(grad @ u)
    new = x + eta * u
    assert 0 < eta < 1
    assert float(rosenbrock(new)) <= float(value) + c1 * eta * slope0  # sufficient decrease
    assert abs(float(jax.grad(rosenbrock)(new) @ u)) <= c2 * abs(slope0)  # strong curvature
    assert float(state.info.decrease_error) == 0 and float(state.info.curvature_error) == 0
    assert float(state.value) == pytest.approx(float(rosenbrock(new)), rel=1e-14)
    ref = optax.scale_by_zoom_linesearch(30, approx_dec_rtol=None)
    _, ref_state = ref.update(u, ref.init(x), x, value=value, grad=grad, value_fn=rosenbrock)
    assert float(ref_state.learning_rate) == pytest.approx(eta, rel=1e-12)


def test_lbfgs_minimises_a_quadratic_in_dim_steps(x64):
    """BFGS with exact line searches and H_0 = I ends at the minimiser A^{-1} b of an n-dim
    quadratic after n steps (conjugate directions; Nocedal & Wright Theorem 6.5 / 5.2). A
    small curv_rtol makes the zoom exact: its quadratic fit of phi is phi itself."""
    dim = 5
    f, a, b = quadratic(dim, seed=3)
    x_star = np.linalg.solve(a, b)
    ls = o.scale_by_zoom_linesearch(30, slope_rtol=1e-10, curv_rtol=1e-9, initial_guess_strategy="one")
    tx = o.lbfgs(memory_size=10, scale_init_precond=False, linesearch=ls)
    x, dist = jnp.zeros(dim), []
    state = tx.init(x)
    step = jax.jit(lambda g, s, x, v: tx.update(g, s, x, value=v, grad=g, value_fn=f))  # one compile
    for _ in range(dim):
        value, g = jax.value_and_grad(f)(x)
        u, state = step(g, state, x, value)
        x = apply_updates(x, u)
        dist.append(float(np.max(np.abs(np.asarray(x) - x_star))))
    assert dist[-1] < 1e-9, dist
    assert dist[-2] > 1e-4, dist  # not there a step early: it is the n-th step that lands


def sam_closed_form(w, a, lr, rho, steps):
    """SAM on f = w^T A w / 2 (grad A w): w <- w - lr A (w + rho g/||g||), g = A w."""
    out = []
    for _ in range(steps):
        g = a @ w
        w = w - lr * a @ (w + rho * g / np.linalg.norm(g))
        out.append(w)
    return np.stack(out)


@pytest.mark.parametrize("factory", [o.sam, optax.contrib.sam], ids=["hand", "optax"])
def test_sam_step_is_the_gradient_at_the_adversarial_point(factory, x64):
    _, a, _ = quadratic(4, seed=5)
    f = lambda w: 0.5 * w @ jnp.asarray(a) @ w
    lr, rho = 0.05, 0.2
    if factory is o.sam:
        tx = o.sam(learning_rate=lr, rho=rho)
    else:
        tx = factory(optax.sgd(lr), optax.chain(optax.contrib.normalize(), optax.sgd(rho)), opaque_mode=True)
    w = jnp.asarray(np.random.default_rng(0).standard_normal(4))
    state, got = tx.init(w), []
    for _ in range(3):
        u, state = tx.update(jax.grad(f)(w), state, w, grad_fn=lambda p, i: jax.grad(f)(p))
        w = apply_updates(w, u)
        got.append(np.asarray(w))
    w0 = np.asarray(np.random.default_rng(0).standard_normal(4))
    np.testing.assert_allclose(np.stack(got), sam_closed_form(w0, a, lr, rho, 3), rtol=1e-12)
    assert np.max(np.abs(np.stack(got) - sam_closed_form(w0, a, lr, 0.0, 3))) > 1e-3  # rho matters


def test_sam_with_sync_period_three_takes_two_ascent_steps(x64):
    _, a, _ = quadratic(3, seed=2)
    grad = lambda w: jnp.asarray(a) @ w
    w = np.array([1.0, -0.5, 0.25])
    lr, rho = 0.1, 0.3
    w1 = w + rho * (a @ w) / np.linalg.norm(a @ w)
    w2 = w1 + rho * (a @ w1) / np.linalg.norm(a @ w1)
    tx = o.sam(learning_rate=lr, rho=rho, sync_period=3)
    seen = []

    def grad_fn(p, i):
        seen.append(i)
        return grad(p)

    u, _ = tx.update(grad(jnp.asarray(w)), tx.init(jnp.asarray(w)), jnp.asarray(w), grad_fn=grad_fn)
    np.testing.assert_allclose(np.asarray(u), -lr * a @ w2, rtol=1e-12)
    assert seen == [0, 1]


@pytest.mark.parametrize(("make", "arg"), [
    (lambda: o.lbfgs(memory_size=0), "memory_size="),
    (lambda: o.scale_by_lbfgs(memory_size=-2), "memory_size="),
    (lambda: o.lbfgs(linesearch="armijo"), "linesearch="),
    (lambda: o.scale_by_zoom_linesearch(0), "max_linesearch_steps="),
    (lambda: o.scale_by_zoom_linesearch(10, curv_rtol=1e-5), "curv_rtol="),
    (lambda: o.scale_by_zoom_linesearch(10, increase_factor=1.0), "increase_factor="),
    (lambda: o.scale_by_zoom_linesearch(10, initial_guess_strategy="two"), "initial_guess_strategy"),
    (lambda: o.sam(learning_rate=0.1, rho=-0.1), "rho="),
    (lambda: o.sam(learning_rate=0.1, sync_period=0), "sync_period="),
    (lambda: o.sam(learning_rate=0.1, opaque_mode=False), "opaque_mode="),
    (lambda: o.sam(), "learning_rate"),
    (lambda: o.sam(o.sgd(0.1), learning_rate=0.1), "learning_rate="),
])
def test_invalid_hyperparameters_are_refused_by_name(make, arg):
    with pytest.raises(ConfigError, match=arg) as err:
        make()
    assert "accepted" in str(err.value).lower() or "must" in str(err.value)


def test_update_without_the_objective_says_what_it_needs():
    w = jnp.ones(2)
    with pytest.raises(ValueError, match="value_fn"):
        o.lbfgs().update(w, o.lbfgs().init(w), w)
    with pytest.raises(ValueError, match="grad_fn"):
        o.sam(learning_rate=0.1).update(w, o.sam(learning_rate=0.1).init(w), w)


def loss(params, x, y):
    return jnp.mean((x @ params["w"] + params["b"] - y) ** 2)


@pytest.mark.parametrize(("tx", "extras"), [(o.lbfgs(), ("value", "grad", "value_fn")),
                                            (o.sam(learning_rate=0.1), ("grad_fn",))], ids=["lbfgs", "sam"])
def test_no_recompile_across_steps(tx, extras):
    step = make_step(jax.value_and_grad(loss), tx, extras=extras)
    chex.clear_trace_counter()
    traced = jax.jit(chex.assert_max_traces(step, n=1))
    params = {"w": jnp.ones((3, 1)), "b": jnp.zeros(1)}
    state = TrainState(params, tx.init(params), jnp.zeros([], jnp.int32), jax.random.key(0))
    x, y = jnp.arange(12.0).reshape(4, 3) / 10, jnp.ones((4, 1))
    losses = []
    for _ in range(4):
        state, metrics = traced(state, (x, y))
        losses.append(float(metrics.loss))
    assert losses[-1] < losses[0]


def probe() -> Transform:
    """Zero updates; the state records what the extras give at params + 1."""

    def update(grads, state, params=None, *, value, grad, value_fn, grad_fn):
        moved = jax.tree.map(lambda p: p + 1.0, params)
        return jax.tree.map(jnp.zeros_like, grads), (value, grad, value_fn(moved), grad_fn(moved, 0))

    return Transform(lambda p: (jnp.zeros(()), p, jnp.zeros(()), p), update)


def test_make_step_extras_evaluate_the_loss_on_the_steps_batch():
    params = {"w": jnp.array([[0.5], [-1.0], [2.0]]), "b": jnp.array([0.1])}
    x, y = jnp.arange(12.0).reshape(4, 3) / 10, jnp.array([[1.0], [0.0], [2.0], [-1.0]])
    step = make_step(jax.value_and_grad(loss), probe(), extras=EXTRAS)
    state = TrainState(params, probe().init(params), jnp.zeros([], jnp.int32), jax.random.key(0))
    new, _ = jax.jit(step)(state, (x, y))
    value, grad, moved_value, moved_grad = new.opt_state
    moved = jax.tree.map(lambda p: p + 1.0, params)
    assert float(value) == pytest.approx(float(loss(params, x, y)), rel=1e-6)
    assert float(moved_value) == pytest.approx(float(loss(moved, x, y)), rel=1e-6)
    assert float(moved_value) != pytest.approx(float(loss(moved, x[:2], y[:2])), rel=1e-3)  # the batch's
    chex.assert_trees_all_close(grad, jax.grad(loss)(params, x, y), rtol=1e-6)
    chex.assert_trees_all_close(moved_grad, jax.grad(loss)(moved, x, y), rtol=1e-6)
    with pytest.raises(ConfigError, match="extras="):
        make_step(jax.value_and_grad(loss), probe(), extras=("hessian",))


def test_lbfgs_on_minibatches_stalls_for_good_after_one_zero_step(x64):
    """Why runs refuse lbfgs on minibatches (`jaxgd.experiments.checks.FULL_BATCH_RULES`): a zero
    step (s = 0) next to a gradient from another batch (y != 0) makes gamma = <s, y>/<y, y> = 0,
    so the direction is 0, the next s is 0 again, and so on; optax's scale_by_lbfgs alike. On
    the full batch the same point gives y = 0 and gamma = 1, so the run goes on."""
    p = jnp.array([0.5, -1.0, 2.0])
    g_batch_a, g_batch_b = jnp.array([1.0, 0.5, -0.25]), jnp.array([0.25, -1.0, 0.75])
    for tx in (o.scale_by_lbfgs(), optax.scale_by_lbfgs()):
        state = tx.init(p)
        _, state = tx.update(g_batch_a, state, p)  # step 0; then the step came out 0: params unchanged
        u, state = tx.update(g_batch_b, state, p)
        np.testing.assert_array_equal(np.asarray(u), np.zeros(3))  # gamma = 0 / |y|^2
        u, state = tx.update(g_batch_a, state, p)
        np.testing.assert_array_equal(np.asarray(u), np.zeros(3))  # and it stays there
        full = tx.init(p)
        _, full = tx.update(g_batch_a, full, p)
        u, _ = tx.update(g_batch_a, full, p)  # the full batch: y = 0, gamma = 1: u = H g != 0
        assert float(jnp.linalg.norm(u)) > 0.1


@pytest.mark.parametrize(("make", "extras"), [(lambda: o.lbfgs(), ("value", "grad", "value_fn")),
                                              (lambda: o.sam(learning_rate=0.1), ("grad_fn",))],
                         ids=["lbfgs", "sam"])
def test_fit_without_extras_named_only_make_step_in_its_error(make, extras):
    """jaxgd.fit(loss, params, lbfgs(), x, y) failed pointing at jaxgd.training.make_step; the message
    names fit's own ``extras=``, and with it fit takes the same steps as update() by hand."""
    import jaxgd

    x = jnp.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [2.0, 1.0]])
    y = jnp.array([1.0, -1.0, 0.5, 2.0])
    params = {"w": jnp.array([0.3, -0.2]), "b": jnp.array(0.1)}

    def mse(p, x, y):
        return jnp.mean((x @ p["w"] + p["b"] - y) ** 2)

    with pytest.raises(ValueError, match=r"Pass extras=\(" + r".*to jaxgd\.fit"):
        jaxgd.fit(mse, params, make(), x, y, epochs=1)
    got = jaxgd.fit(mse, params, make(), x, y, epochs=3, extras=extras).state.params
    tx, p = make(), params
    state = tx.init(p)

    @jax.jit  # by hand: every extra on the full batch at the current params (compiled once)
    def step(p, state):
        value, grad = jax.value_and_grad(mse)(p, x, y)
        kw = {"value": value, "grad": grad, "value_fn": lambda q: mse(q, x, y),
              "grad_fn": lambda q, i: jax.grad(mse)(q, x, y)}
        u, state = tx.update(grad, state, p, **{k: kw[k] for k in extras})
        return apply_updates(p, u), state

    for _ in range(3):
        p, state = step(p, state)
    chex.assert_trees_all_close(got, p, rtol=1e-5, atol=1e-6)
    assert float(mse(p, x, y)) < float(mse(params, x, y))
