"""Grids of hyperparameters for `jaxgd.experiments.sweep`: parse, combine, check.

A grid axis is written on the command line as

    START:STOP:NUM:log    NUM values spaced evenly in log10 between START and STOP
    START:STOP:NUM:lin    NUM values spaced evenly (``:lin`` may be left out)
    0.1,0.2,0.5           exactly these values
    0.9                   one value (a fixed setting, still recorded per run)

The grid is the product of its axes and the seeds; seeds vary fastest, so the
runs of one setting sit next to each other.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from jaxgd import optimizers
from jaxgd.core.errors import ConfigError, check_choice
from jaxgd.core.limits import MAX_SWEEP_RUNS
from jaxgd.core.names import is_user_rule
from jaxgd.experiments.config import TrainConfig
from jaxgd.optimizers import user_rules

CONFIG_FLOATS = ("learning_rate", "l2", "decay_rate")  # TrainConfig fields a sweep may vary
SCALES = ("lin", "log")


class Grid(NamedTuple):
    """Every run of a sweep: one row per run."""

    names: tuple[str, ...]  # hyperparameter names, one column of `values` each
    values: np.ndarray  # (runs, len(names)) float64: each run's hyperparameters
    seeds: np.ndarray  # (runs,) int64: each run's seed

    @property
    def runs(self) -> int:
        return int(self.seeds.shape[0])


def _number(flag: str, spec: str, part: str) -> float:
    try:
        value = float(part)
    except ValueError:
        raise ConfigError(f"{flag}={spec!r}: {part!r} is not a number. Accepted: START:STOP:NUM:log, "
                          "START:STOP:NUM:lin, or a comma-separated list such as 0.1,0.2,0.5.") from None
    if not math.isfinite(value):
        raise ConfigError(f"{flag}={spec!r}: {part!r} is not finite; every grid value must be a "
                          "finite number.")
    return value


def parse_spec(flag: str, spec: str) -> np.ndarray:
    """The values of one grid axis from its text (see the module docstring).

    Args:
        flag: the argument's name, used in error messages (e.g. ``"--lr"``).
        spec: ``"1e-4:1e-1:32:log"``, ``"0:0.9:4"``, ``"0.1,0.2,0.5"`` or ``"0.9"``.

    Returns:
        float64 array (num,).

    Raises:
        ConfigError: naming the flag, the text and the accepted forms.
    """
    text = str(spec).strip()
    if not text:
        raise ConfigError(f"{flag}={spec!r} is empty. Accepted: START:STOP:NUM:log, "
                          "START:STOP:NUM:lin, or a comma-separated list such as 0.1,0.2,0.5.")
    if ":" not in text:
        parts = [p.strip() for p in text.split(",")]
        if any(p == "" for p in parts):
            raise ConfigError(f"{flag}={spec!r} has an empty item; write a list as 0.1,0.2,0.5.")
        return np.array([_number(flag, spec, p) for p in parts], np.float64)
    parts = [p.strip() for p in text.split(":")]
    if len(parts) not in (3, 4):
        raise ConfigError(f"{flag}={spec!r}: a range has 3 or 4 parts START:STOP:NUM[:log|lin], "
                          f"got {len(parts)}. Example: {flag} 1e-4:1e-1:32:log.")
    start, stop = _number(flag, spec, parts[0]), _number(flag, spec, parts[1])
    try:
        num = int(parts[2])
    except ValueError:
        num = 0
    if num < 1 or str(num) != parts[2].lstrip("+"):
        raise ConfigError(f"{flag}={spec!r}: NUM={parts[2]!r} must be a positive integer "
                          f"(how many values), e.g. {flag} {parts[0]}:{parts[1]}:8:lin.")
    _check_count(f"{flag}={spec!r}", num)
    scale = parts[3].lower() if len(parts) == 4 else "lin"
    if scale not in SCALES:
        raise ConfigError(f"{flag}={spec!r}: unknown scale {parts[3]!r}; accepted: log, lin.")
    if scale == "log":
        if start <= 0 or stop <= 0:
            raise ConfigError(f"{flag}={spec!r}: a log range needs START > 0 and STOP > 0; use "
                              f":lin for a range through zero, e.g. {flag} 0:{parts[1]}:{num}:lin.")
        return np.logspace(math.log10(start), math.log10(stop), num, dtype=np.float64)
    return np.linspace(start, stop, num, dtype=np.float64)


def parse_seeds(spec: str | int | Sequence[int], base: int = 0) -> np.ndarray:
    """``8`` -> seeds base..base+7; ``"0,3,7"`` -> exactly those; a list is taken as is."""
    if isinstance(spec, int | np.integer) and not isinstance(spec, bool):
        count, items = int(spec), None
    elif isinstance(spec, str) and "," not in spec:
        try:
            count, items = int(spec.strip()), None
        except ValueError:
            count, items = 0, None
    else:
        parts = spec.split(",") if isinstance(spec, str) else list(spec)
        try:
            items = [int(str(p).strip()) for p in parts]
        except ValueError:
            items = []
        count = len(items)
    if count < 1 or (items is not None and any(s < 0 for s in items)):
        raise ConfigError(f"--seeds={spec!r}: expected a positive count such as 8 (seeds {base}.."
                          f"{base + 7}) or a list of non-negative ints such as 0,3,7.")
    _check_count(f"--seeds={spec!r}", count)
    if items is not None and len(set(items)) != len(items):
        raise ConfigError(f"--seeds={spec!r} repeats a seed; each seed gives one run, list it once.")
    seeds = np.arange(base, base + count) if items is None else np.array(items)
    return seeds.astype(np.int64)


def _check_count(what: str, runs: int) -> None:
    """Refuse a grid of more than `MAX_SWEEP_RUNS` runs before any array is built."""
    if runs > MAX_SWEEP_RUNS:
        raise ConfigError(f"{what}: {runs:,} runs, more than one sweep takes ({MAX_SWEEP_RUNS:,}); "
                          "use fewer values per axis (e.g. 1e-4:1e-1:32:log) or fewer seeds, or "
                          "split the study into several sweeps.")


def make_grid(axes: Mapping[str, Sequence[float]], seeds: Sequence[int]) -> Grid:
    """The product of the axes (in order, first slowest) and the seeds (fastest)."""
    names = tuple(axes)
    columns = [np.asarray(axes[k], np.float64).reshape(-1) for k in names]
    seeds = np.asarray(seeds, np.int64).reshape(-1)
    if not len(seeds):
        raise ConfigError("a sweep needs at least one seed, e.g. --seeds 1.")
    for k, col in zip(names, columns, strict=True):
        if not len(col):
            raise ConfigError(f"grid axis {k!r} has no values; give at least one.")
    sizes = [len(col) for col in columns] + [len(seeds)]
    _check_count(" x ".join(f"{n} {k}" for n, k in zip(sizes, (*names, "seeds"), strict=True)),
                 math.prod(sizes))
    mesh = np.meshgrid(*columns, seeds.astype(np.float64), indexing="ij")
    flat = [m.reshape(-1) for m in mesh]
    values = np.stack(flat[:-1], axis=1) if names else np.zeros((len(flat[-1]), 0), np.float64)
    return Grid(names, values, flat[-1].astype(np.int64))


def factory_parameters(cfg: TrainConfig) -> dict[str, inspect.Parameter]:
    """The keyword parameters of the hand-written factory ``cfg.optimizer`` (or of the
    user's own ``MODULE:FACTORY``)."""
    if is_user_rule(cfg.optimizer):
        sig = user_rules.factory_signature(user_rules.load_factory(cfg.optimizer))
        return {} if sig is None else dict(sig.parameters)
    return dict(inspect.signature(getattr(optimizers, cfg.optimizer)).parameters)


def _is_float_parameter(name: str, p: inspect.Parameter) -> bool:
    """A float default, or None for an optional float (not a dtype, mask or function)."""
    if p.default is None:
        return not name.endswith(("dtype", "mask", "fn"))
    return isinstance(p.default, float | int) and not isinstance(p.default, bool)


def check_names(cfg: TrainConfig, names: Sequence[str]) -> tuple[str, ...]:
    """Every grid name must be a float the program can take as a tracer."""
    params = factory_parameters(cfg)
    floats = [k for k, p in params.items() if k != "learning_rate" and _is_float_parameter(k, p)]
    accepted = sorted(set(CONFIG_FLOATS) | set(floats))
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):  # a user's factory(**kwargs)
        accepted = sorted({*accepted, *names})
    seen = set()
    for name in names:
        if name in seen:
            raise ConfigError(f"grid axis {name!r} is given twice; give each hyperparameter once.")
        seen.add(name)
        if name in params and name not in accepted:
            raise ConfigError(
                f"grid axis {name!r}: {cfg.optimizer}'s {name} is not a float hyperparameter (it "
                f"changes the program's structure), so it cannot be swept; set it with "
                f"--set {name}=VALUE and sweep it by running one sweep per value.")
        check_choice(f"{cfg.optimizer} hyperparameter", name, accepted)
    return tuple(names)


def point_config(cfg: TrainConfig, names: Sequence[str], values: Any) -> TrainConfig:
    """``cfg`` with the grid's hyperparameters set to ``values`` (floats or tracers).

    No validation here: the values may be tracers inside the mapped program.
    """
    fields, hyper = {}, dict(cfg.hyper)
    for i, name in enumerate(names):
        if name in CONFIG_FLOATS:
            fields[name] = values[i]
        else:
            hyper[name] = values[i]
    return dataclasses.replace(cfg, hyper=tuple(sorted(hyper.items(), key=lambda kv: kv[0])), **fields)


def settings(grid: Grid) -> list[tuple[tuple[float, ...], np.ndarray]]:
    """Distinct hyperparameter settings in grid order, each with the indices of its runs."""
    out: dict[tuple[float, ...], list[int]] = {}
    for i, row in enumerate(grid.values):
        out.setdefault(tuple(float(v) for v in row), []).append(i)
    return [(k, np.array(v)) for k, v in out.items()]
