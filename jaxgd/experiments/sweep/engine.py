"""Many runs in one program: `jax.vmap` over seeds and hyperparameters.

    grid (runs, hyperparameters) + seeds (runs,)
      -> vmap(init_one), vmap(run_one): the update rule is built INSIDE the mapped
         function, so a learning rate or momentum is a tracer there
      -> the run axis is sharded over a 1-D mesh of devices (padded to a multiple
         of the device count, the padding dropped after)
      -> the grid runs in chunks of at most ``max_runs_per_chunk`` runs, sized
         from an estimate of each run's memory against a budget

A run whose loss, gradient or parameters turn non-finite is marked diverged at
that epoch and frozen (``jnp.where`` keeps its last finite state) while the others
carry on; the sweep fails only when every run diverges.

Run ``s`` of a sweep equals ``fit`` from ``init_mlp(key(s))`` with shuffle key
``key(s + 2)`` (what ``jaxgd train --seed s`` uses); the data are drawn once from
the base config's seed and shared by every run. Sweeps run every epoch (no
``tol``/``gtol``).

On a CPU, several devices come from ``XLA_FLAGS=--xla_force_host_platform_device_count=N``
(or ``jaxgd sweep --cpu-devices N``), set before JAX starts its backend.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxgd.core.deprecation import warn_renamed
from jaxgd.core.errors import (
    ConfigError,
    DivergenceError,
    ResourceError,
    check_choice,
    check_positive_int,
)
from jaxgd.core.transform import eval_params
from jaxgd.core.tree import tree_all_finite
from jaxgd.experiments.build import (
    Problem,
    make_eval_fn,
    make_objective,
    make_problem,
    make_tx,
    probe_user_rule,
    select_device,
)
from jaxgd.experiments.checks import check_batch
from jaxgd.experiments.config import SINGLE_IMPLS, TrainConfig, full_batch, needs_extras, validate
from jaxgd.experiments.defaults import resolve_defaults
from jaxgd.experiments.sweep.grid import Grid, check_names, point_config, settings
from jaxgd.experiments.sweep.plan import bytes_per_run, default_memory_budget, epoch_calls, plan_chunks
from jaxgd.experiments.sweep.result import SweepCarry, SweepResult
from jaxgd.nn.models import init_mlp
from jaxgd.training.chunks import every_nth
from jaxgd.training.engine import TrainState, init_state, make_epoch, make_step


def make_run_fns(cfg: TrainConfig, pb: Problem, impl: str, names: tuple[str, ...], batch: int):
    """``init_one(values, params, seed) -> SweepCarry``,
    ``run_one(carry, values, x, y, length, start) -> (carry, rows)``.

    Both rebuild the update rule from ``values`` (the run's hyperparameters), so
    under `jax.vmap` they are tracers and one program serves the whole grid.
    ``run_one`` runs epochs ``start + 1 .. start + length``; ``start`` is shared by
    every run (not mapped), so the evaluation every ``cfg.eval_every`` epochs is a
    real `jax.lax.cond`, not both branches.
    """
    n = pb.data.n
    steps_per_epoch = n // batch

    def pieces(values):
        c = point_config(cfg, names, values)
        loss_fn, vg = make_objective(c, pb)
        return make_tx(c, impl, steps_per_epoch), vg, make_eval_fn(c, pb, loss_fn)

    def init_one(values, params, seed):
        state = init_state(params, pieces(values)[0], jax.random.key(seed + 2))
        return SweepCarry(state, jnp.zeros([], jnp.int32), jnp.zeros([], jnp.int32))

    def run_one(carry, values, x, y, length, start):
        tx, vg, eval_fn = pieces(values)
        epoch = make_epoch(make_step(vg, tx, extras=needs_extras(cfg.optimizer)), n, batch,
                           gather_per_epoch=True)
        evaluate = None
        if eval_fn is not None:
            names = tuple(jax.eval_shape(eval_fn, carry.state.params))
            evaluate = every_nth(eval_fn, names, cfg.eval_every)

        def guarded(c: SweepCarry, number):
            new, m = epoch(c.state, x, y)
            row = {"loss": m.loss, "grad_norm": m.grad_norm}
            if evaluate is not None:  # ``number`` is the same for every run: a real cond
                row.update(evaluate(eval_params(new.opt_state, new.params), number, cfg.epochs))
            row = {k: v.astype(jnp.float32) for k, v in row.items()}
            finite = jnp.isfinite(m.loss) & jnp.isfinite(m.grad_norm) & tree_all_finite(new.params)
            was_ok = c.diverged_at == 0
            keep = was_ok & finite
            frozen = jax.tree.map(lambda a, b: jnp.where(keep, a, b),
                                  (new.params, new.opt_state, new.step),
                                  (c.state.params, c.state.opt_state, c.state.step))
            state = TrainState(*frozen, new.key)
            at = jnp.where(was_ok & ~finite, c.epoch + 1, c.diverged_at)
            row = {k: jnp.where(was_ok, v, jnp.nan) for k, v in row.items()}
            return SweepCarry(state, at, c.epoch + 1), row

        return jax.lax.scan(guarded, carry, start + 1 + jnp.arange(length, dtype=jnp.int32))

    return init_one, run_one


def sweep(cfg: TrainConfig, grid: Grid, *, impl: str = "hand", devices: list | None = None,
          max_runs_per_chunk: int | None = None, memory_budget: int | None = None,
          progress: bool = False, label: str = "sweep",
          raise_if_all_diverged: bool = True, side: str | None = None,
          problem: Problem | None = None) -> SweepResult:
    """Train every run of ``grid`` on ``cfg``'s problem, many at once.

    Args:
        cfg: the base config; the grid overrides its hyperparameters, run by run.
        grid: from `jaxgd.experiments.sweep.grid.make_grid`.
        impl: "hand" (jaxgd.optimizers) or "optax" (jaxgd.reference).
        devices: devices to shard the run axis over (default: all of ``cfg.device``'s).
        max_runs_per_chunk: cap on runs per compiled call (rounded down to a multiple
            of the device count; fewer than the device count uses that many devices).
        memory_budget: bytes per device for one chunk (default `default_memory_budget`).
        progress: show a tqdm bar on stderr, described by ``label``.
        raise_if_all_diverged: raise when every run diverged (else return them marked).
        side: deprecated, the old name of ``impl``.
        problem: the data and network to train on, built by the caller (e.g. a validation
            split in the test slot, `jaxgd.experiments.tune`); None: ``make_problem(cfg)``.

    Returns:
        SweepResult; diverged runs are marked in ``diverged_at``.

    Raises:
        ConfigError: a bad grid value or config (checked before compiling).
        DivergenceError: every run diverged.
    """
    t0 = time.perf_counter()
    if cfg.learning_rate is None and "learning_rate" in grid.names:  # the grid sets every run's rate
        first = float(grid.values[0, list(grid.names).index("learning_rate")])
        cfg = dataclasses.replace(cfg, learning_rate=first)
    cfg = validate(resolve_defaults(validate(cfg)))  # the result's config holds the values used
    if side is not None:
        warn_renamed("sweep(side=...)", "sweep(impl=...)")
        impl = side
    check_choice("impl", impl, SINGLE_IMPLS)
    if cfg.tol or cfg.gtol:
        raise ConfigError(f"tol={cfg.tol}, gtol={cfg.gtol}: a sweep runs a fixed number of epochs "
                          "for every run; use tol=0 and gtol=0 (leave --tol/--gtol out).")
    names = check_names(cfg, grid.names)
    if max_runs_per_chunk is not None:
        check_positive_int("max_runs_per_chunk", max_runs_per_chunk)
    devices = list(devices) if devices is not None else jax.devices(select_device(cfg.device).platform)
    if max_runs_per_chunk is not None and max_runs_per_chunk < len(devices):
        devices = devices[:max_runs_per_chunk]
    with jax.default_device(devices[0]):
        pb = make_problem(cfg) if problem is None else problem
        batch = pb.data.n if full_batch(cfg.batch_size) else cfg.batch_size
        check_batch(cfg.optimizer, batch, pb.data.n)
        for values, _ in settings(grid):  # concrete checks: bad values fail before compiling
            point = validate(point_config(cfg, names, values))
            tx = make_tx(point, impl, pb.data.n // batch)
        probe_user_rule(cfg, pb, tx)  # a broken user rule fails here, before compiling
        calls = epoch_calls(cfg.epochs)
        per_run = bytes_per_run(cfg, pb, impl, names, grid.values[0], batch, calls[0])
        budget = memory_budget or default_memory_budget(devices[0])
        if per_run > budget:
            raise ResourceError(
                f"one run of this sweep needs about {per_run / 2**30:.3g} GiB of device memory "
                f"(parameters, optimizer state, activations for hidden={cfg.hidden}, batch {batch}); "
                f"the budget per device is {budget / 2**30:.3g} GiB. Use smaller --hidden or "
                "--batch-size, or a device with more memory.")
        per_chunk, chunks = plan_chunks(grid.runs, len(devices), per_run, budget, max_runs_per_chunk)
        try:
            out = _run_chunks(cfg, pb, impl, names, batch, grid, devices, per_chunk, chunks, calls,
                              _bar(progress, chunks * cfg.epochs, label))
        except (ConfigError, jax.errors.ConcretizationTypeError) as err:
            raise _untraceable(err, cfg, impl, names) from None
    history, diverged_at, params, compile_s, run_s = out
    result = SweepResult(cfg, impl, grid, history, diverged_at, params, time.perf_counter() - t0,
                         compile_s, run_s, len(devices), per_chunk, chunks)
    if raise_if_all_diverged and np.all(diverged_at > 0):
        first = int(np.argmin(diverged_at))
        lr = dict(zip(names, grid.values[first], strict=True)).get("learning_rate", cfg.learning_rate)
        raise DivergenceError(
            f"every run of the sweep diverged (all {grid.runs}); the first at epoch "
            f"{int(diverged_at[first])} with learning rate {lr:g}. Lower the learning rates of the "
            "grid (e.g. divide them by 10) or add gradient clipping.",
            epoch=int(diverged_at[first]), learning_rate=lr)
    return result


def _untraceable(err: Exception, cfg: TrainConfig, impl: str, names: tuple[str, ...]) -> Exception:
    """A clear error when a factory branches on the value of a swept hyperparameter."""
    cause = err if isinstance(err, jax.errors.ConcretizationTypeError) else err.__context__
    if not isinstance(cause, jax.errors.ConcretizationTypeError) or not names:
        return err
    swept = ", ".join(names)
    return ConfigError(
        f"{cfg.optimizer} ({impl}) with schedule={cfg.schedule!r} looks at the value of a swept "
        f"hyperparameter ({swept}), so it cannot run with one value per run in one program "
        f"(optax's schedules check their arguments in Python). Sweep the hand-written rule "
        f"(--impl hand), or use schedule='constant' with --impl optax.")


def _run_chunks(cfg, pb, impl, names, batch, grid, devices, per_chunk, chunks, calls, bar):
    """Compile once per call length, run chunk by chunk, gather numpy results.

    Everything is compiled ahead (``.lower().compile()``, timed as compile_seconds);
    without a progress bar the host fetches a chunk's metrics once, after its last
    call, so it never waits on the device between calls.
    """
    mesh = Mesh(np.array(devices), ("runs",))
    by_run, replicated = NamedSharding(mesh, PartitionSpec("runs")), NamedSharding(mesh, PartitionSpec())
    init_one, run_one = make_run_fns(cfg, pb, impl, names, batch)
    x, y = jax.device_put(pb.data.x, replicated), jax.device_put(pb.data.y, replicated)
    total = per_chunk * chunks
    pad = np.concatenate([np.arange(grid.runs), np.full(total - grid.runs, grid.runs - 1)])
    values = grid.values[pad].astype(np.float32)
    seeds = grid.seeds[pad].astype(np.int32)
    first = initial_params(pb, cfg.init, seeds)
    compiled: dict[Any, Any] = {}
    compile_s, t_start = 0.0, time.perf_counter()

    def ahead(key, fn, *args):
        nonlocal compile_s
        if key not in compiled:
            t = time.perf_counter()
            compiled[key] = fn.lower(*args).compile()
            compile_s += time.perf_counter() - t
        return compiled[key]

    init_all = jax.jit(jax.vmap(init_one), in_shardings=(by_run, by_run, by_run), out_shardings=by_run)
    hist, at, params = [], [], []
    for c in range(chunks):
        rows = slice(c * per_chunk, (c + 1) * per_chunk)
        v = jax.device_put(values[rows], by_run)
        p0 = jax.device_put(jax.tree.map(lambda leaf, r=rows: leaf[r], first), by_run)
        s0 = jax.device_put(seeds[rows], by_run)
        carry = ahead("init", init_all, v, p0, s0)(v, p0, s0)
        parts, start = [], 0
        for length in calls:
            fn = jax.jit(jax.vmap(lambda c_, v_, x_, y_, s_, n=length: run_one(c_, v_, x_, y_, n, s_),
                                  in_axes=(0, 0, None, None, None)),
                         in_shardings=(by_run, by_run, replicated, replicated, None),
                         out_shardings=(by_run, by_run), donate_argnums=0)
            epoch0 = np.int32(start)
            carry, metrics = ahead(length, fn, carry, v, x, y, epoch0)(carry, v, x, y, epoch0)
            start += length
            parts.append(metrics)
            if bar is not None:  # the host waits for the device here, once per call
                bar.update(length)
                bar.set_postfix(chunk=f"{c + 1}/{chunks}", diverged=int(np.sum(
                    jax.device_get(carry.diverged_at) > 0)))
        parts = jax.device_get(parts)
        hist.append({k: np.concatenate([p[k] for p in parts], axis=1) for k in parts[0]})
        at.append(np.asarray(jax.device_get(carry.diverged_at)))
        params.append(jax.device_get(jax.vmap(eval_params)(carry.state.opt_state, carry.state.params)))
    if bar is not None:
        bar.close()
    keep = slice(0, grid.runs)
    history = {k: np.concatenate([h[k] for h in hist])[keep] for k in hist[0]}
    params = jax.tree.map(lambda *leaves: np.concatenate(leaves)[keep], *params)
    run_s = time.perf_counter() - t_start - compile_s
    return history, np.concatenate(at)[keep].astype(np.int64), params, compile_s, run_s


def initial_params(pb: Problem, init: str, seeds: np.ndarray) -> Any:
    """``init_mlp(key(s))`` for every seed, stacked on a leading axis (numpy leaves).

    Drawn one seed at a time, outside the mapped program, exactly as `fit`'s
    callers do: a vmapped random draw compiles several times slower on a CPU.
    """
    distinct = {int(s): None for s in seeds}
    for s in distinct:
        distinct[s] = jax.device_get(init_mlp(jax.random.key(s), pb.sizes, init))
    return jax.tree.map(lambda *leaves: np.stack(leaves), *[distinct[int(s)] for s in seeds])


def _bar(progress: bool, total: int, label: str):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="epoch", desc=label, leave=False, dynamic_ncols=True)
