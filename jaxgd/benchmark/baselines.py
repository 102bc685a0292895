"""The implementations jaxgd is measured against, written plainly in this file.

- bare JAX: the smallest `lax.scan` training loop one can write (the practical limit);
- Python loop: a jitted optax step called from a Python loop (the common way);
  (the optax transformations come from `jaxgd.reference`, jaxgd's only optax user)
- NumPy: the tutorial's code (slides 4-8, 11, 12) generalised to any depth;
- PyTorch eager: the same loop with torch.optim, when torch is importable.

All train a ReLU/sigmoid MLP of tuples ``(w, b)`` per layer on (x, y), with the
same initial parameters and the same shuffled batch order as jaxgd.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgd.core.transform import apply_updates

# ------------------------------------------------------------------ bare JAX


def _forward(params, x, act):
    for w, b in params[:-1]:
        x = act(x @ w + b)
    w, b = params[-1]
    return x @ w + b


def bare_loss(kind: str, act):
    """MSE on sigmoid outputs (the tutorial) or softmax cross-entropy with int labels."""

    def mse(params, x, y):
        return jnp.mean((jax.nn.sigmoid(_forward(params, x, act)) - y) ** 2)

    def ce(params, x, y):
        logits = _forward(params, x, act)
        return jnp.mean(jax.nn.logsumexp(logits, axis=1) - jnp.take_along_axis(
            logits, y[:, None], axis=1)[:, 0])

    return mse if kind == "mse" else ce


def bare_scan(loss, tx, params, x, y, batch, epochs, key, record_loss=False):
    """Compiled ``run() -> params``: epochs of a scan over shuffled batches, as in the JAX docs.

    Shuffles inside the program like jaxgd (a permutation per epoch, reshaped to
    (steps, batch)); full batch (batch == n) takes the data in order. With
    ``record_loss`` it also returns each epoch's mean loss, as jaxgd's history does.
    """
    n = x.shape[0]
    steps = n // batch

    def train(params, x, y, key):
        def step(carry, rows):
            p, s = carry
            if record_loss:
                value, g = jax.value_and_grad(loss)(p, x[rows], y[rows])
            else:
                value, g = None, jax.grad(loss)(p, x[rows], y[rows])
            u, s = tx.update(g, s, p)
            return (apply_updates(p, u), s), value

        def epoch(carry, k):
            if batch == n:
                return step(carry, jnp.arange(n))
            idx = jax.random.permutation(k, n)[: steps * batch].reshape(steps, batch)
            carry, values = jax.lax.scan(step, carry, idx)
            return carry, None if values is None else jnp.mean(values)

        keys = jax.random.split(key, epochs)
        (p, _), history = jax.lax.scan(epoch, (params, tx.init(params)), keys)
        return p, history

    compiled = jax.jit(train).lower(params, x, y, key).compile()
    return lambda: jax.block_until_ready(compiled(params, x, y, key))


def python_loop(loss, tx, params, x, y, idx):
    """A jitted optax step called once per batch from Python."""

    @jax.jit
    def step(p, s, xb, yb):
        g = jax.grad(loss)(p, xb, yb)
        u, s = tx.update(g, s, p)
        return apply_updates(p, u), s

    idx_np = np.asarray(idx)
    x_np, y_np = np.asarray(x), np.asarray(y)
    jax.block_until_ready(step(params, tx.init(params), x_np[idx_np[0]], y_np[idx_np[0]]))

    def run():
        p, s = params, tx.init(params)
        for rows in idx_np:
            p, s = step(p, s, x_np[rows], y_np[rows])
        return jax.block_until_ready(p)

    return run


# ------------------------------------------------------------------ NumPy (the tutorial's way)


def _np_sigmoid(z):
    return 1 / (1 + np.exp(-z))


def numpy_loop(kind: str, act: str, opt: dict, params, x, y, idx):
    """The tutorial's hand-written backprop and updates in NumPy, float32."""
    p0 = [(np.array(w), np.array(b)) for w, b in params]
    x, y, idx = np.asarray(x), np.asarray(y), np.asarray(idx)
    f = np.float32

    def grads(p, xb, yb):
        acts, zs = [xb], []
        for i, (w, b) in enumerate(p):
            z = acts[-1] @ w + b
            zs.append(z)
            last = i == len(p) - 1
            acts.append(_np_sigmoid(z) if last and kind == "mse" else
                        (z if last else (np.maximum(z, 0) if act == "relu" else _np_sigmoid(z))))
        n = xb.shape[0]
        if kind == "mse":
            o = acts[-1]
            delta = 2 * (o - yb) / (n * o.shape[1]) * o * (1 - o)
        else:
            e = np.exp(zs[-1] - zs[-1].max(axis=1, keepdims=True))
            delta = e / e.sum(axis=1, keepdims=True)
            delta[np.arange(n), yb] -= 1
            delta /= n
        out = [None] * len(p)
        for i in reversed(range(len(p))):
            out[i] = (acts[i].T @ delta, delta.sum(axis=0))
            if i:
                a = acts[i]
                delta = (delta @ p[i][0].T) * ((a > 0) if act == "relu" else a * (1 - a))
        return out

    def run():
        p = [(w.copy(), b.copy()) for w, b in p0]
        m = [(np.zeros_like(w), np.zeros_like(b)) for w, b in p]
        v = [(np.zeros_like(w), np.zeros_like(b)) for w, b in p]
        for t, rows in enumerate(idx, start=1):
            g = grads(p, x[rows], y[rows])
            for i in range(len(p)):
                new = []
                for j in range(2):
                    if opt["name"] == "adam":
                        b1, b2 = f(0.9), f(0.999)
                        m[i][j][...] = b1 * m[i][j] + (1 - b1) * g[i][j]
                        v[i][j][...] = b2 * v[i][j] + (1 - b2) * g[i][j] ** 2
                        mh, vh = m[i][j] / (1 - b1**t), v[i][j] / (1 - b2**t)
                        new.append(p[i][j] - f(opt["lr"]) * mh / (np.sqrt(vh) + f(1e-8)))
                    elif opt.get("momentum"):  # slide 11: v = mu*v + lr*g; w -= v
                        m[i][j][...] = f(opt["momentum"]) * m[i][j] + f(opt["lr"]) * g[i][j]
                        new.append(p[i][j] - m[i][j])
                    else:  # slide 8
                        new.append(p[i][j] - f(opt["lr"]) * g[i][j])
                p[i] = tuple(new)
        return p

    return run


# ------------------------------------------------------------------ PyTorch eager


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def torch_loop(kind: str, act: str, opt: dict, params, x, y, idx):
    """torch.optim on the same MLP, eager mode, float32, on CUDA when torch sees a GPU."""
    import torch

    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.set_num_threads(max(1, torch.get_num_threads()))
    p0 = [(torch.tensor(np.array(w), device=dev), torch.tensor(np.array(b), device=dev))
          for w, b in params]
    x_t = torch.tensor(np.asarray(x), device=dev)
    y_t = torch.tensor(np.asarray(y), device=dev)
    y_t = y_t.long() if kind == "ce" else y_t
    idx_t = torch.tensor(np.asarray(idx), device=dev).long()
    nonlin = torch.relu if act == "relu" else torch.sigmoid

    def run():
        ps = [t.clone().requires_grad_(True) for pair in p0 for t in pair]
        if opt["name"] == "adam":
            o = torch.optim.Adam(ps, lr=opt["lr"])
        else:
            o = torch.optim.SGD(ps, lr=opt["lr"], momentum=opt.get("momentum") or 0.0)
        for rows in idx_t:
            h = x_t[rows]
            for i in range(0, len(ps) - 2, 2):
                h = nonlin(h @ ps[i] + ps[i + 1])
            out = h @ ps[-2] + ps[-1]
            if kind == "mse":
                loss = torch.mean((torch.sigmoid(out) - y_t[rows]) ** 2)
            else:
                loss = torch.nn.functional.cross_entropy(out, y_t[rows])
            o.zero_grad(set_to_none=True)
            loss.backward()
            o.step()
        if dev.type == "cuda":
            torch.cuda.synchronize()  # CUDA runs asynchronously: wait, as block_until_ready does
        return ps

    return run


def as_tuples(params: Any) -> list[tuple[Any, Any]]:
    """jaxgd's list of Dense(w, b) as plain (w, b) tuples."""
    return [(layer.w, layer.b) for layer in params]
