"""The tuning protocol on an objective of the parameters themselves (no data).

A test function such as the ill-conditioned quadratic or Rosenbrock's valley
(`jaxgd.training.problems`) has no examples, so there is nothing to hold out: the
protocol of `jaxgd.experiments.tune.study` is adapted as follows.

    trials     ``trials`` Sobol points of the optimizer's search space
               (`jaxgd.reference.spaces`, as `jaxgd tune` draws them), all started from the
               problem's standard start ``x0``, run as ONE vmapped program: a
               `jax.lax.scan` of the update rule on the objective (`descend`) per trial
    select     the trial with the lowest objective value after the last step; the
               "validation metric" IS the objective value (non-finite: diverged, excluded)
    seeds      the chosen point re-run from ``seeds`` random starts around ``x0``:
               ``x0 + spread * N(0, I)`` drawn with ``jax.random.key(seed)``, one
               vmapped program again
    target     per seed, the first step k (1-based) with ``f(x_k) <= target``
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxgd import optimizers, reference
from jaxgd.experiments.tune.report import _ci, _est, _f, _pairs
from jaxgd.experiments.tune.study import epochs_to_target, select
from jaxgd.experiments.tune.trials import draw_trials
from jaxgd.reference.spaces import SearchSpace
from jaxgd.training.problems import Problem, descend


class ObjectiveOutcome(NamedTuple):
    """One optimizer tuned on one objective."""

    space: SearchSpace
    trials: np.ndarray  # (trials, axes) float64 hyperparameters
    scores: np.ndarray  # (trials,) f after the last step from x0; NaN: diverged
    best: int  # index of the chosen trial
    tuning: np.ndarray  # (trials, steps) float64 f(x_k), k = 1..steps
    final: np.ndarray  # (seeds, steps) float64 f(x_k) of the re-run from the seeds' starts
    val: np.ndarray  # (seeds,) f after the last step; NaN: diverged
    steps_to_target: np.ndarray  # (seeds,) int, 0 = never (or no target)
    seconds: float  # compile + run seconds of both programs
    run_seconds: float  # run seconds of the re-run (no compilation): the time per step


def build_rule(space: SearchSpace, values: Any, impl: str = "hand"):
    """The update rule of ``space.optimizer`` with its axes set to ``values`` (floats or tracers)."""
    factory = getattr(optimizers if impl == "hand" else reference, space.optimizer)
    return factory(**{name: values[i] for i, name in enumerate(space.names)})


def starts(problem: Problem, seeds: Any, spread: float) -> jax.Array:
    """(seeds, *x0.shape) starting points ``x0 + spread * N(0, I)``, one key per seed."""
    x0 = jnp.asarray(problem.x0)

    def one(seed):
        return x0 + spread * jax.random.normal(jax.random.key(seed), x0.shape, x0.dtype)

    return jax.vmap(one)(jnp.asarray(seeds, jnp.uint32))


def objective_runs(problem: Problem, space: SearchSpace, values: Any, x0s: Any, steps: int,
                   impl: str = "hand") -> tuple[np.ndarray, float, float]:
    """Run each row of ``values`` from the matching start, all in one vmapped program.

    Args:
        problem: the objective and its standard start.
        space: the optimizer and the names of the axes ``values`` sets.
        values: (runs, axes) hyperparameters.
        x0s: (runs, *x0.shape) starting points.
        steps: updates per run.
        impl: "hand" (jaxgd.optimizers) or "optax" (jaxgd.reference).

    Returns:
        ``(history, compile_seconds, run_seconds)``: history (runs, steps) float64 ``f(x_k)``
        after update k = 1..steps, NaN from the first non-finite value on.
    """
    values = jnp.asarray(values, jnp.float32)
    x0s = jnp.asarray(x0s, jnp.asarray(problem.x0).dtype)

    def one(v, x0):
        x, before = descend(problem.f, x0, build_rule(space, v, impl), steps)
        return jnp.concatenate([before[1:], problem.f(x)[None]])  # f(x_1) .. f(x_steps)

    t0 = time.perf_counter()
    program = jax.jit(jax.vmap(one)).lower(values, x0s).compile()
    t1 = time.perf_counter()
    history = np.asarray(jax.block_until_ready(program(values, x0s)), np.float64)
    t2 = time.perf_counter()
    bad = np.cumsum(~np.isfinite(history), axis=1) > 0
    return np.where(bad, np.nan, history), t1 - t0, t2 - t1


def tune_objective(problem: Problem, space: SearchSpace, trials: int, seeds: Any, steps: int,
                   spread: float, target: float | None = None, seed: int = 0,
                   impl: str = "hand") -> ObjectiveOutcome:
    """Tune one optimizer on ``problem`` (see the module docstring).

    Args:
        problem: the objective (`jaxgd.training.problems.Problem`).
        space: the optimizer's search space.
        trials: Sobol points (drawn with ``seed``, as `jaxgd tune` does).
        seeds: (S,) ints, each a random start of the re-run.
        steps: updates per run.
        spread: standard deviation of the starts around ``problem.x0``.
        target: objective value to reach (None: not measured).

    Raises:
        DivergenceError: every trial diverged.
    """
    values = draw_trials(space, trials, seed)
    x0 = jnp.broadcast_to(jnp.asarray(problem.x0), (trials, *jnp.shape(problem.x0)))
    tuning, c1, r1 = objective_runs(problem, space, values, x0, steps, impl)
    scores = tuning[:, -1]
    best = select(scores, lower_is_better=True)
    seeds = np.asarray(seeds, np.int64)
    chosen = np.repeat(values[best][None], len(seeds), axis=0)
    final, c2, r2 = objective_runs(problem, space, chosen, starts(problem, seeds, spread), steps, impl)
    hits = (epochs_to_target(final, target, True) if target is not None
            else np.zeros(len(seeds), np.int64))
    return ObjectiveOutcome(space, values, scores, best, tuning, final, final[:, -1], hits,
                            c1 + r1 + c2 + r2, r2)


def diverged_at(history: np.ndarray) -> np.ndarray:
    """(runs,) the first step (1-based) whose value is not finite; 0: none."""
    bad = ~np.isfinite(history)
    return np.where(bad.any(axis=1), bad.argmax(axis=1) + 1, 0)


def _objective_row(name: str, o: ObjectiveOutcome, steps: int, seeds: Sequence[int],
                   confidence: float) -> dict[str, Any]:
    hits = o.steps_to_target
    reached = hits > 0
    steps = hits[reached].astype(np.float64)
    per_step_s = o.run_seconds / steps  # the seeds run together, one vmapped program
    return {"optimizer": name, "factory": o.space.optimizer,
            "space": [{"name": a.name, "low": a.low, "high": a.high, "scale": a.scale}
                      for a in o.space.axes],
            "best_trial": o.best,
            "best": dict(zip(o.space.names, map(float, o.trials[o.best]), strict=True)),
            "best_score": _f(o.scores[o.best]), "diverged_trials": int(np.sum(diverged_at(o.tuning) > 0)),
            "seeds": [int(s) for s in seeds], "diverged_seeds": int(np.sum(diverged_at(o.final) > 0)),
            "f": _est(_ci(o.val, confidence)), "compute_seconds": round(o.seconds, 3),
            "target": {"reached": int(reached.sum()), "epochs": [int(h) if h else None for h in hits],
                       "epochs_ci": _est(_ci(steps, confidence)), "steps_ci": _est(_ci(steps, confidence)),
                       "seconds_ci": _est(_ci(steps * per_step_s, confidence)),
                       "median_steps": _f(float(np.median(np.where(reached, hits, np.inf))))}}


def objective_summary(name: str, outcomes: Mapping[str, ObjectiveOutcome], trials: int,
                      seeds: Sequence[int], steps: int, target: float, spread: float,
                      confidence: float = 0.95) -> dict[str, Any]:
    """The summary of one objective, in the form of `jaxgd.experiments.tune.report.summarize`'s
    (so `format_tables` prints it alike) with ``steps`` in its budget: its metric ``f`` is the
    objective value after the last step, mean [CI] over the seeds' starts; its pairs compare
    that value over the same starts; time to target is in steps."""
    rows = [_objective_row(k, o, steps, seeds, confidence) for k, o in outcomes.items()]
    shim = SimpleNamespace(outcomes={k: SimpleNamespace(test=o.val) for k, o in outcomes.items()},
                           lower_is_better=True)
    header = (f"{name}: no data, the objective value f is the metric; trials start at the standard "
              f"start, seeds at random starts (spread {spread:g})")
    return {"kind": "objective", "problem": name, "metric": "f", "test_metric": "f",
            "lower_is_better": True, "target": target, "selection": "last step",
            "confidence": confidence,
            "budget": {"trials": trials, "seeds": len(seeds), "steps": steps,
                       "runs": trials + len(seeds)},
            "optimizers": list(outcomes),
            "datasets": [{"dataset": name, "header": header, "optimizers": rows,
                          "pairs": _pairs(shim, confidence)}],
            "profile": None}
