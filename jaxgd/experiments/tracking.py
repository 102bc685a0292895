"""What ``--track`` records into a run's history, built from `jaxgd.instruments`.

    sharpness:EVERY    ``sharpness``: the top Hessian eigenvalue of the training objective
                       (the loss with its l2 penalty, `make_objective`) at the params after
                       the epoch, by power iteration (`top_hessian_eigenvalue`,
                       `POWER_ITERS` steps, the same start vector ``key(0)`` each time) on
                       the whole training set, or on a fixed random subset of
                       `SHARPNESS_ROWS` rows when there are more. ``two_over_lr``: ``2 / lr``
                       at the same epochs for a constant learning rate, the stability
                       limit of plain gradient descent (Cohen et al. 2021)
    noise_scale:EVERY  ``noise_scale``: ``B_simple = tr(Sigma) / |G|^2``
                       (`gradient_noise_scale`, plug-in ``|G|^2``) from per-example
                       gradients on a fixed batch: the training set, or a fixed random
                       subset of `NOISE_ROWS` rows when there are more
    monitors           ``lr``, ``update_norm``, ``update_ratio`` (``||u|| / ||p||``) and
                       ``update_ratio[0].w``, ... per leaf (up to `MAX_LEAF_COLUMNS` leaves),
                       each the MEAN over the epoch's updates; ``u`` is the applied update,
                       the new params minus the old, ``lr`` the schedule at the update count

Sharpness and noise scale are NaN at the epochs that are not multiples of their EVERY.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgd.core.errors import ConfigError
from jaxgd.experiments.build import Problem, make_schedule
from jaxgd.experiments.config import TrainConfig
from jaxgd.instruments import gradient_noise_scale, top_hessian_eigenvalue, update_monitors
from jaxgd.reference.defaults import OWN_STEP_RULES
from jaxgd.training.tracking import Track, periodic

__all__ = ["MAX_LEAF_COLUMNS", "NOISE_ROWS", "POWER_ITERS", "SHARPNESS_ROWS", "fixed_rows", "make_track",
           "track_columns"]

SHARPNESS_ROWS = 4096  # rows of the loss whose Hessian is taken; more: a fixed subset
NOISE_ROWS = 512  # per-example gradients held at once: rows x parameters floats
POWER_ITERS = 20  # power-iteration steps (HVPs) per sharpness
MAX_LEAF_COLUMNS = 16  # per-leaf update ratios only for networks with at most this many leaves


def fixed_rows(n: int, limit: int) -> np.ndarray | None:
    """The rows an instrument uses: None (all ``n``) when ``n <= limit``, else ``limit`` rows
    drawn once without replacement by ``numpy.random.default_rng(0)``, sorted; the same
    rows every epoch and every run."""
    if n <= limit:
        return None
    return np.sort(np.random.default_rng(0).choice(n, limit, replace=False))


def _rows(x, y, limit: int):
    idx = fixed_rows(x.shape[0], limit)
    return (x, y) if idx is None else (x[idx], y[idx])


def leaf_names(params: Any) -> list[str]:
    """Per-leaf column suffixes, e.g. ``[0].w`` (`jax.tree_util.keystr` of each leaf's path)."""
    return [jax.tree_util.keystr(path) for path, _ in jax.tree_util.tree_flatten_with_path(params)[0]]


def track_columns(spec, params: Any, constant_lr: bool) -> tuple[str, ...]:
    """The history columns that ``spec`` (`TrainConfig.track`) records for ``params``."""
    names: list[str] = []
    for name, _ in spec or ():
        if name == "sharpness":
            names += ["sharpness", *(["two_over_lr"] if constant_lr else [])]
        elif name == "noise_scale":
            names.append("noise_scale")
        elif name == "monitors":
            leaves = leaf_names(params)
            per_leaf = [f"update_ratio{p}" for p in leaves] if len(leaves) <= MAX_LEAF_COLUMNS else []
            names += ["lr", "update_norm", "update_ratio", *per_leaf]
    return tuple(names)


def make_track(cfg: TrainConfig, pb: Problem, loss_fn, steps_per_epoch: int, impl: str,
               params: Any) -> Track | None:
    """The `Track` of ``cfg.track`` for one impl's run (None when nothing is tracked).

    Args:
        cfg: the run's config, defaults resolved.
        pb: the problem (for its size).
        loss_fn: ``(params, x, y) -> scalar``, the training objective (`make_objective`).
        steps_per_epoch: updates per epoch (for the schedule's lr).
        impl: "hand" or "optax": whose schedule gives ``lr``.
        params: the params (or their shapes), for the per-leaf column names.

    Raises:
        ConfigError: noise_scale on a dataset of fewer than 2 rows.
    """
    spec = dict(cfg.track or ())
    if not spec:
        return None
    # 2 / lr only where lr is the step: a constant rate of a rule that does not set its own
    constant = cfg.schedule == "constant" and cfg.optimizer not in OWN_STEP_RULES
    names = track_columns(cfg.track, params, constant)
    measures = []
    if "sharpness" in spec:
        limit = 2.0 / cfg.learning_rate if constant else None

        def sharpness(p, x, y):
            xs, ys = _rows(x, y, SHARPNESS_ROWS)
            eig, _ = top_hessian_eigenvalue(loss_fn, p, xs, ys, key=jax.random.key(0), iters=POWER_ITERS)
            out = {"sharpness": eig}
            if limit is not None:
                out["two_over_lr"] = jnp.asarray(limit, eig.dtype)
            return out

        measures.append(periodic(sharpness, spec["sharpness"]))
    if "noise_scale" in spec:
        if pb.data.n < 2:
            raise ConfigError(f"--track noise_scale needs 2 or more training rows to estimate a "
                              f"covariance; dataset {cfg.dataset!r} has {pb.data.n}. Leave "
                              "noise_scale out of --track.")

        def noise(p, x, y):
            return {"noise_scale": gradient_noise_scale(loss_fn, p, *_rows(x, y, NOISE_ROWS)).b_simple}

        measures.append(periodic(noise, spec["noise_scale"]))

    def measure(p, epoch, x, y):
        return {k: v for m in measures for k, v in m(p, epoch, x, y).items()}

    monitor = None
    if "monitors" in spec:
        schedule = make_schedule(cfg, steps_per_epoch, impl)
        per_leaf = [k for k in names if k.startswith("update_ratio[")]

        def monitor(old, new):
            u = jax.tree.map(jnp.subtract, new.params, old.params)
            lr = schedule(old.step) if callable(schedule) else schedule
            m = update_monitors(old.params, u, lr)
            u_norm, p_norm = m["update_norm"], m["param_norm"]
            ratio = jnp.where(p_norm > 0, u_norm / jnp.where(p_norm > 0, p_norm, 1), 0)  # 0 for zero params
            out = {"lr": m["learning_rate"], "update_norm": u_norm, "update_ratio": ratio}
            if per_leaf:
                out.update(zip(per_leaf, jax.tree.leaves(m["update_ratio"]), strict=True))
            return out

    return Track(names, monitor, measure if measures else None)
