"""A tuning study: every optimizer gets the same budget, tuned on validation data, tested once.

    data       the training rows split (seeded, stratified by class) into the rows the
               trials train on and validation rows (``val_fraction``); the test split is
               the dataset's own, else ``test_fraction`` of the rows (0.2 when none is
               given). With ``standardize``, the statistics come from the training rows.
    tune       per optimizer, ``trials`` quasi-random points of its search space
               (`jaxgd.experiments.tune.trials`), all with the same seed, as ONE vmapped
               sweep whose "test" slot holds the validation rows
    select     the trial with the best validation metric at the FINAL epoch (the model a
               run hands over; no early stopping), diverged trials excluded, ties to the
               first; test data are not loaded into the tuning sweep at all
    re-run     the chosen point over ``seeds`` fresh seeds (seed+1 .. seed+S, none equal to
               the tuning seed) as one vmapped sweep, validation in the test slot again;
               the test split is evaluated once, on each seed's final parameters
    target     per seed, the first epoch whose validation metric reaches ``target``
               (val_loss <= T or val_accuracy >= T)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import jax
import numpy as np

from jaxgd.core.errors import ConfigError, DivergenceError, check_choice, check_range
from jaxgd.data.real import standardize
from jaxgd.data.splits import train_test_split
from jaxgd.experiments.build import Problem, make_eval_fn, make_objective, make_problem
from jaxgd.experiments.config import TrainConfig
from jaxgd.experiments.defaults import resolve_defaults
from jaxgd.experiments.sweep.engine import SweepResult, sweep
from jaxgd.experiments.sweep.grid import Grid
from jaxgd.experiments.tune.trials import draw_trials
from jaxgd.reference.spaces import SearchSpace

METRICS = ("val_loss", "val_accuracy")
DEFAULT_TEST_FRACTION = 0.2
VAL_KEY = 3  # the validation split is drawn with key(seed + 3); data key(seed + 1)


class TuneData(NamedTuple):
    """The three splits of one dataset."""

    problem: Problem  # train on x, y; its test slot (x_test, y_test) holds the VALIDATION rows
    x_test: Any  # (n_test, d) the held-out test rows, used only after selection
    y_test: Any  # their labels, in the loss's form
    config: TrainConfig  # the config the data came from (test_fraction as used)


class Outcome(NamedTuple):
    """One optimizer's study."""

    space: SearchSpace
    trials: np.ndarray  # (trials, axes) float64 hyperparameters
    scores: np.ndarray  # (trials,) validation metric at the final epoch; NaN: diverged
    best: int  # index of the chosen trial
    tuning: SweepResult  # the trials' sweep
    final: SweepResult  # the re-run of the chosen point over the seeds
    val: np.ndarray  # (seeds,) validation metric at the final epoch; NaN: diverged
    test: np.ndarray  # (seeds,) test metric of each seed's final parameters; NaN: diverged
    tests: Mapping[str, np.ndarray]  # test_loss[, test_accuracy] -> (seeds,), as ``test``
    epochs_to_target: np.ndarray  # (seeds,) int, 0 = never (or no target)

    @property
    def seconds(self) -> float:
        """Compute seconds of both sweeps: compiling and running."""
        return sum(r.compile_seconds + r.run_seconds for r in (self.tuning, self.final))


class TuneResult(NamedTuple):
    """A study on one dataset."""

    data: TuneData
    outcomes: Mapping[str, Outcome]  # contender -> outcome, in the order given
    metric: str
    target: float | None
    seeds: np.ndarray  # (S,) the re-run seeds

    @property
    def lower_is_better(self) -> bool:
        return self.metric.endswith("loss")


def make_tune_data(cfg: TrainConfig, val_fraction: float = 0.2) -> TuneData:
    """Training, validation and test rows of ``cfg.dataset`` (see the module docstring)."""
    check_range("val_fraction", val_fraction, low=0.0, high=1.0, low_open=True, high_open=True,
                fix="Use e.g. --val-fraction 0.2.")
    raw = dataclasses.replace(cfg, standardize=False)
    pb = make_problem(raw)
    if pb.data.x_test is None:
        if cfg.test_fraction:
            raise ConfigError(f"dataset {cfg.dataset!r} gave no test split; use --test-fraction 0.2.")
        cfg = dataclasses.replace(cfg, test_fraction=DEFAULT_TEST_FRACTION)
        pb = make_problem(dataclasses.replace(cfg, standardize=False))
    ds = pb.data
    if ds.n < 4:
        raise ConfigError(f"dataset {cfg.dataset!r} has {ds.n} training rows; tuning needs at least "
                          "4 (some to train on, some to validate on). Use a larger --n-samples.")
    x, y, x_val, y_val = train_test_split(jax.random.key(cfg.seed + VAL_KEY), ds.x, ds.y,
                                          val_fraction, stratify=ds.task != "regression")
    x_test = ds.x_test
    if cfg.standardize:
        x, x_val, x_test, _ = standardize(x, x_val, x_test)
    data = ds._replace(x=x, y=y, x_test=x_val, y_test=y_val)
    return TuneData(pb._replace(data=data), x_test, ds.y_test, cfg)


def contender_config(cfg: TrainConfig, space: SearchSpace, impl: str = "hand") -> TrainConfig:
    """``cfg`` running the space's optimizer, its searched hyperparameters left to the trials."""
    hyper = tuple((k, v) for k, v in cfg.hyper if k not in space.names)
    return resolve_defaults(dataclasses.replace(cfg, optimizer=space.optimizer, impl=impl,
                                                learning_rate=None, hyper=hyper))


def epochs_to_target(history: np.ndarray, target: float, lower_is_better: bool) -> np.ndarray:
    """(runs,) first epoch (1-based) whose value reaches ``target``; 0 where none does."""
    h = np.asarray(history)
    hit = h <= target if lower_is_better else h >= target  # NaN compares False
    return np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, 0)


def _final(result: SweepResult, key: str) -> np.ndarray:
    values = np.asarray(result.history[key][:, -1], np.float64)
    return np.where(result.diverged_at == 0, values, np.nan)


def select(scores: np.ndarray, lower_is_better: bool) -> int:
    """Index of the best finite score, the first among equals; DivergenceError if none is finite."""
    s = np.asarray(scores, np.float64)
    if not np.isfinite(s).any():
        raise DivergenceError("every trial diverged or has no validation score; narrow the search "
                              "space (e.g. --space NAME:learning_rate=LO:HI:log with a lower HI).")
    return int(np.nanargmin(s) if lower_is_better else np.nanargmax(s))


def test_metrics(cfg: TrainConfig, data: TuneData, params: Any) -> dict[str, np.ndarray]:
    """Test loss (and accuracy) of each run's final parameters (leading run axis)."""
    pb = data.problem._replace(data=data.problem.data._replace(x_test=data.x_test, y_test=data.y_test))
    loss_fn, _ = make_objective(cfg, pb)
    eval_fn = make_eval_fn(cfg, pb, loss_fn)
    out = jax.jit(jax.vmap(eval_fn))(params)
    return {k: np.asarray(v, np.float64) for k, v in out.items() if k.startswith("test_")}


def tune_one(cfg: TrainConfig, space: SearchSpace, data: TuneData, trials: int, seeds: np.ndarray,
             metric: str = "val_loss", target: float | None = None, impl: str = "hand",
             progress: bool = False, devices: list | None = None) -> Outcome:
    """Tune one optimizer (one sweep of ``trials``), then re-run its best point over ``seeds``."""
    key = "test_" + metric.removeprefix("val_")  # the sweep's test slot holds the validation rows
    lower = metric.endswith("loss")
    c = contender_config(cfg, space, impl)
    values = draw_trials(space, trials, cfg.seed)
    grid = Grid(space.names, values, np.full(trials, cfg.seed, np.int64))
    tuning = sweep(c, grid, impl=impl, problem=data.problem, raise_if_all_diverged=False, devices=devices,
                   progress=progress, label=f"{space.contender} trials")
    scores = _final(tuning, key)
    best = select(scores, lower)
    seeds = np.asarray(seeds, np.int64)
    rerun = Grid(space.names, np.repeat(values[best][None], len(seeds), axis=0), seeds)
    final = sweep(c, rerun, impl=impl, problem=data.problem, raise_if_all_diverged=False, devices=devices,
                  progress=progress, label=f"{space.contender} seeds")
    ok = final.diverged_at == 0
    tests = {k: np.where(ok, v, np.nan) for k, v in test_metrics(final.config, data, final.params).items()}
    hits = (epochs_to_target(final.history[key], target, lower) if target is not None
            else np.zeros(len(seeds), np.int64))
    return Outcome(space, values, scores, best, tuning, final, _final(final, key), tests[key], tests,
                   hits)


def tune(cfg: TrainConfig, spaces: Mapping[str, SearchSpace], trials: int, seeds: Sequence[int],
         metric: str = "val_loss", target: float | None = None, val_fraction: float = 0.2,
         impl: str = "hand", data: TuneData | None = None, progress: bool = False,
         devices: list | None = None) -> TuneResult:
    """Tune every optimizer of ``spaces`` on ``cfg``'s dataset with the same budget.

    Args:
        cfg: the problem (dataset, network, epochs, batch, seed: data, split and trials).
        spaces: contender -> `SearchSpace` (`jaxgd.experiments.tune.trials.spaces_for`).
        trials: quasi-random points per optimizer.
        seeds: (S,) seeds of the re-run of each optimizer's best point.
        metric: "val_loss" (default) or "val_accuracy" (classification only).
        target: validation value to reach (None: not measured).
        val_fraction: share of the training rows held out for validation.
        impl: "hand" or "optax".
        data: the splits (default: `make_tune_data`); tests pass their own.
        progress: tqdm bars on stderr.
        devices: devices the sweeps shard their runs over (default: all of ``cfg.device``'s).

    Returns:
        TuneResult.

    Raises:
        ConfigError: a bad metric, fraction or split; DivergenceError: every trial of an
            optimizer diverged.
    """
    check_choice("metric", metric, METRICS)
    if not spaces:
        raise ConfigError("tune needs at least one optimizer, e.g. --optimizers sgd,momentum,adam.")
    data = data if data is not None else make_tune_data(cfg, val_fraction)
    if metric == "val_accuracy" and data.problem.data.task == "regression":
        raise ConfigError(f"metric='val_accuracy' needs classes, but dataset {cfg.dataset!r} is a "
                          "regression task; use --metric val_loss.")
    cfg = dataclasses.replace(cfg, test_fraction=data.config.test_fraction)
    outcomes = {name: tune_one(cfg, space, data, trials, seeds, metric, target, impl, progress, devices)
                for name, space in spaces.items()}
    return TuneResult(data, outcomes, metric, target, np.asarray(seeds, np.int64))
