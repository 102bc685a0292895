"""Nine small inputs at the edges (low precision, non-finite values, complex parameters,
callable masks, bad labels, a cross-check of two NaNs), each pinned to its right value.

The right values are worked out here by hand (closed forms), never read back from
jaxgd. Where optax 0.2.8 gets the case wrong, the test says so and asserts it, so a
fixed optax shows up here.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgd import optimizers as o
from jaxgd.cli import main
from jaxgd.core.errors import DataError
from jaxgd.core.transform import Transform
from jaxgd.crosscheck import crosscheck
from jaxgd.nn.losses import binary_cross_entropy, make_loss_fn, softmax_cross_entropy
from jaxgd.nn.models import init_mlp
from jaxgd.training.engine import fit


def step(tx, params, grads, steps=1):
    """The update of the last of ``steps`` calls with the same gradient."""
    state = tx.init(params)
    for _ in range(steps):
        u, state = tx.update(grads, state, params)
    return u


# 1 ------------------------------------------------------------------ float16, zero gradient
@pytest.mark.parametrize(("name", "steps"), [("adam", 1), ("nadam", 1), ("amsgrad", 1), ("adamax", 1),
                                             ("adabelief", 1), ("rmsprop", 1), ("radam", 8)])
def test_float16_zero_gradient_gives_a_zero_update_not_nan(name, steps):
    p = {"w": jnp.ones(3, jnp.float16)}
    g = {"w": jnp.zeros(3, jnp.float16)}
    u = step(getattr(o, name)(1e-3), p, g, steps)["w"]
    assert u.dtype == jnp.float16
    np.testing.assert_array_equal(np.asarray(u, np.float32), 0.0)  # the first moment is 0
    assert np.isnan(np.asarray(step(getattr(optax, name)(1e-3), p, g, steps)["w"], np.float32)).all()


def test_float16_zero_gradient_adamw_is_the_decay_alone():
    p = {"w": jnp.ones(3, jnp.float16)}
    u = step(o.adamw(1e-3, weight_decay=1e-4), p, {"w": jnp.zeros(3, jnp.float16)})["w"]
    np.testing.assert_array_equal(np.asarray(u), np.float16(-1e-3 * 1e-4 * 1.0))  # -lr*wd*p, rounded once


# 2 ------------------------------------------------------------------ bfloat16 hyperparameters
def test_bfloat16_injected_adam_equals_plain_adam_not_nan():
    p = jnp.array([1.0, -2.0, 3.0], jnp.bfloat16)
    g = jnp.array([0.5, 0.25, -1.0], jnp.bfloat16)
    tx = o.inject_hyperparams(o.adam)(learning_rate=1e-3)
    state = tx.init(p)
    b2 = state.hyperparams["b2"]
    assert b2.dtype == jnp.float32 and float(b2) == np.float32(0.999)  # not bfloat16's 1.0
    u, _ = tx.update(g, state, p)
    # step 1: m_hat = g, v_hat = g**2, so u = -lr * g / (|g| + eps) = -lr * sign(g)
    np.testing.assert_allclose(np.asarray(u, np.float64), [-1e-3, -1e-3, 1e-3], rtol=1e-2)
    np.testing.assert_allclose(np.asarray(u, np.float64), np.asarray(step(o.adam(1e-3), p, g), np.float64),
                               rtol=float(jnp.finfo(jnp.bfloat16).eps))
    optax_u, _ = optax.inject_hyperparams(optax.adam)(learning_rate=1e-3).update(
        g, optax.inject_hyperparams(optax.adam)(learning_rate=1e-3).init(p), p)
    assert np.isnan(np.asarray(optax_u, np.float32)).all()  # optax stores b2 = 1.0 in bfloat16


def test_a_bfloat16_scalar_is_a_real_scalar():
    lr = jnp.asarray(1e-3, jnp.bfloat16)
    u = step(o.adam(lr), jnp.ones(2, jnp.float32), jnp.array([1.0, -1.0], jnp.float32))
    np.testing.assert_allclose(np.asarray(u), [-float(lr), float(lr)], rtol=1e-6)


# 3 ------------------------------------------------------------------ clip to zero
def test_clip_by_global_norm_to_zero_gives_zeros():
    tx = o.inject_hyperparams(o.clip_by_global_norm)(max_norm=1.0)
    state = tx.init({"w": jnp.ones(3)})
    state.hyperparams["max_norm"] = jnp.zeros((), jnp.float32)  # the documented way to change it
    for g in (jnp.zeros(3), jnp.array([3.0, 0.0, -4.0])):
        u, _ = tx.update({"w": g}, state, {"w": jnp.ones(3)})
        np.testing.assert_array_equal(np.asarray(u["w"]), 0.0)  # a norm of 0 is within 0
    ostate = optax.inject_hyperparams(optax.clip_by_global_norm)(max_norm=1.0).init({"w": jnp.ones(3)})
    ostate.hyperparams["max_norm"] = jnp.zeros((), jnp.float32)
    ou, _ = optax.inject_hyperparams(optax.clip_by_global_norm)(max_norm=1.0).update(
        {"w": jnp.zeros(3)}, ostate)
    assert np.isnan(np.asarray(ou["w"])).all()  # optax: 0/0


# 4 ------------------------------------------------------------------ extreme logits
def test_cross_entropy_at_extreme_logits():
    inf = math.inf
    ce = lambda z, y: float(softmax_cross_entropy(jnp.array([z], jnp.float32), jnp.array([y]))[0])
    assert ce([1e9, 1e9], 0) == pytest.approx(math.log(2))  # not 0
    assert ce([inf, 0.0], 0) == 0.0  # not NaN
    assert ce([inf, 0.0], 1) == inf
    assert ce([300.0, 300.5], 0) == pytest.approx(math.log1p(math.exp(0.5)))
    bce = binary_cross_entropy(jnp.array([-inf, inf, 20.0, inf]), jnp.array([0.0, 1.0, 1.0, 0.5]))
    np.testing.assert_allclose(np.asarray(bce), [0.0, 0.0, math.log1p(math.exp(-20.0)), inf], rtol=1e-6)
    grad = jax.grad(lambda z: softmax_cross_entropy(z, jnp.array([0])).sum())(jnp.zeros((1, 3)))
    np.testing.assert_allclose(np.asarray(grad), [[-2 / 3, 1 / 3, 1 / 3]], rtol=1e-6)  # softmax - onehot


# 5 ------------------------------------------------------------------ adafactor with an offset
def test_adafactor_with_a_positive_decay_offset_takes_finite_steps():
    p = {"w": jnp.full((3, 4), 0.5)}
    g = {"w": jnp.linspace(-1.0, 1.0, 12).reshape(3, 4)}
    tx, plain = o.adafactor(learning_rate=1e-3, decay_offset=1), o.adafactor(learning_rate=1e-3)
    state = tx.init(p)
    for t in range(5):
        u, state = tx.update(g, state, p)
        assert np.isfinite(np.asarray(u["w"])).all(), f"step {t}"
    # before the offset the decay is 0: each of the first steps uses its gradient alone,
    # like the first step of the plain rule: u = -lr * g / |g| * max(rms(p), 1e-3), clipped at rms 1
    first, _ = tx.update(g, tx.init(p), p)
    np.testing.assert_allclose(np.asarray(first["w"]), np.asarray(step(plain, p, g)["w"]), rtol=1e-6)


# 6 ------------------------------------------------------------------ complex parameters
def test_complex_adam_keeps_the_gradients_phase():
    u = step(o.adam(0.1), jnp.array([0j], jnp.complex64), jnp.array([2j], jnp.complex64))
    np.testing.assert_allclose(np.asarray(u), [-0.1j], atol=1e-7)  # v = g conj(g) = 4, not g*g = -4


def test_complex_clip_by_global_norm_clips_the_modulus():
    g = jnp.array([1 + 1j, 2j], jnp.complex64)
    u = step(o.clip_by_global_norm(1.0), g, g)
    np.testing.assert_allclose(np.asarray(u), np.asarray(g) / math.sqrt(6), rtol=1e-6)  # norm sqrt(6) -> 1
    assert float(jnp.linalg.norm(u)) == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize("factory", [lambda: o.clip(1.0), lambda: o.rprop(0.01), lambda: o.sm3(0.1)])
def test_rules_without_a_complex_form_refuse_complex_params_by_name(factory):
    tx = factory()
    with pytest.raises(TypeError, match=r"(clip|rprop|sm3): leaf .* complex64.*real parameters only"):
        step(tx, jnp.ones(2, jnp.complex64), jnp.ones(2, jnp.complex64))


# 7 ------------------------------------------------------------------ bad labels
def test_fit_with_a_label_outside_the_classes_is_a_data_error_before_compiling():
    loss = make_loss_fn("softmax_ce", "tanh", "identity")
    params = init_mlp(jax.random.key(0), (2, 4, 3))
    x = jnp.ones((4, 2))
    with pytest.raises(DataError, match=r"\[3\] outside \[0, 3\)"):
        fit(loss, params, o.sgd(0.1), x, jnp.array([0, 1, 2, 3]), epochs=2)

    def own_loss(p, x, y):  # not from make_loss_fn: the NaN is traced back after the run
        return jnp.mean(softmax_cross_entropy(x @ p["w"], y))

    with pytest.raises(DataError, match=r"\[3\] outside \[0, 3\)"):
        fit(own_loss, {"w": jnp.ones((2, 3))}, o.sgd(0.1), x, jnp.array([0, 1, 2, 3]), epochs=2)


# 8 ------------------------------------------------------------------ a mask that is callable
@jax.tree_util.register_dataclass
@dataclasses.dataclass
class Model:
    """A model object that is a pytree and callable, as an equinox Module is."""

    w: object
    b: object

    def __call__(self, x):
        raise AssertionError("a mask tree must not be called")


def test_a_callable_pytree_mask_is_used_as_a_tree():
    params = Model(w=jnp.ones(2), b=jnp.ones(2))
    grads = Model(w=jnp.full(2, 2.0), b=jnp.full(2, 2.0))
    mask = Model(w=True, b=False)
    u = step(o.masked(o.sgd(0.1), mask), params, grads)
    np.testing.assert_allclose(np.asarray(u.w), -0.2)  # sgd on w
    np.testing.assert_allclose(np.asarray(u.b), 2.0)  # passed through
    frozen = step(o.freeze(mask), params, grads)
    np.testing.assert_array_equal(np.asarray(frozen.w), 0.0)
    labels = Model(w="a", b="b")
    multi = step(o.multi_transform({"a": o.sgd(0.1), "b": o.sgd(1.0)}, labels), params, grads)
    np.testing.assert_allclose([float(multi.w[0]), float(multi.b[0])], [-0.2, -2.0])
    decayed = step(o.adamw(0.1, weight_decay=0.5, mask=mask), params, grads)
    np.testing.assert_allclose(np.asarray(decayed.w), -0.1 * (1 + 0.5), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(decayed.b), -0.1, rtol=1e-5)


# 9 ------------------------------------------------------------------ a cross-check of two NaNs
def nan_rule(learning_rate=0.1):
    """A rule whose every update is NaN."""
    del learning_rate
    return Transform(lambda p: (), lambda g, s, p=None: (jax.tree.map(lambda x: x * jnp.nan, g), s))


def test_crosscheck_of_two_nan_rules_is_non_finite_not_agree(capsys, monkeypatch):
    report = crosscheck(nan_rule(), nan_rule(), {"w": jnp.ones(3)}, steps=4, names=("hand", "optax"))
    assert report.verdict == "non-finite" and not report.ok
    assert report.non_finite == (0, ("hand", "optax"), "updates", "['w']")
    assert report.summary() == "non-finite: hand and optax hold a NaN or inf at step 0, leaf ['w'] (updates)"
    monkeypatch.setattr(sys, "path", [str(Path(__file__).parent), *sys.path])
    code = main(["crosscheck", "--hand", "test_edges:nan_rule", "--reference", "sgd", "--steps", "4"])
    assert code == 1 and "non-finite" in capsys.readouterr().out
