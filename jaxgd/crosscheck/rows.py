"""Cross-check the rows of the optimizer table (`jaxgd.reference.OPTIMIZERS`).

`crosscheck_row` builds a row's hand-written rule and its optax twin from the same
keyword arguments and runs `jaxgd.crosscheck.crosscheck` on a small nested pytree
(with a 0-d and a zero-size leaf). A learning-rate schedule named in `SCHEDULES`
is built by hand (`jaxgd.schedules`) for the hand side and by optax
(`jaxgd.reference.schedules`) for the optax side, so the report also shows where
optax's schedules round in float32 under x64; ``same_schedule=True`` feeds the
hand schedule to both.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jaxgd import schedules as hand
from jaxgd.core.errors import ConfigError, check_choice, check_positive_int
from jaxgd.core.precision import UnsupportedDtypeError, abs_sq, upcast
from jaxgd.crosscheck.engine import DEFAULT_STEPS, crosscheck, crosscheck_schedule
from jaxgd.crosscheck.report import CrosscheckReport
from jaxgd.reference import OPTIMIZERS, Row, row
from jaxgd.reference import schedules as ref
from jaxgd.reference.catalog import factory_name
from jaxgd.schedules.table import SCHEDULES, build_schedule, schedule_name, settings_for_steps
from jaxgd.training.steps import check_extras

__all__ = ["SCHEDULES", "build_schedules", "crosscheck_row", "example_loss", "example_params",
           "factory_name", "objective_extras", "select_rows"]


def build_schedules(name: str, learning_rate: float, steps: int) -> tuple[Callable, Callable]:
    """The schedule ``name`` (a key of `SCHEDULES`, the table every subcommand shares) by hand
    and with optax, peak ``learning_rate``, over ``steps`` updates (`settings_for_steps`)."""

    name = schedule_name(name)
    if callable(learning_rate):
        raise ConfigError("schedule=... needs a float learning_rate to scale; got a callable. "
                          "Pass the schedule itself as learning_rate instead.")
    settings = settings_for_steps(learning_rate, steps)
    return build_schedule(name, settings, hand), build_schedule(name, settings, ref)


def example_params(dtype: Any = jnp.float32) -> dict:
    """A small nested pytree: dict, tuple and list nodes, a 0-d and a zero-size leaf."""
    k = jax.random.split(jax.random.key(0), 3)
    return {
        "w": jax.random.normal(k[0], (3, 4), dtype),
        "nested": (
            {"b": jax.random.normal(k[1], (4,), dtype)},
            [jnp.asarray(0.5, dtype), jnp.zeros((0, 3), dtype)],
        ),
        "v": jax.random.normal(k[2], (5,), dtype),
    }


def example_loss(params: Any) -> jax.Array:
    """A smooth non-convex loss: ``sum over entries of (x - 1)**2 / 2 + 0.2 cos(3x)``."""
    return sum(jnp.sum(0.5 * (x - 1) ** 2 + 0.2 * jnp.cos(3 * x)) for x in jax.tree.leaves(params))


def objective_extras(names: tuple[str, ...], loss_fn: Callable[[Any], jax.Array]) -> dict:
    """update()'s extras named in ``names`` (`jaxgd.training.steps.EXTRAS`) on the objective
    ``loss_fn(params)``, as `jaxgd.crosscheck.crosscheck` takes them: ``fn(grads, params)`` each.

    ``value`` is ``loss_fn(params)``, ``grad`` the gradient the rule is given (in loss mode,
    that of ``loss_fn`` at its params), ``value_fn`` is ``loss_fn`` and ``grad_fn`` is
    ``(params, i) -> jax.grad(loss_fn)(params)``: what `jaxgd.training.make_step` gives
    on one batch.
    """
    grad = jax.grad(loss_fn)
    made = {"value": lambda g, p: loss_fn(p), "grad": lambda g, p: g,
            "value_fn": lambda g, p: loss_fn, "grad_fn": lambda g, p: (lambda q, i: grad(q))}
    return {name: made[name] for name in check_extras(names)}


def _grad_energy(grads: Any, params: Any) -> jax.Array:
    """The ``value`` passed in stream mode: ``sum(|g|**2) / 2``, the same on both sides."""
    del params
    return sum(0.5 * jnp.sum(abs_sq(upcast(g))) for g in jax.tree.leaves(grads))


def select_rows(spec: str) -> tuple:
    """Rows for ``spec``: "all", a row id, or a comma list of them.

    A rule name selects all of its rows: "sgd" is sgd, sgd-momentum and sgd-nesterov
    (ids equal to it or starting with it and "-", or rows whose hand factory has
    that name); "sgd-momentum" is that row (and any "sgd-momentum-..." variants).
    """

    ids = [r.id for r in OPTIMIZERS]
    names = {getattr(r.hand, "__name__", "") for r in OPTIMIZERS}
    out: list = []
    for part in (p.strip() for p in str(spec).split(",")):
        if part == "all":
            out.extend(OPTIMIZERS)
            continue
        found = [r for r in OPTIMIZERS if r.id == part or r.id.startswith(part + "-")
                 or getattr(r.hand, "__name__", "") == part]
        if not found:
            check_choice("optimizer", part, [*ids, *sorted(names - set(ids) - {""}), "all"])
        out.extend(r for r in found if r not in out)
    return tuple(out)


def crosscheck_row(
    row_or_id: Any,
    *,
    dtype: Any = jnp.float32,
    steps: int = DEFAULT_STEPS,
    schedule: str | Callable | tuple[Callable, Callable] | None = None,
    same_schedule: bool = False,
    mode: str = "stream",
    key: jax.Array | int | None = None,
    rtol: float | dict | None = None,
    atol: float | None = None,
    extra_args: dict | None = None,
    oracle: str | None = None,
    **overrides: Any,
) -> CrosscheckReport:
    """Cross-check one row of the optimizer table: hand-written rule vs optax twin.

    Args:
        row_or_id: a `jaxgd.reference.Row` or its id (e.g. "sgd-momentum").
        dtype: float or complex dtype of params and gradients; float64 and complex128
            run with x64 enabled. A row that takes no complex params (``Row.complex``)
            is refused for a complex dtype.
        steps: number of updates.
        schedule: learning-rate schedule: a name in `SCHEDULES` (built by hand and
            with optax), a callable (fed to both), or a ``(hand, optax)`` pair.
        same_schedule: with a named schedule, feed the hand-built one to both sides.
        mode: "stream" (shared random gradients) or "loss" (each side on
            `example_loss` at its own params). A row whose rule evaluates the objective
            itself (``Row.mode == "loss"``: lbfgs, sam) runs in loss mode whatever this says
            (the report's ``mode`` says so).
        key: PRNG key or seed of the gradient stream.
        rtol, atol: tolerances (see `jaxgd.crosscheck.crosscheck`); rtol defaults to
            the row's ``rtol64`` / ``rtol32`` for float64 / float32 leaves.
        extra_args: extra update() arguments; by default a row needing ``value`` gets
            ``sum(g**2)/2`` (stream) or the loss (loss mode), and ``grad``, ``value_fn``
            and ``grad_fn`` come from `example_loss` (`objective_extras`).
        oracle: None, or "float64": the hand rule rebuilt and run in float64 beside the
            two (see `jaxgd.crosscheck.crosscheck`).
        **overrides: keyword arguments of the rule, replacing the row's ``kwargs``.

    Returns:
        A `CrosscheckReport` labelled with the row id; with a schedule, its
        ``schedule`` field holds the schedule check (hand vs optax values). The
        row's documented exception for ``dtype`` (``Row.known``) is in its
        ``known`` and ``known_sides``.

    Raises:
        UnsupportedDtypeError: a complex ``dtype`` for a row that takes real params only.
    """

    r = row_or_id if isinstance(row_or_id, Row) else row(row_or_id)
    steps = check_positive_int("steps", steps)
    mode = check_choice("mode", mode, ("stream", "loss"))
    mode = "loss" if r.mode == "loss" else mode  # the rule evaluates the objective itself
    dtype = jnp.dtype(dtype)
    if not jnp.issubdtype(dtype, jnp.inexact):
        raise ConfigError(f"dtype={dtype.name!r} is not a float or complex dtype; use float32, "
                          "float64, float16, bfloat16 or complex64.")
    if jnp.issubdtype(dtype, jnp.complexfloating) and not r.complex:
        raise UnsupportedDtypeError(f"optimizer {r.id!r} takes real params only (optax's twin "
                                    f"refuses complex ones too); dtype={dtype.name!r} is refused.")
    kwargs = {**r.kwargs, **overrides}
    x64 = jax.enable_x64(True) if jnp.finfo(dtype).bits == 64 else contextlib.nullcontext()
    with x64:
        kw_hand, kw_ref, sched_report = dict(kwargs), dict(kwargs), None
        if schedule is not None:
            if not r.schedule:
                raise ConfigError(f"optimizer {r.id!r} takes no learning-rate schedule; "
                                  "drop schedule=... (--schedule) for it.")
            if "learning_rate" not in kwargs:
                raise ConfigError(f"optimizer {r.id!r} has no learning_rate to schedule.")
            if isinstance(schedule, str):
                schedule = schedule_name(schedule)  # an old spelling: the new one, warned
                s_hand, s_ref = build_schedules(schedule, kwargs["learning_rate"], steps)
                s_ref = s_hand if same_schedule else s_ref
            elif callable(schedule):
                s_hand = s_ref = schedule
            else:
                s_hand, s_ref = schedule
            kw_hand["learning_rate"], kw_ref["learning_rate"] = s_hand, s_ref
            sched_report = crosscheck_schedule(s_hand, s_ref, steps, names=("hand", "optax"))
        extras = dict(extra_args or {})
        missing = tuple(name for name in r.extra if name not in extras)
        if mode == "stream" and "value" in missing:
            extras["value"] = _grad_energy
        extras.update(objective_extras(tuple(n for n in missing if n not in extras), example_loss))
        tx_hand, tx_ref = r.hand(**kw_hand), r.ref(**kw_ref)
        with jax.enable_x64(True):
            tx_oracle = r.hand(**kw_hand) if oracle else None
        if rtol is None:
            rtol = {"float64": r.rtol64, "float32": r.rtol32}
        report = crosscheck(
            tx_hand, tx_ref, example_params(dtype), steps=steps, key=key,
            loss_fn=example_loss if mode == "loss" else None, rtol=rtol, atol=atol,
            extra_args=extras, names=("hand", "optax"), label=r.id, oracle=oracle,
            oracle_tx=tx_oracle)
    meta = {**report.meta, "row": r.id, "hand": factory_name(r.hand), "reference": factory_name(r.ref),
            "kwargs": {k: (v if isinstance(v, int | float | bool | str | None) else repr(v))
                       for k, v in kwargs.items()},
            "dtype": dtype.name, "schedule": schedule if isinstance(schedule, str | None) else "custom",
            "same_schedule": bool(same_schedule)}
    known = r.known_for(dtype.name)
    return dataclasses.replace(report, schedule=sched_report, meta=meta,
                               known=known.reason if known else "", known_sides=known.sides if known else ())
