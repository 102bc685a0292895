"""Defaults resolved per optimizer, activation and dataset; each test is named after the finding
it guards (a default tuned for the tutorial's XOR job applied to every job)."""

from __future__ import annotations

import dataclasses
import json

import jax
import numpy as np
import pytest

from jaxgd.cli import build_parser, main
from jaxgd.cli.common import config_from_args
from jaxgd.core import names
from jaxgd.experiments.build import make_problem
from jaxgd.experiments.compare import compare, parse_optimizer, spec_config
from jaxgd.experiments.config import TrainConfig
from jaxgd.experiments.defaults import origins, resolve_defaults
from jaxgd.experiments.header import run_header
from jaxgd.experiments.run import train
from jaxgd.experiments.sweep.engine import sweep
from jaxgd.experiments.sweep.grid import make_grid
from jaxgd.nn.models import init_mlp
from jaxgd.reference import DEFAULT_LEARNING_RATES

# the published / library defaults, written out again as the independent reference
PUBLISHED = {"adam": 1e-3, "adamw": 1e-3, "sgd": 1e-2, "rmsprop": 1e-2, "adagrad": 1e-2,
             "adamax": 2e-3, "nadam": 2e-3, "radam": 1e-3, "adadelta": 1.0, "rprop": 1e-2}
MOONS = TrainConfig(dataset="moons", n_samples=40, epochs=2)


def test_every_optimizer_has_one_default_learning_rate_with_a_source():
    assert set(DEFAULT_LEARNING_RATES) == set(names.OPTIMIZERS)
    for name, d in DEFAULT_LEARNING_RATES.items():
        assert 0 < d.value <= 1 and d.source.strip(), name
    assert {k: DEFAULT_LEARNING_RATES[k].value for k in PUBLISHED} == PUBLISHED


def test_finding_adam_default_lr_is_not_the_tutorials_0_5():
    out = train(TrainConfig(optimizer="adam", impl="hand"))  # xor, 10000 epochs, no --lr
    assert out.config.learning_rate == PUBLISHED["adam"] == DEFAULT_LEARNING_RATES["adam"].value
    assert out.summary["final_loss"] < 0.01  # with lr 0.5 Adam sticks at 0.167 (one point wrong)
    assert out.summary["train_accuracy"] == 1.0


@pytest.mark.parametrize("optimizer", ["sgd", "tutorial_momentum", "sgd_l2"])
def test_tutorial_rules_keep_0_5_on_xor_and_take_the_table_elsewhere(optimizer):
    assert resolve_defaults(TrainConfig(optimizer=optimizer)).learning_rate == 0.5
    other = resolve_defaults(TrainConfig(dataset="moons", optimizer=optimizer))
    assert other.learning_rate == DEFAULT_LEARNING_RATES[optimizer].value == 0.01


def test_tutorial_job_keeps_lr_0_5_and_randn():
    """The tutorial's job must not change: bitwise the params of the old defaults, given explicitly."""
    cfg = resolve_defaults(TrainConfig())
    assert (cfg.learning_rate, cfg.init, cfg.hidden, cfg.activation, cfg.batch_size) == (
        0.5, "normal", (3,), "sigmoid", None)
    old = TrainConfig(hidden=(3,), activation="sigmoid", init="normal", learning_rate=0.5,
                      batch_size=None, epochs=300, impl="hand")
    now = train(TrainConfig(epochs=300, impl="hand"))
    before = train(old)
    for a, b in zip(jax.tree.leaves(now.results["hand"].state.params),
                    jax.tree.leaves(before.results["hand"].state.params), strict=True):
        assert np.array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize(("activation", "dataset", "init"), [
    ("relu", "xor", "he"), ("relu", "moons", "he"), ("leaky_relu", "moons", "he"),
    ("gelu", "moons", "he"), ("elu", "moons", "he"), ("tanh", "moons", "glorot"),
    ("sigmoid", "moons", "glorot"), ("tanh", "xor", "glorot"), ("sigmoid", "xor", "normal")])
def test_finding_relu_gets_he_init(activation, dataset, init):
    cfg = resolve_defaults(TrainConfig(dataset=dataset, activation=activation))
    assert cfg.init == init
    fan_in, fan_out = 400, 300
    w = np.asarray(init_mlp(jax.random.key(0), (fan_in, fan_out), cfg.init)[0].w, np.float64)
    variance = {"he": 2 / fan_in, "glorot": 2 / (fan_in + fan_out), "normal": 1.0}[init]  # closed form
    assert abs(w.var() / variance - 1) < 0.03  # 120000 draws: the sample variance is within ~1%
    assert abs(w.mean()) < 0.01 * np.sqrt(variance)


@pytest.mark.parametrize(("dataset", "hidden", "batch"), [("digits", (128,), 32),
                                                          ("mnist1d", (256, 256), 128)])
def test_finding_digits_default_network(dataset, hidden, batch):
    cfg = resolve_defaults(TrainConfig(dataset=dataset, optimizer="adam"))
    assert (cfg.hidden, cfg.activation, cfg.init, cfg.batch_size, cfg.learning_rate) == (
        hidden, "relu", "he", batch, 1e-3)
    assert set(origins(cfg)) == {"hidden", "activation", "init", "batch_size", "epochs", "learning_rate"}


@pytest.mark.parametrize(("dataset", "epochs"), [("xor", 10_000), ("moons", 10_000), ("digits", 30),
                                                 ("mnist1d", 150)])
def test_finding_real_datasets_do_not_run_ten_thousand_epochs(dataset, epochs):
    # the tutorial's 10,000 full-batch epochs on digits were 440,000 minibatch steps
    assert resolve_defaults(TrainConfig(dataset=dataset)).epochs == epochs
    assert resolve_defaults(TrainConfig(dataset=dataset, epochs=7)).epochs == 7


@pytest.mark.parametrize("dataset", ["digits", "mnist1d"])
def test_finding_lbfgs_on_digits_was_refused_at_the_datasets_minibatch_default(dataset):
    # lbfgs needs one objective at every step (jaxgd.experiments.checks.FULL_BATCH_RULES): a run that
    # does not give --batch-size takes the full batch instead of the dataset's 32 and a refusal
    from jaxgd.core.errors import ConfigError
    from jaxgd.experiments.checks import FULL_BATCH, check_batch

    cfg = resolve_defaults(TrainConfig(dataset=dataset, optimizer="lbfgs"))
    assert cfg.batch_size == FULL_BATCH
    assert origins(cfg)["batch_size"].startswith("the full batch")
    assert resolve_defaults(TrainConfig(dataset=dataset, optimizer="adam")).batch_size != FULL_BATCH
    explicit = resolve_defaults(TrainConfig(dataset=dataset, optimizer="lbfgs", batch_size=32))
    assert explicit.batch_size == 32  # an explicit flag still wins, and is then refused by name
    with pytest.raises(ConfigError, match="'lbfgs' with batch_size=32.*--batch-size full"):
        check_batch("lbfgs", explicit.batch_size, 1000)


def test_batch_size_full_overrides_a_datasets_minibatch_default():
    from jaxgd.core.errors import ConfigError
    from jaxgd.experiments.config import FULL_BATCH, parse_batch_size, validate

    cfg = config_from_args(build_parser().parse_args(
        ["train", "--dataset", "digits", "--batch-size", "full", "--epochs", "2", "--impl", "hand",
         "--optimizer", "adam"]))
    assert resolve_defaults(cfg).batch_size == FULL_BATCH
    out = train(cfg)
    assert out.summary["epochs"] == 2
    # one step per epoch on every training row: two epochs are two steps of full-batch Adam
    full = train(dataclasses.replace(cfg, batch_size=make_problem(cfg).data.n))
    np.testing.assert_allclose(out.results["hand"].history["loss"], full.results["hand"].history["loss"],
                               rtol=1e-6)
    assert parse_batch_size(" FULL ") == FULL_BATCH
    with pytest.raises(ConfigError, match="whole number of examples or 'full'"):
        parse_batch_size("fool")
    with pytest.raises(ConfigError, match="--batch-size full"):
        validate(TrainConfig(batch_size=-1))


def test_digits_default_network_makes_a_softmax_classifier():
    pytest.importorskip("sklearn")
    pb = make_problem(TrainConfig(dataset="digits"))
    assert (pb.sizes, pb.loss) == ((64, 128, 10), "softmax_ce")


@pytest.mark.slow
def test_digits_defaults_train_to_a_high_test_accuracy():
    pytest.importorskip("sklearn")
    out = train(TrainConfig(dataset="digits", optimizer="adam", epochs=5, impl="hand"))
    assert out.summary["test_accuracy"] > 0.9


def test_explicit_flags_win():
    argv = ["train", "--dataset", "digits", "--optimizer", "adam", "--lr", "0.05", "--init", "normal",
            "--hidden", "16,8", "--activation", "tanh", "--batch-size", "64", "--epochs", "3"]
    cfg = resolve_defaults(config_from_args(build_parser().parse_args(argv)))
    assert (cfg.learning_rate, cfg.init, cfg.hidden, cfg.activation, cfg.batch_size, cfg.epochs) == (
        0.05, "normal", (16, 8), "tanh", 64, 3)
    assert origins(cfg) == {}
    assert resolve_defaults(TrainConfig(learning_rate=0.1)).learning_rate == 0.1  # xor + sgd too
    assert resolve_defaults(TrainConfig(activation="relu", init="glorot")).init == "glorot"


def test_finding_compare_uses_each_optimizers_default_lr():
    specs = [parse_optimizer(s) for s in ("sgd", "adam:optax", "rmsprop", "adam:hand:learning_rate=0.05")]
    assert [spec_config(MOONS, s).learning_rate for s in specs] == [0.01, 1e-3, 0.01, 0.05]
    given = dataclasses.replace(MOONS, learning_rate=0.2)  # --lr: every optimizer without its own
    assert [spec_config(given, s).learning_rate for s in specs] == [0.2, 0.2, 0.2, 0.05]
    result = compare(MOONS, specs[:2], [0])
    assert [r.config.learning_rate for r in result.results] == [0.01, 1e-3]


def test_sweep_uses_the_optimizers_default_lr():
    result = sweep(dataclasses.replace(MOONS, optimizer="adam"), make_grid({}, [0]))
    assert result.config.learning_rate == 1e-3 and result.config.init == "glorot"


def test_resume_keeps_resolved_defaults(tmp_path, capsys):
    run = tmp_path / "run"
    base = ["train", "--optimizer", "adam", "--impl", "hand", "--json", "--checkpoint-every", "5"]
    assert main([*base, "--epochs", "10", "--out", str(run)]) == 0
    stored = json.loads((run / "config.json").read_text())
    assert (stored["learning_rate"], stored["init"], stored["hidden"], stored["activation"]) == (
        1e-3, "normal", [3], "sigmoid")
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--epochs", "20", "--lr", "0.001", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["epochs"] == 20
    assert json.loads((run / "config.json").read_text())["learning_rate"] == 1e-3
    assert main(["train", "--resume", str(run), "--epochs", "30", "--lr", "0.5"]) == 2  # not the run's


def test_header_names_the_resolved_values_and_where_they_came_from():
    cfg = TrainConfig(optimizer="adam", activation="relu", epochs=50, seed=3)
    text = "\n".join(run_header(cfg, make_problem(cfg)))
    assert "adam(lr=0.001 (adam's default))" in text
    assert "he (He init for relu)" in text
    assert ": 1 update per epoch, 50 epochs\n" in text and "--seed 3" in text
    tutorial = "\n".join(run_header(TrainConfig(), make_problem(TrainConfig())))
    assert "sgd(lr=0.5 (the tutorial's, for sgd on xor))" in tutorial and "settings" not in tutorial


def test_header_shows_a_schedule_that_decayed_to_nothing():
    cfg = TrainConfig(schedule="tutorial_step", decay_every=100, decay_rate=0.9)  # 10000 epochs
    line = next(t for t in run_header(cfg, make_problem(cfg)) if t.startswith("schedule"))
    final = 0.5 * 0.9 ** 100  # the tutorial's decay fires at epochs 0, 100, ..., 9900
    assert "x0.9 every 100 epochs" in line and f"{final:.3g} at the last" in line
    assert "decayed over 1000x" in line


def test_docs_defaults_table_is_current():
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("defaults_table", root / "scripts" / "defaults_table.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert (root / "docs" / "defaults.md").read_text() == script.render(), \
        "docs/defaults.md is stale: run python scripts/defaults_table.py"


def test_a_rule_without_a_table_entry_needs_an_explicit_lr(tmp_path, monkeypatch):
    from jaxgd.core.errors import ConfigError

    (tmp_path / "own_rules_lr.py").write_text(
        "from jaxgd.optimizers import sgd\n"
        "def bare(learning_rate):\n    return sgd(learning_rate)\n"
        "def with_default(learning_rate=0.03):\n    return sgd(learning_rate)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = dataclasses.replace(TrainConfig(dataset="moons"), optimizer="own_rules_lr:bare")
    with pytest.raises(ConfigError, match=r"no default learning rate.*--lr"):
        resolve_defaults(cfg)
    assert resolve_defaults(dataclasses.replace(cfg, learning_rate=0.1)).learning_rate == 0.1
    # a factory with its own default learning rate: the run takes it
    own = dataclasses.replace(cfg, optimizer="own_rules_lr:with_default")
    assert resolve_defaults(own).learning_rate == 0.03


def test_finding_moons_header_does_not_call_it_the_tutorials_job():
    cfg = TrainConfig(dataset="moons", optimizer="adam", n_samples=40)
    text = "\n".join(run_header(cfg, make_problem(cfg)))
    assert "(the default for moons: the tutorial's network)" in text
    assert "sizes (2, 3, 1) (the tutorial's network)" not in text
