"""scripts/reproduce_edge_of_stability.py: the files it writes, and (slow) the reproduction."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "reproduce_edge_of_stability.py"


def _script():
    pytest.importorskip("sklearn")
    spec = importlib.util.spec_from_file_location("reproduce_eos", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows(path: Path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(f))


def test_script_writes_one_row_per_run_and_measurement(tmp_path):
    assert _script().main(["--steps", "40", "--every", "20", "--rows", "100", "--iters", "5",
                           "--out", str(tmp_path)]) == 0
    rows = _rows(tmp_path / "eos.csv")
    want = [("0.3", "20"), ("0.3", "40"), ("0.6", "20"), ("0.6", "40")]
    assert [(r["lr"], r["step"]) for r in rows] == want
    assert all(float(r["sharpness"]) > 0 and float(r["loss"]) > 0 for r in rows)


@pytest.mark.slow
def test_sharpness_hovers_at_two_over_lr(tmp_path):
    # Cohen et al. 2021: under full-batch GD the sharpness settles at about 2/lr
    assert _script().main(["--out", str(tmp_path)]) == 0
    rows = _rows(tmp_path / "eos.csv")
    for lr in ("0.3", "0.6"):
        sharp = np.array([float(r["sharpness"]) for r in rows if r["lr"] == lr])
        tail = sharp[-len(sharp) // 5:].mean()
        assert tail == pytest.approx(2 / float(lr), rel=0.1)
