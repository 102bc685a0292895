"""The benchmark's workloads, each run by every implementation on the same data.

W1  the tutorial: 2-3-1 sigmoid MLP, XOR, full-batch GD, lr 0.5, 10,000 epochs
W2  minibatch: digits 64-128-128-10 ReLU, softmax CE, Adam lr 1e-3, batch 32, 20 epochs
W3  compute-bound: 1024-2048-2048-10 ReLU, batch 1024, SGD momentum 0.9
W4  sweep: W2 with 32 learning rates, one vmapped program vs 32 sequential runs
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxgd import optimizers, reference
from jaxgd.benchmark import baselines as B
from jaxgd.benchmark.timing import Impl
from jaxgd.data import xor
from jaxgd.data.batching import epoch_indices
from jaxgd.nn.losses import make_loss_fn
from jaxgd.nn.models import init_mlp
from jaxgd.training.engine import init_state, make_chunk, make_epoch, make_step


class Workload(NamedTuple):
    name: str
    title: str
    impls: list[Impl]
    flops: float  # floating-point operations of one whole run (0 if not counted)


def index_table(key, n: int, batch: int, epochs: int) -> jax.Array:
    """The (epochs * steps, batch) row indices jaxgd's engine visits, for the baselines."""
    if batch == n:
        return jnp.tile(jnp.arange(n, dtype=jnp.int32)[None], (epochs, 1))
    rows = []
    for _ in range(epochs):
        key, sub = jax.random.split(key)
        rows.append(epoch_indices(sub, n, batch))
    return jnp.concatenate(rows)


def jaxgd_impl(name, loss_fn, tx, params, x, y, batch, epochs, key) -> Impl:
    """jaxgd's engine as `fit` runs it: one compiled chunk covering the whole run."""

    def prepare():
        n = int(x.shape[0])
        chunk = jax.jit(make_chunk(make_epoch(make_step(jax.value_and_grad(loss_fn), tx), n, batch),
                                   epochs))
        state = init_state(params, tx, key)
        args = (state, x, y, jnp.int32(0), jnp.int32(epochs), jnp.asarray(jnp.inf, jnp.float32))
        compiled = chunk.lower(*args).compile()
        return lambda: jax.block_until_ready(compiled(*args))

    return Impl(name, prepare)


def mlp_impls(kind, act, sizes, init, opt, x, y, batch, epochs, seed=0, numpy=True) -> list[Impl]:
    """Every implementation of one MLP workload, from the same init and batch order."""
    params = init_mlp(jax.random.key(seed), sizes, init)
    key = jax.random.key(seed + 1)
    out_act = "sigmoid" if kind == "mse" else "identity"
    loss_fn = make_loss_fn("mse" if kind == "mse" else "softmax_ce", act, out_act)
    kw = {"learning_rate": opt["lr"]}
    name = opt["name"]
    if opt.get("momentum"):
        kw["momentum"] = opt["momentum"]
    hand = getattr(optimizers, name)(**kw)
    twin = getattr(reference, name)(**kw)
    idx = index_table(key, int(x.shape[0]), batch, epochs)
    tuples = B.as_tuples(params)
    blos = B.bare_loss(kind, jax.nn.relu if act == "relu" else jax.nn.sigmoid)
    impls = [
        jaxgd_impl("jaxgd (hand)", loss_fn, hand, params, x, y, batch, epochs, key),
        jaxgd_impl("jaxgd (optax)", loss_fn, twin, params, x, y, batch, epochs, key),
        Impl("bare JAX scan", lambda: B.bare_scan(blos, twin, tuples, x, y, batch, epochs, key)),
        Impl("bare JAX scan + loss per epoch",
             lambda: B.bare_scan(blos, twin, tuples, x, y, batch, epochs, key, record_loss=True)),
        Impl("Python loop + jit step", lambda: B.python_loop(blos, twin, tuples, x, y, idx)),
    ]
    if numpy:
        impls.append(Impl("NumPy (the tutorial's way)",
                          lambda: B.numpy_loop(kind, act, opt, tuples, x, y, idx)))
    if B.torch_available():
        impls.append(Impl("PyTorch eager", lambda: B.torch_loop(kind, act, opt, tuples, x, y, idx)))
    return impls


def mlp_flops(sizes, batch, steps) -> float:
    """Matmul FLOPs of training: 2*B*in*out per layer forward, the same again for the
    weight gradient, and once more for the input gradient except at the first layer."""
    layers = [2 * batch * a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
    per_step = 2 * layers[0] + 3 * sum(layers[1:])
    return float(per_step * steps)


def w1(epochs: int = 10_000) -> Workload:
    ds = xor()
    opt = {"name": "sgd", "lr": 0.5}
    return Workload("W1", f"seed: 2-3-1 sigmoid, XOR, full-batch GD lr 0.5, {epochs} epochs",
                    mlp_impls("mse", "sigmoid", (2, 3, 1), "normal", opt, ds.x, ds.y, 4, epochs), 0.0)


def digits_data():
    from jaxgd.data.real import digits

    ds = digits(jax.random.key(0), test_fraction=0.2)
    return ds.x, ds.y


def w2(epochs: int = 20) -> Workload:
    x, y = digits_data()
    opt = {"name": "adam", "lr": 1e-3}
    sizes = (64, 128, 128, 10)
    steps = (x.shape[0] // 32) * epochs
    return Workload("W2", f"minibatch: digits 64-128-128-10 ReLU, Adam 1e-3, batch 32, {epochs} epochs",
                    mlp_impls("ce", "relu", sizes, "he", opt, x, y, 32, epochs),
                    mlp_flops(sizes, 32, steps))


def w3(n: int = 4096, epochs: int = 1, sizes=(1024, 2048, 2048, 10), batch: int = 1024) -> Workload:
    """A compute-bound MLP: random data, SGD momentum 0.9, ``n // batch * epochs`` steps.

    The CPU size is the default; on a GPU `run_bench` uses the issue-sized model
    1024-4096-4096-4096-10 with batch 4096 and 20 steps (NumPy left out there).
    """
    kx, ky = jax.random.split(jax.random.key(3))
    x = jax.random.normal(kx, (n, sizes[0]), jnp.float32)
    y = jax.random.randint(ky, (n,), 0, sizes[-1], jnp.int32)
    opt = {"name": "sgd", "lr": 0.01, "momentum": 0.9}
    steps = (n // batch) * epochs
    shape = "-".join(map(str, sizes))
    return Workload("W3", f"compute-bound: {shape} ReLU, batch {batch}, SGD momentum 0.9, "
                          f"{steps} steps",
                    mlp_impls("ce", "relu", sizes, "he", opt, x, y, batch, epochs,
                              numpy=sizes[1] <= 2048),
                    mlp_flops(sizes, batch, steps))


def matmul_peak(n: int = 2048, repeats: int = 10) -> float:
    """The machine's float32 matmul rate in GFLOP/s: the best of ``repeats`` timed calls
    of an (n x n) @ (n x n) product and of one twice that size (the peak, not a median)."""
    import time

    best = 0.0
    for size in (n, 2 * n):
        a = jax.random.normal(jax.random.key(0), (size, size), jnp.float32)
        f = jax.jit(lambda a: a @ a).lower(a).compile()
        jax.block_until_ready(f(a))
        for _ in range(repeats if size == n else max(2, repeats // 4)):
            t0 = time.perf_counter()
            jax.block_until_ready(f(a))
            best = max(best, 2 * size**3 / (time.perf_counter() - t0) / 1e9)
    return best


def tree_bytes(tree: Any) -> int:
    return sum(int(np.prod(np.shape(x))) * np.dtype(x.dtype).itemsize for x in jax.tree.leaves(tree))
