"""The compiled training chunk: no host transfers inside, donated buffers, no retrace."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
from lockstep import gradient_stream, run

from jaxgd import optimizers as O
from jaxgd.data import moons
from jaxgd.nn.losses import make_loss_fn
from jaxgd.nn.models import init_mlp
from jaxgd.training.engine import init_state, make_chunk, make_epoch, make_step


def compiled_chunk(traces):
    ds = moons(jax.random.key(0), n=64)
    params = init_mlp(jax.random.key(1), (2, 8, 1), "glorot")
    loss = make_loss_fn("bce", "tanh", "identity")

    def counted(p, x, y):
        traces.append(1)
        return loss(p, x, y)

    tx = O.adam(0.01)
    epoch = make_epoch(make_step(jax.value_and_grad(counted), tx), 64, 16)
    run = jax.jit(make_chunk(epoch, 10), donate_argnums=0)
    state = init_state(params, tx, jax.random.key(2))
    return run, state, ds


def test_chunk_makes_no_host_transfer_and_does_not_retrace():
    traces = []
    run, state, ds = compiled_chunk(traces)
    x, y = jax.device_put(ds.x), jax.device_put(ds.y)
    args = [jnp.int32(0), jnp.int32(30), jnp.asarray(jnp.inf, jnp.float32)]
    state, *_ = run(state, x, y, *args)  # first call: trace and compile
    epoch0, limit, prev = (jax.device_put(a) for a in args)
    with jax.transfer_guard("disallow"):  # any implicit host<->device copy raises
        for _ in range(3):
            state, bufs, done, stop, prev = run(state, x, y, epoch0, limit, prev)
    assert len(traces) == 1  # traced once for four calls
    assert int(done) == 10 and int(stop) == 0
    assert np.all(np.isfinite(np.asarray(bufs["loss"])))


def test_chunk_donates_the_state():
    traces = []
    run, state, ds = compiled_chunk(traces)
    old_leaf = state.params[0].w
    run(state, ds.x, ds.y, jnp.int32(0), jnp.int32(10), jnp.asarray(jnp.inf, jnp.float32))
    assert old_leaf.is_deleted()  # the chunk reused the state's buffers


def test_seed_momentum_equals_optax_sgd_for_constant_lr_only():
    """The tutorial's v = mu*v + lr*g is optax's sgd(lr, mu) for a constant lr; under a decaying
    schedule it is chain(scale_by_learning_rate(sched), trace(mu)) instead."""
    p = {"w": jnp.linspace(-1.0, 1.0, 6)}
    grads = gradient_stream(p, 60)
    sched = optax.exponential_decay(0.1, 10, 0.5)
    updates = lambda tx: np.asarray(run(tx, p, grads).updates["w"])

    np.testing.assert_allclose(updates(O.tutorial_momentum(0.1, 0.9)), updates(optax.sgd(0.1, 0.9)),
                               rtol=1e-5, atol=1e-7)
    seed = updates(O.tutorial_momentum(sched, 0.9))
    np.testing.assert_allclose(
        seed, updates(optax.chain(optax.scale_by_learning_rate(sched), optax.trace(0.9))),
        rtol=1e-5, atol=1e-7)
    apart = np.max(np.abs(seed - updates(optax.sgd(sched, 0.9)))) / np.max(np.abs(seed))
    assert apart > 0.05  # the two forms part under a decaying schedule
