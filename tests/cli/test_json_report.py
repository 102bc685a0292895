"""`jaxgd sweep --json` and `jaxgd compare --json`: one JSON object on stdout with the figures."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

from jaxgd.cli import main

PROBLEM = ["--dataset", "xor", "--epochs", "30", "--seeds", "2", "--quiet", "--json"]


def only_json(capsys) -> dict:
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1  # nothing else on stdout
    return json.loads(lines[0])


def test_sweep_json_reports_speed_and_each_runs_final_metrics(tmp_path, capsys):
    assert main(["sweep", *PROBLEM, "--lr", "0.5,2", "--out", str(tmp_path / "s")]) == 0
    s = only_json(capsys)
    assert s["runs"] == 4 and s["devices"] >= 1
    assert s["device"] == jax.devices()[0].platform
    assert 0 < s["compile_seconds"] < s["seconds"] and 0 < s["run_seconds"] < s["seconds"]
    assert s["runs_per_second"] == s["runs"] / s["run_seconds"]
    assert [(r["seed"], r["hyper"]["learning_rate"]) for r in s["per_run"]] == [
        (0, 0.5), (1, 0.5), (0, 2.0), (1, 2.0)]
    stored = json.loads((tmp_path / "s" / "summary.json").read_text())["runs"]
    assert [r["final"]["loss"] for r in s["per_run"]] == [r["final_loss"] for r in stored]
    assert s["per_run"][2]["final"]["loss"] < s["per_run"][0]["final"]["loss"]  # lr 2 learns faster
    assert s["run_dir"] == str(tmp_path / "s") and s["best"]["hyper"] == {"learning_rate": 2.0}


def test_compare_json_sums_its_sweeps(tmp_path, capsys):
    assert main(["compare", *PROBLEM, "--optimizers", "sgd:hand", "adam:optax:learning_rate=0.05",
                 "--out", str(tmp_path / "c")]) == 0
    s = only_json(capsys)
    rows = s["optimizers"]
    assert [r["label"] for r in rows] == ["sgd:hand", "adam:optax:learning_rate=0.05"]
    assert s["runs"] == 4 and s["device"] == jax.devices()[0].platform
    for key in ("compile_seconds", "run_seconds"):  # rows round to 4 digits
        assert s[key] == pytest.approx(sum(r[key] for r in rows), abs=1e-3)
    assert s["runs_per_second"] == s["runs"] / s["run_seconds"]
    for r in rows:
        finals = [run["final"]["loss"] for run in r["per_run"]]
        assert [run["seed"] for run in r["per_run"]] == [0, 1]
        assert np.mean(finals) == pytest.approx(r["final_loss_mean"], rel=1e-6)
    assert s["run_dir"] == str(tmp_path / "c")
