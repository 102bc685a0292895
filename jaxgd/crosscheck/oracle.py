"""The third witness: a rule run in float64 on the same inputs, and the rounding tolerance.

Two rules that share a fault (0/0 in float16, a hyperparameter rounded to 1.0 in
bfloat16, a complex phase dropped) agree with each other. Run in float64 (complex128
for complex leaves) from the same params on the same gradient stream, the rule
shows what the low-precision runs should have computed; each side is compared with
it under a tolerance that rounding alone cannot pass:

    rtol = ROUNDING_K * eps(dtype)          (eps of the low-precision leaf's dtype)
    tol[t] = rtol * (S + m[t]) * sqrt(t + 1)

``sqrt(t + 1)``: rounding errors of independent steps add up like a random walk.
The same eps-scaled tolerance compares the two sides with each other in float16
and bfloat16, where a rule computed in float32 (jaxgd) and one computed in 16 bits
(optax) part by a few eps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgd.core.errors import ConfigError
from jaxgd.core.transform import apply_updates
from jaxgd.crosscheck.leaves import match_leaves, plan_stats

__all__ = ["DEFAULT_RTOL", "ORACLES", "ROUNDING_K", "default_rtol", "oracle_stats", "rounding_rtol",
           "sqrt_growth", "tolerance", "wide"]

ORACLES = ("float64",)
ROUNDING_K = 8.0
EPS_SCALED = ("float16", "bfloat16")  # dtypes whose side-vs-side tolerance is eps-scaled too
DEFAULT_RTOL = {"float64": 1e-12, "float32": 1e-5}  # side vs side; complex: its real dtype's


def rounding_rtol(dtype: Any) -> float:
    """``ROUNDING_K * eps(dtype)``: the per-step relative tolerance of rounding in ``dtype``."""
    return ROUNDING_K * float(jnp.finfo(jnp.dtype(dtype)).eps)


def sqrt_growth(steps: int) -> np.ndarray:
    """``sqrt(t + 1)`` for t = 0 .. steps-1: how rounding errors of t steps add up."""
    return np.sqrt(np.arange(1, steps + 1, dtype=np.float64))


def default_rtol(dtype: Any, rtol: float | dict | None = None) -> float:
    """The relative tolerance for a leaf of ``dtype``; 0 for integer and bool leaves.

    ``rtol`` overrides: a float for every float dtype, or a dict ``{dtype name: rtol}``
    (a complex dtype falls back to its real counterpart's entry). Without one:
    `DEFAULT_RTOL`, and ``ROUNDING_K * eps`` for float16 and bfloat16 (whose
    tolerance also grows with the step, see `tolerance`).
    """
    dt = jnp.dtype(dtype)
    if not jnp.issubdtype(dt, jnp.inexact):
        return 0.0
    names = (dt.name, jnp.finfo(dt).dtype.name)  # complex64 -> float32
    table = {**DEFAULT_RTOL, **{n: rounding_rtol(n) for n in EPS_SCALED}}
    if isinstance(rtol, dict):
        table = {**table, **rtol}
    elif rtol is not None:
        return float(rtol)
    return float(next((table[n] for n in names if n in table), 1e-5))


def tolerance(dtype: Any, rtol: float | dict | None, steps: int) -> tuple[float, np.ndarray | None]:
    """``(rtol, growth)`` of a leaf: growth ``sqrt(t + 1)`` where the eps-scaled default applies."""
    name = jnp.dtype(dtype).name
    given = rtol is not None and not (isinstance(rtol, dict) and name not in rtol)
    scaled = name in EPS_SCALED and not given
    return default_rtol(dtype, rtol), (sqrt_growth(steps) if scaled else None)


def wide(dtype: Any) -> np.dtype:
    """The oracle's dtype for a leaf: float64, or complex128 for a complex leaf."""
    complex_ = jnp.issubdtype(jnp.dtype(dtype), jnp.complexfloating)
    return jnp.dtype(jnp.complex128 if complex_ else jnp.float64)


def check_oracle(oracle: Any) -> str:
    """Return ``oracle`` ("" for None) if it is one jaxgd can run; else ConfigError."""
    if oracle is None or oracle == "":
        return ""
    if oracle not in ORACLES:
        raise ConfigError(f"oracle={oracle!r} is not accepted; accepted: None or "
                          f"{', '.join(map(repr, ORACLES))} (the rule rerun in float64).")
    return oracle


def oracle_stats(tx: Any, params: Any, xs: Any, outs: Any, *, loss_fn: Callable | None,
                 batched: bool, extras: Callable[[Any, Any], dict]) -> tuple[dict, Any, Any]:
    """Run ``tx`` in float64 beside the recorded low-precision runs; per step and leaf, stats.

    Args:
        tx: the rule to run as the oracle (built so that it runs in float64).
        params: the shared starting params (low precision).
        xs: the per-step scan inputs of the run (step indices or batches).
        outs: the recorded runs, stacked over steps: ``{"grads": g, "a": (u, p), "b": (u, p)}``;
            ``g`` is the shared gradient (stream mode) or None (loss mode: the oracle
            takes the gradient of ``loss_fn`` at its own params).
        loss_fn, batched: as in `jaxgd.crosscheck.crosscheck`.
        extras: ``(grads, params) -> dict`` of extra update() arguments.

    Returns:
        ``({"a": {"updates": (d, m, bad), "params": ...}, "b": ...}, plan_u, plan_p)``:
        host NumPy arrays of shape (steps, leaves) and the leaf plans they follow.
    """
    with jax.enable_x64(True):
        p64 = jax.tree.map(lambda x: jnp.asarray(x).astype(wide(jnp.asarray(x).dtype)), params)
        u_a = jax.tree.map(lambda x: x[0], outs["a"][0])
        plan_u, plan_p = match_leaves(u_a, u_a), match_leaves(params, params)

        def body(carry, inputs):
            p, s = carry
            x, g, (ua, pa), (ub, pb) = inputs
            if g is None:
                f = loss_fn if not batched else (lambda q: loss_fn(q, x))
                g = jax.grad(f)(p)
            else:
                g = jax.tree.map(lambda v, q: v.astype(q.dtype), g, p)
            u, s = tx.update(g, s, p, **extras(g, p))
            p = apply_updates(p, u)
            out = {side: {"updates": plan_stats(us, u, plan_u), "params": plan_stats(ps, p, plan_p)}
                   for side, (us, ps) in (("a", (ua, pa)), ("b", (ub, pb)))}
            return (p, s), out

        run = jax.jit(lambda p, xs, outs: jax.lax.scan(
            body, (p, tx.init(p)), (xs, outs["grads"], outs["a"], outs["b"]))[1])
        stats = jax.device_get(run(p64, xs, outs))
    return stats, plan_u, plan_p
