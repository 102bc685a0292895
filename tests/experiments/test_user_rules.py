"""A user's own rule MODULE:FACTORY in train, compare, sweep and crosscheck; broken ones are bad input.

The reference for a correct rule is jaxgd's own sgd: a user's plain SGD must follow the
same trajectory, to float32 rounding.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import numpy as np
import pytest

from jaxgd.cli import main
from jaxgd.core.errors import ConfigError
from jaxgd.experiments.compare import parse_optimizer, split_optimizers
from jaxgd.experiments.config import TrainConfig, validate
from jaxgd.experiments.run import train

REPO = Path(__file__).resolve().parents[2]

RULES = '''
import jax
from jaxgd.core.transform import Transform

not_callable = 3


def my_sgd(learning_rate=0.1):
    """Plain SGD, written by a user: u = -lr * g."""
    return Transform(lambda p: (), lambda g, s, p=None: (jax.tree.map(lambda x: -learning_rate * x, g), s))


def one_value(learning_rate=0.1, **kw):
    return Transform(lambda p: (), lambda g, s, p=None: jax.tree.map(lambda x: -learning_rate * x, g))


def not_a_pair(learning_rate=0.1, **kw):
    return Transform(lambda p: (), lambda g, s, p=None: (g, s, s))


def init_raises(learning_rate=0.1, **kw):
    def init(p):
        raise RuntimeError("boom in init")
    return Transform(init, lambda g, s, p=None: (g, s))


def no_update(learning_rate=0.1, **kw):
    return object()


def wrong_tree(learning_rate=0.1, **kw):
    return Transform(lambda p: (), lambda g, s, p=None: (jax.tree.leaves(g)[:1], s))


def wrong_shape(learning_rate=0.1, **kw):
    return Transform(lambda p: (), lambda g, s, p=None: (jax.tree.map(lambda x: x.reshape(-1)[:1], g), s))


def factory_raises(learning_rate=0.1, **kw):
    raise ValueError("bad lr")


def no_default(learning_rate, momentum=0.0):
    return my_sgd(learning_rate)
'''


@pytest.fixture
def rules(tmp_path, monkeypatch):
    """A fresh module of user rules, importable by name; yields the module name."""
    name = f"user_rules_{uuid.uuid4().hex[:8]}"
    folder = tmp_path / "mods"
    folder.mkdir()
    (folder / f"{name}.py").write_text(RULES)
    monkeypatch.syspath_prepend(str(folder))
    yield name
    sys.modules.pop(name, None)


XOR = ["--epochs", "20", "--lr", "0.5"]


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_finding_user_sgd_trains_like_builtin_sgd(rules):
    mine = train(TrainConfig(optimizer=f"{rules}:my_sgd", impl="hand", epochs=15))  # its own lr 0.1
    ref = train(TrainConfig(optimizer="sgd", impl="hand", epochs=15, learning_rate=0.1))
    assert mine.config.learning_rate == 0.1
    np.testing.assert_allclose(mine.results["hand"].history["loss"], ref.results["hand"].history["loss"],
                               rtol=1e-6)


def test_finding_train_accepts_module_factory(rules, tmp_path, capsys):
    spec = f"{rules}:my_sgd"
    assert main(["train", "--optimizer", spec, *XOR, "--out", str(tmp_path / "a"), "--json"]) == 0
    mine = _json(capsys)
    assert main(["train", "--optimizer", "sgd", "--impl", "hand", *XOR, "--out", str(tmp_path / "b"),
                 "--json"]) == 0
    ref = _json(capsys)
    assert mine["impl"] == "hand"  # the default for a user's rule, which has no optax twin
    assert mine["final_loss"] == pytest.approx(ref["final_loss"], rel=1e-6)
    assert json.loads((tmp_path / "a" / "config.json").read_text())["optimizer"] == spec


def test_finding_resume_reimports_module_factory(rules, tmp_path, capsys, monkeypatch):
    out = str(tmp_path / "run")
    spec = f"{rules}:my_sgd"
    assert main(["train", "--optimizer", spec, "--epochs", "10", "--checkpoint-every", "5",
                 "--out", out, "--json"]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", out, "--epochs", "20", "--json"]) == 0
    resumed = _json(capsys)
    assert resumed["epochs"] == 20
    ref = train(TrainConfig(optimizer="sgd", impl="hand", epochs=20, learning_rate=0.1))  # my_sgd's own lr
    assert resumed["final_loss"] == pytest.approx(float(ref.results["hand"].history["loss"][-1]), rel=1e-6)
    # the module is gone: a clear error naming it, exit 2
    sys.modules.pop(rules, None)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if not p.endswith("mods")])
    assert main(["train", "--resume", out, "--epochs", "30"]) == 2
    err = capsys.readouterr().err
    assert f"cannot import {rules!r}" in err and len(err.strip().splitlines()) == 1


def test_finding_impl_both_refused_for_user_rule(rules, tmp_path, capsys):
    spec = f"{rules}:my_sgd"
    with pytest.raises(ConfigError, match="no optax twin.*impl='hand'"):
        validate(TrainConfig(optimizer=spec))  # impl "both", the Python default
    assert main(["train", "--optimizer", spec, "--impl", "both", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "--impl hand" in err and f"crosscheck --hand {spec}" in err
    assert not (tmp_path / "x").exists()


def test_finding_malformed_spec_refused():
    with pytest.raises(ConfigError, match="MODULE:FACTORY"):
        validate(TrainConfig(optimizer="my-pkg:f", impl="hand"))


def test_finding_compare_accepts_module_factory(rules, tmp_path, capsys):
    spec = f"{rules}:my_sgd"
    assert split_optimizers(["adam,mypkg.rules:f", "sgd:hand:learning_rate=0.1,momentum=0.9"]) == [
        "adam", "mypkg.rules:f", "sgd:hand:learning_rate=0.1,momentum=0.9"]
    assert parse_optimizer("mypkg.rules:f:learning_rate=0.2").name == "mypkg.rules:f"
    assert main(["compare", "--optimizers", f"sgd:hand:learning_rate=0.1,{spec}", "--epochs", "10",
                 "--out", str(tmp_path / "c"), "--json"]) == 0  # my_sgd's own learning rate: 0.1
    rows = _json(capsys)["optimizers"]
    finals = [r["per_run"][0]["final"]["loss"] for r in rows]
    assert len(finals) == 2 and finals[1] == pytest.approx(finals[0], rel=1e-6)


def test_finding_sweep_accepts_module_factory(rules, tmp_path, capsys):
    def finals(optimizer, out):
        assert main(["sweep", "--optimizer", optimizer, "--lr", "0.1,0.5", "--epochs", "10",
                     "--out", str(tmp_path / out), "--json"]) == 0
        return [r["final"]["loss"] for r in _json(capsys)["per_run"]]

    mine, ref = finals(f"{rules}:my_sgd", "s1"), finals("sgd", "s2")
    assert len(mine) == 2 and mine != pytest.approx([mine[0]] * 2)  # two learning rates, two losses
    assert mine == pytest.approx(ref, rel=1e-6)


BROKEN = [  # (factory, extra flags, words the one line must hold)
    ("not_callable", [], "not callable"),
    ("nothing_here", [], "has no 'nothing_here'"),
    ("my_sgd", ["--b1", "0.5"], "my_sgd(learning_rate=0.1) does not take 'b1'"),
    ("no_update", [], "without init and update"),
    ("factory_raises", [], "raised ValueError: bad lr"),
    ("init_raises", [], "init(params) raised RuntimeError: boom in init"),
    ("one_value", [], "the updates alone"),
    ("not_a_pair", [], "returned a tuple of 3, not a pair"),
    ("wrong_tree", [], "updates with tree"),
    ("wrong_shape", [], "an update of shape (1,) for a parameter of shape"),
]


@pytest.mark.parametrize("factory, flags, words", BROKEN, ids=[b[0] for b in BROKEN])
def test_finding_broken_factory_exits_2_not_1(rules, factory, flags, words, capsys):
    code = main(["crosscheck", "--hand", f"{rules}:{factory}", "--reference", "adam", "--steps", "4",
                 *flags])
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "Traceback" not in captured.err
    assert f"rule '{rules}:{factory}'" in lines[0] and words in lines[0]
    assert "verdict" not in captured.out  # refused before any check ran


@pytest.mark.parametrize("factory", ["init_raises", "wrong_shape", "one_value"])
def test_finding_broken_factory_refused_by_train_before_work(rules, factory, tmp_path, capsys):
    code = main(["train", "--optimizer", f"{rules}:{factory}", "--out", str(tmp_path / "t")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and f"{rules}:{factory}" in err
    assert not (tmp_path / "t").exists()


def test_finding_module_not_importable_exits_2(tmp_path, capsys):
    assert main(["crosscheck", "--hand", "no_such_module_xyz:f", "--reference", "sgd"]) == 2
    err = capsys.readouterr().err
    assert "cannot import 'no_such_module_xyz'" in err and "PYTHONPATH" in err


@pytest.mark.slow
@pytest.mark.skipif(shutil.which(sys.executable) is None, reason="needs the interpreter")
def test_finding_broken_factory_subprocess_one_line(tmp_path):
    (tmp_path / "bad_rule.py").write_text(textwrap.dedent(RULES))
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "JAXGD_NO_COMPILE_CACHE": "1"}
    proc = subprocess.run([sys.executable, "-m", "jaxgd", "crosscheck", "--hand", "bad_rule:one_value",
                           "--reference", "sgd", "--steps", "3"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_optimizers_listing_shows_user_rule(rules, capsys):
    assert main(["optimizers", f"{rules}:my_sgd"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{rules}:my_sgd: Plain SGD, written by a user")
    assert "learning_rate   0.1" in out and "optax twin      none" in out


def test_finding_user_rule_without_default_lr_runs_with_lr_given(rules, tmp_path, capsys):
    # a factory whose learning_rate has no default: --lr given, train prints its header and
    # exits 0, and a sweep over --lr runs (both once refused "no default learning rate")
    spec = f"{rules}:no_default"
    assert main(["train", "--optimizer", spec, *XOR, "--out", str(tmp_path / "t")]) == 0
    out = capsys.readouterr().out
    assert f"{spec}(lr=0.5)" in out
    assert main(["sweep", "--optimizer", spec, "--lr", "0.1,0.5", "--epochs", "5",
                 "--out", str(tmp_path / "s"), "--json"]) == 0
    runs = _json(capsys)["per_run"]
    ref = train(TrainConfig(optimizer="sgd", impl="hand", epochs=5, learning_rate=0.5))
    assert runs[1]["final"]["loss"] == pytest.approx(float(ref.results["hand"].history["loss"][-1]),
                                                     rel=1e-6)
