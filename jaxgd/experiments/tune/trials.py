"""Search spaces from the command line, and quasi-random trials inside them.

    --space NAME:KEY=LO:HI[:lin|log|log1m]    replace (or add) one axis of optimizer NAME

Trials are points of a scrambled Sobol sequence (`scipy.stats.qmc.Sobol`, seeded), one
coordinate per axis, mapped into the axis's range on its scale: a ``log`` axis is
uniform in log10, a ``log1m`` axis uniform in log10(1 - x).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Iterable, Mapping

import numpy as np

from jaxgd.core.errors import ConfigError, check_positive_int
from jaxgd.experiments.config import TrainConfig
from jaxgd.experiments.stats import require_scipy, rng_kwargs
from jaxgd.experiments.sweep.grid import check_names
from jaxgd.reference.spaces import SCALES, Axis, SearchSpace, search_space

SPACE_FORM = "NAME:KEY=LO:HI[:lin|log|log1m], e.g. --space adam:learning_rate=1e-4:1e-1:log"
BALANCE = "The balance properties of Sobol' points require n to be a power of 2"


def _bound(text: str, part: str) -> float:
    try:
        value = float(part)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ConfigError(f"--space {text!r}: {part!r} is not a finite number; expected {SPACE_FORM}.")
    return value


def parse_space(text: str) -> tuple[str, Axis]:
    """``"sgd:learning_rate=1e-6:1e-5:log"`` -> ("sgd", Axis(...)); the range checked, the
    key not yet (that needs the optimizer: `apply_overrides`)."""
    head, eq, rng = str(text).partition("=")
    name, colon, key = head.partition(":")
    name, key = name.strip(), key.strip().replace("-", "_")
    if not (eq and colon and name and key):
        raise ConfigError(f"--space {text!r} is not of the form {SPACE_FORM}.")
    parts = [p.strip() for p in rng.split(":")]
    if len(parts) not in (2, 3):
        raise ConfigError(f"--space {text!r}: the range has 2 or 3 parts LO:HI[:SCALE], got "
                          f"{len(parts)}; expected {SPACE_FORM}.")
    low, high = _bound(text, parts[0]), _bound(text, parts[1])
    scale = parts[2].lower() if len(parts) == 3 else "lin"
    if scale not in SCALES:
        raise ConfigError(f"--space {text!r}: unknown scale {parts[2]!r}; accepted: {', '.join(SCALES)}.")
    if low >= high:
        raise ConfigError(f"--space {text!r}: LO={low:g} is not below HI={high:g}; give the range "
                          f"low first, e.g. {name}:{key}={min(low, high):g}:{max(low, high):g}.")
    if scale == "log" and low <= 0:
        raise ConfigError(f"--space {text!r}: a log axis needs LO > 0 (got {low:g}); use :lin for a "
                          "range through zero.")
    if scale == "log1m" and high >= 1:
        raise ConfigError(f"--space {text!r}: a log1m axis (1 - x log-uniform) needs HI < 1 (got "
                          f"{high:g}), e.g. {name}:{key}=0.9:0.9999:log1m.")
    return name, Axis(key, low, high, scale)


def apply_overrides(space: SearchSpace, cfg: TrainConfig, overrides: Iterable[tuple[str, Axis]]
                    ) -> SearchSpace:
    """``space`` with the ``--space`` axes of its contender replacing (or adding) axes.

    Raises:
        ConfigError: a key that is not a float hyperparameter of the optimizer's factory,
            naming those that are.
    """
    axes = {a.name: a for a in space.axes}
    mine = [axis for name, axis in overrides if name == space.contender]
    if mine:
        check_names(dataclasses.replace(cfg, optimizer=space.optimizer), [a.name for a in mine])
    for axis in mine:
        axes[axis.name] = axis
    return space._replace(axes=tuple(axes.values()))


def check_contenders(names: Iterable[str], overrides: Iterable[tuple[str, Axis]]) -> None:
    """A --space NAME must be one of the optimizers being tuned."""
    names = list(names)
    for name, axis in overrides:
        if name not in names:
            raise ConfigError(f"--space {name}:{axis.name}=...: {name!r} is not among --optimizers "
                              f"({', '.join(names)}); name one of those.")


def unit_points(n: int, d: int, seed: int) -> np.ndarray:
    """(n, d) float64 in [0, 1): the first n points of a scrambled Sobol sequence.

    A power of 2 is drawn with ``random_base2`` (the balanced case); another n with
    ``random(n)``, whose warning that balance needs a power of 2 is expected here and
    silenced (the points are still distinct and low-discrepancy).
    """
    check_positive_int("trials", n)
    qmc = require_scipy().qmc
    if d == 0:
        return np.zeros((n, 0))
    sampler = qmc.Sobol(d, scramble=True, **rng_kwargs(qmc.Sobol, seed))
    if n & (n - 1) == 0:
        return sampler.random_base2(int(math.log2(n)))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=BALANCE, category=UserWarning)
        return sampler.random(n)


def scale_points(u: np.ndarray, axes: tuple[Axis, ...]) -> np.ndarray:
    """Map unit points (n, d) into the axes' ranges on their scales: (n, d) float64."""
    out = np.empty_like(u, dtype=np.float64)
    for j, a in enumerate(axes):
        if a.scale == "log":
            lo, hi = math.log10(a.low), math.log10(a.high)
            out[:, j] = 10.0 ** (lo + u[:, j] * (hi - lo))
        elif a.scale == "log1m":  # 1 - x from 1 - low (largest) down to 1 - high
            lo, hi = math.log10(1 - a.high), math.log10(1 - a.low)
            out[:, j] = 1 - 10.0 ** (hi - u[:, j] * (hi - lo))
        else:
            out[:, j] = a.low + u[:, j] * (a.high - a.low)
    return np.clip(out, [a.low for a in axes], [a.high for a in axes])


def draw_trials(space: SearchSpace, n: int, seed: int) -> np.ndarray:
    """(n, len(space.axes)) float64 hyperparameters, the same for the same seed."""
    return scale_points(unit_points(n, len(space.axes), seed), space.axes)


def spaces_for(contenders: Iterable[str], cfg: TrainConfig,
               overrides: Iterable[tuple[str, Axis]] = ()) -> Mapping[str, SearchSpace]:
    """The search space of each contender, with the ``--space`` overrides applied."""
    contenders, overrides = list(contenders), list(overrides)
    check_contenders(contenders, overrides)
    return {c: apply_overrides(search_space(c), cfg, overrides) for c in contenders}
