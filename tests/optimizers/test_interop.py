"""jaxgd's hand-written rules inside other libraries' training loops: flax.nnx and equinox.

Each loop is run twice, once with the jaxgd rule and once with its optax twin from
the same start; the parameters must agree step for step. The hand rules compute their
bias corrections more exactly than optax's float32 powers, so over 30 float32 steps the two
part by up to ~1e-4 relative; a wrong rule parts by far more.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgd import optimizers, reference

X = jax.random.normal(jax.random.key(0), (32, 3))
Y = X @ jnp.array([[1.0], [-2.0], [0.5]]) + 0.3


@pytest.mark.parametrize("name, kwargs", [("adam", {"learning_rate": 0.05}),
                                          ("sgd", {"learning_rate": 0.1, "momentum": 0.9})])
def test_hand_rule_in_flax_nnx_optimizer(name, kwargs):
    nnx = pytest.importorskip("flax.nnx")

    def train(tx):
        model = nnx.Linear(3, 1, rngs=nnx.Rngs(0))
        opt = nnx.Optimizer(model, tx, wrt=nnx.Param)

        @nnx.jit
        def step(model, opt):
            loss, grads = nnx.value_and_grad(lambda m: jnp.mean((m(X) - Y) ** 2))(model)
            opt.update(model, grads)
            return loss

        losses = [float(step(model, opt)) for _ in range(30)]
        return losses, np.asarray(model.kernel[...])

    ours, theirs = train(getattr(optimizers, name)(**kwargs)), train(getattr(reference, name)(**kwargs))
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-3)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-3, atol=1e-5)
    assert ours[0][-1] < 0.1 * ours[0][0]  # it trained


def test_hand_rule_in_an_equinox_loop():
    eqx = pytest.importorskip("equinox")

    def train(tx):
        model = eqx.nn.MLP(3, 1, width_size=8, depth=1, key=jax.random.key(1))
        state = tx.init(eqx.filter(model, eqx.is_array))

        @eqx.filter_jit
        def step(model, state):
            def loss(m):
                return jnp.mean((jax.vmap(m)(X) - Y) ** 2)

            value, grads = eqx.filter_value_and_grad(loss)(model)
            updates, state = tx.update(grads, state, eqx.filter(model, eqx.is_array))
            return eqx.apply_updates(model, updates), state, value

        losses = []
        for _ in range(30):
            model, state, value = step(model, state)
            losses.append(float(value))
        return losses, jax.tree.leaves(eqx.filter(model, eqx.is_array))

    ours = train(optimizers.adamw(0.01, weight_decay=1e-3))
    theirs = train(reference.adamw(0.01, weight_decay=1e-3))
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-3)
    for a, b in zip(ours[1], theirs[1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)
    assert ours[0][-1] < 0.5 * ours[0][0]
