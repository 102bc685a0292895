"""TrainConfig's declarations: checks, JSON round trip, resume rules; the schedule table."""

from __future__ import annotations

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgd import schedules as hand
from jaxgd.core.errors import ConfigError, UnknownNameError
from jaxgd.experiments.build import make_schedule
from jaxgd.experiments.config import FIELDS, RESUMABLE, TrainConfig, resume_config, validate
from jaxgd.experiments.fields import parse_assignment, parse_value, show_value
from jaxgd.reference import schedules as ref
from jaxgd.schedules.table import (
    SCHEDULES,
    ScheduleSettings,
    build_schedule,
    schedule_name,
    shaped_by_length,
)

NON_DEFAULT = [
    TrainConfig(dataset="moons", hidden=(16, 8), activation="tanh", optimizer="adam",
                learning_rate=1e-3, hyper=(("b1", 0.8), ("nesterov", True)), impl="optax",
                schedule="cosine", batch_size=32, epochs=7, n_samples=64, test_fraction=0.25,
                standardize=True, devices="all"),
    TrainConfig(dataset="data/points.csv", label_column="label", hidden=(), grad="autodiff",
                loss="bce", output_activation="sigmoid", checkpoint_every=5, devices=2,
                data_sharding="sharded"),
    TrainConfig(schedule="tutorial_step", decay_rate=0.5, decay_every=3, l2=0.01, tol=1e-7,
                gtol=1e-5, seed=11, grad="tutorial", optimizer="tutorial_momentum",
                hyper=(("momentum", 0.9), ("mask", None))),
]


def test_every_field_declares_help_and_the_resume_rule_is_derived():
    assert set(FIELDS) == {f.name for f in dataclasses.fields(TrainConfig)}
    for name, (_, opt) in FIELDS.items():
        assert opt.help.strip(), name
    assert set(RESUMABLE) == {"epochs", "checkpoint_every", "devices", "device", "tol", "gtol",
                              "eval_every"}


@pytest.mark.parametrize("cfg", NON_DEFAULT, ids=range(len(NON_DEFAULT)))
def test_json_round_trip_is_identity(cfg):
    validate(cfg)
    assert TrainConfig.from_dict(json.loads(cfg.to_json())) == cfg


@pytest.mark.parametrize(("changes", "pattern"), [
    (dict(decay_rate=0.0), r"decay_rate=0\.0 is outside the accepted range"),
    (dict(impl="hnad"), r"unknown impl 'hnad'\. Did you mean 'hand'"),
    (dict(output_activation="sigmod"), r"unknown output activation 'sigmod'\. Did you mean 'sigmoid'"),
    (dict(schedule="cosin"), r"unknown schedule 'cosin'\. Did you mean 'cosine'"),
    (dict(devices=0), r"devices=0 must be a positive integer.*--devices all"),
    (dict(checkpoint_every=2.5), r"checkpoint_every=2\.5: expected a whole number"),
    (dict(hyper=(("learning_rate", 0.1),)), r"use --learning-rate \(--lr\) instead"),
    (dict(hyper=("momentum",)), r"expected \(name, value\) pairs"),
    (dict(test_fraction=1.0), r"test_fraction=1\.0 is outside"),
])
def test_validate_names_the_field_by_its_declaration(changes, pattern):
    with pytest.raises((ConfigError, UnknownNameError), match=pattern):
        validate(TrainConfig(**changes))


@pytest.mark.parametrize(("text", "value"), [
    ("true", True), ("False", False), ("none", None), ("null", None), ("3", 3), ("-2", -2),
    ("1e-3", 1e-3), ("0.9", 0.9), ("(0.9, 0.99)", (0.9, 0.99)), ("[1, 2]", [1, 2]),
    ("'true'", "true"), ("sign", "sign"), ("", ""),
])
def test_set_grammar(text, value):
    got = parse_value(text)
    assert got == value and type(got) is type(value)
    assert parse_value(show_value(value)) == value  # show_value writes what parses back


def test_set_assignment_errors_name_the_item():
    assert parse_assignment("weight-decay=0.1") == ("weight_decay", 0.1)
    with pytest.raises(ConfigError, match=r"--set 'momentum': expected KEY=VALUE"):
        parse_assignment("momentum")
    with pytest.raises(ConfigError, match=r"--set value '\(0.9,' starts like a Python literal"):
        parse_assignment("betas=(0.9,")


# ----------------------------------------------------------------- resume rules
def test_resume_changes_only_the_given_resumable_fields():
    stored = TrainConfig(hidden=(4,), epochs=10, schedule="step")
    cfg = resume_config(stored, {"epochs": 20, "hidden": (4,)}, epochs_done=10)
    assert cfg == dataclasses.replace(stored, epochs=20)
    assert resume_config(stored, {}) == stored  # nothing given: the default (3,) is not a change
    with pytest.raises(ConfigError, match=r"hidden=\(3,\) differs from the run's hidden=\(4,\) "
                                          r"\(--hidden\)"):
        resume_config(stored, {"hidden": (3,)})
    with pytest.raises(ConfigError, match=r"learning_rate=0\.1 .*\(--learning-rate\)"):
        resume_config(stored, {"learning_rate": 0.1})
    with pytest.raises(ConfigError, match="shaped by the epoch count"):
        resume_config(dataclasses.replace(stored, schedule="cosine"), {"epochs": 20})


def test_resume_reads_an_old_spelling_as_the_new_one():
    stored = TrainConfig(grad="tutorial")
    with pytest.warns(DeprecationWarning, match="grad 'seed' is renamed 'tutorial'"):
        assert resume_config(stored, {"grad": "seed"}) == stored


# ----------------------------------------------------------------- the schedule table
TRAIN = ScheduleSettings(0.2, steps_per_epoch=3, total_steps=60, decay_rate=0.5, decay_every=4,
                         warmup_epochs=2)


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_every_schedule_builds_by_hand_and_with_optax_alike(name):
    steps = jnp.arange(70)
    by_hand = np.asarray(jax.vmap(build_schedule(name, TRAIN, hand))(steps))
    by_optax = np.asarray(jax.vmap(build_schedule(name, TRAIN, ref))(steps))
    np.testing.assert_allclose(by_hand, by_optax, rtol=2e-6, atol=1e-9)
    assert np.all(np.isfinite(by_hand)) and by_hand.max() <= 0.2 * (1 + 1e-6)


def test_train_schedules_follow_their_closed_forms():
    cfg = TrainConfig(learning_rate=0.2, decay_rate=0.5, decay_every=4, epochs=20)
    t = np.arange(60)
    epoch = t // 3
    expected = {"step": 0.2 * 0.5 ** (epoch // 4), "tutorial_step": 0.2 * 0.5 ** (epoch // 4 + 1),
                "exponential": 0.2 * 0.5 ** (t / 12), "staircase": 0.2 * 0.5 ** (t // 12),
                "piecewise": 0.2 * 0.5 ** ((t >= 20).astype(int) + (t >= 40))}
    for name, want in expected.items():
        for impl in ("hand", "optax"):
            got = make_schedule(dataclasses.replace(cfg, schedule=name), 3, impl)(t)
            np.testing.assert_allclose(got, want, rtol=1e-6, err_msg=f"{name} {impl}")
    assert make_schedule(cfg, 3, "hand") == 0.2  # constant: the float itself


def test_shaped_by_length_is_derived_from_the_arguments():
    shaped = {n for n in SCHEDULES if shaped_by_length(n)}
    assert shaped == {"cosine", "warmup_cosine", "linear", "polynomial", "piecewise", "onecycle"}


@pytest.mark.parametrize(("old", "new"), [("step_decay", "step"), ("tutorial_step_decay", "tutorial_step"),
                                          ("seed_step", "tutorial_step")])
def test_old_schedule_spellings_warn_and_name_the_new_one(old, new):
    with pytest.warns(DeprecationWarning, match=f"schedule '{old}' is renamed '{new}'"):
        assert schedule_name(old) == new
    with pytest.warns(DeprecationWarning, match=f"'{new}'"):
        assert TrainConfig(schedule=old).schedule == new


def test_compare_set_fills_in_what_an_optimizer_does_not_set_itself():
    from jaxgd.experiments.compare import parse_optimizer, spec_config

    cfg = TrainConfig(hyper=(("momentum", 0.5), ("nesterov", True)))
    c = spec_config(cfg, parse_optimizer("sgd:optax:momentum=0.9"))
    assert (c.hyper, c.impl, c.optimizer) == ((("momentum", 0.9), ("nesterov", True)), "optax", "sgd")
    with pytest.warns(DeprecationWarning, match="'tutorial_momentum'"):
        assert parse_optimizer("seed_momentum:hand").name == "tutorial_momentum"
