"""Checkpoints: exact round trips, refusals naming the key path, resume in a fresh process."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgd import optimizers as O
from jaxgd.cli import build_parser, main
from jaxgd.cli.train_cmd import config_from_args
from jaxgd.core.errors import CheckpointError
from jaxgd.experiments.records import read_metrics_csv
from jaxgd.experiments.run import train
from jaxgd.experiments.runfolder import CHECKPOINT, RunFolder
from jaxgd.nn.models import init_mlp
from jaxgd.training.checkpoint import MANIFEST, load_checkpoint, save_checkpoint
from jaxgd.training.engine import init_state

ROOT = Path(__file__).resolve().parents[2]


def state_for(sizes=(2, 3, 1), tx=None, seed=0):
    params = init_mlp(jax.random.key(seed), sizes)
    return {"hand": init_state(params, tx or O.adam(0.1), jax.random.key(seed + 7))}


def test_round_trip_is_exact_with_typed_keys_extras_and_meta(tmp_path):
    tree = state_for()
    tree["hand"] = tree["hand"]._replace(step=jnp.int32(12), key=jax.random.split(tree["hand"].key)[0])
    save_checkpoint(tmp_path / "c.npz", tree, {"epochs": 3}, {"hand/loss": np.float32([0.5, 0.25])})
    got = load_checkpoint(tmp_path / "c.npz", state_for(seed=1))  # like: other values, same structure
    for a, b in zip(jax.tree.leaves(got.tree), jax.tree.leaves(tree), strict=True):
        if jax.dtypes.issubdtype(b.dtype, jax.dtypes.prng_key):
            a, b = jax.random.key_data(a), jax.random.key_data(b)
        assert np.asarray(a).dtype == np.asarray(b).dtype
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert jax.random.key_impl(got.tree["hand"].key) == jax.random.key_impl(tree["hand"].key)
    assert got.meta == {"epochs": 3} and got.extras["hand/loss"].tolist() == [0.5, 0.25]
    assert not [p for p in tmp_path.iterdir() if p.name != "c.npz"]  # no temp file left behind


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "c.npz"
    save_checkpoint(path, state_for(), {"epochs": 1})
    return path


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(CheckpointError, match=r"no checkpoint at .*nope\.npz"):
        load_checkpoint(tmp_path / "nope.npz", state_for())


def test_truncated_file_is_refused(saved):
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(saved, state_for())


def test_flipped_byte_in_an_array_is_refused(saved):
    w = np.asarray(state_for()["hand"].params[0].w)
    data = bytearray(saved.read_bytes())
    at = data.find(w.tobytes())
    assert at > 0
    data[at + 5] ^= 0xFF
    saved.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupt|checksum"):
        load_checkpoint(saved, state_for())


def test_changed_array_in_a_valid_zip_fails_the_checksum(saved):
    with np.load(saved) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["['hand'].params[1].b"] = arrays["['hand'].params[1].b"] + 1
    with open(saved, "wb") as f:
        np.savez(f, **arrays)
    with pytest.raises(CheckpointError, match="SHA-256 checksum"):
        load_checkpoint(saved, state_for())


def test_another_model_names_the_key_path_and_both_shapes(saved):
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(saved, state_for(sizes=(2, 4, 1)))
    msg = str(e.value)
    assert "['hand'].params[0].w expected (2, 4) float32, found (2, 3) float32" in msg


def test_another_optimizer_names_the_missing_key_path(saved):
    with pytest.raises(CheckpointError, match=r"holds \[.hand.\]\.opt_state\[0\]\.count"):
        load_checkpoint(saved, state_for(tx=O.sgd(0.1)))  # sgd has no moments
    with pytest.raises(CheckpointError, match=r"has no \['hand'\]\.opt_state\[0\]\.trace"):
        load_checkpoint(saved, state_for(tx=O.sgd(0.1, momentum=0.9)))


def test_another_format_version_is_refused(saved):
    with np.load(saved) as z:
        arrays = {k: z[k] for k in z.files}
    manifest = json.loads(bytes(arrays[MANIFEST]))
    manifest["version"] = 99
    arrays[MANIFEST] = np.frombuffer(json.dumps(manifest).encode(), np.uint8)
    with open(saved, "wb") as f:
        np.savez(f, **arrays)
    with pytest.raises(CheckpointError, match="version 99; this jaxgd reads 'jaxgd-checkpoint' version 1"):
        load_checkpoint(saved, state_for())
    assert zipfile.is_zipfile(saved)


# ----------------------------------------------------------------------------- end to end

RUN = ["--dataset", "sine", "--n-samples", "32", "--hidden", "4", "--batch-size", "8",
       "--optimizer", "adam", "--lr", "0.01", "--epochs", "8", "--quiet"]


class Crash(Exception):
    """Stands for the process dying right after a checkpoint was written."""


class CrashAfter(RunFolder):
    def __init__(self, path, saves):
        super().__init__(path)
        self.left = saves

    def save(self, snap):
        super().save(snap)
        self.left -= 1
        if self.left == 0:
            raise Crash


def crashed_run(out: Path, saves: int) -> None:
    """Run RUN with a checkpoint every 3 epochs and die after ``saves`` checkpoints."""
    args = build_parser().parse_args(["train", *RUN, "--checkpoint-every", "3"])
    with pytest.raises(Crash), CrashAfter(out, saves) as folder:  # a dead process frees its lock
        train(config_from_args(args), folder=folder)
    assert (out / CHECKPOINT).is_file() and not (out / "summary.json").exists()


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "run"
    assert main(["train", *RUN, "--out", str(out)]) == 0
    return out


def assert_same_run(a: Path, b: Path) -> None:
    """Bitwise: every metric of every epoch, every parameter of both sides."""
    assert (a / "metrics.csv").read_text() == (b / "metrics.csv").read_text()
    for name in ("params.npz", "params_optax.npz"):
        with np.load(a / name) as x, np.load(b / name) as y:
            assert x.files == y.files
            for k in x.files:
                np.testing.assert_array_equal(x[k], y[k])


@pytest.mark.slow  # 25-40 s: fresh processes or many devices; run with pytest -m slow
def test_resume_in_a_fresh_process_is_bitwise_the_uninterrupted_run(tmp_path, uninterrupted):
    out = tmp_path / "run"
    crashed_run(out, saves=2)  # hand side at epoch 6, optax side not started
    proc = subprocess.run([sys.executable, "-m", "jaxgd", "train", "--resume", str(out), "--quiet"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert_same_run(out, uninterrupted)
    assert json.loads((out / "summary.json").read_text())["epochs"] == 8


@pytest.mark.slow  # 25-40 s: fresh processes or many devices; run with pytest -m slow
def test_resume_with_one_side_finished_is_bitwise_the_uninterrupted_run(tmp_path, uninterrupted):
    out = tmp_path / "run"
    crashed_run(out, saves=5)  # hand finished (3, 6, 8), optax at epoch 6
    assert main(["train", "--resume", str(out), "--quiet"]) == 0
    assert_same_run(out, uninterrupted)


def test_resume_needs_a_run_folder_with_a_checkpoint(tmp_path, capsys):
    assert main(["train", "--resume", str(tmp_path), "--quiet"]) == 2
    assert "no config.json there" in capsys.readouterr().err
    (tmp_path / "config.json").write_text("{}")
    assert main(["train", "--resume", str(tmp_path), "--quiet"]) == 2
    assert "no checkpoint at" in capsys.readouterr().err


def test_resume_refuses_model_and_optimizer_changes(uninterrupted, capsys):
    before = (uninterrupted / CHECKPOINT).read_bytes()
    assert main(["train", "--resume", str(uninterrupted), "--hidden", "5", "--quiet"]) == 2
    assert "hidden=(5,) differs from the run's hidden=(4,)" in capsys.readouterr().err
    assert main(["train", "--resume", str(uninterrupted), "--optimizer", "sgd", "--quiet"]) == 2
    assert "optimizer='sgd' differs from the run's optimizer='adam'" in capsys.readouterr().err
    assert main(["train", "--resume", str(uninterrupted), "--epochs", "3", "--quiet"]) == 2
    assert "below the 8 epochs already run" in capsys.readouterr().err
    assert (uninterrupted / CHECKPOINT).read_bytes() == before


def test_resume_from_another_models_checkpoint_names_the_key_path(tmp_path, uninterrupted, capsys):
    out = tmp_path / "other"
    shutil.copytree(uninterrupted, out)
    cfg = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps(dict(cfg, hidden=[5])))
    assert main(["train", "--resume", str(out), "--quiet"]) == 2
    assert "['hand'].params[0].w expected (1, 5) float32, found (1, 4) float32" in capsys.readouterr().err


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


DIVERGES = ["--dataset", "sine", "--n-samples", "32", "--hidden", "", "--optimizer", "sgd",
            "--lr", "1.0", "--impl", "hand", "--quiet"]  # linear model, diverges at epoch 25


def test_diverging_resumed_run_leaves_the_checkpoint_intact(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *DIVERGES, "--epochs", "10", "--out", str(out)]) == 0
    files = {p.name: digest(p) for p in out.iterdir()}
    assert main(["train", "--resume", str(out), "--epochs", "100"]) == 2
    assert "diverged at epoch 25 of 100" in capsys.readouterr().err
    assert {p.name: digest(p) for p in out.iterdir()} == files  # nothing written, nothing left
    # still resumable: the epoch-10 checkpoint continues to 20
    assert main(["train", "--resume", str(out), "--epochs", "20"]) == 0
    assert len(read_metrics_csv(out / "metrics.csv")["loss"]) == 20


def test_diverging_run_keeps_its_last_good_checkpoint_and_earlier_folders(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *DIVERGES, "--epochs", "100", "--checkpoint-every", "10",
                 "--out", str(out)]) == 2
    assert "diverged at epoch 25" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == [".jaxgd-run.json", "checkpoint.npz", "config.json"]
    with np.load(out / CHECKPOINT) as z:
        meta = json.loads(bytes(z[MANIFEST]))["meta"]
        assert meta["epochs"] == {"hand": 20} and np.all(np.isfinite(z["['hand'].params[0].w"]))
    # --overwrite onto it with a run that diverges before its first checkpoint: it stays
    before = digest(out / CHECKPOINT)
    assert main(["train", *DIVERGES, "--epochs", "100", "--checkpoint-every", "50",
                 "--out", str(out), "--overwrite"]) == 2
    assert digest(out / CHECKPOINT) == before and not [p for p in tmp_path.iterdir() if p != out]
