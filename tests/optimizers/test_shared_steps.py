"""The steps the rules share, each written once: bias correction, the weight-decay check and
path, and NAdam(W) as adam(W) with ``nesterov=True``.
"""

from __future__ import annotations

import inspect
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgd import ConfigError
from jaxgd import optimizers as hand
from jaxgd.core.tree import tree_bias_correction, tree_nesterov_bias_correction
from jaxgd.experiments.config import optimizer_names
from jaxgd.optimizers import adam_layerwise, adaptive, factored, layerwise, sign_methods


def test_bias_correction_closed_form_per_leaf_dtype(x64):
    tree = {"w": jnp.array([1.0, -2.0], jnp.float64), "b": jnp.array([3.0], jnp.bfloat16)}
    out = tree_bias_correction(tree, 0.9, jnp.array(3, jnp.int32))
    np.testing.assert_allclose(out["w"], np.array([1.0, -2.0]) / (1 - 0.9**3), rtol=1e-15)
    assert out["w"].dtype == jnp.float64 and out["b"].dtype == jnp.bfloat16
    assert float(out["b"][0]) == pytest.approx(3.0 / (1 - 0.9**3), rel=1e-2)


def test_nesterov_bias_correction_closed_form(x64):
    m, g, b1, t = jnp.array([0.5, -1.0]), jnp.array([2.0, 0.25]), 0.9, 4
    out = tree_nesterov_bias_correction(m, g, b1, jnp.array(t, jnp.int32))
    want = b1 * np.asarray(m) / (1 - b1 ** (t + 1)) + (1 - b1) * np.asarray(g) / (1 - b1**t)
    np.testing.assert_allclose(out, want, rtol=1e-15)


def test_adam_nesterov_first_step_closed_form(x64):
    """t = 1, eps = 0: m = (1 - b1) g, so m_hat = g * (b1 / (1 + b1) + 1) and v_hat = g**2."""
    g = jnp.array([0.3, -2.0])
    tx = hand.scale_by_adam(eps=0.0, nesterov=True)
    u, _ = tx.update(g, tx.init(g))
    np.testing.assert_allclose(u, (0.9 / 1.9 + 1) * np.sign(g), rtol=1e-14)


# Every rule that takes a decay, the argument's name, and whether a schedule is accepted.
DECAY_ARGUMENTS = [
    (hand.add_decayed_weights, {}, "weight_decay", True),
    (hand.adamw, {"learning_rate": 0.1}, "weight_decay", True),
    (hand.nadamw, {"learning_rate": 0.1}, "weight_decay", True),
    (hand.adamaxw, {"learning_rate": 0.1}, "weight_decay", True),
    (hand.adan, {"learning_rate": 0.1}, "weight_decay", True),
    (adam_layerwise.lamb, {"learning_rate": 0.1}, "weight_decay", True),
    (adaptive.adadelta, {"learning_rate": 0.1}, "weight_decay", True),
    (layerwise.lars, {"learning_rate": 0.1}, "weight_decay", True),
    (sign_methods.lion, {"learning_rate": 0.1}, "weight_decay", True),
    (factored.adafactor, {"learning_rate": 0.1}, "weight_decay_rate", True),
    (adam_layerwise.novograd, {"learning_rate": 0.1}, "weight_decay", False),
]


@pytest.mark.parametrize("factory, kwargs, name, schedule", DECAY_ARGUMENTS,
                         ids=[f"{f.__name__}-{n}" for f, _, n, _ in DECAY_ARGUMENTS])
@pytest.mark.parametrize("bad", [-0.1, math.inf, math.nan])
def test_weight_decay_refused_with_its_name(factory, kwargs, name, schedule, bad):
    with pytest.raises(ConfigError, match=name):
        factory(**kwargs, **{name: bad})
    factory(**kwargs, **{name: 0.0})
    if schedule:
        factory(**kwargs, **{name: lambda count: 1e-3})
    else:
        with pytest.raises(ConfigError, match=name):
            factory(**kwargs, **{name: lambda count: 1e-3})


def test_decayed_weights_takes_a_negative_decay_for_fromage(x64):
    """The unchecked path: Fromage's shrink is a negative decay (c - 1), here -0.5."""
    p, g = jnp.array([2.0, -4.0]), jnp.zeros(2)
    tx = hand.decayed_weights(-0.5)
    u, _ = tx.update(g, tx.init(p), p)
    np.testing.assert_allclose(u, [-1.0, 2.0])
    with pytest.raises(ConfigError, match="weight_decay"):
        hand.add_decayed_weights(-0.5)


@pytest.mark.parametrize("name, base, title", [("nadam", "adam", "NAdam"), ("nadamw", "adamw", "NAdamW")])
def test_nadam_is_adam_with_nesterov_by_default(name, base, title):
    factory, base_factory = getattr(hand, name), getattr(hand, base)
    assert factory.__name__ == name and factory.__module__ == base_factory.__module__
    assert name in optimizer_names()
    sig, base_sig = inspect.signature(factory), inspect.signature(base_factory)
    assert list(sig.parameters) == list(base_sig.parameters)
    assert sig.parameters["nesterov"].default is True
    assert base_sig.parameters["nesterov"].default is False
    assert all(sig.parameters[k].default == p.default for k, p in base_sig.parameters.items()
               if k != "nesterov")
    assert inspect.getdoc(factory).startswith(f"{title}: `{base}` with")
    p = jnp.array([1.0, -1.0])
    g = jnp.array([0.3, 0.7])
    ours, theirs = factory(0.1), base_factory(0.1, nesterov=True)
    u1, _ = ours.update(g, ours.init(p), p)
    u2, _ = theirs.update(g, theirs.init(p), p)
    np.testing.assert_array_equal(u1, u2)
    # Hyperparameters held as float32 arrays round the b1 powers differently from
    # Python floats: optax.inject_hyperparams(optax.nadam) differs from optax.nadam
    # by the same ~7e-6 relative, so compare each path with its optax twin.
    inject = hand.inject_hyperparams(factory)(learning_rate=0.1)
    u3, _ = inject.update(g, inject.init(p), p)
    np.testing.assert_allclose(u3, u1, rtol=2e-5)


def test_nadam_traced_under_vmap_over_learning_rates():
    """A partial keeps tracers working: one compiled vmap over three learning rates."""
    lrs = jnp.array([0.1, 0.01, 0.001])
    p, g = jnp.ones(3), jnp.array([0.5, -0.5, 1.0])

    def step(lr):
        tx = hand.nadam(lr)
        return tx.update(g, tx.init(p), p)[0]

    out = jax.vmap(step)(lrs)
    np.testing.assert_allclose(out[0] / out[1], 10.0, rtol=1e-5)
