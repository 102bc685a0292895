"""D-Adapted AdamW and optimistic Adam against their papers' equations written out in NumPy.

The table tests (test_optimizers.py, test_precision.py) pin hand == optax per step for
every row; here each rule meets its paper on a tiny problem, the first steps are worked
out by hand, and where optax's twin (which jaxgd follows) departs from the paper the
test names the difference.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import optax.contrib
import pytest
from lockstep import gradient_stream, run

from jaxgd import optimizers as hand
from jaxgd.core.errors import ConfigError

B1, B2, EPS, D0 = 0.9, 0.999, 1e-8, 1e-6
X_STAR = np.array([3.0, -2.0, 0.5])  # the minimum of f(x) = 0.5 ||x - x*||**2, from x_0 = 0


def rel(a, b):
    return float(np.max(np.abs(a - b)) / (1.0 + np.max(np.abs(b))))


# ------------------------------------------------------------------------------ D-Adaptation


def dadapt_paper(steps, *, bias_correction=False, new_a=True, lr=1.0, b1=B1, b2=B2, eps=EPS, d0=D0):
    """Defazio & Mishchenko 2023, Adam D-Adaptation, on f(x) = 0.5 ||x - x*||**2 from x_0 = 0:

        m = b1 m + (1 - b1) d gamma g;  v = b2 v + (1 - b2) g**2;  x = x - m / (sqrt(v) + eps)
        s' = sqrt(b2) s + (1 - sqrt(b2)) d gamma g
        r = sqrt(b2) r + (1 - sqrt(b2)) d gamma <g, s>_{A^-1},  A = sqrt(v) + eps
        d = max(d, r / ((1 - sqrt(b2)) ||s'||_1))

    The paper takes A = A_{k+1} (after g**2 is added to v, ``new_a``) and gamma = lr (no
    bias correction). Returns the iterates x_1..x_steps and the estimates d_1..d_steps.
    """
    sb2 = np.sqrt(b2)
    x, m, v, s, r, d = (np.zeros(3), np.zeros(3), np.zeros(3), np.zeros(3), 0.0, d0)
    xs, ds = [], []
    for k in range(steps):
        g = x - X_STAR
        gamma = lr * (np.sqrt(1 - b2 ** (k + 1)) / (1 - b1 ** (k + 1)) if bias_correction else 1.0)
        a_old = np.sqrt(v) + eps
        m = b1 * m + (1 - b1) * d * gamma * g
        v = b2 * v + (1 - b2) * g * g
        a = np.sqrt(v) + eps if new_a else a_old
        x = x - m / (np.sqrt(v) + eps)
        r = sb2 * r + (1 - sb2) * d * gamma * np.dot(g, s / a)
        s = sb2 * s + (1 - sb2) * d * gamma * g
        d = max(d, r / ((1 - sb2) * np.sum(np.abs(s))))
        xs.append(x)
        ds.append(d)
    return np.stack(xs), np.array(ds)


def descend(tx, steps):
    """Run ``tx`` on f(x) = 0.5 ||x - x*||**2 from x_0 = 0: the iterates and the final state."""
    x = jnp.zeros(3)
    state, xs, update = tx.init(x), [], jax.jit(tx.update)
    for _ in range(steps):
        u, state = update(x - jnp.asarray(X_STAR), state, x)
        x = x + u
        xs.append(np.asarray(x))
    return np.stack(xs), state


def test_dadapt_first_step_moves_every_coordinate_by_d0(x64):
    """Step 1: gamma = sqrt(1 - b2) / (1 - b1), m = (1 - b1) d_0 gamma g, v = (1 - b2) g**2, so
    u = -d_0 sqrt(1 - b2) g / (sqrt(1 - b2) |g| + eps): d_0 against the gradient's sign. s_0 = 0
    gives r_1 = 0, so d stays d_0."""
    g = jnp.array([2.0, -0.5, 1e-3])
    tx = hand.dadapt_adamw()
    u, state = tx.update(g, tx.init(jnp.zeros(3)), jnp.zeros(3))
    c = np.sqrt(1 - B2)
    np.testing.assert_allclose(u, -D0 * c * np.asarray(g) / (c * np.abs(np.asarray(g)) + EPS), rtol=1e-14)
    np.testing.assert_allclose(np.abs(u), D0, rtol=3.2e-4)  # off by eps / (sqrt(1 - b2) |g|) <= 3.2e-4
    assert float(state.estim_lr) == D0 and float(state.numerator_weighted) == 0.0 and int(state.count) == 1


def test_dadapt_is_the_papers_algorithm_in_optax_form(x64):
    """With the paper's equations in optax's form (bias correction in gamma, <g, s> weighted by
    the A of the previous v) the iterates and d agree to float64 rounding for 30 steps, and d
    has grown far past d_0 (the check is not of a frozen d)."""
    xs, state = descend(hand.dadapt_adamw(), 30)
    ref_x, ref_d = dadapt_paper(30, bias_correction=True, new_a=False)
    assert rel(xs, ref_x) < 1e-12
    assert float(state.estim_lr) == pytest.approx(ref_d[-1], rel=1e-12)
    assert ref_d[-1] > 100 * D0


def test_dadapt_follows_optax_not_the_paper_bias_correction(x64):
    """optax (and the authors' code with use_bias_correction) puts sqrt(1 - b2**t) / (1 - b1**t) in
    gamma; the paper's algorithm has none. From step 1 on: 0.1 d_0 / sqrt(1e-3) = 3.16 d_0 (paper)
    against d_0 (optax)."""
    xs, _ = descend(hand.dadapt_adamw(), 3)
    paper_x, _ = dadapt_paper(3, bias_correction=False, new_a=False)
    np.testing.assert_allclose(np.abs(xs[0]), D0, rtol=1e-6)
    np.testing.assert_allclose(np.abs(paper_x[0]), D0 * (1 - B1) / np.sqrt(1 - B2), rtol=1e-6)


def test_dadapt_follows_optax_not_the_paper_a_of_the_previous_v(x64):
    """optax weights <g_t, s_t> by 1 / (sqrt(v_{t-1}) + eps), the paper by A_{t+1} = sqrt(v_t) + eps
    (facebookresearch/dadaptation issue #38). r_1 = 0 either way (s_0 = 0), so d_1 and the
    first two steps agree; d_2 and from step 3 on the iterates differ."""
    xs, _ = descend(hand.dadapt_adamw(), 3)
    ours_x, ours_d = dadapt_paper(3, bias_correction=True, new_a=False)
    paper_x, paper_d = dadapt_paper(3, bias_correction=True, new_a=True)
    assert rel(xs, ours_x) < 1e-12
    assert rel(xs[:2], paper_x[:2]) < 1e-12 and ours_d[0] == paper_d[0] == D0
    assert abs(ours_d[1] - paper_d[1]) > 1e-3 * D0
    assert rel(xs[2], paper_x[2]) > 1e-8


def test_dadapt_agrees_with_optax_on_d_per_step(x64):
    """The table checks updates and params; d itself, step by step, on a drifting stream."""
    p0 = jnp.linspace(-1.0, 1.0, 6)
    grads = gradient_stream(p0, 40) + 0.3
    kw = {"learning_rate": 0.5, "betas": (0.8, 0.99), "estim_lr0": 1e-4, "weight_decay": 0.1}
    ours = jax.jit(run, static_argnums=0)(hand.dadapt_adamw(**kw), p0, grads)
    theirs = jax.jit(run, static_argnums=0)(optax.contrib.dadapt_adamw(**kw), p0, grads)
    d_ours, d_theirs = np.asarray(ours.states.estim_lr), np.asarray(theirs.states.estim_lr)
    np.testing.assert_allclose(d_ours, d_theirs, rtol=1e-12)
    assert d_ours[-1] > 3 * 1e-4 and len(np.unique(d_ours)) > 5  # d grew, and more than once
    assert rel(np.asarray(ours.updates), np.asarray(theirs.updates)) < 1e-12


def test_dadapt_keeps_d_on_zero_gradients_where_optax_gives_nan(x64):
    p = jnp.array([0.5, -0.25])
    zero = jnp.zeros_like(p)
    tx = hand.dadapt_adamw()
    u, state = tx.update(zero, tx.init(p), p)
    np.testing.assert_array_equal(u, zero)
    assert float(state.estim_lr) == D0
    ref = optax.contrib.dadapt_adamw()
    u_ref, state_ref = ref.update(zero, ref.init(p), p)
    assert np.isnan(float(state_ref.estim_lr))  # ||s||_1 = 0: d = max(d, 0/0)
    assert np.isfinite(np.asarray(u_ref)).all()  # this step still uses d_0; the next is NaN


def test_dadapt_wd_betas_float16_crosscheck_fails_on_optax_numerator_underflow():
    """The wd_betas row in float16: optax keeps numerator_weighted in float16, where its ~1e-10
    rounds to 0; jaxgd keeps it in float32. A documented difference, not a failing row."""
    from jaxgd.crosscheck.rows import crosscheck_row

    kw = {"learning_rate": 0.5, "betas": (0.8, 0.99), "eps": 1e-3, "estim_lr0": 1e-3, "weight_decay": 0.1}
    p, g = jnp.full((3,), 0.5, jnp.float16), jnp.array([1.0, 2.0, -1.0], jnp.float16)
    (s_hand, s_ref) = (tx.update(g, tx.init(p), p)[1]
                       for tx in (hand.dadapt_adamw(**kw), optax.contrib.dadapt_adamw(**kw)))
    # step 1: d = max(d, r / ((1 - sqrt(b2)) ||s||_1)) with r = 0 and ||s||_1 = 5e-6: optax's
    # denominator 0.005 * 5e-6 = 2.5e-8 rounds to 0 in float16 (0/0); jaxgd's float32 keeps d_0
    assert float(s_hand.estim_lr) == pytest.approx(1e-3) and np.isnan(float(s_ref.estim_lr))
    report = crosscheck_row("dadapt_adamw-wd_betas", dtype=jnp.float16, steps=30)
    assert report.verdict != "agree" and report.documented and report.ok
    assert "numerator_weighted" in report.known


def test_dadapt_refuses_eps_zero_which_makes_optax_nan_on_the_first_step(x64):
    with pytest.raises(ConfigError, match=r"eps=0\.0 .*accepted: \(0, inf\].*1e-8"):
        hand.dadapt_adamw(eps=0.0)
    p, g = jnp.array([0.5, -0.25]), jnp.array([1.0, 2.0])
    ref = optax.contrib.dadapt_adamw(eps=0.0)
    _, state = ref.update(g, ref.init(p), p)
    assert np.isnan(float(state.numerator_weighted))  # <g, s / sqrt(v)> with s = v = 0


@pytest.mark.parametrize(("kwargs", "pattern"), [
    ({"learning_rate": -1.0}, r"learning_rate=-1\.0 .*accepted: \(0, inf\]"),
    ({"betas": (1.0, 0.999)}, r"betas=\(1\.0, 0\.999\).*\[0, 1\).*betas=\(0\.9, 0\.999\)"),
    ({"betas": 0.9}, r"betas=0\.9 is not a pair"),
    ({"estim_lr0": 0.0}, r"estim_lr0=0\.0 .*accepted: \(0, inf\].*1e-6"),
    ({"weight_decay": -0.1}, r"weight_decay=-0\.1 .*accepted: \[0, inf\].*Use 0"),
    ({"weight_decay": float("nan")}, r"weight_decay=nan is not finite"),
])
def test_dadapt_refuses_bad_hyperparameters_by_name(kwargs, pattern):
    with pytest.raises(ConfigError, match=pattern):
        hand.dadapt_adamw(**kwargs)


# ------------------------------------------------------------------------------ optimistic Adam


def optimistic_adam_paper(grads, lr, b1=B1, b2=B2, eps=EPS, r0=None):
    """Daskalakis et al. 2018, Algorithm 1 (Optimistic Adam), on a fixed gradient stream from w_0 = 0:
    r_t = m_hat_t / (sqrt(v_hat_t) + eps), w_t = w_{t-1} - 2 lr r_t + lr r_{t-1}, r_0 = 0 (the paper)
    or ``r0="first"``: r_0 = r_1 (optax's first step)."""
    m = v = np.zeros_like(grads[0])
    w, r_prev, out = np.zeros_like(grads[0]), None, []
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        r = (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        if r_prev is None:
            r_prev = r if r0 == "first" else np.zeros_like(r)
        w = w - 2 * lr * r + lr * r_prev
        r_prev = r
        out.append(w)
    return np.stack(out)


def test_optimistic_first_two_steps_by_hand(x64):
    """g_1 = 2, g_2 = -1 (alpha = beta = 1, no Nesterov). Step 1: m_hat = g_1, v_hat = g_1**2, so
    r_1 = 2 / (2 + eps) and u_1 = -lr r_1 (optax: r_0 = r_1). Step 2: m_hat = (b1 g_1 + g_2) (1 - b1)
    / (1 - b1**2), v_hat = (b2 g_1**2 + g_2**2) (1 - b2) / (1 - b2**2), u_2 = -lr (2 r_2 - r_1)."""
    lr = 0.1
    tx = hand.optimistic_adam_v2(lr, nesterov=False)
    p = jnp.zeros(1)
    u1, state = tx.update(jnp.array([2.0]), tx.init(p), p)
    u2, _ = tx.update(jnp.array([-1.0]), state, p)
    r1 = 2.0 / (2.0 + EPS)
    m_hat = (B1 * 2.0 - 1.0) * (1 - B1) / (1 - B1**2)
    v_hat = (B2 * 4.0 + 1.0) * (1 - B2) / (1 - B2**2)
    r2 = m_hat / (np.sqrt(v_hat) + EPS)
    np.testing.assert_allclose(u1, [-lr * r1], rtol=1e-14)
    np.testing.assert_allclose(u2, [-lr * (2 * r2 - r1)], rtol=1e-13)


def test_optimistic_is_the_papers_algorithm_from_step_two(x64):
    """Against Algorithm 1 over 40 steps: equal to float64 rounding with r_0 = r_1 (optax's first
    step); with the paper's r_0 = 0 the first step is twice as long, and since the later steps are
    the same every iterate is off by exactly lr r_1."""
    p0 = np.zeros(6)
    grads = np.asarray(gradient_stream(jnp.linspace(-1.0, 1.0, 6), 40))
    lr = 0.01
    ours = np.asarray(run(hand.optimistic_adam_v2(lr, nesterov=False), jnp.asarray(p0), grads).params)
    assert rel(ours, optimistic_adam_paper(grads, lr, r0="first")) < 1e-12
    paper = optimistic_adam_paper(grads, lr)
    r1 = grads[0] / (np.abs(grads[0]) + EPS)
    np.testing.assert_allclose(ours - paper, np.broadcast_to(lr * r1, ours.shape), atol=1e-15)


def test_optimistic_default_nesterov_is_optaxs_not_the_papers(x64):
    """optax's default nesterov=True looks ahead: on step 1 m_hat = b1 (1 - b1) g / (1 - b1**2)
    + g = g (1 + b1 / (1 + b1)), so u_1 = -lr (1 + b1 / (1 + b1)) g / (|g| + eps), not -lr g / (|g| + eps)."""
    lr, g = 0.1, jnp.array([2.0, -0.5])
    tx = hand.optimistic_adam_v2(lr)
    u, _ = tx.update(g, tx.init(jnp.zeros(2)), jnp.zeros(2))
    expected = -lr * (1 + B1 / (1 + B1)) * np.asarray(g) / (np.abs(np.asarray(g)) + EPS)
    np.testing.assert_allclose(u, expected, rtol=1e-13)
    ref = optax.optimistic_adam_v2(lr)
    np.testing.assert_allclose(u, ref.update(g, ref.init(jnp.zeros(2)))[0], rtol=1e-14)


@pytest.mark.parametrize(("kwargs", "pattern"), [
    ({"learning_rate": 0.0}, r"learning_rate=0\.0 .*accepted: \(0, inf\]"),
    ({"learning_rate": 0.1, "b1": 1.0}, r"b1=1\.0 .*accepted: \[0, 1\)"),
    ({"learning_rate": 0.1, "eps": -1.0}, r"eps=-1\.0 .*accepted: \[0, inf\]"),
    ({"learning_rate": 0.1, "alpha": -1.0}, r"alpha=-1\.0 .*accepted: \[0, inf\].*alpha=1\.0"),
    ({"learning_rate": 0.1, "beta": float("inf")}, r"beta=inf is not finite"),
    ({"learning_rate": 0.1, "beta": lambda c: 1.0}, r"beta=.*takes a number, not a schedule"),
])
def test_optimistic_refuses_bad_hyperparameters_by_name(kwargs, pattern):
    with pytest.raises(ConfigError, match=pattern):
        hand.optimistic_adam_v2(**kwargs)


# ------------------------------------------------------------------------------ both


@pytest.mark.parametrize("make", [lambda: hand.dadapt_adamw(lambda c: 0.99**c, weight_decay=0.1),
                                  lambda: hand.optimistic_adam_v2(lambda c: 0.01 * 0.99**c)],
                         ids=["dadapt_adamw", "optimistic_adam_v2"])
def test_jitted_update_compiles_once_across_steps(make):
    """The state keeps its structure, shapes and dtypes from step to step (count, d, the
    optimistic step's first-step flag): one compiled program serves every update."""
    tx = make()
    params = {"w": jnp.ones((2, 3)), "b": jnp.zeros(3)}
    update = jax.jit(tx.update)
    state = tx.init(params)
    for t in range(4):
        grads = jax.tree.map(lambda x, t=t: jnp.full_like(x, 0.5 - 0.3 * t), params)
        u, state = update(grads, state, params)
        params = jax.tree.map(jnp.add, params, u)
    assert update._cache_size() == 1
    assert all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves(params))
