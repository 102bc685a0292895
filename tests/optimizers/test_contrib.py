"""Rules optax keeps in ``optax.contrib`` (ADOPT, ...), against their papers written out in numpy.

The generic table tests (test_optimizers.py) pin hand == optax; here each rule meets
its paper's algorithm (or the authors' code) as an independent reference, and the
places where optax's twin departs from the paper are pinned.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax.contrib
import pytest
from lockstep import gradient_stream, run

from jaxgd import optimizers as hand
from jaxgd.core.precision import UnsupportedDtypeError
from jaxgd.optimizers.muon import NS_COEFFS

STEPS = 40


def stream(p0, steps=STEPS, scale=1.0):
    """The shared gradient stream for a params vector, as NumPy ``(steps, n)``."""
    return np.asarray(gradient_stream(p0, steps, scale=scale))


def trajectory(tx, p0, grads):
    """Params after each step, ``(steps, n)``, running ``tx`` on a fixed gradient stream."""
    return np.asarray(run(tx, jnp.asarray(p0), jnp.asarray(grads)).params)


def rel(a, b):
    return float(np.max(np.abs(a - b)) / (1.0 + np.max(np.abs(b))))


# ------------------------------------------------------------------------------ ADOPT


def adopt_paper(p, grads, lr, b1=0.9, b2=0.9999, eps=1e-6, clip=True):
    """Taniguchi et al. 2024, Algorithm 1 with clipping: v_0 = g_0**2 from the first gradient,
    then for t >= 1 m_t = b1 m + (1 - b1) Clip(g_t / max(sqrt(v_{t-1}), eps), t**0.25),
    p -= lr m_t, v_t = b2 v + (1 - b2) g_t**2."""
    v, m, out = grads[0] ** 2, np.zeros_like(p), [p]
    for t, g in enumerate(grads[1:], start=1):
        n = g / np.maximum(np.sqrt(v), eps)
        if clip:
            n = np.clip(n, -t**0.25, t**0.25)
        m = b1 * m + (1 - b1) * n
        p = p - lr * m
        v = b2 * v + (1 - b2) * g * g
        out.append(p)
    return np.stack(out)


@pytest.mark.parametrize("clip", [True, False])
def test_adopt_is_the_papers_algorithm(clip, x64):
    p0 = np.linspace(-1, 1, 6)
    grads = stream(p0, scale=3.0)  # large enough for the clip at t**0.25 to bite early on
    ours = trajectory(hand.adopt(0.01, b2=0.99, use_clipping=clip), p0, grads)
    assert rel(ours, adopt_paper(p0, grads, 0.01, b2=0.99, clip=clip)) < 1e-12
    np.testing.assert_array_equal(ours[0], p0)  # the first step only records v_0


def test_adopt_clipping_matters_on_this_stream(x64):
    p0 = np.linspace(-1, 1, 6)
    grads = stream(p0, scale=3.0)
    clipped = adopt_paper(p0, grads, 0.01, b2=0.99)
    assert rel(clipped, adopt_paper(p0, grads, 0.01, b2=0.99, clip=False)) > 1e-4


def test_adopt_refuses_complex_params_only_with_clipping():
    p = jnp.array([1 + 1j, 2 - 1j], jnp.complex64)
    with pytest.raises(UnsupportedDtypeError, match="use_clipping=False"):
        hand.adopt(0.1).init(p)
    tx = hand.adopt(0.1, use_clipping=False)
    u, _ = tx.update(p, tx.init(p), p)
    np.testing.assert_array_equal(u, jnp.zeros_like(p))


# --------------------------------------------------------------------------- AdEMAMix


def ademamix_paper(p, grads, lr, b1=0.9, b2=0.999, b3=0.9999, alpha=5.0, eps=1e-8, wd=0.0):
    """Pagliardini et al. 2024, Algorithm 1 (no warmup): m1 debiased, m2 not, decay in the
    authors' form p *= 1 - lr * wd before the step."""
    m1, m2, v, out = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p), []
    for t, g in enumerate(grads, start=1):
        m1 = b1 * m1 + (1 - b1) * g
        m2 = b3 * m2 + (1 - b3) * g
        v = b2 * v + (1 - b2) * g * g
        m1_hat, v_hat = m1 / (1 - b1**t), v / (1 - b2**t)
        p = p * (1 - lr * wd) - lr * (m1_hat + alpha * m2) / (np.sqrt(v_hat) + eps)
        out.append(p)
    return np.stack(out)


def test_ademamix_is_the_papers_algorithm(x64):
    p0 = np.linspace(-1, 1, 6)
    grads = stream(p0)
    ours = trajectory(hand.ademamix(0.01, b3=0.99, alpha=3.0, weight_decay=0.1), p0, grads)
    assert rel(ours, ademamix_paper(p0, grads, 0.01, b3=0.99, alpha=3.0, wd=0.1)) < 1e-12
    # alpha = 0 is AdamW
    adamw = trajectory(hand.adamw(0.01, weight_decay=0.1), p0, grads)
    assert rel(trajectory(hand.ademamix(0.01, alpha=0.0, weight_decay=0.1), p0, grads), adamw) < 1e-12
    assert rel(ours, adamw) > 1e-3


# ------------------------------------------------------------------------------- Muon


def test_newton_schulz_maps_each_singular_value_by_the_quintic(x64):
    """X = U S V^T gives U p(S/||S||) V^T, p the 5-fold quintic a s + b s^3 + c s^5 (numpy SVD)."""
    x = np.random.default_rng(0).standard_normal((5, 3))
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    s = s / np.linalg.norm(s)
    a, b, c = NS_COEFFS
    for _ in range(5):
        s = a * s + b * s**3 + c * s**5
    expected = (u * s) @ vt
    np.testing.assert_allclose(hand.newton_schulz(jnp.asarray(x), eps=0.0), expected, rtol=1e-10, atol=1e-12)
    assert 0.6 < s.min() and s.max() < 1.25  # near-orthogonal, as Jordan describes


def test_muon_routes_non_empty_matrices_only(x64):
    params = {"w": jnp.ones((3, 4)), "empty": jnp.zeros((0, 3)), "b": jnp.ones(4), "t": jnp.ones((2, 2, 2))}
    routed = {k: hand.is_muon_leaf(v) for k, v in params.items()}
    assert routed == {"w": True, "empty": False, "b": False, "t": False}


# -------------------------------------------------------------------------------- DoG


def dog_paper(p, grads, r_eps):
    """Ivgi et al. 2023, Algorithm 1: rbar_t = max(r_eps, max_{i<=t} ||x_i - x_0||),
    G_t = sum_{i<=t} ||g_i||**2, x_{t+1} = x_t - rbar_t / sqrt(G_t) g_t."""
    x0, rbar, big_g, out = p, r_eps, 0.0, []
    for g in grads:
        rbar = max(rbar, float(np.linalg.norm(p - x0)))
        big_g += float(np.sum(g * g))
        p = p - rbar / np.sqrt(big_g) * g
        out.append(p)
    return np.stack(out)


def test_dog_is_the_papers_algorithm(x64):
    p0 = np.linspace(-1, 1, 6)
    grads = stream(p0)
    r_eps = 1e-6 * (1 + np.linalg.norm(p0))  # the paper's heuristic
    ours = trajectory(hand.dog(eps=0.0), p0, grads)
    assert rel(ours, dog_paper(p0, grads, r_eps)) < 1e-12
    same = trajectory(hand.dog(init_step=("distance", r_eps), eps=0.0), p0, grads)
    assert rel(same, ours) < 1e-12
    # rbar grows past r_eps with the distance travelled (a fixed step r_eps / ||g|| would not)
    assert np.linalg.norm(ours[-1] - p0) > 2 * r_eps


def test_dog_eps_is_optax_not_the_paper(x64):
    """optax's eps sits under the square root (G_t + eps); the paper has none. With a
    gradient stream of norm ~1e-4 the default 1e-8 shows."""
    p0 = np.linspace(-1, 1, 6)
    grads = stream(p0, scale=1e-4)
    paper = dog_paper(p0, grads, 1e-6 * (1 + np.linalg.norm(p0)))
    assert rel(trajectory(hand.dog(eps=0.0), p0, grads), paper) < 1e-12
    assert rel(trajectory(hand.dog(), p0, grads), paper) > 1e-9


def test_dog_learning_rate_init_takes_eta_0_first(x64):
    p0 = np.linspace(-1, 1, 6)
    grads = stream(p0)
    ours = trajectory(hand.dog(init_step=("learning_rate", 0.1), eps=0.0), p0, grads)
    np.testing.assert_allclose(ours[0], p0 - 0.1 * grads[0], rtol=1e-14)
    rbar = np.linalg.norm(ours[0] - p0)
    g2 = np.sum(grads[0] ** 2) + np.sum(grads[1] ** 2)
    np.testing.assert_allclose(ours[1], ours[0] - rbar / np.sqrt(g2) * grads[1], rtol=1e-13)


# ---------------------------------------------------------------------------- Prodigy


def prodigy_paper(p, grads, lr, b1=0.9, b2=0.999, eps=1e-8, d0=1e-6, debias=False, eps_d_next=False):
    """Mishchenko & Defazio 2023, Algorithm 3 (Prodigy, Adam version), with its (1 - sqrt(b2))
    factors; ``debias`` puts Adam's bias correction into gamma_k, ``eps_d_next`` takes
    d_{k+1} eps in the denominator (the authors' code and optax do both)."""
    b3 = np.sqrt(b2)
    x0, d, m, v, r, s, out = p, d0, np.zeros_like(p), np.zeros_like(p), 0.0, np.zeros_like(p), []
    for k, g in enumerate(grads, start=1):
        gamma = lr * np.sqrt(1 - b2**k) / (1 - b1**k) if debias else lr
        m = b1 * m + (1 - b1) * d * g
        v = b2 * v + (1 - b2) * d * d * g * g
        r = b3 * r + (1 - b3) * gamma * d * d * float(np.dot(g, x0 - p))
        s = b3 * s + (1 - b3) * gamma * d * d * g
        d_next = max(d, r / np.sum(np.abs(s)))
        p = p - gamma * d * m / (np.sqrt(v) + (d_next if eps_d_next else d) * eps)
        d = d_next
        out.append(p)
    return np.stack(out)


def test_prodigy_is_the_papers_algorithm_in_optax_form(x64):
    p0 = np.linspace(-1, 1, 6)
    grads = stream(p0) + 0.5  # a drift, so that <g, x_0 - x> grows and d with it
    ours = trajectory(hand.prodigy(1.0, eps=1e-3), p0, grads)
    assert rel(ours, prodigy_paper(p0, grads, 1.0, eps=1e-3, debias=True, eps_d_next=True)) < 1e-12
    # the departures from Algorithm 3 show: bias correction in the rate, d_{k+1} eps
    assert rel(ours, prodigy_paper(p0, grads, 1.0, eps=1e-3, eps_d_next=True)) > 1e-3
    assert rel(ours, prodigy_paper(p0, grads, 1.0, eps=1e-3, debias=True)) > 1e-9
    state = hand.prodigy(1.0).init(jnp.asarray(p0))
    assert float(state.estim_lr) == 1e-6


def test_prodigy_keeps_d_on_zero_gradients_where_optax_gives_nan(x64):
    """||s||_1 = 0 (all gradients so far zero): optax divides 0 by 0; jaxgd keeps d, and the
    step is 0 (the authors' code skips the step)."""
    p = jnp.linspace(-1.0, 1.0, 4)
    zero = jnp.zeros_like(p)
    tx = hand.prodigy(1.0)
    u, state = tx.update(zero, tx.init(p), p)
    np.testing.assert_array_equal(u, zero)
    assert float(state.estim_lr) == 1e-6
    ref = optax.contrib.prodigy(1.0)
    u_ref, state_ref = ref.update(zero, ref.init(p), p)
    assert np.isnan(np.asarray(u_ref)).all() and np.isnan(float(state_ref.estim_lr))


# ------------------------------------------------------------------------------ COCOB


def cocob_paper(w1, grads, alpha=100.0):
    """Orabona & Tommasi 2017, Algorithm 2 (COCOB-Backprop), from L_0 = 0:
    w_{t+1} = w_1 - theta_t (L_t + R_t) / (L_t max(G_t + L_t, alpha L_t)), theta_t = sum g."""
    w, big_l, big_g, reward, theta, out = w1, np.zeros_like(w1), np.zeros_like(w1), np.zeros_like(w1), \
        np.zeros_like(w1), []
    for g in grads:
        big_l = np.maximum(big_l, np.abs(g))
        big_g = big_g + np.abs(g)
        reward = np.maximum(reward - (w - w1) * g, 0)
        theta = theta + g
        w = w1 - theta / (big_l * np.maximum(big_g + big_l, alpha * big_l)) * (big_l + reward)
        out.append(w)
    return np.stack(out)


@pytest.mark.parametrize("alpha", [100.0, 3.0])
def test_cocob_is_the_papers_algorithm(alpha, x64):
    p0 = np.linspace(-1, 1, 6)
    grads = stream(p0) + 0.3  # a drift, so that the rewards grow
    ours = trajectory(hand.cocob(alpha=alpha, eps=1e-30), p0, grads)  # L_0 = 1e-30: the paper's 0
    assert rel(ours, cocob_paper(p0, grads, alpha)) < 1e-12
    assert rel(ours, cocob_paper(p0, grads, 2 * alpha)) > 1e-3


def test_cocob_learning_rate_scales_the_gradients_it_has_no_effect(x64):
    """optax's learning_rate multiplies the gradients before COCOB, whose move does not change
    when every gradient is scaled by one factor: lr 0.01 and lr 1 take the same steps."""
    p0 = np.linspace(-1, 1, 6)
    grads = stream(p0) + 0.3
    one = trajectory(hand.cocob(1.0), p0, grads)
    assert rel(trajectory(hand.cocob(0.01), p0, grads), one) < 1e-12
    ref = trajectory(optax.contrib.cocob(0.01), p0, grads)
    assert rel(ref, one) < 1e-12


def test_cocob_keeps_eps_in_float16_where_optax_divides_zero_by_zero():
    p = jnp.array([0.5, -0.25], jnp.float16)
    zero = jnp.zeros_like(p)
    tx = hand.cocob()
    u, _ = tx.update(zero, tx.init(p), p)
    np.testing.assert_array_equal(u, zero)
    ref = optax.contrib.cocob()
    assert np.isnan(np.asarray(ref.update(zero, ref.init(p), p)[0], np.float32)).all()
