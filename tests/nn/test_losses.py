"""Tests of jaxgd.nn.losses against hand-computed values, numpy and optax."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgd.core.errors import ConfigError, DataError, UnknownNameError
from jaxgd.nn.losses import (
    LOSSES,
    accuracy,
    binary_cross_entropy,
    get_loss,
    l2_penalty,
    make_loss_fn,
    mse,
    softmax_cross_entropy,
)
from jaxgd.nn.models import Dense, init_mlp, mlp

# ---------------------------------------------------------------- mse


def test_mse_hand_value_is_mean_over_outputs_per_example():
    y_pred = jnp.array([[1.0, 2.0], [3.0, 4.0]])
    y = jnp.zeros((2, 2))
    np.testing.assert_allclose(mse(y_pred, y), [2.5, 12.5])  # (1+4)/2, (9+16)/2
    assert float(jnp.mean(mse(y_pred, y))) == 7.5


def test_mse_batch_mean_equals_seed_cost_and_optax():
    rng = np.random.default_rng(0)
    y_pred, y = rng.normal(size=(7, 3)), rng.normal(size=(7, 3))
    per_example = mse(jnp.asarray(y_pred, jnp.float32), jnp.asarray(y, jnp.float32))
    assert per_example.shape == (7,)
    np.testing.assert_allclose(jnp.mean(per_example), np.mean((y_pred - y) ** 2), rtol=1e-6)
    np.testing.assert_allclose(per_example,
                               optax.losses.squared_error(y_pred, y).mean(axis=-1), rtol=1e-6)


def test_mse_accepts_flat_targets_for_one_output_and_rejects_mismatch():
    y_pred = jnp.array([[0.5], [1.0], [2.0]])
    np.testing.assert_allclose(mse(y_pred, jnp.array([0.0, 1.0, 0.0])), [0.25, 0.0, 4.0])
    with pytest.raises(DataError, match=r"targets y have shape \(3,\).*\(3, 2\)"):
        mse(jnp.ones((3, 2)), jnp.ones((3,)))


# ---------------------------------------------------------------- binary cross-entropy


def test_bce_hand_values():
    logits = jnp.array([[0.0], [2.0], [-1.0]])
    y = jnp.array([[1.0], [0.0], [1.0]])
    s = lambda v: 1 / (1 + math.exp(-v))
    expected = [math.log(2.0), -math.log(1 - s(2.0)), -math.log(s(-1.0))]
    np.testing.assert_allclose(binary_cross_entropy(logits, y), expected, rtol=1e-6)
    # (batch,) logits and (batch,) targets for (batch, 1) logits give the same numbers
    np.testing.assert_allclose(binary_cross_entropy(logits[:, 0], y[:, 0]), expected, rtol=1e-6)
    np.testing.assert_allclose(binary_cross_entropy(logits, y[:, 0]), expected, rtol=1e-6)


def test_bce_matches_optax_summed_over_outputs():
    rng = np.random.default_rng(1)
    logits = jnp.asarray(rng.normal(size=(6, 3)) * 4, jnp.float32)
    y = jnp.asarray(rng.integers(0, 2, size=(6, 3)), jnp.float32)
    expected = optax.losses.sigmoid_binary_cross_entropy(logits, y).sum(axis=1)
    np.testing.assert_allclose(binary_cross_entropy(logits, y), expected, rtol=1e-6)


def test_bce_stable_on_huge_logits():
    logits = jnp.array([1e4, -1e4, 1e4, -1e4])
    y = jnp.array([1.0, 0.0, 0.0, 1.0])
    np.testing.assert_allclose(binary_cross_entropy(logits, y), [0.0, 0.0, 1e4, 1e4])
    grad = jax.grad(lambda z: jnp.sum(binary_cross_entropy(z, y)))(logits)
    np.testing.assert_allclose(grad, [0.0, 0.0, 1.0, -1.0])  # sigmoid(z) - y


# ---------------------------------------------------------------- softmax cross-entropy


def test_softmax_ce_hand_values():
    logits = jnp.array([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]])
    labels = jnp.array([1, 2])
    expected = [math.log(3.0), math.log(math.e + math.e**2 + math.e**3) - 3.0]
    np.testing.assert_allclose(softmax_cross_entropy(logits, labels), expected, rtol=1e-6)


def test_softmax_ce_matches_optax():
    rng = np.random.default_rng(2)
    logits = jnp.asarray(rng.normal(size=(8, 5)) * 3, jnp.float32)
    labels = jnp.asarray(rng.integers(0, 5, size=8), jnp.int32)
    expected = optax.losses.softmax_cross_entropy_with_integer_labels(logits, labels)
    np.testing.assert_allclose(softmax_cross_entropy(logits, labels), expected, rtol=1e-6)


def test_softmax_ce_stable_on_huge_logits():
    logits = jnp.array([[1e4, -1e4, 0.0], [1e4, -1e4, 0.0]])
    labels = jnp.array([0, 1])
    np.testing.assert_allclose(softmax_cross_entropy(logits, labels), [0.0, 2e4])
    grad = jax.grad(lambda z: jnp.sum(softmax_cross_entropy(z, labels)))(logits)
    np.testing.assert_allclose(grad, [[0.0, 0.0, 0.0], [1.0, -1.0, 0.0]])  # softmax - onehot


@pytest.mark.parametrize("bad", [-1, 3])
def test_softmax_ce_labels_out_of_range_raise(bad):
    with pytest.raises(DataError, match=rf"labels contain \[{bad}\] outside \[0, 3\)"):
        softmax_cross_entropy(jnp.zeros((2, 3)), jnp.array([0, bad]))


def test_softmax_ce_traced_bad_label_is_nan_not_a_wrap_around():
    out = jax.jit(softmax_cross_entropy)(jnp.zeros((3, 3)), jnp.array([0, -1, 3]))
    assert np.isfinite(out[0]) and np.isnan(out[1]) and np.isnan(out[2])


def test_softmax_ce_rejects_float_labels_and_bad_shapes():
    with pytest.raises(DataError, match="integer class indices"):
        softmax_cross_entropy(jnp.zeros((2, 3)), jnp.array([0.0, 1.0]))
    with pytest.raises(DataError, match=r"labels \(2, 3\)"):
        softmax_cross_entropy(jnp.zeros((2, 3)), jnp.zeros((2, 3), jnp.int32))


# ---------------------------------------------------------------- registry, l2, accuracy


def test_get_loss_and_unknown_name():
    assert get_loss("mse") is mse and set(LOSSES) == {"mse", "bce", "softmax_ce"}
    with pytest.raises(UnknownNameError, match=r"unknown loss 'mes'.*Did you mean 'mse'"):
        get_loss("mes")


def test_l2_penalty_counts_weights_only():
    params = [Dense(jnp.ones((2, 3)), jnp.ones((3,))), Dense(2 * jnp.ones((3, 1)), jnp.ones((1,)))]
    np.testing.assert_allclose(l2_penalty(params, 0.5), 0.5 * (6 * 1.0 + 3 * 4.0))
    grads = jax.grad(l2_penalty)(params, 0.5)
    np.testing.assert_allclose(grads[1].w, 2 * 0.5 * params[1].w)  # 2 * lam * W
    assert all(np.all(np.asarray(g.b) == 0) for g in grads)  # biases not penalised
    with pytest.raises(ConfigError, match=r"l2=-0.1"):
        l2_penalty(params, -0.1)


def test_accuracy_binary_multiclass():
    probs = jnp.array([[0.9], [0.4], [0.6], [0.1]])
    y = jnp.array([1.0, 1.0, 0.0, 0.0])
    assert float(accuracy(probs, y, "binary")) == 0.5
    logits = jnp.array([2.0, -0.1, 0.3, -3.0])
    assert float(accuracy(logits, y, "binary", from_logits=True)) == 0.5
    assert float(accuracy(logits, jnp.array([1.0, 0.0, 1.0, 0.0]), "binary",
                          from_logits=True)) == 1.0
    scores = jnp.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.0, 0.1, 0.9]])
    assert math.isclose(float(accuracy(scores, jnp.array([1, 2, 2]), "multiclass")), 2 / 3,
                        rel_tol=1e-6)
    with pytest.raises(UnknownNameError, match="unknown task 'multi'"):
        accuracy(scores, jnp.array([1, 2, 2]), "multi")


# ---------------------------------------------------------------- make_loss_fn


def test_make_loss_fn_is_the_seed_cost_plus_l2():
    params = init_mlp(jax.random.key(0), (2, 3, 1))
    x = jnp.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = jnp.array([[0.0], [1.0], [1.0], [0.0]])
    lam = 0.01
    y_pred = np.asarray(mlp(params, x, "sigmoid", "sigmoid"), np.float64)
    w1, w2 = (np.asarray(layer.w, np.float64) for layer in params)
    seed_cost = np.mean((y_pred - np.asarray(y)) ** 2) + lam * (np.sum(w1**2) + np.sum(w2**2))
    loss_fn = make_loss_fn("mse", "sigmoid", "sigmoid", l2=lam)
    np.testing.assert_allclose(loss_fn(params, x, y), seed_cost, rtol=1e-6)


@pytest.mark.parametrize("loss", ["bce", "softmax_ce"])
def test_make_loss_fn_logit_losses_take_the_mean_of_optax(loss):
    params = init_mlp(jax.random.key(1), (4, 5, 3), "lecun")
    x = jax.random.normal(jax.random.key(2), (6, 4))
    logits = mlp(params, x, "tanh")
    if loss == "bce":
        y = (jax.random.uniform(jax.random.key(3), (6, 3)) > 0.5).astype(jnp.float32)
        expected = optax.losses.sigmoid_binary_cross_entropy(logits, y).sum(1).mean()
    else:
        y = jnp.array([0, 1, 2, 2, 1, 0])
        expected = optax.losses.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    np.testing.assert_allclose(make_loss_fn(loss, "tanh")(params, x, y), expected, rtol=1e-6)


@pytest.mark.parametrize("loss, out", [("bce", "sigmoid"), ("softmax_ce", "relu")])
def test_logit_loss_with_squashed_output_raises(loss, out):
    with pytest.raises(ConfigError, match=rf"loss='{loss}' takes logits.*"
                                          r"output_activation='identity'"):
        make_loss_fn(loss, "tanh", out)


def test_make_loss_fn_rejects_unknown_names():
    with pytest.raises(UnknownNameError, match="unknown activation 'sigmoidd'"):
        make_loss_fn("mse", "sigmoidd")
    with pytest.raises(UnknownNameError, match="unknown loss 'ce'"):
        make_loss_fn("ce")
