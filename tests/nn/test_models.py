"""Tests of jaxgd.nn.models: initialisers, activations and the MLP forward pass."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgd.core.errors import ConfigError, DataError, UnknownNameError
from jaxgd.nn.models import (
    ACTIVATIONS,
    INITS,
    Activation,
    Dense,
    count_params,
    get_activation,
    init_mlp,
    mlp,
    mlp_single,
)


def numpy_seed_forward(w1, b1, w2, b2, x):
    """The tutorial's slide 5 in plain numpy (biases as (1, H) rows, as in the tutorial)."""

    def sigmoid(v):
        return 1 / (1 + np.exp(-v))

    hidden_layer = sigmoid(np.dot(x, w1) + b1)
    return sigmoid(np.dot(hidden_layer, w2) + b2)


@pytest.mark.parametrize("init", sorted(INITS))
def test_init_shapes_dtypes_and_zero_biases(init):
    params = init_mlp(jax.random.key(0), (2, 3, 4, 1), init)
    assert isinstance(params, list) and all(isinstance(layer, Dense) for layer in params)
    assert [layer.w.shape for layer in params] == [(2, 3), (3, 4), (4, 1)]
    assert [layer.b.shape for layer in params] == [(3,), (4,), (1,)]
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(params))
    assert all(np.all(np.asarray(layer.b) == 0) for layer in params)
    assert all(np.all(np.isfinite(np.asarray(layer.w))) for layer in params)


@pytest.mark.parametrize("init", sorted(INITS))
def test_init_float64(x64, init):
    params = init_mlp(jax.random.key(0), (3, 2), init, dtype=jnp.float64)
    assert params[0].w.dtype == jnp.float64 and params[0].b.dtype == jnp.float64


@pytest.mark.parametrize(
    "init, expected_std",
    [
        ("normal", lambda fan_in, fan_out: 1.0),
        ("glorot", lambda fan_in, fan_out: math.sqrt(6.0 / (fan_in + fan_out)) / math.sqrt(3.0)),
        ("he", lambda fan_in, fan_out: math.sqrt(2.0 / fan_in)),
        ("lecun", lambda fan_in, fan_out: math.sqrt(1.0 / fan_in)),
    ],
)
def test_init_sample_std(init, expected_std):
    fan_in, fan_out = 400, 500  # 200k samples: sample std within ~0.5% of the true one
    (layer,) = init_mlp(jax.random.key(1), (fan_in, fan_out), init)
    w = np.asarray(layer.w, np.float64)
    target = expected_std(fan_in, fan_out)
    assert abs(w.std() / target - 1) < 0.02
    assert abs(w.mean()) < 0.02 * target


def test_glorot_bounds():
    fan_in, fan_out = 300, 200
    (layer,) = init_mlp(jax.random.key(2), (fan_in, fan_out), "glorot")
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    w = np.abs(np.asarray(layer.w))
    assert w.max() <= limit
    assert w.max() > 0.99 * limit  # uniform over the whole interval, not a narrower one


def test_init_is_deterministic_and_layers_use_different_keys():
    a = init_mlp(jax.random.key(3), (4, 4, 4))
    b = init_mlp(jax.random.key(3), (4, 4, 4))
    c = init_mlp(jax.random.key(4), (4, 4, 4))
    np.testing.assert_array_equal(a[0].w, b[0].w)
    assert not np.allclose(a[0].w, a[1].w)
    assert not np.allclose(a[0].w, c[0].w)


def test_init_accepts_raw_uint32_key():
    params = init_mlp(jax.random.PRNGKey(0), (2, 3, 1))
    assert params[1].w.shape == (3, 1)


@pytest.mark.parametrize(
    "sizes, fragment",
    [
        ((2,), "at least 2 entries"),
        ((), "at least 2 entries"),
        ((2, 0, 1), "sizes[1] (hidden size)=0"),
        ((2, 3, -1), "sizes[2] (output size)=-1"),
        ((2, 1.5, 1), "sizes[1] (hidden size)=1.5"),
        ((2, True, 1), "sizes[1] (hidden size)=True"),
        ("231", "sequence of layer widths"),
        (3, "sequence of layer widths"),
    ],
)
def test_bad_sizes_raise(sizes, fragment):
    with pytest.raises(ConfigError) as info:
        init_mlp(jax.random.key(0), sizes)
    assert fragment in str(info.value)
    assert "sizes" in str(info.value)


def test_unknown_init_and_activation_raise_with_suggestion():
    with pytest.raises(UnknownNameError, match=r"unknown init 'glorrot'.*Did you mean 'glorot'"):
        init_mlp(jax.random.key(0), (2, 1), "glorrot")
    with pytest.raises(UnknownNameError, match=r"unknown activation 'sigmod'.*'sigmoid'"):
        get_activation("sigmod")
    params = init_mlp(jax.random.key(0), (2, 1))
    with pytest.raises(UnknownNameError, match="Accepted activation values: elu, gelu"):
        mlp(params, jnp.ones((2,)), activation="swish")


def test_bad_key_and_dtype_raise():
    with pytest.raises(ConfigError, match=r"key=0 is not a JAX PRNG key"):
        init_mlp(0, (2, 1))
    with pytest.raises(ConfigError, match="not a floating dtype"):
        init_mlp(jax.random.key(0), (2, 1), dtype=jnp.int32)


def test_wrong_input_width_raises():
    params = init_mlp(jax.random.key(0), (2, 3, 1))
    with pytest.raises(DataError, match=r"x has shape \(4, 3\).*d=2"):
        mlp(params, jnp.ones((4, 3)))
    with pytest.raises(DataError, match=r"x has shape \(1, 4, 2\)"):
        mlp(params, jnp.ones((1, 4, 2)))


def test_count_params():
    assert count_params(init_mlp(jax.random.key(0), (2, 3, 1))) == 2 * 3 + 3 + 3 * 1 + 1
    shapes = [(5, 7), (7, 7), (7, 3)]
    params = [Dense(np.zeros(s), np.zeros(s[1])) for s in shapes]
    assert count_params(params) == 35 + 7 + 49 + 7 + 21 + 3


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_hand_derivative_matches_jax_grad(x64, name):
    act = get_activation(name)
    z = jnp.array([-6.0, -3.0, -1.2, -0.3, 0.4, 1.1, 2.5, 6.0], jnp.float64)
    a = act.fn(z)
    expected = jax.vmap(jax.grad(act.fn))(z)
    np.testing.assert_allclose(act.grad(z, a), expected, rtol=1e-12, atol=1e-15)
    assert act.grad(z, a).dtype == z.dtype


def test_activation_derivatives_accurate_far_in_the_tail(x64):
    # closed forms at z = -30, where 1 + erf(z) and expm1(z) + 1 lose all digits
    z = jnp.array([-30.0], jnp.float64)
    phi = math.exp(-450.0) / math.sqrt(2 * math.pi)
    gelu_expected = 0.5 * math.erfc(30 / math.sqrt(2)) - 30 * phi
    for name, expected in [("elu", math.exp(-30.0)), ("gelu", gelu_expected),
                           ("softplus", 1 / (1 + math.exp(30.0)))]:
        act = ACTIVATIONS[name]
        np.testing.assert_allclose(act.grad(z, act.fn(z)), [expected], rtol=1e-12)


def test_activation_values():
    z = jnp.array([-2.0, 0.5])
    np.testing.assert_allclose(ACTIVATIONS["sigmoid"].fn(z), 1 / (1 + np.exp([2.0, -0.5])),
                               rtol=1e-6)
    np.testing.assert_allclose(ACTIVATIONS["relu"].fn(z), [0.0, 0.5])
    np.testing.assert_allclose(ACTIVATIONS["leaky_relu"].fn(z), [-0.02, 0.5], rtol=1e-6)
    np.testing.assert_allclose(ACTIVATIONS["elu"].fn(z), [np.expm1(-2.0), 0.5], rtol=1e-6)
    np.testing.assert_allclose(ACTIVATIONS["softplus"].fn(z), np.log1p(np.exp([-2.0, 0.5])),
                               rtol=1e-6)
    np.testing.assert_allclose(ACTIVATIONS["gelu"].fn(z), [-0.04550026, 0.34573123], rtol=1e-6)
    assert isinstance(get_activation(ACTIVATIONS["tanh"]), Activation)


def test_mlp_matches_numpy_seed_forward_pass():
    params = init_mlp(jax.random.key(5), (2, 3, 1), "normal")
    x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], np.float32)
    (w1, b1), (w2, b2) = [(np.asarray(w, np.float64), np.asarray(b, np.float64)[None])
                          for w, b in params]
    b1, b2 = b1 + 0.3, b2 - 0.2  # nonzero biases, so the bias path is tested
    params = [Dense(params[0].w, jnp.asarray(b1[0], jnp.float32)),
              Dense(params[1].w, jnp.asarray(b2[0], jnp.float32))]
    expected = numpy_seed_forward(w1, b1, w2, b2, x.astype(np.float64))  # (4, 1)
    got = mlp(params, x, activation="sigmoid", output_activation="sigmoid")
    assert got.shape == (4, 1) and got.dtype == jnp.float32
    np.testing.assert_allclose(got, expected, rtol=1e-6)


@pytest.mark.parametrize("activation, output_activation", [("tanh", "identity"),
                                                           ("relu", "softplus")])
def test_single_and_batched_agree(activation, output_activation):
    params = init_mlp(jax.random.key(6), (3, 5, 4, 2), "he")
    x = jax.random.normal(jax.random.key(7), (4, 3))
    batched = mlp(params, x, activation, output_activation)
    single = np.stack([mlp_single(params, x_i, activation, output_activation) for x_i in x])
    assert batched.shape == (4, 2)
    np.testing.assert_allclose(batched, single, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(mlp(params, x[2], activation, output_activation), single[2],
                               rtol=1e-6, atol=1e-7)


def test_jit_vmap_and_grad_pass_through(x64):
    params = init_mlp(jax.random.key(8), (2, 3, 1), "glorot", dtype=jnp.float64)
    x = jax.random.normal(jax.random.key(9), (5, 2), jnp.float64)
    eager = mlp(params, x, "sigmoid", "sigmoid")

    jitted = jax.jit(mlp, static_argnames=("activation", "output_activation"))
    np.testing.assert_allclose(jitted(params, x, activation="sigmoid",
                                      output_activation="sigmoid"), eager, rtol=1e-14)

    # vmap over a stack of networks, one per seed (how sweeps build them)
    keys = jax.random.split(jax.random.key(10), 3)
    stacked = jax.vmap(lambda k: init_mlp(k, (2, 3, 1), dtype=jnp.float64))(keys)
    outs = jax.vmap(lambda p: mlp(p, x, "tanh"))(stacked)
    for i, k in enumerate(keys):
        np.testing.assert_allclose(outs[i], mlp(init_mlp(k, (2, 3, 1), dtype=jnp.float64), x,
                                                "tanh"), rtol=1e-14)

    # grad against a central finite difference on one weight
    def f(p):
        return jnp.sum(mlp(p, x, "sigmoid", "sigmoid") ** 2)

    g = jax.grad(f)(params)
    assert jax.tree.structure(g) == jax.tree.structure(params)
    h = 1e-6
    bump = [Dense(params[0].w.at[1, 2].add(h), params[0].b), params[1]]
    dip = [Dense(params[0].w.at[1, 2].add(-h), params[0].b), params[1]]
    np.testing.assert_allclose(g[0].w[1, 2], (f(bump) - f(dip)) / (2 * h), rtol=1e-7)
