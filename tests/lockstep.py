"""A fixed stream of gradients, and transforms run on it step by step (shared by the tests).

Import it by name (``from lockstep import gradient_stream, lockstep, run``): tests/ is on
``sys.path`` because conftest.py lives there. Two rules fed the same stream see the same
gradients at every step, so their updates, params and states can be compared per step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxgd.core.transform import apply_updates


def gradient_stream(params: Any, steps: int, seed: int = 0, scale: float = 1.0) -> Any:
    """``steps`` standard-normal gradients (times ``scale``) shaped like ``params``.

    Each leaf gets a leading steps axis and its own key split from ``seed``, so the
    stream depends only on the tree's structure, shapes and dtypes. NumPy leaves are
    drawn in their JAX dtype (float64 only under x64).
    """
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    return treedef.unflatten([
        scale * jax.random.normal(k, (steps, *jnp.shape(x)), jnp.asarray(x).dtype)
        for k, x in zip(keys, leaves, strict=True)
    ])


def at(stream: Any, t: int) -> Any:
    """Step ``t`` of a tree with a leading steps axis (a stream, or a `Run` field)."""
    return jax.tree.map(lambda x: x[t], stream)


class Run(NamedTuple):
    """One transform over a gradient stream; per-step trees have a leading steps axis."""

    updates: Any  # the update of each step
    params: Any  # the params after each step
    states: Any  # the state after each step
    state: Any  # the final state
    init: Any  # the initial state


def run(tx: Any, params: Any, grads: Any,
        extra: dict | Callable[[Any, Any], dict] | None = None,
        loss_fn: Callable[[Any], Any] | None = None) -> Run:
    """Run ``tx`` over ``grads`` (a tree with a leading steps axis) in one `jax.lax.scan`.

    Each step: ``u, s = tx.update(g, s, p, **extra)``, then ``p = p + u``. ``extra`` is a
    dict of extra update() arguments, or ``fn(g, p) -> dict`` for per-step ones. With
    ``loss_fn`` (a rule that evaluates the objective itself), ``g`` is the gradient of
    ``loss_fn`` at ``p`` and ``grads`` only sets the number of steps. Not jitted: call it
    inside your own ``jax.jit`` to compile it once with other work.
    """
    state0 = tx.init(params)

    def body(carry, g):
        p, s = carry
        if loss_fn is not None:
            g = jax.grad(loss_fn)(p)
        kw = extra(g, p) if callable(extra) else (extra or {})
        u, s = tx.update(g, s, p, **kw)
        p = apply_updates(p, u)
        return (p, s), (u, p, s)

    (_, state), (updates, ps, states) = jax.lax.scan(body, (params, state0), grads)
    return Run(updates, ps, states, state, state0)


def lockstep(tx_a: Any, tx_b: Any, params: Any, grads: Any,
             extra: dict | Callable[[Any, Any], dict] | None = None,
             loss_fn: Callable[[Any], Any] | None = None) -> tuple[Run, Run]:
    """Both transforms from the same params over the same gradient stream, or each on the
    gradients of ``loss_fn`` at its own params (see `run`)."""
    return run(tx_a, params, grads, extra, loss_fn), run(tx_b, params, grads, extra, loss_fn)
