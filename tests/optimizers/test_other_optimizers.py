"""Rule-specific checks for the SGD variants, sign, adaptive and layer-wise rules.

The table-driven tests (test_optimizers.py) compare every rule with its optax twin.
Here: PyTorch's conventions re-implemented in NumPy, closed-form first steps, the
statistics of the gradient noise, and the places where optax itself misbehaves.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from lockstep import gradient_stream, run

from jaxgd.core.errors import ConfigError, UnknownNameError
from jaxgd.optimizers import adaptive, factored, layerwise, rms, sgd_variants, sign_methods


def updates(tx, params, grads, **extra):
    """The update of each step of ``tx`` along a gradient stream (params moved by each update)."""
    return run(tx, params, grads, extra).updates


def stream(shape, steps):
    """The shared gradient stream for params of this shape, as NumPy ``(steps, *shape)``."""
    return np.asarray(gradient_stream(np.zeros(shape), steps))


# ------------------------------------------------------------ PyTorch's conventions


def torch_rmsprop(grads, lr, alpha=0.99, eps=1e-8, momentum=0.0, centered=False):
    """torch.optim.RMSprop's update rule (its documented algorithm), in NumPy; returns steps."""
    v = np.zeros_like(grads[0])
    g_avg, buf, out = np.zeros_like(v), np.zeros_like(v), []
    for g in grads:
        v = alpha * v + (1 - alpha) * g * g
        if centered:
            g_avg = alpha * g_avg + (1 - alpha) * g
            avg = np.sqrt(v - g_avg * g_avg) + eps
        else:
            avg = np.sqrt(v) + eps
        if momentum > 0:
            buf = momentum * buf + g / avg
            out.append(-lr * buf)
        else:
            out.append(-lr * g / avg)
    return out


@pytest.mark.parametrize("kw", [{}, {"momentum": 0.9}, {"centered": True}],
                            ids=["plain", "momentum", "centered"])
def test_rmsprop_with_decay_099_and_eps_outside_is_torch(kw, x64):
    grads = stream((5,), 30)
    torch = torch_rmsprop(grads, lr=0.01, alpha=0.99, eps=1e-3, **kw)
    tx = rms.rmsprop(0.01, decay=0.99, eps=1e-3, eps_in_sqrt=False, **kw)
    ref = optax.rmsprop(0.01, decay=0.99, eps=1e-3, eps_in_sqrt=False, **kw)
    np.testing.assert_allclose(updates(tx, np.zeros(5), grads), torch, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(updates(ref, np.zeros(5), grads), torch, rtol=1e-12, atol=1e-15)


def test_rmsprop_default_is_not_torchs_default(x64):
    """optax's defaults (decay 0.9, eps inside) vs torch's (alpha 0.99, eps outside)."""
    grads = stream((5,), 30)
    mine = updates(rms.rmsprop(0.01), np.zeros(5), grads)
    torch = torch_rmsprop(grads, lr=0.01)
    assert max(float(np.max(np.abs(a - b))) for a, b in zip(mine, torch, strict=True)) > 1e-3


def test_adagrad_matches_torch_with_zero_start_and_zero_eps(x64):
    grads = stream((4,), 20)
    G, torch = np.zeros(4), []
    for g in grads:  # torch.optim.Adagrad with initial_accumulator_value=0, eps=0, lr_decay=0
        G = G + g * g
        torch.append(-0.1 * g / (np.sqrt(G) + 0.0))
    mine = updates(adaptive.adagrad(0.1, initial_accumulator_value=0.0, eps=0.0), np.zeros(4), grads)
    for a, b in zip(mine, torch, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_adagrad_first_step_starts_from_point_one(x64):
    g = np.array([0.3, -2.0, 0.0])
    (u,) = updates(adaptive.adagrad(0.1), np.zeros(3), g[None])
    np.testing.assert_allclose(u, -0.1 * g / np.sqrt(0.1 + g * g + 1e-7), rtol=1e-14)
    (u0,) = updates(adaptive.adagrad(0.1, 0.0, 0.0), np.zeros(3), g[None])  # torch's start: a sign step
    np.testing.assert_allclose(u0, -0.1 * np.sign(g), rtol=1e-14)


def torch_rprop(grads, lr, etaminus=0.5, etaplus=1.2, step_min=1e-6, step_max=50.0):
    """torch.optim.Rprop's update rule in NumPy; returns the steps."""
    prev, step, out = np.zeros_like(grads[0]), np.full_like(grads[0], lr), []
    for g in grads:
        s = np.sign(g * prev)
        factor = np.where(s > 0, etaplus, np.where(s < 0, etaminus, 1.0))
        step = np.clip(step * factor, step_min, step_max)
        g = np.where(s < 0, 0.0, g)
        out.append(-np.sign(g) * step)
        prev = g
    return out


def test_rprop_matches_torch_and_optax_lags_one_step(x64):
    grads = stream((6,), 25)
    mine = updates(sgd_variants.rprop(0.01), np.zeros(6), grads)
    for a, b in zip(mine, torch_rprop(grads, 0.01), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    # optax 0.2.8 emits state.prev_updates from BEFORE the step: zeros, then our step t-1.
    theirs = updates(optax.rprop(0.01), np.zeros(6), grads)
    np.testing.assert_array_equal(theirs[0], np.zeros(6))
    for t in range(1, len(grads)):
        kept = np.asarray(mine[t]) != 0  # after a sign change optax also zeroes the stale step
        np.testing.assert_allclose(np.asarray(theirs[t])[kept], np.asarray(mine[t - 1])[kept], rtol=1e-12)


# ---------------------------------------------------------------- gradient noise


def test_noisy_sgd_draws_optax_stream_with_a_typed_key():
    params = {"a": jnp.zeros((3, 2)), "b": [jnp.zeros(()), jnp.zeros(4)]}
    grads = jax.tree.map(lambda x: jnp.ones((3, *x.shape)), params)
    key = jax.random.key(7)
    mine = updates(sgd_variants.noisy_sgd(0.1, eta=0.5, key=key), params, grads)
    theirs = updates(optax.noisy_sgd(0.1, eta=0.5, key=key), params, grads)
    jax.tree.map(np.testing.assert_array_equal, mine, theirs)
    other = updates(sgd_variants.noisy_sgd(0.1, eta=0.5, key=8), params, grads)
    assert not np.array_equal(other["a"][0], mine["a"][0])


def test_noisy_sgd_noise_statistics():
    """Zero gradients: u_t / -lr is N(0, eta / t**gamma), fresh each step and each leaf."""
    eta, gamma, lr, n = 0.5, 0.55, 0.1, 40_000
    params = {"a": jnp.zeros(n), "b": jnp.zeros(n)}
    zeros = jax.tree.map(lambda x: jnp.zeros((3, *x.shape)), params)
    steps = updates(sgd_variants.noisy_sgd(lr, eta, gamma, key=0), params, zeros)
    xs = [np.asarray(steps[k][t]) / -lr for t in range(3) for k in ("a", "b")]
    for t in range(1, 4):
        for k in ("a", "b"):
            x = np.asarray(steps[k][t - 1]) / -lr
            sigma = np.sqrt(eta / t**gamma)
            assert abs(np.mean(x)) < 4 * sigma / np.sqrt(n)
            assert abs(np.std(x) / sigma - 1) < 4 / np.sqrt(2 * n)
    corr = np.corrcoef(np.stack(xs))
    assert np.max(np.abs(corr - np.eye(len(xs)))) < 4 / np.sqrt(n)


def test_noisy_sgd_key_arguments():
    with pytest.raises(ConfigError, match="key="):
        sgd_variants.noisy_sgd(0.1, key=0, seed=1)
    with pytest.raises(ConfigError, match="key="):
        sgd_variants.noisy_sgd(0.1, key=jax.random.PRNGKey(0))  # raw uint32 key
    a = updates(sgd_variants.noisy_sgd(0.1, seed=3), jnp.zeros(3), jnp.zeros((1, 3)))
    b = updates(sgd_variants.noisy_sgd(0.1, key=3), jnp.zeros(3), jnp.zeros((1, 3)))
    np.testing.assert_array_equal(a[0], b[0])


# ------------------------------------------------------------------ sign rules


def test_sign_rules_do_not_move_where_the_gradient_is_exactly_zero():
    g = jnp.array([0.0, -0.0, 2.0, -3e-30])
    (u,) = updates(sign_methods.sign_sgd(0.1), jnp.ones(4), g[None])
    step = np.float32(0.1)
    np.testing.assert_array_equal(u, [0.0, 0.0, -step, step])
    (u,) = updates(sign_methods.signum(0.1), jnp.ones(4), g[None])
    np.testing.assert_array_equal(u, [0.0, 0.0, -step, step])
    (u,) = updates(sign_methods.lion(0.1, weight_decay=0.5), jnp.ones(4), g[None])  # only decay moves
    np.testing.assert_allclose(u, -0.1 * (np.sign([0.0, 0.0, 2.0, -1.0]) + 0.5), rtol=1e-6)


def test_lion_second_step_uses_b1_for_the_step_and_b2_for_the_memory(x64):
    g1, g2 = np.array([1.0, -1.0, 0.5]), np.array([-0.5, -0.5, -2.0])
    u = updates(sign_methods.lion(1.0, b1=0.9, b2=0.99, weight_decay=0.0), np.zeros(3), np.stack([g1, g2]))
    m1 = 0.01 * g1  # (1 - b2) * g1
    np.testing.assert_array_equal(u[1], -np.sign(0.1 * g2 + 0.9 * m1))


@pytest.mark.parametrize("mode", ["smooth", "refined"])
def test_lion_modes_match_optax(mode, x64):
    grads = stream((5,), 4)
    mine = updates(sign_methods.scale_by_lion(mode=mode, smooth_beta=2.0), np.zeros(5), grads)
    theirs = updates(optax.scale_by_lion(mode=mode, smooth_beta=2.0), np.zeros(5), grads)
    for a, b in zip(mine, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-14)


# ------------------------------------------------------- closed-form first steps


def test_polyak_step_on_a_quadratic(x64):
    """f = 0.5 ||x||**2: the Polyak step f / ||g||**2 = 1/2, halving x; scaling c divides it."""
    x = np.array([1.0, -2.0, 3.0])
    f = 0.5 * np.sum(x * x)
    (u,) = updates(sgd_variants.polyak_sgd(max_learning_rate=1.0), x, x[None], value=f)
    np.testing.assert_allclose(u, -0.5 * x, rtol=1e-15)
    (u,) = updates(sgd_variants.polyak_sgd(max_learning_rate=1.0, scaling=2.0), x, x[None], value=f)
    np.testing.assert_allclose(u, -0.25 * x, rtol=1e-15)
    (u,) = updates(sgd_variants.polyak_sgd(max_learning_rate=0.1), x, x[None], value=f)
    np.testing.assert_allclose(u, -0.1 * x, rtol=1e-15)
    (u,) = updates(sgd_variants.polyak_sgd(variant="sps+"), x, x[None], value=-1.0)  # below f_min: no step
    np.testing.assert_array_equal(u, np.zeros(3))


def test_polyak_needs_value_and_a_known_variant():
    tx = sgd_variants.polyak_sgd()
    with pytest.raises(ValueError, match="value="):
        tx.update(jnp.ones(2), tx.init(jnp.ones(2)), jnp.ones(2))
    with pytest.raises(UnknownNameError, match="sps"):
        sgd_variants.polyak_sgd(variant="spss")


def test_optimistic_first_steps(x64):
    g1, g2 = np.array([1.0, 2.0]), np.array([-1.0, 0.5])
    tx = sgd_variants.optimistic_gradient_descent(0.1, alpha=1.0, beta=0.5)
    u = updates(tx, np.zeros(2), np.stack([g1, g2]))
    np.testing.assert_allclose(u[0], -0.1 * g1, rtol=1e-15)  # g_0 := g_1
    np.testing.assert_allclose(u[1], -0.1 * (1.5 * g2 - 0.5 * g1), rtol=1e-15)


def test_adadelta_first_step_descends_without_a_learning_rate(x64):
    g = np.array([0.5, -3.0])
    step = np.sqrt(1e-6) / np.sqrt(0.1 * g * g + 1e-6) * g
    (u,) = updates(adaptive.adadelta(rho=0.9, eps=1e-6), np.zeros(2), g[None])
    np.testing.assert_allclose(u, -step, rtol=1e-14)
    (u,) = updates(optax.adadelta(rho=0.9, eps=1e-6), np.zeros(2), g[None])  # optax 0.2.8: uphill
    np.testing.assert_allclose(u, step, rtol=1e-14)


def test_lars_trust_ratio(x64):
    p, g = np.array([3.0, 4.0]), np.array([0.0, 0.5])
    (u,) = updates(layerwise.lars(0.1, trust_coefficient=0.01, momentum=0.0), p, g[None])
    np.testing.assert_allclose(u, -0.1 * 0.01 * 5.0 / 0.5 * g, rtol=1e-15)


def test_fromage_step_keeps_the_norm_for_an_orthogonal_gradient(x64):
    p, g = np.array([3.0, 4.0]), np.array([-4.0, 3.0])
    (u,) = updates(layerwise.fromage(0.2), p, g[None])
    expected = (p - 0.2 * 5.0 / 5.0 * g) / np.sqrt(1 + 0.2**2)
    np.testing.assert_allclose(p + u, expected, rtol=1e-15)
    np.testing.assert_allclose(np.linalg.norm(p + u), 5.0, rtol=1e-15)


def test_adafactor_first_step_is_relative_sign_step(x64):
    """Step 1: beta = 0, so v = g**2 (rank one: the factored estimate is exact) and
    the update is -lr * rms(p) * sign(g), for a factored and an unfactored leaf."""
    rng = np.random.default_rng(4)
    params = {"w": rng.normal(size=(6, 5)), "b": rng.normal(size=5)}
    grads = {"w": np.outer(rng.normal(size=6), rng.normal(size=5)), "b": rng.normal(size=5)}
    tx = factored.adafactor(0.01, min_dim_size_to_factor=2)
    state = tx.init(params)
    assert state[0].v_row["w"].shape == (5,) and state[0].v_col["w"].shape == (6,)
    u, _ = tx.update(grads, state, params)
    for k in params:
        rms = np.sqrt(np.mean(params[k] ** 2))
        np.testing.assert_allclose(u[k], -0.01 * rms * np.sign(grads[k]), rtol=1e-12)


def test_adafactor_positive_decay_offset_holds_the_decay_at_0_where_optax_gives_nan():
    params, grads = jnp.ones(3), jnp.array([1.0, -2.0, 0.5])
    tx, plain = factored.adafactor(0.01, decay_offset=2), factored.adafactor(0.01)
    first, _ = plain.update(grads, plain.init(params), params)
    state = tx.init(params)
    for _ in range(3):  # counts 0, 1, 2: beta = 0, each step uses its own gradient alone
        u, state = tx.update(grads, state, params)
        np.testing.assert_allclose(np.asarray(u), np.asarray(first), rtol=1e-6)
    u, _ = optax.adafactor(0.01, decay_offset=2).update(grads, optax.adafactor(0.01, decay_offset=2).init(
        params), params)
    assert bool(jnp.all(jnp.isnan(u)))  # optax 0.2.8: 0**(-0.8)


def test_sm3_equals_plain_optax_on_leaves_optax_accepts(x64):
    params = {"m": np.zeros((3, 4)), "t": np.zeros((2, 3, 2)), "v": np.zeros(4)}
    grads = gradient_stream(params, 6)
    mine = updates(adaptive.sm3(0.1), params, grads)
    theirs = updates(optax.sm3(0.1), params, grads)
    jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-13), mine, theirs)


def test_sm3_treats_a_scalar_as_a_one_vector(x64):
    grads = stream((), 5)
    scalar = updates(adaptive.sm3(0.1), np.zeros(()), grads)
    vector = updates(adaptive.sm3(0.1), np.zeros(1), grads[:, None])
    np.testing.assert_array_equal(np.reshape(scalar, (5, 1)), vector)


# ------------------------------------------------------------------- bad input


@pytest.mark.parametrize("make", [
    lambda: sgd_variants.rprop(lambda c: 0.01),
    lambda: adaptive.sm3(lambda c: 0.01),
    lambda: sgd_variants.optimistic_gradient_descent(0.1, alpha=lambda c: 1.0),
    lambda: rms.rmsprop(0.1, nesterov=True),
    lambda: sgd_variants.rprop(0.01, min_step_size=1.0, max_step_size=0.5),
], ids=["rprop-schedule", "sm3-schedule", "optimistic-alpha-schedule", "rmsprop-nesterov-alone",
        "rprop-min-above-max"])
def test_rejected_configurations(make):
    with pytest.raises(ConfigError, match="accepted"):
        make()
