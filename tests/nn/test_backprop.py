"""Hand-written backprop against jax.value_and_grad, and the tutorial's slide 7 formula."""

import ast
import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgd.nn.backprop
from jaxgd.core.errors import ConfigError, DataError
from jaxgd.nn.backprop import mlp_value_and_grad, tutorial_backprop
from jaxgd.nn.losses import make_loss_fn
from jaxgd.nn.models import ACTIVATIONS, Dense, init_mlp, mlp

N_OUT = 3
SIZES_BY_DEPTH = {1: (4, N_OUT), 2: (4, 5, N_OUT), 3: (4, 5, 5, N_OUT), 4: (4, 5, 5, 5, N_OUT)}
L2_VALUES = (0.0, 0.01)
# loss -> output activation: mse goes through the hidden activation again (the
# seed's sigmoid output); the logit losses need "identity".
LOSS_OUTPUT = {"mse": None, "bce": "identity", "softmax_ce": "identity"}
CASES = [(act, loss) for act in sorted(ACTIVATIONS) for loss in LOSS_OUTPUT]
RTOL = {"float64": 1e-10, "float32": 1e-4}


def random_problem(rng, sizes, loss, dtype, batch=6):
    """Params (scaled normal weights, nonzero biases), inputs and targets."""
    params = [Dense(jnp.asarray(rng.normal(size=(i, o)) / np.sqrt(i), dtype),
                    jnp.asarray(0.3 * rng.normal(size=o), dtype))
              for i, o in zip(sizes[:-1], sizes[1:], strict=True)]
    x = jnp.asarray(rng.normal(size=(batch, sizes[0])), dtype)
    if loss == "softmax_ce":
        y = jnp.asarray(rng.integers(0, sizes[-1], size=batch), jnp.int32)
    elif loss == "bce":
        y = jnp.asarray(rng.integers(0, 2, size=(batch, sizes[-1])), dtype)
    else:
        y = jnp.asarray(rng.uniform(size=(batch, sizes[-1])), dtype)
    return params, x, y


def max_rel_dev(a, b):
    """Largest per-leaf ``max|a - b| / max|b|`` (0 where both leaves are all zero)."""
    devs = []
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        err, scale = float(jnp.max(jnp.abs(x - y))), float(jnp.max(jnp.abs(y)))
        devs.append(err / scale if scale > 0 else err)
    return max(devs)


def check_against_autodiff(activation, loss, dtype, rtol):
    """Every depth and l2: same tree, dtypes and values as jax.value_and_grad."""
    rng = np.random.default_rng(CASES.index((activation, loss)))
    out = LOSS_OUTPUT[loss] or activation
    for depth, sizes in SIZES_BY_DEPTH.items():
        for l2 in L2_VALUES:
            params, x, y = random_problem(rng, sizes, loss, dtype)
            kw = dict(activation=activation, output_activation=out, loss=loss, l2=l2)
            value, grads = mlp_value_and_grad(params, x, y, **kw)
            ref_value, ref_grads = jax.value_and_grad(make_loss_fn(loss, activation, out, l2))(
                params, x, y)
            where = f"depth={depth} {kw}"
            assert jax.tree.structure(grads) == jax.tree.structure(params), where
            assert all(g.dtype == dtype and g.shape == p.shape for g, p in
                       zip(jax.tree.leaves(grads), jax.tree.leaves(params), strict=True)), where
            assert value.dtype == dtype, where
            np.testing.assert_allclose(value, ref_value, rtol=rtol, err_msg=where)
            assert max_rel_dev(grads, ref_grads) <= rtol, where


@pytest.mark.parametrize("activation, loss", CASES)
def test_backprop_matches_jax_grad_float64(x64, activation, loss):
    check_against_autodiff(activation, loss, jnp.float64, RTOL["float64"])


@pytest.mark.parametrize("activation, loss", CASES)
def test_backprop_matches_jax_grad_float32(activation, loss):
    check_against_autodiff(activation, loss, jnp.float32, RTOL["float32"])


def test_backprop_under_jit_and_vmap_over_l2(x64):
    rng = np.random.default_rng(0)
    params, x, y = random_problem(rng, (4, 5, N_OUT), "mse", jnp.float64)
    fn = jax.jit(lambda p, lam: mlp_value_and_grad(p, x, y, activation="tanh", l2=lam))
    l2s = jnp.array([0.0, 0.1, 0.5])
    values, grads = jax.vmap(fn, in_axes=(None, 0))(params, l2s)
    for i, lam in enumerate([0.0, 0.1, 0.5]):
        ref_value, ref_grads = jax.value_and_grad(make_loss_fn("mse", "tanh", l2=lam))(
            params, x, y)
        np.testing.assert_allclose(values[i], ref_value, rtol=1e-12)
        assert max_rel_dev(jax.tree.map(lambda g, i=i: g[i], grads), ref_grads) < 1e-12


def test_flat_targets_for_one_output(x64):
    rng = np.random.default_rng(1)
    params, x, y = random_problem(rng, (4, 3, 1), "bce", jnp.float64)
    for loss in ("mse", "bce"):
        value, grads = mlp_value_and_grad(params, x, y[:, 0], activation="relu", loss=loss)
        ref_value, ref_grads = jax.value_and_grad(make_loss_fn(loss, "relu"))(params, x, y)
        np.testing.assert_allclose(value, ref_value, rtol=1e-12)
        assert max_rel_dev(grads, ref_grads) < 1e-12


def test_bad_input_raises():
    params = init_mlp(jax.random.key(0), (2, 3, 3))
    x = jnp.ones((4, 2))
    with pytest.raises(DataError, match=r"labels contain \[3\] outside \[0, 3\)"):
        mlp_value_and_grad(params, x, jnp.array([0, 1, 2, 3]), loss="softmax_ce")
    with pytest.raises(ConfigError, match="output_activation='identity'"):
        mlp_value_and_grad(params, x, jnp.ones((4, 3)), loss="bce", output_activation="sigmoid")
    with pytest.raises(DataError, match=r"x has shape \(2,\)"):
        mlp_value_and_grad(params, x[0], jnp.ones((1, 3)))


def test_no_autodiff_in_backprop_module():
    tree = ast.parse(inspect.getsource(jaxgd.nn.backprop))
    banned = {"grad", "vjp", "jvp", "value_and_grad", "linearize", "custom_vjp", "hessian"}
    jax_attrs = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
                 and isinstance(node.value, ast.Name) and node.value.id == "jax"}
    from_jax = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                and node.module.split(".")[0] == "jax" for alias in node.names}
    assert "nn" in jax_attrs  # the walk does see jax.nn.sigmoid
    assert not (jax_attrs | from_jax) & banned


# ---------------------------------------------------------------- the tutorial's slide 7


def numpy_seed_backpropagation(w1, b1, w2, b2, x, y):
    """The tutorial's slide 7 in plain numpy, as printed there."""

    def sigmoid(v):
        return 1 / (1 + np.exp(-v))

    hidden_layer = sigmoid(np.dot(x, w1) + b1)
    output_layer = sigmoid(np.dot(hidden_layer, w2) + b2)
    error = output_layer - y
    delta_output = error * output_layer * (1 - output_layer)
    delta_hidden = np.dot(delta_output, w2.T) * hidden_layer * (1 - hidden_layer)
    w2_grad = np.dot(hidden_layer.T, delta_output)
    b2_grad = np.sum(delta_output, axis=0, keepdims=True)
    w1_grad = np.dot(x.T, delta_hidden)
    b1_grad = np.sum(delta_hidden, axis=0, keepdims=True)
    return w1_grad, b1_grad, w2_grad, b2_grad


def tutorial_problem(n_out):
    params = init_mlp(jax.random.key(11), (2, 3, n_out), dtype=jnp.float64)
    params = [Dense(layer.w, layer.b + 0.2) for layer in params]
    x = jnp.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], jnp.float64)
    y = jax.random.uniform(jax.random.key(12), (4, n_out), jnp.float64)
    return params, x, y


@pytest.mark.parametrize("n_out", [1, 2])
def test_seed_backprop_is_slide_7(x64, n_out):
    params, x, y = tutorial_problem(n_out)
    (w1, b1), (w2, b2) = [(np.asarray(w), np.asarray(b)[None]) for w, b in params]
    w1_g, b1_g, w2_g, b2_g = numpy_seed_backpropagation(w1, b1, w2, b2, np.asarray(x),
                                                        np.asarray(y))
    grads = tutorial_backprop(params, x, y)
    for got, expected in [(grads[0].w, w1_g), (grads[0].b, b1_g[0]), (grads[1].w, w2_g),
                          (grads[1].b, b2_g[0])]:
        np.testing.assert_allclose(got, expected, rtol=1e-13)


@pytest.mark.parametrize("n_out", [1, 2])
def test_seed_backprop_is_grad_of_half_sum_of_squares_not_of_mse(x64, n_out):
    params, x, y = tutorial_problem(n_out)
    n, k = y.shape
    grads = tutorial_backprop(params, x, y)

    def half_sse(p):
        return 0.5 * jnp.sum((mlp(p, x, "sigmoid", "sigmoid") - y) ** 2)

    assert max_rel_dev(grads, jax.grad(half_sse)(params)) < 1e-12
    # the MSE the tutorial reports has a gradient 2 / (N K) times as large
    _, mse_grads = mlp_value_and_grad(params, x, y, activation="sigmoid",
                                      output_activation="sigmoid", loss="mse")
    scaled = jax.tree.map(lambda g: g * 2 / (n * k), grads)
    assert max_rel_dev(scaled, mse_grads) < 1e-12
    assert max_rel_dev(grads, mse_grads) > 0.9  # factor N K / 2 = 2 or 4: not the same


def test_seed_backprop_needs_two_layers():
    params = init_mlp(jax.random.key(0), (2, 3, 3, 1))
    with pytest.raises(ConfigError, match="got 3 layers.*mlp_value_and_grad"):
        tutorial_backprop(params, jnp.ones((4, 2)), jnp.ones((4, 1)))


def test_static_zero_l2_adds_no_pass_over_the_weights():
    """l2=0 leaves the penalty out of the program (XLA does not fold x*0.0); a traced l2 keeps it."""
    params = init_mlp(jax.random.key(0), (2, 8, 3))
    x, y = jnp.ones((5, 2)), jnp.array([0, 1, 2, 0, 1])

    def eqns(l2):
        fn = lambda p: mlp_value_and_grad(p, x, y, activation="relu", loss="softmax_ce", l2=l2)
        return len(jax.make_jaxpr(fn)(params).eqns)

    assert eqns(0.0) < eqns(1e-3)
    traced = jax.grad(lambda lam: mlp_value_and_grad(params, x, y, activation="relu", loss="softmax_ce",
                                                     l2=lam)[0])(0.0)
    weights_sq = sum(float(jnp.sum(d.w ** 2)) for d in params)
    np.testing.assert_allclose(traced, weights_sq, rtol=1e-5)  # d(value)/d(l2) at l2=0 is sum W^2
