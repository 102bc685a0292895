"""scripts/reproduce_mnist1d.py: the published MNIST-1D MLP accuracy with jaxgd's engine."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from jaxgd.core.errors import ConfigError

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "reproduce_mnist1d.py"
RESULT = re.compile(r"^MNIST-1D MLP: test accuracy (?P<acc>0\.\d{3}|1\.000)"
                    r"(?: \+/- (?P<std>\d\.\d{3}) \(mean \+/- std over (?P<k>\d+) seeds\))?"
                    r" \(published ~0\.68\), wall time (?P<s>\d+\.\d) s$", re.MULTILINE)


@pytest.fixture(scope="module")
def script():
    """The script as a module, loaded from its path (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("reproduce_mnist1d", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(*args: str, timeout: float) -> tuple[int, str, str]:
    proc = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


def test_config_is_the_published_baseline(script):
    cfg = script.make_config(6000, 100, 1e-2, 0, "hand")
    assert (cfg.dataset, cfg.hidden, cfg.activation, cfg.loss) == ("mnist1d", (100, 100), "relu",
                                                                   "softmax_ce")
    assert (cfg.optimizer, cfg.learning_rate, cfg.batch_size) == ("adam", 1e-2, 100)
    assert cfg.epochs == 150  # 6000 steps of 40 per epoch (4000 examples / batch 100)
    assert script.make_config(50, 100, 1e-2, 0, "hand").epochs == 2  # rounded up to whole epochs
    assert script.make_config(50, 3, 1e-2, 0, "hand").epochs == 1  # 1333 steps per epoch


@pytest.mark.parametrize("steps, batch", [(0, 100), (100, 0), (100, 4001)])
def test_bad_options_raise_config_error(script, steps, batch):
    with pytest.raises(ConfigError, match="steps|batch_size"):
        script.make_config(steps, batch, 1e-2, 0, "hand")


def test_short_run_prints_the_figure_and_exits_1_below_the_threshold(script, capsys):
    code = script.main(["--steps", "50", "--min-accuracy", "0.99"])
    out, err = capsys.readouterr()
    found = RESULT.search(out)
    assert found, out + err
    assert "80 steps (2 epochs)" in out  # 50 steps rounded up to whole epochs of 40
    acc = float(found["acc"])
    assert 0.2 < acc < 0.99  # learning (chance is 0.1) but far from done
    assert code == 1 and "below --min-accuracy 0.99" in err


def test_bad_option_exits_2_with_the_fix():  # the command line itself, in a fresh process
    code, out, err = _run("--batch-size", "5000", timeout=60)
    assert code == 2 and "batch_size=5000" in err and "--batch-size 100" in err
    assert not RESULT.search(out)


def test_seeds_with_both_sides_is_refused(script, capsys):
    assert script.main(["--seeds", "2", "--impl", "both"]) == 2
    assert "--impl hand or --impl optax" in capsys.readouterr().err


@pytest.mark.slow
def test_reproduces_the_published_mlp_accuracy():
    code, out, err = _run(timeout=900)
    found = RESULT.search(out)
    assert found, out + err
    assert float(found["acc"]) >= 0.60, out
    assert code == 0, err


@pytest.mark.slow
def test_mean_over_seeds_reproduces_the_published_mlp_accuracy():
    code, out, err = _run("--seeds", "4", timeout=900)
    found = RESULT.search(out)
    assert found and found["k"] == "4", out + err
    assert float(found["acc"]) >= 0.60 and float(found["std"]) < 0.05, out
    assert code == 0, err
