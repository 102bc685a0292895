"""Edge of stability (Cohen et al., ICLR 2021): full-batch gradient descent on a small
network; the sharpness (the top Hessian eigenvalue of the training loss) rises until it
reaches about 2 / lr and then hovers there, while the loss keeps falling, unevenly.

Two learning rates run in ONE vmapped program: each run does `--every` full-batch GD
steps between sharpness measurements (power iteration on Hessian-vector products,
`jaxgd.instruments.top_hessian_eigenvalue`), all inside one `lax.scan`.

    python scripts/reproduce_edge_of_stability.py                 # the README's figure
    python scripts/reproduce_edge_of_stability.py --steps 300 --out /tmp/eos   # quicker

The problem follows the paper's small-scale setting: mean squared error on one-hot
labels (the paper uses MSE on a CIFAR-10 subset; here 1,000 rows of the digits data),
a tanh MLP 64-64-64-10 with Glorot init. Writes ``eos.csv`` (run, lr, step, loss,
sharpness) and ``eos.png`` (sharpness with 2/lr, and the loss) into ``--out``, and
prints each run's sharpness at the end against 2/lr.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxgd.data import load_dataset
from jaxgd.instruments import top_hessian_eigenvalue
from jaxgd.nn.losses import make_loss_fn
from jaxgd.nn.models import init_mlp


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lrs", default="0.3,0.6", help="learning rates, comma-separated")
    ap.add_argument("--steps", type=int, default=1500, help="full-batch GD steps per run")
    ap.add_argument("--every", type=int, default=25, help="steps between sharpness measurements")
    ap.add_argument("--rows", type=int, default=1000, help="training rows of digits")
    ap.add_argument("--iters", type=int, default=20, help="power-iteration steps per measurement")
    ap.add_argument("--out", default="docs/img", help="folder for eos.csv and eos.png")
    a = ap.parse_args(argv)
    lrs = jnp.asarray([float(v) for v in a.lrs.split(",")], jnp.float32)
    blocks = a.steps // a.every

    ds = load_dataset("digits", key=jax.random.key(1))
    x = jnp.asarray(ds.x[: a.rows])
    y = jax.nn.one_hot(jnp.asarray(ds.y[: a.rows]), 10)
    loss_fn = make_loss_fn("mse", "tanh", "identity")
    params = init_mlp(jax.random.key(0), (64, 64, 64, 10), "glorot")

    def run(lr):
        def block(carry, key):
            p = carry

            def gd(p, _):
                value, g = jax.value_and_grad(loss_fn)(p, x, y)
                return jax.tree.map(lambda w, d: w - lr * d, p, g), value

            p, losses = jax.lax.scan(gd, p, None, length=a.every)
            sharp, _ = top_hessian_eigenvalue(loss_fn, p, x, y, key=key, iters=a.iters)
            return p, (losses[-1], sharp)

        keys = jax.random.split(jax.random.key(2), blocks)
        _, (losses, sharpness) = jax.lax.scan(block, params, keys)
        return losses, sharpness

    t0 = time.perf_counter()
    losses, sharpness = jax.block_until_ready(jax.jit(jax.vmap(run))(lrs))
    seconds = time.perf_counter() - t0
    losses, sharpness = np.asarray(losses), np.asarray(sharpness)
    steps = (np.arange(blocks) + 1) * a.every

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "eos.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["run", "lr", "step", "loss", "sharpness"])
        for r, lr in enumerate(np.asarray(lrs)):
            for s, loss, sh in zip(steps, losses[r], sharpness[r], strict=True):
                w.writerow([r, f"{lr:g}", int(s), f"{loss:.6g}", f"{sh:.6g}"])
    print(f"edge of stability: {len(lrs)} runs x {a.steps} full-batch GD steps, digits {a.rows} rows, "
          f"MSE, tanh 64-64-64-10; {seconds:.1f} s (compilation included)")
    for r, lr in enumerate(np.asarray(lrs)):
        last = sharpness[r, -max(1, blocks // 5):]  # the last fifth of the run
        print(f"lr {lr:g}: 2/lr = {2 / lr:.1f}; sharpness at the start {sharpness[r, 0]:.1f}, at the end "
              f"{sharpness[r, -1]:.1f} (mean of the last fifth {last.mean():.1f}, "
              f"{last.mean() * lr / 2:.2f} x 2/lr); final loss {losses[r, -1]:.4g}")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: eos.png not drawn (pip install -e \".[plot]\")")
        return 0
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    for r, lr in enumerate(np.asarray(lrs)):
        line, = ax1.plot(steps, sharpness[r], label=f"lr {lr:g}")
        ax1.axhline(2 / lr, ls="--", color=line.get_color(), lw=1)
        ax2.plot(steps, losses[r], label=f"lr {lr:g}")
    ax1.set(xlabel="step", ylabel="sharpness (top Hessian eigenvalue)",
            title="sharpness rises to 2/lr (dashed) and hovers")
    ax2.set(xlabel="step", ylabel="training loss (MSE)", yscale="log", title="loss")
    ax1.legend()
    ax2.legend()
    fig.tight_layout()
    fig.savefig(out / "eos.png", dpi=110)
    print(f"wrote {out / 'eos.csv'} and {out / 'eos.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
