"""The Adam family: PyTorch's and the papers' conventions, re-implemented in numpy, against jaxgd.

The generic table tests (tests/test_optimizers.py) pin hand == optax. Here each
rule also meets an independent reference: PyTorch's update written out in numpy
(torch is not a dependency), a closed form, or optax's rule where it is not the
paper's. Where two conventions differ, the test shows both the match and the gap.
"""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from lockstep import gradient_stream, run

from jaxgd import ConfigError
from jaxgd import optimizers as hand
from jaxgd.optimizers import adam_layerwise
from jaxgd.reference import adam_family as ref

STEPS = 40


def stream(p0, steps=STEPS, scale=1.0):
    """The shared gradient stream for a params vector, as NumPy ``(steps, n)``."""
    return np.asarray(gradient_stream(p0, steps, scale=scale))


def trajectory(tx, p0, grads):
    """Params after each step, ``(steps, n)``, running ``tx`` on a fixed gradient stream."""
    return np.asarray(run(tx, jnp.asarray(p0), jnp.asarray(grads)).params)


def rel(a, b):
    return float(np.max(np.abs(a - b)) / (1.0 + np.max(np.abs(b))))


# ----------------------------------------------------------- PyTorch's rules in numpy


def torch_adam(p, grads, lr, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=False):
    """torch.optim.AdamW (decoupled decay ``p *= 1 - lr*wd``), optionally with amsgrad."""
    m, v, v_max, out = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p), []
    for t, g in enumerate(grads, start=1):
        p = p * (1 - lr * weight_decay)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        bc1, bc2 = 1 - b1**t, 1 - b2**t
        if amsgrad:
            v_max = np.maximum(v_max, v)  # max over the RAW second moment
            denom = np.sqrt(v_max) / np.sqrt(bc2) + eps
        else:
            denom = np.sqrt(v) / np.sqrt(bc2) + eps
        p = p - lr / bc1 * m / denom
        out.append(p)
    return np.stack(out)


def torch_nadam(p, grads, lr, b1=0.9, b2=0.999, eps=1e-8, momentum_decay=4e-3):
    """torch.optim.NAdam: Dozat's schedule mu_t = b1 * (1 - 0.5 * 0.96**(t * psi))."""
    m, v, mu_prod, out = np.zeros_like(p), np.zeros_like(p), 1.0, []
    for t, g in enumerate(grads, start=1):
        mu = b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        mu_prod *= mu
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        denom = np.sqrt(v / (1 - b2**t)) + eps
        p = p - lr * (1 - mu) / (1 - mu_prod) * g / denom
        p = p - lr * mu_next / (1 - mu_prod * mu_next) * m / denom
        out.append(p)
    return np.stack(out)


def torch_radam(p, grads, lr, b1=0.9, b2=0.999, eps=1e-8):
    """torch.optim.RAdam: eps added to sqrt(v) BEFORE the bias correction; switch at rho > 5."""
    m, v, out = np.zeros_like(p), np.zeros_like(p), []
    rho_inf = 2 / (1 - b2) - 1
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        bc2 = 1 - b2**t
        m_hat = m / (1 - b1**t)
        rho = rho_inf - 2 * t * b2**t / bc2
        if rho > 5.0:
            r = np.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
            p = p - lr * m_hat * r * np.sqrt(bc2) / (np.sqrt(v) + eps)
        else:
            p = p - lr * m_hat
        out.append(p)
    return np.stack(out)


def torch_adamax(p, grads, lr, b1=0.9, b2=0.999, eps=1e-8):
    """torch.optim.Adamax: u = max(b2 * u, |g| + eps)."""
    m, u, out = np.zeros_like(p), np.zeros_like(p), []
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        u = np.maximum(b2 * u, np.abs(g) + eps)
        p = p - lr / (1 - b1**t) * m / u
        out.append(p)
    return np.stack(out)


def adan_official(p, grads, lr, b1=0.98, b2=0.92, b3=0.99, eps=1e-8, diff_weight=None):
    """Adan as in the paper's Algorithm 1 / the authors' code: the difference weighted by b2.

    ``diff_weight=1 - b2`` gives optax 0.2.8's variant instead.
    """
    c = b2 if diff_weight is None else diff_weight
    m, v, n, g_prev, out = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p), None, []
    for t, g in enumerate(grads, start=1):
        d = np.zeros_like(g) if g_prev is None else g - g_prev
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * d
        n = b3 * n + (1 - b3) * (g + c * d) ** 2
        denom = np.sqrt(n / (1 - b3**t)) + eps
        p = p - lr * (m / (1 - b1**t) + c * v / (1 - b2**t)) / denom
        g_prev = g
        out.append(p)
    return np.stack(out)


# ------------------------------------------------------------------------- tests


def test_adamw_equals_pytorch_decoupled_decay(x64):
    """optax's ``-lr * (adam_dir + wd * p)`` is PyTorch's ``p *= 1 - lr*wd`` then the Adam step."""
    p0 = np.linspace(-1, 1, 6)
    grads = stream(p0)
    ours = trajectory(hand.adamw(0.01, weight_decay=0.1), p0, grads)
    assert rel(ours, torch_adam(p0, grads, 0.01, weight_decay=0.1)) < 1e-12
    # ... and the decay is really there: plain Adam lands elsewhere.
    assert rel(trajectory(hand.adam(0.01), p0, grads), ours) > 1e-4


def test_adamw_mask_decays_only_selected_leaves(x64):
    params = {"w": jnp.ones((2, 3)), "b": jnp.ones(3)}
    grads = jax.tree.map(lambda x: 0.5 * jnp.ones_like(x), params)
    adamw, adam = hand.adamw(0.1, weight_decay=0.5, mask=hand.weights_mask), hand.adam(0.1)
    u_w, _ = adamw.update(grads, adamw.init(params), params)
    u_a, _ = adam.update(grads, adam.init(params), params)
    np.testing.assert_array_equal(u_w["b"], u_a["b"])  # bias: plain Adam
    np.testing.assert_allclose(u_w["w"], u_a["w"] - 0.1 * 0.5 * 1.0, rtol=1e-14)  # weight: + decay


def test_amsgrad_optax_form_differs_from_pytorch(x64):
    """optax keeps max(v_hat); PyTorch keeps max(v) and divides later. A big first gradient
    followed by small ones separates them: at step 2 optax's max is still v_hat_1 = g_1**2 = 1,
    PyTorch's is max(v_1, v_2) / (1 - b2**2) = v_hat_2 ~ 0.5."""
    p0 = np.zeros(1)
    grads = np.array([[1.0]] + [[0.1]] * 9)
    ours = trajectory(hand.amsgrad(0.01, eps=0.0), p0, grads)
    b2 = 0.999
    v = [0.0]
    for g in grads[:, 0]:
        v.append(b2 * v[-1] + (1 - b2) * g * g)
    v_hat_max = max(v[1] / (1 - b2), v[2] / (1 - b2**2))
    assert v_hat_max == pytest.approx(1.0, rel=1e-12)  # optax's max is still step 1's
    m2 = (0.9 * 0.1 * 1.0 + 0.1 * 0.1) / (1 - 0.9**2)
    assert ours[1, 0] - ours[0, 0] == pytest.approx(-0.01 * m2 / 1.0, rel=1e-12)
    torch = torch_adam(p0, grads, 0.01, eps=0.0, amsgrad=True)
    torch_denom = np.sqrt(max(v[1], v[2]) / (1 - b2**2))
    assert torch_denom == pytest.approx(np.sqrt(0.5048), rel=1e-3)
    assert torch[1, 0] - torch[0, 0] == pytest.approx(-0.01 * m2 / torch_denom, rel=1e-12)
    assert rel(ours, torch) > 1e-3
    np.testing.assert_allclose(ours, trajectory(ref.amsgrad(0.01, eps=0.0), p0, grads), rtol=1e-13)


def test_nadam_is_adam_nesterov():
    p0 = np.linspace(-1, 1, 6).astype(np.float32)
    grads = stream(p0)
    np.testing.assert_array_equal(trajectory(hand.nadam(0.01), p0, grads),
                                  trajectory(hand.adam(0.01, nesterov=True), p0, grads))
    np.testing.assert_array_equal(trajectory(hand.nadam(0.01, nesterov=False), p0, grads),
                                  trajectory(hand.adam(0.01), p0, grads))
    np.testing.assert_array_equal(trajectory(optax.nadam(0.01), p0, grads),
                                  trajectory(optax.adam(0.01, nesterov=True), p0, grads))


def test_nadam_first_step_closed_form(x64):
    """t = 1, eps = 0: m_hat = g * (1 + b1 / (1 + b1)), v_hat = g**2, so u = -lr * 1.4737 * sign(g)."""
    g = np.array([[0.3, -2.0, 1e-3]])
    step = trajectory(hand.nadam(0.1, eps=0.0), np.zeros(3), g)[0]
    np.testing.assert_allclose(step, -0.1 * (1 + 0.9 / 1.9) * np.sign(g[0]), rtol=1e-13)


def test_nadam_matches_pytorch_only_without_momentum_schedule(x64):
    p0 = np.linspace(-1, 1, 6)
    grads = stream(p0)
    ours = trajectory(hand.nadam(0.01), p0, grads)
    assert rel(ours, torch_nadam(p0, grads, 0.01, momentum_decay=1e9)) < 1e-12
    assert rel(ours, torch_nadam(p0, grads, 0.01)) > 1e-3  # PyTorch's default psi = 4e-3


def test_radam_matches_pytorch_only_with_zero_eps(x64):
    p0 = np.linspace(-1, 1, 6)
    grads = stream(p0)
    ours0 = trajectory(hand.radam(0.01, eps=0.0), p0, grads)
    assert rel(ours0, torch_radam(p0, grads, 0.01, eps=0.0)) < 1e-12
    ours = trajectory(hand.radam(0.01, eps=1e-3), p0, grads)
    assert rel(ours, torch_radam(p0, grads, 0.01, eps=1e-3)) > 1e-5


def test_radam_is_momentum_until_threshold(x64):
    """Below the threshold, u = -lr * m_hat; rectification starts at t = 51 for threshold 50."""
    p0 = np.zeros(6)
    grads = stream(p0, 60)
    steps = np.diff(trajectory(hand.radam(0.01, threshold=50.0), p0, grads), axis=0, prepend=p0[None])
    m = np.zeros(6)
    for t in range(1, 61):
        m = 0.9 * m + 0.1 * grads[t - 1]
        plain = -0.01 * m / (1 - 0.9**t)
        if t <= 50:
            np.testing.assert_allclose(steps[t - 1], plain, rtol=1e-12, atol=1e-15)
        else:
            assert not np.allclose(steps[t - 1], plain)


def test_adamax_matches_pytorch(x64):
    p0 = np.linspace(-1, 1, 6)
    grads = stream(p0)
    assert rel(trajectory(hand.adamax(0.01, eps=1e-3), p0, grads),
               torch_adamax(p0, grads, 0.01, eps=1e-3)) < 1e-12


def test_adan_follows_optax_not_the_paper(x64):
    """optax 0.2.8 weights g_t - g_{t-1} by 1 - b2 where the paper's code uses b2 (optax PR #1715).
    Step 1 has no difference, so the two agree there and part from step 2."""
    p0 = np.linspace(-1, 1, 6)
    grads = stream(p0)
    ours = trajectory(hand.adan(0.01, eps_root=0.0), p0, grads)
    assert rel(ours, adan_official(p0, grads, 0.01, diff_weight=1 - 0.92)) < 1e-12
    official = adan_official(p0, grads, 0.01)
    assert rel(ours[:1], official[:1]) < 1e-12
    assert rel(ours[1:2], official[1:2]) > 1e-4


def test_trust_ratio_gives_each_leaf_the_norm_of_its_params(x64):
    params = {"a": jnp.array([3.0, 4.0]), "b": jnp.array([[1.0, 0.0], [0.0, 0.0]]), "z": jnp.zeros(2)}
    upd = {"a": jnp.array([0.1, 0.0]), "b": jnp.array([[1.0, 1.0], [1.0, 1.0]]), "z": jnp.ones(2)}
    tx = adam_layerwise.scale_by_trust_ratio()
    out, _ = tx.update(upd, tx.init(params), params)
    np.testing.assert_allclose(jnp.linalg.norm(out["a"]), 5.0, rtol=1e-14)
    np.testing.assert_allclose(jnp.linalg.norm(out["b"]), 1.0, rtol=1e-14)
    np.testing.assert_array_equal(out["z"], upd["z"])  # ||p|| = 0: ratio 1


def test_novograd_first_step_closed_form(x64):
    """t = 1: n = ||g||**2, m = g / ||g|| + wd * p, so u = -lr * (g / ||g|| + wd * p)."""
    p = jnp.array([1.0, -2.0, 0.5])
    g = jnp.array([3.0, 0.0, -4.0])
    tx = adam_layerwise.novograd(0.1, eps=0.0, weight_decay=0.2)
    u, _ = tx.update(g, tx.init(p), p)
    np.testing.assert_allclose(u, -0.1 * (g / 5.0 + 0.2 * p), rtol=1e-14)


SCALE_BY = [
    ("scale_by_amsgrad", {"b1": 0.8, "b2": 0.99, "eps": 1e-3, "eps_root": 1e-6, "bias_correction_mu": False}),
    ("scale_by_adamax", {"b1": 0.5, "b2": 0.9, "eps": 1e-3}),
    ("scale_by_radam", {"b2": 0.99, "eps": 1e-3, "threshold": 10.0, "nesterov": True}),
    ("scale_by_belief", {"eps": 1e-3, "eps_root": 1e-6, "nesterov": True}),
    ("scale_by_yogi", {"eps": 1e-2, "eps_root": 1e-4, "initial_accumulator_value": 0.1}),
    ("scale_by_adan", {"b3": 0.9, "eps": 1e-3, "eps_root": 1e-6}),
    ("scale_by_novograd", {"b2": 0.5, "eps_root": 1e-6, "weight_decay": 0.1}),
    ("scale_by_trust_ratio", {"min_norm": 0.5, "trust_coefficient": 0.01, "eps": 1e-3}),
]


@pytest.mark.parametrize(("name", "kwargs"), SCALE_BY, ids=[n for n, _ in SCALE_BY])
def test_scale_by_transforms_agree_with_optax_off_defaults(name, kwargs, x64):
    p0 = np.linspace(-1, 1, 6)
    grads = stream(p0, 20, scale=0.3)
    ours = trajectory(_hand(name)(**kwargs), p0, grads)
    theirs = trajectory(getattr(ref, name)(**kwargs), p0, grads)
    assert rel(ours, theirs) < 1e-12
    assert rel(ours, trajectory(_hand(name)(), p0, grads)) > 1e-6  # the off-default arguments matter


def _hand(name):
    return getattr(hand, name) if hasattr(hand, name) else getattr(adam_layerwise, name)


NAMES = ["adamw", "nadam", "nadamw", "amsgrad", "adamax", "adamaxw", "radam", "adabelief", "adan",
         "yogi", "novograd", "lamb"] + [n for n, _ in SCALE_BY]


@pytest.mark.parametrize("name", NAMES)
def test_signature_is_optax_signature(name):
    ours = inspect.signature(_hand(name)).parameters
    theirs = inspect.signature(getattr(optax, name)).parameters
    assert list(ours) == list(theirs)
    for k in ours:
        assert ours[k].default == theirs[k].default, k
        assert ours[k].kind == theirs[k].kind, k


@pytest.mark.parametrize(("factory", "kwargs", "arg"), [
    (hand.radam, {"learning_rate": 0.1, "threshold": 3.9}, "threshold"),
    (adam_layerwise.novograd, {"learning_rate": 0.1, "weight_decay": lambda c: 0.1}, "weight_decay"),
    (adam_layerwise.scale_by_trust_ratio, {"trust_coefficient": 0.0}, "trust_coefficient"),
    (adam_layerwise.scale_by_trust_ratio, {"min_norm": -1.0}, "min_norm"),
    (hand.scale_by_yogi, {"initial_accumulator_value": -1.0}, "initial_accumulator_value"),
    (hand.adan, {"learning_rate": 0.1, "b3": 1.0}, "b3"),
    (hand.amsgrad, {"learning_rate": 0.1, "eps_root": -1.0}, "eps_root"),
])
def test_rule_specific_bad_arguments(factory, kwargs, arg):
    with pytest.raises(ConfigError, match=rf"{arg}="):
        factory(**kwargs)
