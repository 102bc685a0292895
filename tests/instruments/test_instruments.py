"""jaxgd.instruments against independent references: jax.hessian + numpy eigvalsh, closed forms."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from jaxgd.core.errors import ConfigError, DataError
from jaxgd.instruments import (
    adam_preconditioner,
    gradient_noise_scale,
    hessian_trace,
    hvp,
    interpolate_loss,
    lr_range_test,
    per_example_grads,
    preconditioned_sharpness,
    rmsprop_preconditioner,
    top_hessian_eigenvalue,
    update_monitors,
)
from jaxgd.nn import init_mlp, make_loss_fn
from jaxgd.optimizers import adam, rmsprop, sgd

KEY = jax.random.key(0)


def _quadratic(a):
    """0.5 x^T A x on a dict pytree {"x": (d,)}: Hessian A."""
    return lambda p: 0.5 * p["x"] @ a @ p["x"]


def _spd(d, seed=0, top=None):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    eig = np.linspace(0.5, 3.0, d)
    if top is not None:
        eig[-1] = top
    return q @ np.diag(eig) @ q.T, eig


def _mlp_problem(dtype=jnp.float64):
    k1, k2, k3 = jax.random.split(jax.random.key(1), 3)
    params = init_mlp(k1, (3, 4, 1), dtype=dtype)
    x = jax.random.normal(k2, (16, 3), dtype)
    y = jax.random.normal(k3, (16, 1), dtype)
    return make_loss_fn("mse", "tanh"), params, x, y


def _dense_hessian(loss_fn, params, *args):
    flat, unravel = ravel_pytree(params)
    return np.asarray(jax.hessian(lambda f: loss_fn(unravel(f), *args))(flat))


def test_hvp_equals_dense_hessian_times_v(x64):
    loss_fn, params, x, y = _mlp_problem()
    v = jax.tree.map(lambda p: jax.random.normal(KEY, p.shape, p.dtype), params)
    got = ravel_pytree(hvp(loss_fn, params, v, x, y))[0]
    want = _dense_hessian(loss_fn, params, x, y) @ np.asarray(ravel_pytree(v)[0])
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_top_eigenvalue_matches_eigvalsh_on_mlp(x64):
    loss_fn, params, x, y = _mlp_problem()
    eigs = np.linalg.eigvalsh(_dense_hessian(loss_fn, params, x, y))
    want = eigs[np.argmax(np.abs(eigs))]
    got, vec = top_hessian_eigenvalue(loss_fn, params, x, y, key=KEY, iters=200)
    np.testing.assert_allclose(got, want, rtol=1e-3)
    np.testing.assert_allclose(float(ravel_pytree(vec)[0] @ ravel_pytree(vec)[0]), 1.0, rtol=1e-9)


def test_top_eigenvalue_of_a_quadratic_is_the_top_of_a(x64):
    a, eig = _spd(6, top=10.0)
    got, vec = top_hessian_eigenvalue(_quadratic(a), {"x": jnp.ones(6)}, key=KEY, iters=50)
    np.testing.assert_allclose(got, 10.0, rtol=1e-6)
    np.testing.assert_allclose(a @ vec["x"], 10.0 * vec["x"], atol=1e-5)


def test_hutchinson_trace_within_5_percent(x64):
    a, eig = _spd(20, seed=3)
    got = hessian_trace(_quadratic(a), {"x": jnp.zeros(20)}, key=KEY, probes=2000)
    np.testing.assert_allclose(got, eig.sum(), rtol=0.05)


def test_preconditioned_sharpness_identity_is_plain_sharpness(x64):
    loss_fn, params, x, y = _mlp_problem()
    ones = jax.tree.map(jnp.ones_like, params)
    plain, _ = top_hessian_eigenvalue(loss_fn, params, x, y, key=KEY, iters=100)
    pre, _ = preconditioned_sharpness(loss_fn, params, x, y, precond=ones, key=KEY, iters=100)
    np.testing.assert_allclose(pre, plain, rtol=1e-10)


def test_preconditioned_sharpness_known_diagonal(x64):
    a, _ = _spd(5, seed=2)
    d = np.array([0.5, 1.0, 2.0, 4.0, 0.25])
    want = np.max(np.linalg.eigvals(np.diag(1 / d) @ a).real)
    got, v = preconditioned_sharpness(_quadratic(a), {"x": jnp.zeros(5)}, precond={"x": jnp.asarray(d)},
                                      key=KEY, iters=300)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    np.testing.assert_allclose((a @ v["x"]) / d, want * v["x"], atol=1e-5)  # P^-1 H v = lambda v


def test_sharpness_vmapped_over_seeds_and_jitted(x64):
    a, _ = _spd(4, top=7.0)
    keys = jax.random.split(KEY, 2)
    fn = jax.jit(jax.vmap(lambda k: top_hessian_eigenvalue(_quadratic(a), {"x": jnp.ones(4)}, key=k)[0]))
    np.testing.assert_allclose(fn(keys), [7.0, 7.0], rtol=1e-4)
    pre = jax.jit(jax.vmap(lambda d: preconditioned_sharpness(
        _quadratic(np.diag([1.0, 2.0, 3.0, 4.0])), {"x": jnp.ones(4)}, precond={"x": d}, key=KEY)[0]))
    np.testing.assert_allclose(pre(jnp.array([[1.0] * 4, [4.0] * 4])), [4.0, 1.0], rtol=1e-4)


def test_adam_preconditioner_from_state(x64):
    params = {"x": jnp.array([1.0, -2.0])}
    tx = adam(0.1, b1=0.9, b2=0.99, eps=1e-3)
    state = tx.init(params)
    g1, g2 = np.array([0.5, 3.0]), np.array([-1.0, 2.0])
    for g in (g1, g2):
        _, state = tx.update({"x": jnp.asarray(g)}, state, params)
    v = 0.99 * 0.01 * g1**2 + 0.01 * g2**2
    want = (1 - 0.9**2) * (np.sqrt(v / (1 - 0.99**2)) + 1e-3)
    got = adam_preconditioner(state, b1=0.9, b2=0.99, eps=1e-3)["x"]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_adam_preconditioner_turns_optax_adam_into_heavy_ball_on_raw_m(x64):
    """Cohen et al. 2022 (arXiv:2207.14484, sec. 2) write Adam as x <- x - lr P^-1 m with the raw
    EMA m and P = (1 - b1^t)(sqrt(v / (1 - b2^t)) + eps): the (1 - b1^t) factor belongs to P.
    optax.adam's update (an independent implementation) must equal -lr m / P at every step."""
    import optax

    params = {"x": jnp.array([1.0, -2.0, 0.5])}
    lr, b1, b2, eps = 0.1, 0.9, 0.99, 1e-3
    ref, tx = optax.adam(lr, b1=b1, b2=b2, eps=eps), adam(lr, b1=b1, b2=b2, eps=eps)
    s_ref, s = ref.init(params), tx.init(params)
    rng = np.random.default_rng(3)
    for _ in range(5):
        g = {"x": jnp.asarray(rng.normal(size=3))}
        u_ref, s_ref = ref.update(g, s_ref, params)
        _, s = tx.update(g, s, params)
        mu = s[0].mu["x"]  # adam = chain(scale_by_adam, scale by -lr): the raw EMA of g
        want = -lr * mu / adam_preconditioner(s, b1=b1, b2=b2, eps=eps)["x"]
        np.testing.assert_allclose(u_ref["x"], want, rtol=1e-12)


def test_rmsprop_preconditioner_from_state(x64):
    params = {"x": jnp.array([1.0, -2.0])}
    g = np.array([0.5, 3.0])
    for eps_in_sqrt in (True, False):
        tx = rmsprop(0.1, decay=0.9, eps=1e-3, eps_in_sqrt=eps_in_sqrt)
        _, state = tx.update({"x": jnp.asarray(g)}, tx.init(params), params)
        v = 0.1 * g**2
        want = np.sqrt(v + 1e-3) if eps_in_sqrt else np.sqrt(v) + 1e-3
        got = rmsprop_preconditioner(state, decay=0.9, eps=1e-3, eps_in_sqrt=eps_in_sqrt)["x"]
        np.testing.assert_allclose(got, want, rtol=1e-12)
    with pytest.raises(ConfigError, match="opt_state holds 0 adam"):
        adam_preconditioner(state)


def test_noise_scale_closed_form_least_squares(x64):
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(32, 3)), rng.normal(size=3)
    y = x @ np.array([1.0, -1.0, 0.5]) + 0.3 * rng.normal(size=32)
    loss_fn = lambda p, x, y: 0.5 * jnp.mean((x @ p["w"] - y) ** 2)
    g = (x @ w - y)[:, None] * x  # per-example gradients (n, 3)
    np.testing.assert_allclose(per_example_grads(loss_fn, {"w": jnp.asarray(w)}, x, y)["w"], g, rtol=1e-12)
    tr = np.trace(np.cov(g.T, ddof=1))
    out = gradient_noise_scale(loss_fn, {"w": jnp.asarray(w)}, x, y)
    np.testing.assert_allclose(out.trace_cov, tr, rtol=1e-12)
    np.testing.assert_allclose(out.b_simple, tr / np.sum(g.mean(0) ** 2), rtol=1e-12)
    deb = gradient_noise_scale(loss_fn, {"w": jnp.asarray(w)}, x, y, debias=True)
    np.testing.assert_allclose(deb.grad_sq_norm, np.sum(g.mean(0) ** 2) - tr / 32, rtol=1e-12)
    with pytest.raises(DataError, match="n >= 2"):
        gradient_noise_scale(loss_fn, {"w": jnp.asarray(w)}, x[:1], y[:1])


def test_update_monitors_hand_numbers():
    params = {"a": jnp.array([3.0, 4.0]), "b": jnp.zeros(2)}
    updates = {"a": jnp.array([0.3, 0.4]), "b": jnp.array([0.0, 1.0])}
    out = jax.jit(update_monitors)(params, updates, 0.1)
    np.testing.assert_allclose(out["update_norm"], np.sqrt(0.09 + 0.16 + 1.0), rtol=1e-6)
    np.testing.assert_allclose(out["param_norm"], 5.0, rtol=1e-6)
    np.testing.assert_allclose(out["update_ratio"]["a"], 0.1, rtol=1e-6)
    assert float(out["update_ratio"]["b"]) == 0.0  # zero params: reported as 0, not NaN or inf
    np.testing.assert_allclose(out["learning_rate"], 0.1, rtol=1e-7)


def test_interpolation_endpoints_equal_losses_at_a_and_b():
    loss_fn, a, x, y = _mlp_problem(jnp.float32)
    b = init_mlp(jax.random.key(9), (3, 4, 1))
    alphas, losses = jax.jit(lambda a, b: interpolate_loss(loss_fn, a, b, x, y, num=7))(a, b)
    np.testing.assert_allclose(alphas, np.linspace(0, 1, 7), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(losses)[[0, -1]], [loss_fn(a, x, y), loss_fn(b, x, y)], rtol=1e-6)
    mid = jax.tree.map(lambda p, q: 0.5 * p + 0.5 * q, a, b)
    np.testing.assert_allclose(losses[3], loss_fn(mid, x, y), rtol=1e-6)


def test_lr_range_test_exponential_ramp_and_suggestion_in_range():
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(64, 2)), jnp.float32)
    y = x @ jnp.array([2.0, -1.0]) + 0.5 * jnp.asarray(rng.normal(size=64), jnp.float32)
    loss_fn = lambda p, x, y: jnp.mean((x @ p["w"] - y) ** 2)
    edge = 2 / np.linalg.eigvalsh(2 * np.asarray(x).T @ np.asarray(x) / 64).max()  # GD diverges above it
    out = lr_range_test(loss_fn, {"w": jnp.zeros(2)}, sgd, x, y, batch_size=16, min_lr=1e-4, max_lr=10.0,
                        steps=60, key=KEY)
    np.testing.assert_allclose(out.lrs, np.geomspace(1e-4, 10.0, 60), rtol=1e-5)
    assert 1e-4 <= float(out.suggested_lr) <= 10.0
    # the least smoothed loss comes near the stability edge; a tenth of it is a safe, useful rate
    assert 1e-2 < float(out.suggested_lr) < edge / 2
    assert float(out.losses[-1]) > 10 * float(out.losses[0])
    with pytest.raises(ConfigError, match="min_lr"):
        lr_range_test(loss_fn, {"w": jnp.zeros(2)}, sgd, x, y, 16, 1.0, 0.1, 10, KEY)


def test_bad_inputs_name_the_argument():
    with pytest.raises(ConfigError, match="iters=0"):
        top_hessian_eigenvalue(lambda p: p @ p, jnp.ones(2), key=KEY, iters=0)
    with pytest.raises(ConfigError, match="v has tree structure"):
        hvp(lambda p: p["x"] @ p["x"], {"x": jnp.ones(2)}, jnp.ones(2))
