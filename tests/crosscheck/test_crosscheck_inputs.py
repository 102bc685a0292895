"""The crosscheck command's and function's input checks: tolerances, the step bound, params."""

from __future__ import annotations

import jax.numpy as jnp
import pytest

import jaxgd.reference as ref
from jaxgd import optimizers as hand
from jaxgd.cli import main
from jaxgd.core.errors import ConfigError, ResourceError
from jaxgd.core.limits import MAX_INT32
from jaxgd.crosscheck import crosscheck
from jaxgd.experiments.config import optimizer_names
from jaxgd.training import resources


def _one_line_exit_2(capsys, argv) -> str:
    code = main(argv)
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "Traceback" not in captured.err, captured.err
    return lines[0]


@pytest.mark.parametrize("value", ["-1", "-1e-9", "inf"])
def test_finding_rtol_negative_refused(capsys, value):
    line = _one_line_exit_2(capsys, ["crosscheck", "--optimizer", "sgd", "--rtol", value])
    assert f"--rtol={float(value)!r}" in line and "accepted: [0, inf]" in line


@pytest.mark.parametrize("value", ["nan", "-inf", "-0.5"])
def test_finding_atol_nan_refused(capsys, value):
    line = _one_line_exit_2(capsys, ["crosscheck", "--optimizer", "sgd", "--atol", value])
    assert "--atol=" in line and ("not finite" in line or "outside" in line)


def test_finding_rtol_atol_checked_in_python_api():
    for kwargs, pattern in [(dict(rtol=-1.0), "rtol=-1.0"), (dict(atol=float("nan")), "atol=nan"),
                            (dict(rtol={"float32": -1e-5}), r"rtol\['float32'\]")]:
        with pytest.raises(ConfigError, match=pattern):
            crosscheck(hand.sgd(0.1), hand.sgd(0.1), jnp.ones(2), steps=2, **kwargs)
    # 0 is accepted: bitwise equality, which one rule against itself meets
    assert crosscheck(hand.sgd(0.1), hand.sgd(0.1), jnp.ones(2), steps=3, rtol=0.0, atol=0.0).agree


@pytest.mark.parametrize("steps", ["1e13", str(MAX_INT32 + 1)])
def test_finding_steps_too_large_refused(capsys, steps):
    line = _one_line_exit_2(capsys, ["crosscheck", "--optimizer", "sgd", "--steps", steps])
    assert f"{MAX_INT32:,}" in line and "int32" in line


def test_finding_steps_beyond_memory_refused_with_estimate(monkeypatch):
    monkeypatch.setattr("jaxgd.crosscheck.inputs.available_memory", lambda *a: 2**20)  # 1 MiB free
    with pytest.raises(ResourceError, match=r"steps=100,000 needs about .* GiB .* bytes a step .* "
                                            r"accepted here: steps <= \d"):
        crosscheck(hand.sgd(0.1), hand.sgd(0.1), {"w": jnp.ones(3)}, steps=100_000)
    assert resources.available_memory() is None or resources.available_memory() > 2**20


@pytest.mark.parametrize("params, words", [
    (None, "params=None holds no arrays"),
    ({}, "params={} holds no arrays"),
    ({"w": "abc"}, "not an array"),
    ({"w": jnp.arange(3)}, "dtype int32"),
])
def test_finding_crosscheck_params_none(params, words):
    with pytest.raises(ConfigError, match="params") as err:
        crosscheck(hand.sgd(0.1), hand.sgd(0.1), params, steps=2)
    assert words in str(err.value)


@pytest.mark.parametrize("kwargs, words", [
    (dict(names="ab"), "names='ab'"), (dict(extra_args=[1]), "extra_args=[1]"),
    (dict(key="0"), "key='0'"), (dict(loss_fn=3), "loss_fn=3"), (dict(steps=2.5), "steps=2.5"),
])
def test_finding_crosscheck_wrong_argument_types(kwargs, words):
    with pytest.raises(ConfigError) as err:
        crosscheck(hand.sgd(0.1), hand.sgd(0.1), jnp.ones(2), **{"steps": 2, **kwargs})
    assert words in str(err.value)


def test_finding_reference_suggestions_user_facing_once(capsys):
    line = _one_line_exit_2(capsys, ["crosscheck", "--hand", "tests.planted_rules:sgd_forgetful_momentum",
                                     "--reference", "adamm"])
    assert "Did you mean 'adam'?" in line
    listed = line.split("Accepted reference values: ")[1].rstrip(".").split(", ")
    assert listed == sorted(set(listed))  # each once, sorted
    expected = {r.id for r in ref.OPTIMIZERS} | set(optimizer_names())
    assert set(listed) == expected
    assert not any(n.startswith(("scale_by", "Row", "chain")) for n in listed)  # no internal names

