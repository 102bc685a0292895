"""jaxgd tune: Sobol trials inside the spaces, a planted winner, selection blind to test data, CLI files."""

import csv
import json

import jax
import numpy as np
import pytest
from scipy import stats

from jaxgd.cli import main
from jaxgd.core.errors import ConfigError
from jaxgd.experiments.config import TrainConfig
from jaxgd.experiments.tune.report import summarize
from jaxgd.experiments.tune.study import make_tune_data, tune
from jaxgd.experiments.tune.trials import draw_trials, parse_space, spaces_for
from jaxgd.reference.spaces import Axis, SearchSpace, search_space

TINY = TrainConfig(dataset="moons", n_samples=120, hidden=(8,), activation="tanh", epochs=25,
                   batch_size=24, seed=0, impl="hand")
SEEDS = [1, 2, 3, 4, 5]
ONE = jax.devices()[:1]  # the suite splits the CPU in 8; one device compiles faster


def test_trials_lie_inside_the_space_distinct_and_seeded():
    space = search_space("adam")  # learning_rate log, b1 lin, b2 log1m
    assert [a.name for a in space.axes] == ["learning_rate", "b1", "b2"]
    for n in (16, 12):  # a power of 2 (random_base2) and not (random, its warning handled)
        t = draw_trials(space, n, seed=7)
        assert t.shape == (n, 3)
        for j, a in enumerate(space.axes):
            assert np.all((t[:, j] >= a.low) & (t[:, j] <= a.high))
        assert len({tuple(r) for r in t}) == n
        np.testing.assert_array_equal(t, draw_trials(space, n, seed=7))
        assert not np.allclose(t, draw_trials(space, n, seed=8))


def test_log_axes_are_uniform_in_log_space():
    space = SearchSpace("x", "adam", (Axis("learning_rate", 1e-5, 1e-1, "log"),
                                      Axis("b2", 0.9, 0.9999, "log1m")))
    t = draw_trials(space, 64, seed=0)
    u_lr = (np.log10(t[:, 0]) + 5) / 4  # uniform on [0, 1] if log-uniform
    u_b2 = (np.log10(1 - t[:, 1]) + 4) / 3
    for u in (u_lr, u_b2):
        assert stats.kstest(u, "uniform").pvalue > 0.5
        # Sobol's balance: each quarter of the unit interval holds exactly a quarter of 64 points
        np.testing.assert_array_equal(np.histogram(u, bins=4, range=(0, 1))[0], [16] * 4)


def test_default_spaces_follow_the_factory():
    assert search_space("sgd").axes == (Axis("learning_rate", 1e-4, 1.0, "log"),)  # momentum=None: off
    assert [a.name for a in search_space("momentum").axes] == ["learning_rate", "momentum"]
    assert search_space("momentum").optimizer == "sgd"
    assert [a.name for a in search_space("adamw").axes] == ["learning_rate", "b1", "b2", "weight_decay"]
    assert search_space("adadelta").axes[0] == Axis("learning_rate", 1e-2, 10.0, "log")  # capped


@pytest.mark.parametrize("text, match", [
    ("adam:bogus=1:2", "bogus"), ("adam:b1=0.9:0.5", "not below"), ("adam:learning_rate=0:1:log", "LO > 0"),
    ("adam:b2=0.9:1:log1m", "HI < 1"), ("adam-lr=1:2", "not of the form"), ("adam:b1=x:1", "finite"),
    ("sgd:learning_rate=1e-3:1e-2:log", "not among")])
def test_bad_space_is_refused(text, match):
    with pytest.raises(ConfigError, match=match):
        spaces_for(["adam"], TINY, [parse_space(text)])


@pytest.fixture(scope="module")
def planted():
    """adam against sgd held to learning rates <= 1e-5: sgd barely moves in 25 epochs."""
    spaces = spaces_for(["sgd", "adam"], TINY, [parse_space("sgd:learning_rate=1e-6:1e-5:log")])
    return tune(TINY, spaces, 4, SEEDS, metric="val_loss", target=0.5, devices=ONE)


@pytest.mark.slow  # compiles several sweeps: tens of seconds on a shared CPU
def test_planted_winner_is_found_with_confidence(planted):
    summary = summarize([planted], trials=4)
    pair = summary["datasets"][0]["pairs"][0]
    assert (pair["a"], pair["b"]) == ("sgd", "adam")
    diff, poi = pair["difference"], pair["p_improvement"]  # test_loss sgd - adam
    assert diff["low"] > 0  # the interval excludes 0: adam's test loss is lower on the seeds
    assert 1 - poi["mean"] > 0.9  # P(adam better) = 1 - P(sgd better)
    sgd = planted.outcomes["sgd"]
    assert np.all(sgd.trials[:, 0] <= 1e-5)
    row = summary["datasets"][0]["optimizers"][1]
    assert row["best"]["learning_rate"] == pytest.approx(planted.outcomes["adam"].trials[
        planted.outcomes["adam"].best, 0])


@pytest.mark.slow  # compiles several sweeps: tens of seconds on a shared CPU
def test_seed_rerun_metrics_match_the_history(planted):
    o = planted.outcomes["adam"]
    # the re-run's validation loss at the last epoch is the sweep's test slot; the test loss is
    # evaluated afterwards on other rows, so the two differ
    np.testing.assert_allclose(o.val, o.final.history["test_loss"][:, -1])
    assert not np.allclose(o.val, o.test)
    assert o.final.grid.seeds.tolist() == SEEDS
    assert np.all(o.tuning.grid.seeds == TINY.seed)


@pytest.mark.slow  # compiles several sweeps: tens of seconds on a shared CPU
def test_selection_never_reads_test_data(planted):
    data = make_tune_data(TINY)
    wrong = 1 - np.asarray(data.y_test)  # every test label flipped
    spaces = {"adam": planted.outcomes["adam"].space}
    again = tune(TINY, spaces, 4, SEEDS, metric="val_loss", data=data._replace(y_test=wrong),
                 devices=ONE)
    a, b = planted.outcomes["adam"], again.outcomes["adam"]
    assert b.best == a.best
    np.testing.assert_array_equal(b.trials[b.best], a.trials[a.best])
    np.testing.assert_allclose(b.scores, a.scores, rtol=1e-6)
    assert np.all(b.test > a.test)  # the test loss did see the flipped labels


@pytest.mark.slow  # compiles several sweeps: tens of seconds on a shared CPU
def test_cli_tune_writes_the_documented_files(tmp_path, capsys):
    out = tmp_path / "study"
    code = main(["tune", "--dataset", "moons", "--n-samples", "80", "--hidden", "4", "--epochs", "5",
                 "--optimizers", "sgd,adam", "--trials", "2", "--seeds", "2", "--target", "0.6",
                 "--metric", "val_accuracy", "--out", str(out), "--json"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["budget"] == {"trials": 2, "seeds": 2, "epochs": 5, "runs": 4}
    with open(out / "trials.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["dataset", "optimizer", "trial", "learning_rate", "b1", "b2", "seed",
                             "val_loss", "val_accuracy", "selected", "diverged_at"]
    assert len(rows) == 4 and sum(int(r["selected"]) for r in rows) == 2
    assert rows[0]["b1"] == ""  # sgd has no b1 axis
    with open(out / "seeds.csv") as f:
        seeds = list(csv.DictReader(f))
    assert list(seeds[0]) == ["dataset", "optimizer", "seed", "val_loss", "test_loss", "val_accuracy",
                              "test_accuracy", "epochs_to_target", "diverged_at"]
    assert [int(r["seed"]) for r in seeds] == [1, 2, 1, 2]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["kind"] == "tune" and summary["optimizers"] == ["sgd", "adam"]


@pytest.mark.parametrize("space", ["adam:nope=1:2", "adam:learning_rate=1:0.1:log",
                                   "adam:learning_rate=-1:1:log"])
def test_cli_bad_space_exits_2_with_one_line(tmp_path, capsys, space):
    code = main(["tune", "--dataset", "moons", "--optimizers", "adam", "--space", space,
                 "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("jaxgd tune: error:")
    assert not (tmp_path / "x").exists()
