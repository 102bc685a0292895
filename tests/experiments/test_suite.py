"""jaxgd suite: a complete problem table, reachable targets (closed form on the quadratic), the
vmapped objective tuning equal to `descend` per trial, and the CLI."""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgd import optimizers
from jaxgd.cli import main
from jaxgd.core.errors import ConfigError
from jaxgd.experiments.tune.objective import objective_runs, starts, tune_objective
from jaxgd.experiments.tune.suite import (
    PROBLEMS,
    QUADRATIC_CONDITION,
    QUADRATIC_DIM,
    check_problems,
    objective,
)
from jaxgd.reference.spaces import search_space
from jaxgd.training.problems import descend

SEVEN = ("xor", "moons", "spirals", "digits", "mnist1d", "quadratic", "rosenbrock")


def test_the_table_has_the_seven_problems_each_with_a_target():
    assert tuple(PROBLEMS) == SEVEN
    for p in PROBLEMS.values():
        assert p.target > 0 and math.isfinite(p.target) and p.length > 0
        assert p.metric in ("val_loss", "val_accuracy", "f")
        if p.metric == "val_accuracy":
            assert p.target <= 1
        assert p.is_objective == (p.name in ("quadratic", "rosenbrock"))
        assert p.is_objective or p.hidden  # a dataset names its network
    assert PROBLEMS["quadratic"].target == 1e-3 and PROBLEMS["rosenbrock"].target == 1e-2


def _quadratic_gd_steps():
    """Closed form of GD on the quadratic at the optimal constant step 2/(L + mu), in float64."""
    p = PROBLEMS["quadratic"]
    c = np.logspace(0, np.log10(QUADRATIC_CONDITION), QUADRATIC_DIM)  # the curvatures, x0 = 0, x* = 1
    lr = 2 / (c.max() + c.min())
    k = np.arange(1, p.length + 1)
    f_exact = 0.5 * np.sum(c[None] * (1 - lr * c[None]) ** (2 * k[:, None]), axis=1)  # f(x_k)
    rho = (QUADRATIC_CONDITION - 1) / (QUADRATIC_CONDITION + 1)  # (kappa-1)/(kappa+1) per step
    f0 = 0.5 * c.sum()
    # the extreme curvatures contract by exactly rho, the others faster: f_k between these
    low = math.ceil(math.log(p.target / (0.5 * (c.min() + c.max()))) / (2 * math.log(rho)))
    high = math.ceil(math.log(p.target / f0) / (2 * math.log(rho)))
    return lr, int(np.argmax(f_exact <= p.target)) + 1, low, high


def test_quadratic_target_is_reached_when_the_contraction_predicts():
    lr, exact, low, high = _quadratic_gd_steps()
    assert low <= exact <= high < PROBLEMS["quadratic"].length  # reachable inside the budget
    pb = objective(PROBLEMS["quadratic"])
    history, _, _ = objective_runs(pb, search_space("sgd"), np.array([[lr]]), pb.x0[None],
                                   PROBLEMS["quadratic"].length)
    steps = int(np.argmax(history[0] <= PROBLEMS["quadratic"].target)) + 1
    assert steps == exact, (steps, exact, low, high)


def test_vmapped_objective_tuning_equals_descend_per_trial():
    p = PROBLEMS["rosenbrock"]
    pb = objective(p)
    steps = 200
    out = tune_objective(pb, search_space("momentum"), trials=4, seeds=[1, 2], steps=steps,
                         spread=p.spread, target=p.target)

    @jax.jit
    def one(x0, lr, mu):  # the plain scan of the rule, one trial at a time
        x, before = descend(pb.f, x0, optimizers.sgd(lr, mu), steps)
        return jnp.append(before[1:], pb.f(x))

    for i, (lr, mu) in enumerate(out.trials.astype(np.float32)):
        want = np.asarray(one(pb.x0, lr, mu), np.float64)
        want[np.cumsum(~np.isfinite(want)) > 0] = np.nan  # diverged: NaN from then on, as tuning
        np.testing.assert_allclose(out.tuning[i], want, rtol=1e-5, atol=1e-6)
    assert out.best == int(np.nanargmin(out.scores))
    x0s = starts(pb, [1, 2], p.spread)
    assert not np.allclose(x0s[0], x0s[1]) and np.allclose(x0s.mean(0), pb.x0, atol=0.5)
    lr, mu = out.trials[out.best].astype(np.float32)
    for s in range(2):  # the re-run from each seed's start
        np.testing.assert_allclose(out.final[s], one(x0s[s], lr, mu), rtol=1e-5, atol=1e-7)


def test_bad_problem_names_are_refused_with_the_accepted_ones():
    with pytest.raises(ConfigError, match="accepted: xor, moons, spirals, digits, mnist1d, quadratic"):
        check_problems(["quad"])
    with pytest.raises(ConfigError, match="twice"):
        check_problems(["xor", "xor"])


def test_cli_bad_problems_exits_2_with_one_line(capsys):
    assert main(["suite", "--problems", "quadratic,moon"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'moon'" in err[0] and "rosenbrock" in err[0]


@pytest.mark.slow  # compiles 6 small programs: about 10 s on a shared CPU
def test_cli_objectives_run_and_write_their_files(tmp_path, capsys):
    out = tmp_path / "s"
    code = main(["suite", "--problems", "quadratic,rosenbrock", "--trials", "4", "--seeds", "2",
                 "--out", str(out), "--json"])
    assert code == 0, capsys.readouterr().err
    printed = json.loads(capsys.readouterr().out)
    assert {p.name for p in out.iterdir()} >= {"summary.json", "suite.md"}
    summary = json.loads((out / "summary.json").read_text())
    assert [p["name"] for p in summary["problems"]] == ["quadratic", "rosenbrock"]
    assert printed["profile"] == summary["profile"]
    quad = summary["problems"][0]["summary"]
    assert quad["budget"] == {"trials": 4, "seeds": 2, "steps": 1000, "runs": 6}
    rows = {r["optimizer"]: r for r in quad["datasets"][0]["optimizers"]}
    assert set(rows) == {"sgd", "momentum", "adam"}
    assert rows["momentum"]["target"]["reached"] == 2  # heavy ball solves the quadratic
    fractions = summary["profile"]["fractions"]
    assert max(v[0] for v in fractions.values()) > 0  # someone is the best somewhere
    md = (out / "suite.md").read_text()
    assert "budget per optimizer: 4 trials + 2 seeds = 6 runs of 1000 steps" in md
    assert "performance profile over 2 problems" in md
