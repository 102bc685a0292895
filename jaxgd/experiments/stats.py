"""Statistics for comparing optimizers over seeds and problems (numpy, and scipy on demand).

    bootstrap_ci                the mean with a percentile bootstrap interval (scipy.stats.bootstrap)
    paired_difference           mean of a - b over the same seeds, resampling seed indices
    probability_of_improvement  P(X_a better than X_b) (Agarwal et al. 2021), with a bootstrap CI
    performance_profile         fraction of problems solved within tau x the best time
                                (Dolan & Moré 2002)

Intervals are percentile bootstrap intervals of ``scipy.stats.bootstrap`` (9,999
resamples by default): with the handful of seeds a study affords, BCa's acceleration
estimate is itself noisy and fails when the resampled statistic is constant (a
probability of improvement of 1 in every resample); Agarwal et al. 2021 (rliable) report
percentile intervals too. Degenerate inputs (one value, or all equal) give the point
itself as both ends, without calling scipy and without a warning.

scipy is optional: ``pip install -e ".[stats]"``. It is imported only when an
interval is asked for.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from jaxgd.core.errors import ConfigError, check_choice

N_RESAMPLES = 9999
METHODS = ("percentile", "basic", "BCa")


class Estimate(NamedTuple):
    """A point estimate with its confidence interval."""

    value: float  # the statistic on the data
    low: float  # lower end of the interval
    high: float  # upper end of the interval


def require_scipy():
    """``scipy.stats``, or a ConfigError naming the extra that installs it."""
    try:
        from scipy import stats
    except ImportError:
        raise ConfigError('scipy is needed for bootstrap intervals and quasi-random trials but is '
                          'not installed; install it with `pip install -e ".[stats]"` (or pip '
                          'install "scipy>=1.11").') from None
    return stats


def rng_kwargs(fn: Any, seed: int) -> dict[str, Any]:
    """The seed argument ``fn`` takes: ``rng`` (scipy >= 1.15) or the older ``random_state``/``seed``."""
    params = inspect.signature(fn).parameters
    if "rng" in params:
        return {"rng": np.random.default_rng(seed)}
    return {"random_state" if "random_state" in params else "seed": np.random.default_rng(seed)}


def _sample(name: str, values: Any) -> np.ndarray:
    x = np.asarray(values, np.float64).reshape(-1)
    if x.size == 0:
        raise ConfigError(f"{name} is empty; give at least one value (one per seed).")
    if not np.all(np.isfinite(x)):
        raise ConfigError(f"{name} holds a non-finite value ({x[~np.isfinite(x)][0]}); drop diverged "
                          "runs (or count them explicitly) before computing an interval.")
    return x


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence={confidence!r} is not in (0, 1); e.g. 0.95 for a 95% interval.")


def bootstrap_ci(values: Sequence[float], confidence: float = 0.95, seed: int = 0,
                 method: str = "percentile", n_resamples: int = N_RESAMPLES) -> Estimate:
    """The mean of ``values`` with its bootstrap confidence interval.

    Args:
        values: (n,) finite floats, e.g. one test accuracy per seed.
        confidence: the interval's level, in (0, 1).
        seed: seeds the resampling (the same seed gives the same interval).
        method: "percentile" (default, see the module docstring), "basic" or "BCa".
        n_resamples: bootstrap resamples.

    Returns:
        Estimate(mean, low, high), floats; ``(v, v, v)`` for one value or all equal.

    Raises:
        ConfigError: empty or non-finite values, a confidence outside (0, 1), an unknown
            method, or scipy missing.
    """
    x = _sample("values", values)
    _check_confidence(confidence)
    check_choice("method", method, METHODS)
    mean = float(np.mean(x))
    if x.size == 1 or np.all(x == x[0]):
        return Estimate(mean, mean, mean)
    stats = require_scipy()
    res = stats.bootstrap((x,), np.mean, confidence_level=confidence, method=method,
                          n_resamples=n_resamples, vectorized=True,
                          **rng_kwargs(stats.bootstrap, seed))
    ci = res.confidence_interval
    return Estimate(mean, float(ci.low), float(ci.high))


def paired_difference(a: Sequence[float], b: Sequence[float], confidence: float = 0.95,
                      seed: int = 0) -> Estimate:
    """Mean of ``a[i] - b[i]`` over the same seeds ``i``, with a bootstrap interval that
    resamples seed indices (the pairs stay together).

    Args:
        a, b: (n,) finite floats, entry i of each from seed i.

    Raises:
        ConfigError: different lengths, or as `bootstrap_ci`.
    """
    a, b = _sample("a", a), _sample("b", b)
    if a.shape != b.shape:
        raise ConfigError(f"paired_difference: a has {a.size} values, b has {b.size}; a paired "
                          "difference needs one value of each per seed, the same seeds.")
    return bootstrap_ci(a - b, confidence, seed)


def _improvement(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    """P(a > b) over all pairs (ties count 1/2); a (..., n), b (..., m) along ``axis``."""
    a, b = np.moveaxis(a, axis, -1), np.moveaxis(b, axis, -1)
    greater = (a[..., :, None] > b[..., None, :]).mean(axis=(-2, -1))
    ties = (a[..., :, None] == b[..., None, :]).mean(axis=(-2, -1))
    return greater + 0.5 * ties


def probability_of_improvement(a: Sequence[float], b: Sequence[float], lower_is_better: bool = False,
                               confidence: float = 0.95, seed: int = 0,
                               n_resamples: int = N_RESAMPLES) -> Estimate:
    """P(a run of A beats a run of B), Agarwal et al. 2021 (eq. 4): the Mann–Whitney U
    statistic over n·m, U = #{(i, j): a_i better than b_j} + #{ties}/2.

    The interval resamples the runs of A and of B independently (percentile bootstrap).

    Args:
        a, b: (n,) and (m,) finite floats, e.g. test accuracy per seed.
        lower_is_better: True for a loss (A beats B when a_i < b_j).

    Returns:
        Estimate(probability, low, high), in [0, 1].
    """
    a, b = _sample("a", a), _sample("b", b)
    _check_confidence(confidence)
    if lower_is_better:
        a, b = -a, -b
    value = float(_improvement(a, b))
    if (a.size == 1 and b.size == 1) or (np.all(a == a[0]) and np.all(b == b[0])):
        return Estimate(value, value, value)
    stats = require_scipy()
    res = stats.bootstrap((a, b), _improvement, confidence_level=confidence, method="percentile",
                          n_resamples=n_resamples, vectorized=True, paired=False,
                          **rng_kwargs(stats.bootstrap, seed))
    ci = res.confidence_interval
    return Estimate(value, float(ci.low), float(ci.high))


def performance_profile(times: Mapping[str, Sequence[float]], taus: Sequence[float]
                        ) -> dict[str, np.ndarray]:
    """Dolan & Moré 2002: rho_s(tau) = #{problems p : t[p, s] <= tau * min_s' t[p, s']} / #problems.

    Args:
        times: optimizer -> (problems,) times to target, ``inf`` where it never got there;
            every optimizer lists the same problems in the same order.
        taus: (k,) ratios >= 1.

    Returns:
        optimizer -> (k,) float64 fractions in [0, 1]. A problem no optimizer solves counts
        as unsolved for all.

    Raises:
        ConfigError: no optimizers, lists of different lengths, negative or NaN times, or a
            tau below 1.
    """
    if not times:
        raise ConfigError("performance_profile needs at least one optimizer's times.")
    names = list(times)
    rows = [np.asarray(times[k], np.float64).reshape(-1) for k in names]
    if len({r.size for r in rows}) != 1:
        sizes = {k: r.size for k, r in zip(names, rows, strict=True)}
        raise ConfigError("performance_profile: every optimizer needs one time per problem, the "
                          f"same problems; got {sizes} times.")
    t = np.stack(rows)  # (optimizers, problems)
    if np.isnan(t).any() or (t < 0).any():
        raise ConfigError("performance_profile: times must be >= 0, with inf for a problem the "
                          "optimizer never solved (no NaN).")
    taus = np.asarray(taus, np.float64).reshape(-1)
    if (taus < 1).any() or np.isnan(taus).any():
        raise ConfigError(f"performance_profile: every tau must be >= 1 (a ratio to the best time); "
                          f"got {taus.min()}.")
    best = t.min(axis=0)  # (problems,)
    solved = np.isfinite(best)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(solved & np.isfinite(t), t / np.where(best > 0, best, 1.0), np.inf)
    ratio = np.where(solved & (best == 0) & (t == 0), 1.0, ratio)  # solved at once, both
    ratio = np.where(solved & (best == 0) & (t > 0), np.inf, ratio)
    frac = (ratio[:, :, None] <= taus[None, None, :]).mean(axis=1)  # (optimizers, k)
    return {k: frac[i] for i, k in enumerate(names)}
