"""`jaxgd train --impl both`: do the hand-written rule and its optax twin agree, and how far
apart did their runs end?

Two different questions, answered apart:

    per step      the two rules in lockstep (`jaxgd.crosscheck.crosscheck`, stream mode) on
                  the run's own gradient stream: the gradients of the run's loss, model and
                  batches along the hand rule's first K = min(the run's updates, 100) steps,
                  fed to both rules from the run's initial params. Judged against the
                  optimizer table's tolerance for the params' dtype (`Row.rtol32` /
                  `Row.rtol64`, `jaxgd.reference`): verdict "agree" or "disagree".
    trajectories  how far the two finished runs ended apart: max |hand - optax| over the
                  params, relative to max |params|, and the final losses. Rounding
                  differences of float32 grow along a long run that is sensitive to them
                  (Adam at a large learning rate), so two runs of the same rule may end far
                  apart: that alone is no disagreement.

A rule that needs the loss value (``update(..., value=)``) gets the loss on the whole
training set at its own params in the lockstep check; one that evaluates the objective
itself (lbfgs's ``value_fn``, sam's ``grad_fn``) gets that loss (and its gradient) as
its objective, and the recorded gradient as ``grad``: with minibatches the two sides
are fed the same mixture, which checks the rules against each other, not the run.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

MAX_STEPS = 100  # K: the lockstep check covers at most the run's first 100 updates
STREAM_BYTES = 256 * 2**20  # at most this much memory for the recorded gradient stream
NEAR = 1e-4  # trajectories closer than this (relative) need no explanation


def _row(optimizer: str):
    """The optimizer table's row for ``optimizer`` (its id, else its hand factory), or None."""
    from jaxgd.reference import OPTIMIZERS

    rows = [r for r in OPTIMIZERS if r.id == optimizer]
    rows = rows or [r for r in OPTIMIZERS if getattr(r.hand, "__name__", "") == optimizer]
    return rows[0] if rows else None


def _gradient_stream(cfg, pb, params, steps: int):
    """The run's first ``steps`` gradients along the hand rule's trajectory, stacked on axis 0,
    with the batches the run took (full batch in order; else the shuffles of `make_epoch`)."""
    import jax
    import jax.numpy as jnp

    from jaxgd.core.transform import apply_updates
    from jaxgd.data.batching import epoch_indices
    from jaxgd.experiments.build import make_objective, make_tx
    from jaxgd.experiments.config import full_batch, needs_extras
    from jaxgd.training.steps import update_extras

    ds = pb.data
    batch = ds.n if full_batch(cfg.batch_size) else min(cfg.batch_size, ds.n)
    per_epoch = ds.n // batch
    if batch == ds.n:
        idx = jnp.broadcast_to(jnp.arange(ds.n, dtype=jnp.int32), (steps, ds.n))
    else:
        key, rows = jax.random.key(cfg.seed + 2), []
        for _ in range(-(-steps // per_epoch)):
            key, sub = jax.random.split(key)
            rows.append(epoch_indices(sub, ds.n, batch))
        idx = jnp.concatenate(rows)[:steps]
    _, vg = make_objective(cfg, pb)
    tx = make_tx(cfg, "hand", per_epoch)
    extras = needs_extras(cfg.optimizer)

    @jax.jit
    def record(params, idx):
        def body(carry, rows):
            p, s = carry
            x, y = ds.x[rows], ds.y[rows]
            loss, g = vg(p, x, y)
            u, s = tx.update(g, s, p, **update_extras(extras, loss, g, lambda q: vg(q, x, y)))
            return (apply_updates(p, u), s), g

        return jax.lax.scan(body, (params, tx.init(params)), idx)[1]

    return record(params, idx)


def per_step_check(cfg, outcome, max_steps: int = MAX_STEPS) -> dict[str, Any]:
    """The lockstep check of the module docstring, as a JSON-ready dict.

    Returns:
        ``verdict`` ("agree" or "disagree"), ``steps`` (K), ``max_deviation`` (the largest
        ``|hand - optax| / (S + |x|)`` over the float leaves of updates, params and state
        and the K steps: what the tolerance ``rtol`` bounds), ``tol`` (that rtol),
        ``dtype``, ``row`` (the table row whose tolerance applies, None: the default),
        ``documented`` (the table's reason when it documents the difference found, else ""),
        ``summary`` (the cross-check's one line) and ``first_divergence`` (None, or
        the step, kind, leaf, |d| and tol where the rules first parted).
    """
    import jax
    import numpy as np

    from jaxgd.crosscheck import crosscheck, default_rtol
    from jaxgd.crosscheck.rows import objective_extras
    from jaxgd.crosscheck.traces import divergence_dict
    from jaxgd.experiments.build import make_objective, make_tx
    from jaxgd.experiments.config import full_batch, needs_extras
    from jaxgd.nn.models import init_mlp

    pb = outcome.problem
    ds = pb.data
    batch = ds.n if full_batch(cfg.batch_size) else min(cfg.batch_size, ds.n)
    per_epoch = ds.n // batch
    params = init_mlp(jax.random.key(cfg.seed), pb.sizes, cfg.init)
    size = sum(x.nbytes for x in jax.tree.leaves(params))
    steps = max(1, min(cfg.epochs * per_epoch, max_steps, STREAM_BYTES // max(size, 1)))
    dtype = jax.tree.leaves(params)[0].dtype.name
    row = _row(cfg.optimizer)
    rtol = {"float32": row.rtol32, "float64": row.rtol64} if row is not None else None
    loss_fn, _ = make_objective(cfg, pb)
    extras = objective_extras(needs_extras(cfg.optimizer), lambda p: loss_fn(p, ds.x, ds.y)) or None
    report = crosscheck(make_tx(cfg, "hand", per_epoch), make_tx(cfg, "optax", per_epoch), params,
                        grads=_gradient_stream(cfg, pb, params, steps), rtol=rtol,
                        extra_args=extras, names=("hand", "optax"), label=cfg.optimizer)
    known = row.known_for(dtype) if row is not None else None
    if known is not None:  # a difference the table documents for this dtype passes, as in crosscheck
        report = dataclasses.replace(report, known=known.reason, known_sides=known.sides)
    devs = [0.0]
    for leaf in report.leaves:
        if leaf.rtol and leaf.abs.size:
            with np.errstate(divide="ignore", invalid="ignore"):
                d = np.where(leaf.abs == 0, 0.0, leaf.abs * leaf.rtol / leaf.tol)
            devs.append(math.inf if np.isnan(d).any() else float(np.max(d)))
    first = report.first_divergence
    return {"verdict": "agree" if report.ok else "disagree", "steps": int(steps),
            "documented": report.known if report.documented else "",
            "max_deviation": max(devs), "tol": default_rtol(dtype, rtol), "dtype": dtype,
            "row": row.id if row is not None else None, "summary": report.summary(),
            "first_divergence": None if first is None else divergence_dict(first)}


def trajectory_gap(outcome) -> dict[str, Any]:
    """How far the two finished runs ended apart: ``max_abs_diff`` (max |hand - optax| over
    the params), ``max_abs_params`` (max |params| of the hand run), ``relative`` (their
    ratio), each side's final loss and ``final_loss_diff`` (hand - optax)."""
    import jax
    import numpy as np

    from jaxgd.core.tree import tree_max_abs_diff

    hand, optax = outcome.results["hand"], outcome.results["optax"]
    gap = tree_max_abs_diff(hand.state.params, optax.state.params)
    scale = max((float(np.max(np.abs(x))) for x in jax.device_get(jax.tree.leaves(hand.state.params))
                 if np.size(x)), default=0.0)
    lh, lo = float(hand.history["loss"][-1]), float(optax.history["loss"][-1])
    return {"max_abs_diff": gap, "max_abs_params": scale,
            "relative": gap / scale if scale else (0.0 if gap == 0 else math.inf),
            "final_loss_hand": lh, "final_loss_optax": lo, "final_loss_diff": lh - lo}


def reading(step: dict[str, Any], gap: dict[str, Any], epochs: int) -> str:
    """One line that reads the two numbers together."""
    apart = f"the trajectories ended {gap['max_abs_diff']:.2g} apart (relative {gap['relative']:.2g})"
    if step["verdict"] != "agree":
        f = step["first_divergence"]
        where = f"first at step {f['step']}, {f['kind']} {f['path']}: |d| {float(f['abs']):.2g} > " \
                f"tol {float(f['tol']):.2g}" if f else step["summary"]
        return (f"the rules DISAGREE per step ({where}): the hand-written rule is not the rule of "
                f"its optax twin; {apart}")
    within = (f"max deviation {step['max_deviation']:.2g} <= tol {step['tol']:.2g}"
              if step["max_deviation"] <= step["tol"] else
              f"max deviation {step['max_deviation']:.2g}, a difference the optimizer table "
              f"documents: {step['documented']}")
    text = f"the rules agree per step ({within}); {apart}"
    if gap["relative"] > NEAR:
        text += (f": {step['dtype']} rounding grows over {epochs:,} epochs of a run sensitive to it "
                 "(chaotic), not a disagreement")
    return text


def hand_vs_optax(cfg, outcome) -> dict[str, Any]:
    """``{"per_step": per_step_check, "trajectories": trajectory_gap, "reading": reading}``,
    computed on the run's device."""
    import jax

    from jaxgd.experiments.build import select_device

    with jax.default_device(select_device(cfg.device)):  # as the run: its compiled pieces are reused
        step = per_step_check(cfg, outcome)
    gap = trajectory_gap(outcome)
    return {"per_step": step, "trajectories": gap,
            "reading": reading(step, gap, int(outcome.summary["epochs"]))}


def report_lines(check: dict[str, Any]) -> list[str]:
    """The report's lines for `hand_vs_optax`'s result."""
    step, gap = check["per_step"], check["trajectories"]
    verdict = "agree" if step["verdict"] == "agree" else "DISAGREE"
    sign = "<=" if step["max_deviation"] <= step["tol"] else ">"
    return [
        f"per-step check {verdict}: max deviation {step['max_deviation']:.2g} {sign} tol "
        f"{step['tol']:.2g} ({step['dtype']}; hand and optax in lockstep on the run's first "
        f"{step['steps']} gradients)" + ("; documented in the optimizer table" if step["documented"] else ""),
        f"trajectories   max |hand - optax| over params {gap['max_abs_diff']:.3g}, relative "
        f"{gap['relative']:.2g} of max |params| {gap['max_abs_params']:.3g}; final loss hand "
        f"{gap['final_loss_hand']:.6g}, optax {gap['final_loss_optax']:.6g}",
        f"reading        {check['reading']}",
    ]
