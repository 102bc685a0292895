"""jaxgd.experiments.stats against scipy and hand-computed values."""

import warnings

import numpy as np
import pytest
from scipy import stats

from jaxgd.core.errors import ConfigError
from jaxgd.experiments.stats import (
    bootstrap_ci,
    paired_difference,
    performance_profile,
    probability_of_improvement,
)

VALUES = np.array([0.81, 0.84, 0.79, 0.88, 0.86, 0.83])


@pytest.mark.parametrize("method", ["percentile", "BCa"])
def test_bootstrap_ci_is_scipys_bootstrap(method):
    mine = bootstrap_ci(VALUES, confidence=0.9, seed=3, method=method, n_resamples=2000)
    ref = stats.bootstrap((VALUES,), np.mean, confidence_level=0.9, method=method, n_resamples=2000,
                          rng=np.random.default_rng(3)).confidence_interval
    assert mine.value == pytest.approx(VALUES.mean(), rel=1e-12)
    assert (mine.low, mine.high) == (pytest.approx(ref.low, rel=1e-12), pytest.approx(ref.high, rel=1e-12))
    assert bootstrap_ci(VALUES, seed=3) == bootstrap_ci(VALUES, seed=3)


def test_bootstrap_ci_degenerate_inputs_give_the_point_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tuple(bootstrap_ci([0.7])) == (0.7, 0.7, 0.7)
        assert tuple(bootstrap_ci([2.0, 2.0, 2.0])) == (2.0, 2.0, 2.0)
    with pytest.raises(ConfigError, match="non-finite"):
        bootstrap_ci([1.0, np.nan])


def test_paired_difference_resamples_pairs():
    a = np.array([1.0, 5.0, 9.0, 3.0])
    b = a - np.array([0.5, 0.7, 0.6, 0.4])  # a beats b by about 0.55 on every seed
    est = paired_difference(a, b, seed=1)
    assert est.value == pytest.approx(0.55)
    # resampling the seeds' differences, never unpaired values: the interval stays in [0.4, 0.7]
    assert 0.4 <= est.low <= est.value <= est.high <= 0.7
    with pytest.raises(ConfigError, match="same seeds"):
        paired_difference([1.0, 2.0], [1.0])


def test_probability_of_improvement_hand_example_with_ties():
    a, b = [1.0, 2.0, 3.0], [2.0, 2.0, 0.0]
    # pairs a_i > b_j: (1: 0 wins, 1 vs 0) -> 1; (2: two ties, beats 0) -> 1 + 1; (3: beats all) -> 3
    assert probability_of_improvement(a, b).value == pytest.approx(6 / 9)
    assert probability_of_improvement(a, b, lower_is_better=True).value == pytest.approx(3 / 9)
    u = stats.mannwhitneyu(a, b).statistic  # U counts ties as 1/2, as Agarwal et al. 2021
    assert probability_of_improvement(a, b).value == pytest.approx(u / 9)
    est = probability_of_improvement(a, b, seed=0)
    assert 0.0 <= est.low <= est.value <= est.high <= 1.0
    assert tuple(probability_of_improvement([5.0, 6.0], [1.0, 2.0])) == (1.0, 1.0, 1.0)


def test_performance_profile_hand_example():
    inf = np.inf
    times = {"a": [1.0, inf, 3.0, 10.0], "b": [2.0, 4.0, 3.0, inf], "c": [inf, inf, inf, inf]}
    prof = performance_profile(times, [1.0, 2.0, 4.0])
    # best per problem: 1, 4, 3, 10. ratios a: 1, inf, 1, 1; b: 2, 1, 1, inf; c: all inf
    np.testing.assert_allclose(prof["a"], [0.75, 0.75, 0.75])
    np.testing.assert_allclose(prof["b"], [0.5, 0.75, 0.75])
    np.testing.assert_allclose(prof["c"], [0.0, 0.0, 0.0])
    with pytest.raises(ConfigError, match="tau"):
        performance_profile(times, [0.5])


def test_finding_b2_near_one_is_not_printed_as_1():
    from jaxgd.experiments.tune.report import hyper_text

    assert hyper_text(0.99987) == "0.99987" and hyper_text(0.9999) == "0.9999"
    assert hyper_text(0.00608) == "0.00608" and hyper_text(0.5444) == "0.544"
