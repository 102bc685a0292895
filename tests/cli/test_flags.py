"""Flags derived from TrainConfig's declarations: help, round trip, given flags, one --set grammar."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from jaxgd.cli import build_parser, main
from jaxgd.cli.common import config_argv, config_from_args, given_fields
from jaxgd.cli.crosscheck_cmd import overrides_from
from jaxgd.cli.train_cmd import TRAIN_FIELDS
from jaxgd.core.errors import ConfigError
from jaxgd.experiments.config import FIELDS, TrainConfig, resume_config
from jaxgd.experiments.fields import flags_of
from jaxgd.experiments.sweep.engine import sweep
from jaxgd.experiments.sweep.grid import make_grid

PARSER = build_parser()
SUB = next(a for a in PARSER._actions if isinstance(a, argparse._SubParsersAction)).choices


def options(command: str) -> dict[str, argparse.Action]:
    return {s: a for a in SUB[command]._actions for s in a.option_strings}


def test_train_has_a_flag_for_every_field_with_help_default_and_choices():
    assert set(TRAIN_FIELDS) == set(FIELDS)
    flags = options("train")
    for name, (_, opt) in FIELDS.items():
        action = flags[flags_of(name, opt)[0]]
        assert action.dest == name and action.default is argparse.SUPPRESS
        assert action.help.count("default: ") == 1, name  # a switch: "default: off"
        if opt.choices is not None:
            assert action.help.count("choices: ") == 1, name
    assert flags["--lr"] is flags["--learning-rate"]
    assert "(choices: constant, exponential, staircase, step, tutorial_step," in flags["--schedule"].help
    assert "seed_step" not in flags["--schedule"].help and "seed" not in flags["--grad"].help


@pytest.mark.parametrize("command", ["train", "sweep", "compare", "crosscheck"])
def test_every_flag_has_help_and_shows_its_default_once(command):
    for flag, action in options(command).items():
        if flag in ("-h", "--help"):
            continue
        assert action.help and action.help.strip(), flag
        assert action.help.count("default:") <= 1, flag
        if action.default not in (None, argparse.SUPPRESS, False, []) and action.nargs != 0:
            assert "default: " in action.help, flag


ROUND_TRIP = [
    TrainConfig(dataset="moons", hidden=(16, 8), activation="tanh", optimizer="adam",
                learning_rate=1e-3, hyper=(("b1", 0.8), ("betas", (0.9, 0.99)), ("mask", None),
                                           ("nesterov", True), ("tag", "1")),
                impl="optax", schedule="warmup_cosine", warmup_epochs=3, batch_size=32, epochs=7,
                n_samples=64, test_fraction=0.25, standardize=True, devices="all"),
    TrainConfig(dataset="data/points.csv", label_column="label", hidden=(), grad="autodiff",
                loss="bce", output_activation="sigmoid", checkpoint_every=5, devices=2, seed=3),
    TrainConfig(schedule="tutorial_step", decay_rate=0.5, decay_every=3, l2=0.01, tol=1e-7,
                gtol=1e-5, grad="tutorial", optimizer="tutorial_momentum", device="gpu"),
]


@pytest.mark.parametrize("cfg", ROUND_TRIP, ids=range(len(ROUND_TRIP)))
def test_config_to_argv_to_config_is_identity(cfg):
    argv = config_argv(cfg, TRAIN_FIELDS)
    args = PARSER.parse_args(["train", *argv])
    assert config_from_args(args) == cfg
    assert set(given_fields(args)) == {n for n in FIELDS if getattr(cfg, n) != getattr(TrainConfig(), n)}


def test_given_flags_come_from_the_namespace_even_when_equal_to_the_default():
    args = PARSER.parse_args(["train", "--resume", "run", "--hidden", "3", "--epochs", "20"])
    assert given_fields(args) == {"hidden": (3,), "epochs": 20}
    assert not hasattr(args, "learning_rate")  # not given: not in the namespace at all
    stored = TrainConfig(hidden=(4,), epochs=10)
    with pytest.raises(ConfigError, match=r"hidden=\(3,\) differs from the run's hidden=\(4,\)"):
        resume_config(stored, given_fields(args))
    unchanged = PARSER.parse_args(["train", "--resume", "run", "--epochs", "20"])
    assert resume_config(stored, given_fields(unchanged)) == TrainConfig(hidden=(4,), epochs=20)


def test_bad_flag_text_is_one_clear_error(capsys):
    assert main(["train", "--epochs", "1e3"]) == 2
    assert "--epochs '1e3': expected an integer, e.g. --epochs 100." in capsys.readouterr().err
    assert main(["train", "--momentum", "high"]) == 2
    assert "--momentum 'high': expected a number" in capsys.readouterr().err


SET = ["--set", "nesterov=true", "--set", "eps=1e-3", "--set", "mask=none", "--set", "betas=(0.9, 0.99)"]
EXPECTED = {"nesterov": True, "eps": 1e-3, "mask": None, "betas": (0.9, 0.99)}


def test_set_grammar_is_the_same_in_every_subcommand():
    got = {
        "train": dict(config_from_args(PARSER.parse_args(["train", *SET])).hyper),
        "sweep": dict(config_from_args(PARSER.parse_args(["sweep", *SET])).hyper),
        "compare": dict(config_from_args(PARSER.parse_args(["compare", "--optimizers", "sgd", *SET])).hyper),
        "crosscheck": overrides_from(PARSER.parse_args(["crosscheck", *SET])),
    }
    for command, hyper in got.items():
        assert hyper == EXPECTED and type(hyper["nesterov"]) is bool, command


def test_shortcut_flags_and_set_share_one_field_last_wins():
    args = PARSER.parse_args(["train", "--momentum", "0.5", "--nesterov", "--set", "momentum=0.9"])
    assert config_from_args(args).hyper == (("momentum", 0.9), ("nesterov", True))


def test_sweep_and_compare_expose_their_own_defaults():
    assert config_from_args(PARSER.parse_args(["sweep"])).impl == "hand"
    assert "choices: hand, optax;" in options("sweep")["--impl"].help
    cfg = config_from_args(PARSER.parse_args(["compare", "--optimizers", "sgd", "--lr", "0.1",
                                              "--l2", "0.01"]))
    assert (cfg.learning_rate, cfg.l2) == (0.1, 0.01)


# ----------------------------------------------------------------- old spellings
def test_grad_seed_works_and_warns_once(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["train", "--grad", "seed", "--epochs", "3", "--impl", "hand", "--json",
                 "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert err.count("grad 'seed' is renamed 'tutorial'") == 1
    assert err.startswith("jaxgd train: warning: ")
    assert json.loads((out / "config.json").read_text())["grad"] == "tutorial"


def test_crosscheck_old_schedule_spelling_warns_and_runs_the_new_one(capsys):
    assert main(["crosscheck", "--optimizer", "sgd", "--schedule", "step_decay", "--steps", "8",
                 "--json"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["settings"]["schedule"] == "step"
    assert out.err.count("schedule 'step_decay' is renamed 'step'") == 1


def test_train_accepts_the_crosscheck_schedule_spellings():
    with pytest.warns(DeprecationWarning, match="'tutorial_step'"):
        cfg = config_from_args(PARSER.parse_args(["train", "--schedule", "tutorial_step_decay"]))
    assert cfg.schedule == "tutorial_step"


def test_sweep_side_keyword_warns_and_works():
    cfg = TrainConfig(epochs=2, hidden=(2,))
    grid = make_grid({"learning_rate": [0.5]}, [0])
    with pytest.warns(DeprecationWarning, match=r"sweep\(side=\.\.\.\) is renamed sweep\(impl=\.\.\.\)"):
        old = sweep(cfg, grid, side="optax")
    new = sweep(cfg, grid, impl="optax")
    assert new.impl == "optax"
    np.testing.assert_array_equal(old.history["loss"], new.history["loss"])
    with pytest.warns(DeprecationWarning, match=r"SweepResult.side is renamed SweepResult.impl"):
        assert old.side == "optax"
