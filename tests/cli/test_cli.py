"""`jaxgd train` end to end: the default seed job, the run folder, JSON, errors."""

from __future__ import annotations

import json
import subprocess
import sys

import jax
import numpy as np
import pytest

from jaxgd.cli import main
from jaxgd.experiments.records import read_metrics_csv


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "seed"
    code = main(["train", "--quiet", "--out", str(out)])
    return code, out


def test_default_train_is_the_seed_network_and_learns_xor(default_run):
    code, out = default_run
    assert code == 0
    cfg = json.loads((out / "config.json").read_text())
    assert (cfg["dataset"], cfg["hidden"], cfg["activation"], cfg["impl"]) == ("xor", [3], "sigmoid", "both")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["final_loss"] < 0.01 and summary["train_accuracy"] == 1.0
    assert summary["max_abs_dev_vs_optax"] < 1e-6  # plain GD: hand and optax are the same rule
    metrics = read_metrics_csv(out / "metrics.csv")
    assert len(metrics["epoch"]) == summary["epochs"] == 10000
    assert np.all(np.isfinite(metrics["loss"])) and metrics["loss"][-1] < metrics["loss"][0]
    np.testing.assert_allclose(metrics["loss"], metrics["optax_loss"], rtol=1e-5)
    with np.load(out / "params.npz") as z:
        assert z["[0].w"].shape == (2, 3) and z["[1].b"].shape == (1,)


def test_json_summary_line(tmp_path, capsys):
    code = main(["train", "--json", "--epochs", "200", "--optimizer", "adam", "--lr", "0.05",
                 "--out", str(tmp_path / "r")])
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    s = json.loads(lines[0])
    assert {"final_loss", "epochs", "seconds", "train_accuracy", "max_abs_dev_vs_optax"} <= set(s)
    assert s["epochs"] == 200 and s["max_abs_dev_vs_optax"] < 1e-4


def test_human_report_shows_predictions_and_deviation(tmp_path, capsys):
    assert main(["train", "--epochs", "50", "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "final loss" in out and "max |hand - optax|" in out
    assert out.count("] | [") == 4  # the four XOR predictions, "x -> output | target"


def test_minibatch_classification_with_test_split(tmp_path, capsys):
    code = main(["train", "--dataset", "moons", "--hidden", "16", "--activation", "tanh",
                 "--optimizer", "sgd", "--momentum", "0.9", "--lr", "0.1", "--batch-size", "32",
                 "--epochs", "60", "--test-fraction", "0.25", "--init", "glorot", "--json",
                 "--impl", "hand", "--out", str(tmp_path / "m")])
    assert code == 0
    s = json.loads(capsys.readouterr().out)
    assert s["train_accuracy"] > 0.8 and s["test_accuracy"] > 0.75
    assert "max_abs_dev_vs_optax" not in s  # only one side ran


def test_existing_output_folder_is_refused_and_kept(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["train", "--quiet", "--epochs", "5", "--out", str(out)]) == 0
    before = (out / "metrics.csv").read_text()
    assert main(["train", "--quiet", "--epochs", "7", "--out", str(out)]) == 2
    assert "already holds a jaxgd train result" in capsys.readouterr().err
    assert (out / "metrics.csv").read_text() == before
    assert main(["train", "--quiet", "--epochs", "7", "--out", str(out), "--overwrite"]) == 0
    assert len(read_metrics_csv(out / "metrics.csv")["epoch"]) == 7


def test_diverged_run_leaves_no_folder(tmp_path, capsys):
    out = tmp_path / "bad"
    code = main(["train", "--dataset", "sine", "--hidden", "16", "--activation", "relu",
                 "--init", "he", "--lr", "50", "--epochs", "300", "--quiet", "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err
    assert "diverged at epoch" in err and "learning rate 50.0" in err
    assert not out.exists() and not list(tmp_path.iterdir())


@pytest.mark.skipif(bool([d for d in jax.devices() if d.platform == "gpu"]), reason="a GPU is present")
def test_missing_gpu_is_a_clear_error(tmp_path, capsys):
    assert main(["train", "--device", "gpu", "--quiet", "--out", str(tmp_path / "g")]) == 2
    err = capsys.readouterr().err
    assert "device='gpu'" in err and 'pip install -e ".[cuda]"' in err


def test_unknown_optimizer_suggests(capsys, tmp_path):
    assert main(["train", "--optimizer", "adm", "--out", str(tmp_path / "x")]) == 2
    assert "Did you mean 'adam'?" in capsys.readouterr().err


def test_python_dash_m_runs(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "jaxgd", "train", "--epochs", "20", "--json",
                           "--out", str(tmp_path / "p")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["epochs"] == 20


def test_plot_flag_writes_pictures(tmp_path, capsys):
    out = tmp_path / "p"
    assert main(["train", "--dataset", "circles", "--hidden", "8", "--activation", "tanh",
                 "--epochs", "20", "--impl", "hand", "--plot", "--json", "--out", str(out)]) == 0
    s = json.loads(capsys.readouterr().out)
    assert sorted(p.rsplit("/", 1)[-1] for p in s["plots"]) == ["boundary.png", "loss.png"]
    for name in ("loss.png", "boundary.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and (out / name).stat().st_size > 5000


@pytest.mark.parametrize("command", ["train", "sweep"])
def test_lbfgs_with_minibatches_ran_on_with_zero_updates_instead_of_refusing(tmp_path, capsys, command):
    """lbfgs on batches of 8 stalled for good (update exactly 0 from some epoch on) without a word."""
    args = [command, "--optimizer", "lbfgs", "--dataset", "moons", "--batch-size", "8", "--epochs", "1",
            "--quiet", "--out", str(tmp_path / "r")]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "optimizer 'lbfgs' with batch_size=8 (n=200)" in err[0]
    assert "Use --batch-size full" in err[0] and not (tmp_path / "r").exists()
