"""W5: `jaxgd sweep` against a bare vmapped JAX program doing the same work.

The work is W2 (digits 64-128-128-10 ReLU, Adam, batch 32, jaxgd's train split)
over R learning rates, each run with its own shuffles. The bare program is the
smallest one a JAX user would write for it: one `jax.jit(jax.vmap(run))`, Adam
written inline, each epoch's mean loss recorded (as jaxgd's history does). Both
start from the same parameters and run in this one process, in turn, medians over
repeats, compilation apart, results waited on with `jax.block_until_ready`.

jaxgd is measured twice: with its default evaluation after every epoch (train
accuracy, test loss and accuracy: work the bare program does not do) and with
``eval_every=epochs`` (evaluated once, at the end), the like-for-like figure.
Each row also gives its matmul work (`matmul_gflop`: training as `mlp_flops` counts
it, plus a forward pass per evaluated row) and the time
per unit of that work against the bare program's (`ratio_per_work`), so the price of
the evaluation is told apart from the price of the engine.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgd.benchmark.baselines import as_tuples, bare_loss
from jaxgd.benchmark.workloads import mlp_flops
from jaxgd.experiments.build import make_problem
from jaxgd.experiments.config import TrainConfig
from jaxgd.experiments.sweep.engine import initial_params, sweep
from jaxgd.experiments.sweep.grid import make_grid

__all__ = ["bare_sweep", "matmul_gflop", "sweep_config", "w5"]


def sweep_config(epochs: int, eval_every: int = 1) -> TrainConfig:
    """The W2 run as a sweep's base config (the grid sets the learning rate)."""
    return TrainConfig(dataset="digits", hidden=(128, 128), activation="relu", init="he",
                       optimizer="adam", learning_rate=1e-3, batch_size=32, epochs=epochs,
                       test_fraction=0.2, impl="hand", eval_every=eval_every)


def matmul_gflop(sizes: tuple[int, ...], train_rows: int, eval_rows: int, epochs: int, evals: int,
                 runs: int) -> float:
    """Matmul GFLOP of ``runs`` runs: training (`mlp_flops`) on ``train_rows`` rows per
    epoch, and a forward pass (2 flops per weight per row) over ``eval_rows`` rows at
    each of ``evals`` evaluations."""
    forward = sum(2 * a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    training = mlp_flops(sizes, train_rows, epochs)
    return runs * (training + forward * eval_rows * evals) / 1e9


def bare_sweep(x, y, batch: int, epochs: int, b1=0.9, b2=0.999, eps=1e-8):
    """``run(lrs (R,), keys (R,), params (R, ...)) -> (params, losses (R, epochs))``, jitted.

    Adam (Kingma & Ba, 2014) inline, softmax cross-entropy, a fresh permutation of
    the rows per epoch from each run's key.
    """
    loss = bare_loss("ce", jax.nn.relu)
    n = x.shape[0]
    steps = n // batch

    def one(lr, key, params):
        zeros = jax.tree.map(jnp.zeros_like, params)

        def step(carry, rows):
            p, m, v, t = carry
            value, g = jax.value_and_grad(loss)(p, x[rows], y[rows])
            t = t + 1
            m = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, m, g)
            v = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, v, g)
            c1, c2 = 1 - b1**t, 1 - b2**t
            p = jax.tree.map(lambda p, m, v: p - lr * (m / c1) / (jnp.sqrt(v / c2) + eps), p, m, v)
            return (p, m, v, t), value

        def epoch(carry, k):
            idx = jax.random.permutation(k, n)[: steps * batch].reshape(steps, batch)
            carry, values = jax.lax.scan(step, carry, idx)
            return carry, jnp.mean(values)

        (p, *_), losses = jax.lax.scan(epoch, (params, zeros, zeros, jnp.float32(0)),
                                       jax.random.split(key, epochs))
        return p, losses

    return jax.jit(jax.vmap(one))


def w5(runs=(1, 32), epochs: int = 20, repeats: int = 3) -> dict[str, Any]:
    """Time jaxgd's sweep and the bare program at each R in ``runs``; a workload result dict."""
    rows = []
    for r in runs:
        lrs = np.logspace(-4, -1, r).astype(np.float32) if r > 1 else np.array([1e-3], np.float32)
        grid = make_grid({"learning_rate": [float(v) for v in lrs]}, [0])
        cfgs = {"jaxgd sweep (eval every epoch)": sweep_config(epochs),
                "jaxgd sweep (eval at the end)": sweep_config(epochs, eval_every=epochs)}
        pb = make_problem(cfgs["jaxgd sweep (eval every epoch)"])
        stacked = jax.tree.map(jnp.asarray, as_tuples(initial_params(pb, "he", grid.seeds)))
        keys = jax.random.split(jax.random.key(2), r)
        t = time.perf_counter()
        bare = bare_sweep(pb.data.x, pb.data.y, 32, epochs).lower(lrs, keys, stacked).compile()
        bare_compile = time.perf_counter() - t
        jax.block_until_ready(bare(lrs, keys, stacked))
        figures: dict[str, list[float]] = {name: [] for name in cfgs}
        figures["bare vmapped JAX"] = []
        compile_s = {}
        for _ in range(repeats):  # in turn, so load on the machine hits every side alike
            for name, cfg in cfgs.items():
                res = sweep(cfg, grid, raise_if_all_diverged=False)
                figures[name].append(res.run_seconds)
                compile_s[name] = res.compile_seconds
            t = time.perf_counter()
            jax.block_until_ready(bare(lrs, keys, stacked))
            figures["bare vmapped JAX"].append(time.perf_counter() - t)
        compile_s["bare vmapped JAX"] = bare_compile
        base = statistics.median(figures["bare vmapped JAX"])
        data, sizes = pb.data, pb.sizes
        trained = data.x.shape[0] // 32 * 32  # rows per epoch (the last partial batch is dropped)
        evaluated = data.x.shape[0] + (0 if data.x_test is None else data.x_test.shape[0])
        work = {name: matmul_gflop(sizes, trained, evaluated, epochs, epochs // cfg.eval_every, r)
                for name, cfg in cfgs.items()}
        work["bare vmapped JAX"] = matmul_gflop(sizes, trained, 0, epochs, 0, r)
        for name, ts in figures.items():
            med = statistics.median(ts)
            rows.append({"runs": r, "program": name, "run_s": med, "compile_s": compile_s[name],
                         "runs_per_second": r / med, "ratio_to_bare": med / base,
                         "matmul_gflop": work[name],
                         "ratio_per_work": (med / work[name]) / (base / work["bare vmapped JAX"])})
    device = jax.devices()[0]
    md = "\n".join([
        "| R | program | run (median) | compile | runs/s | ratio to bare | matmul work | "
        "ratio per unit of work |",
        "|---|---|---|---|---|---|---|---|",
        *(f"| {row['runs']} | {row['program']} | {row['run_s'] * 1e3:.1f} ms | "
          f"{row['compile_s']:.2f} s | {row['runs_per_second']:.1f} | {row['ratio_to_bare']:.2f}x | "
          f"{row['matmul_gflop']:.2f} GFLOP | {row['ratio_per_work']:.2f}x |"
          for row in rows)])
    return {"name": "W5", "title": f"sweep against a bare vmapped program: W2 over R learning rates, "
                                   f"{epochs} epochs, one {device.platform} device",
            "rows_w5": rows, "markdown": md}
