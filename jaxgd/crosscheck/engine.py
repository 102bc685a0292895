"""Run two update rules (or two schedules) in lockstep and report where and how far they part.

Either side may be a hand-written `Transform` or an ``optax.GradientTransformation``
(both are ``(init, update)`` pairs). Both start from the same params and, per step,

* stream mode: receive the SAME gradient (random normal from ``key``, or the user's
  stacked ``grads``), which isolates the rule from the trajectory; or
* loss mode: take the gradient of ``loss_fn`` at their OWN params, which shows how
  a small difference grows along a run.

The whole run is one jitted `lax.scan`; only the per-step statistics (one max
difference, one magnitude and a non-finite flag per leaf and step) come back to
the host. Updates, params and optimizer state are compared leaf by leaf; state
leaves are matched by key path (see `match_leaves`). The tolerance rule is in
`jaxgd.crosscheck.traces`:

    differs at step t  <=>  max|a - b| > (atol + rtol * max(|a|, |b|)) * g[t]
    atol = rtol * (the leaf's largest magnitude over the run), unless given
    rtol by dtype: float64 and complex128 1e-12, float32 and complex64 1e-5, g[t] = 1;
    float16 and bfloat16: rtol = ROUNDING_K * eps, g[t] = sqrt(t + 1) (`jaxgd.crosscheck.oracle`);
    integer and bool leaves (step counts) must be equal.

A NaN or inf on either side is its own verdict ("non-finite"), never "agree". With
``oracle="float64"`` the first rule also runs in float64 beside the two, and each
side is compared with it under the eps-scaled tolerance (verdict "depart").
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgd.core.errors import ConfigError, check_positive_int, check_transform
from jaxgd.core.transform import apply_updates
from jaxgd.crosscheck.inputs import (
    DEFAULT_STEPS,
    check_call,
    check_steps_fit,
    check_tolerances,
    inputs,
    step_indices,
)
from jaxgd.crosscheck.leaves import Plan, looser, match_leaves, plan_stats
from jaxgd.crosscheck.oracle import (
    DEFAULT_RTOL,
    check_oracle,
    default_rtol,
    oracle_stats,
    rounding_rtol,
    sqrt_growth,
    tolerance,
)
from jaxgd.crosscheck.report import CrosscheckReport, LeafTrace

__all__ = ["DEFAULT_RTOL", "crosscheck", "crosscheck_schedule", "default_rtol"]



def _extras(extra_args: dict | None, grads: Any, params: Any) -> dict:
    """update()'s extra keyword arguments; a callable value is ``fn(grads, params)``."""
    return {k: (v(grads, params) if callable(v) else v) for k, v in (extra_args or {}).items()}


def crosscheck(
    tx_a: Any,
    tx_b: Any,
    params: Any,
    *,
    steps: int | None = None,
    grads: Any = None,
    loss_fn: Callable[..., jax.Array] | None = None,
    batches: Any = None,
    key: jax.Array | int | None = None,
    rtol: float | dict | None = None,
    atol: float | None = None,
    extra_args: dict | None = None,
    names: tuple[str, str] = ("a", "b"),
    label: str = "",
    oracle: str | None = None,
    oracle_tx: Any = None,
) -> CrosscheckReport:
    """Run ``tx_a`` and ``tx_b`` in lockstep from ``params``; compare every step.

    Args:
        tx_a, tx_b: update rules with ``init`` and ``update`` (jaxgd or optax).
        params: the starting params (a pytree of float arrays), shared by both.
        steps: number of updates (default 200, or the length of ``grads``/``batches``).
        grads: stream mode with these gradients: params' structure with a leading
            steps axis. None (and no ``loss_fn``): standard normal gradients drawn
            per step from ``key``, in each leaf's dtype.
        loss_fn: loss mode: ``loss_fn(params)`` (or ``loss_fn(params, batch)`` with
            ``batches``) -> scalar; each side follows the gradient at its own params.
        batches: a pytree stacked along a leading steps axis, one batch per step.
        key: PRNG key (or int seed) of the random gradient stream; default 0.
        rtol: relative tolerance between the sides: a float for all float leaves, a
            dict by dtype name, or None for the default by dtype (`default_rtol`).
        atol: absolute tolerance for every float leaf; None: ``rtol * S`` with S the
            leaf's largest magnitude over the run.
        extra_args: extra keyword arguments of ``update`` (e.g. ``value``); a callable
            value is called as ``fn(grads, params)`` on each side at each step.
        names: the two sides' names in the report.
        label: a title for the report (e.g. the optimizer table's row id).
        oracle: None, or "float64": also run ``oracle_tx`` (default ``tx_a``) from the
            params in float64 (complex128) on the same gradient stream, and compare
            each side's updates and params with it (`jaxgd.crosscheck.oracle`). Runs
            with x64 enabled; the two sides' runs are recorded first, outside it.
        oracle_tx: the rule the oracle runs (default ``tx_a``).

    Returns:
        A `CrosscheckReport` (host NumPy arrays only).
    """
    check_transform("tx_a", tx_a)
    check_transform("tx_b", tx_b)
    oracle = check_oracle(oracle)
    oracle_tx = check_transform("oracle_tx", tx_a if oracle_tx is None else oracle_tx)
    check_tolerances(rtol, atol)
    check_call(names, extra_args, loss_fn, key)
    params, xs, steps = inputs(params, steps, grads, loss_fn, batches)
    key = jax.random.key(0 if key is None else key) if not isinstance(key, jax.Array) else key
    mode = "loss" if loss_fn is not None else "stream"

    def gradient(p, x):
        if loss_fn is None:
            return None, (x if grads is not None else _normal_like(jax.random.fold_in(key, x), p))
        f = loss_fn if batches is None else (lambda q: loss_fn(q, x))
        return jax.value_and_grad(f)(p)

    def one_step(tx, p, s, g):
        u, s = tx.update(g, s, p, **_extras(extra_args, g, p))
        return u, s, apply_updates(p, u)

    def probe(p):
        x0 = jnp.int32(0) if xs is None else jax.tree.map(lambda x: x[0], xs)
        _, g = gradient(p, x0)
        out = [one_step(tx, p, tx.init(p), g)[:2] for tx in (tx_a, tx_b)]
        return out, tx_a.init(p), tx_b.init(p)

    (shape_a, shape_b), init_a, init_b = jax.eval_shape(probe, params)
    for name, (u, _) in zip(names, (shape_a, shape_b), strict=True):
        if jax.tree.structure(u) != jax.tree.structure(params):
            raise ConfigError(f"{name}.update returned updates with structure "
                              f"{jax.tree.structure(u)}; params have {jax.tree.structure(params)}.")
    plan_u = match_leaves(shape_a[0], shape_b[0], names)
    plan_p = match_leaves(params, params, names)
    plan_s = match_leaves(init_a, init_b, names)
    check_steps_fit(steps, sum(len(p.pairs) for p in (plan_u, plan_p, plan_s)), params,
                    oracle=bool(oracle), loss=mode == "loss", indices=xs is None)
    xs = step_indices(steps) if xs is None else xs  # the random stream: allocated once it fits

    def run(params, xs):
        def body(carry, x):
            (pa, sa), (pb, sb) = carry
            la, ga = gradient(pa, x)
            lb, gb = gradient(pb, x) if mode == "loss" else (None, ga)
            ua, sa, pa = one_step(tx_a, pa, sa, ga)
            ub, sb, pb = one_step(tx_b, pb, sb, gb)
            out = {"updates": plan_stats(ua, ub, plan_u), "params": plan_stats(pa, pb, plan_p),
                   "state": plan_stats(sa, sb, plan_s)}
            if mode == "loss":
                out["losses"] = jnp.stack([la, lb]).astype(jnp.result_type(float))
            if oracle:  # recorded for the float64 run beside them
                out["record"] = {"grads": ga if mode == "stream" else None, "a": (ua, pa), "b": (ub, pb)}
            return ((pa, sa), (pb, sb)), out

        init = ((params, tx_a.init(params)), (params, tx_b.init(params)))
        return jax.lax.scan(body, init, xs)[1]

    recorded = jax.jit(run)(params, xs)
    # a float32 state leaf of a float16 run is only as precise as float16: the params' loosest dtype
    floor = functools.reduce(looser, [x.dtype for x in jax.tree.leaves(params)])
    host = jax.device_get({k: v for k, v in recorded.items() if k != "record"})
    leaves = []
    for kind, plan in (("updates", plan_u), ("params", plan_p), ("state", plan_s)):
        stats = [np.asarray(x, np.float64) for x in host[kind]]
        leaves += [_trace(kind, pair, *(x[:, j] for x in stats), rtol, atol, steps, floor=floor)
                   for j, pair in enumerate(plan.pairs)]
    oracle_leaves = []
    if oracle:
        found, plan_ou, plan_op = oracle_stats(
            oracle_tx, params, xs, recorded["record"], loss_fn=loss_fn, batched=batches is not None,
            extras=lambda g, p: _extras(extra_args, g, p))
        for side, name in zip("ab", names, strict=True):
            for kind, plan in (("updates", plan_ou), ("params", plan_op)):
                stats = [np.asarray(x, np.float64) for x in found[side][kind]]
                oracle_leaves += [_trace(kind, pair, *(x[:, j] for x in stats), None, None, steps, name)
                                  for j, pair in enumerate(plan.pairs) if not pair.exact]
    return CrosscheckReport(
        names=tuple(names), mode=mode, steps=int(steps), leaves=tuple(leaves),
        unmatched=plan_s.unmatched, label=label,
        losses=np.asarray(host["losses"], np.float64) if mode == "loss" else None,
        meta={"dtypes": sorted({str(x.dtype) for x in jax.tree.leaves(params)})},
        oracle=oracle, oracle_leaves=tuple(oracle_leaves))


def _normal_like(key: jax.Array, params: Any) -> Any:
    """Standard normal noise shaped and typed like ``params`` (one draw, cut into leaves);
    a complex leaf gets a second draw as its imaginary part."""
    leaves, treedef = jax.tree.flatten(params)
    sizes = [x.size for x in leaves]
    flat = jax.random.normal(key, (sum(sizes),), jnp.result_type(float))
    imag = jax.random.normal(jax.random.fold_in(key, 1), (sum(sizes),), jnp.result_type(float))
    cuts = np.cumsum([0, *sizes])

    def cut(i, j, x):
        z = flat[i:j] + 1j * imag[i:j] if jnp.issubdtype(x.dtype, jnp.complexfloating) else flat[i:j]
        return z.reshape(x.shape).astype(x.dtype)

    return treedef.unflatten([cut(i, j, x) for i, j, x in zip(cuts[:-1], cuts[1:], leaves, strict=True)])


def _trace(kind, pair, d, m, bad, rtol, atol, steps, side="", floor=None) -> LeafTrace:
    dtype = pair.dtype if pair.exact or floor is None else looser(pair.dtype, floor)
    r, growth = (0.0, None) if pair.exact else tolerance(dtype, rtol, steps)
    if side and not pair.exact:  # against the oracle: always eps-scaled
        r, growth = rounding_rtol(pair.dtype), sqrt_growth(steps)
    scale = float(np.max(m, initial=0.0))
    a = 0.0 if pair.exact else (r * scale if atol is None else float(atol))
    return LeafTrace(kind=kind, path=pair.path_a, dtype=dtype, shape=pair.shape, rtol=r,
                     atol=a, abs=d, mag=m, path_b="" if pair.path_b == pair.path_a else pair.path_b,
                     bad=bad, growth=growth, side=side)


def crosscheck_schedule(
    sched_a: Callable[[jax.Array], Any],
    sched_b: Callable[[jax.Array], Any],
    steps: int = DEFAULT_STEPS,
    *,
    dtype: Any = None,
    rtol: float | None = None,
    atol: float | None = None,
    names: tuple[str, str] = ("hand", "optax"),
    label: str = "",
) -> CrosscheckReport:
    """Compare two schedules ``step -> value`` at int32 counts ``0 .. steps-1``.

    Each is evaluated at a scalar int32 count, exactly as an optimizer calls it.
    The tolerance is that of ``dtype`` (default: the default float dtype, float64
    under x64). A side that returns a less precise dtype than that is NOT excused:
    the report says so in a note and the differences show its floor (optax's
    schedules compute some values in float32 even under x64).
    """
    steps = check_positive_int("steps", steps)
    want = jnp.dtype(jnp.result_type(float) if dtype is None else dtype)
    counts = jnp.arange(steps, dtype=jnp.int32)
    run = jax.jit(lambda c: tuple(jax.lax.map(lambda t, f=f: jnp.asarray(f(t)), c)
                                  for f in (sched_a, sched_b)))
    va, vb = jax.device_get(run(counts))
    dts = (np.asarray(va).dtype, np.asarray(vb).dtype)
    x, y = np.asarray(va, np.float64), np.asarray(vb, np.float64)
    d = np.where(x == y, 0.0, np.abs(x - y))
    m = np.maximum(np.abs(x), np.abs(y))
    pair = Plan.Pair(0, 0, "value", "value", want.name, (), False)
    leaf = _trace("schedule", pair, d, m, None, rtol, atol, steps)
    report = CrosscheckReport(names=tuple(names), mode="schedule", steps=steps, leaves=(leaf,),
                              label=label, meta={"value_dtypes": [str(t) for t in dts]})
    notes = [f"{name} returns {dt.name} values where {want.name} is expected: agreement is "
             f"limited to {dt.name} rounding (eps {jnp.finfo(dt).eps:.1e})."
             for name, dt in zip(names, dts, strict=True)
             if jnp.issubdtype(dt, jnp.floating) and jnp.finfo(dt).eps > jnp.finfo(want).eps]
    return dataclasses.replace(report, notes=tuple(notes))

