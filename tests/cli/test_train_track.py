"""`jaxgd train --track`: the columns in metrics.csv, tracking.png, bad specs, --resume."""

from __future__ import annotations

import json

import numpy as np
import pytest

from jaxgd.cli import main
from jaxgd.experiments.records import read_metrics_csv


def test_train_track_writes_the_columns_and_the_plot(tmp_path, capsys):
    out = tmp_path / "r"
    argv = ["train", "--track", "sharpness:2,noise_scale,monitors", "--epochs", "4", "--impl", "hand",
            "--out", str(out), "--plot"]
    assert main(argv) == 0, capsys.readouterr().err
    text = capsys.readouterr().out
    assert "track          sharpness every 2 epochs" in text
    m = read_metrics_csv(out / "metrics.csv")
    for k in ("sharpness", "two_over_lr", "noise_scale", "lr", "update_norm", "update_ratio",
              "update_ratio[0].w", "update_ratio[1].b"):
        assert k in m, k
    assert np.isnan(m["sharpness"][[0, 2]]).all() and (m["sharpness"][[1, 3]] > 0).all()
    assert np.isfinite(m["noise_scale"]).all() and (m["two_over_lr"][[1, 3]] == 4).all()
    np.testing.assert_allclose(m["update_norm"], 0.5 * m["grad_norm"], rtol=1e-5)  # GD: lr * ||g||
    assert (out / "tracking.png").is_file() and f"plot           {out / 'tracking.png'}" in text
    assert json.loads((out / "config.json").read_text())["track"] == [["sharpness", 2], ["noise_scale", 1],
                                                                      ["monitors", 1]]


def test_train_without_track_writes_no_tracked_column(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["train", "--epochs", "2", "--impl", "hand", "--out", str(out), "--quiet"]) == 0
    assert set(read_metrics_csv(out / "metrics.csv")) == {"epoch", "loss", "grad_norm", "train_accuracy"}


@pytest.mark.parametrize("spec, fragment", [
    ("sharpnes", "unknown instrument 'sharpnes'. Did you mean 'sharpness'?"),
    ("sharpness:-2", "EVERY '-2' of sharpness is not a whole number"),
    ("sharpness:x", "EVERY 'x' of sharpness"),
    ("monitors,monitors", "monitors is named twice"),
])
def test_train_bad_track_spec_exits_2_with_one_line(spec, fragment, tmp_path, capsys):
    assert main(["train", "--track", spec, "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"--track {spec!r}: {fragment}" in err
    assert "Accepted: sharpness[:EVERY], noise_scale[:EVERY] and monitors" in err
    assert not (tmp_path / "r").exists()


def test_train_resume_keeps_tracking(tmp_path, capsys):
    out = tmp_path / "r"
    first = ["train", "--track", "sharpness:2,monitors", "--epochs", "2", "--checkpoint-every", "2",
             "--impl", "hand", "--out", str(out), "--quiet"]
    assert main(first) == 0, capsys.readouterr().err
    assert main(["train", "--resume", str(out), "--epochs", "4", "--quiet"]) == 0, capsys.readouterr().err
    m = read_metrics_csv(out / "metrics.csv")
    assert len(m["epoch"]) == 4
    assert np.isnan(m["sharpness"][[0, 2]]).all() and (m["sharpness"][[1, 3]] > 0).all()
    assert np.isfinite(m["update_norm"]).all()
    assert main(["train", "--resume", str(out), "--epochs", "6", "--track", "sharpness:3"]) == 2
    assert "--resume: track=" in capsys.readouterr().err
