"""`jaxgd train`'s report after training, its run folders and its resume messages, each test
named after the finding it pins."""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import threading
from pathlib import Path

import numpy as np
import pytest
from planted_rules import sgd_forgetful_momentum

import jaxgd.optimizers
from jaxgd.cli import main
from jaxgd.experiments import foldername
from jaxgd.experiments.build import make_problem
from jaxgd.experiments.records import read_config
from jaxgd.experiments.runfolder import RunFolder

SMALL = ["--dataset", "sine", "--n-samples", "32", "--hidden", "4", "--batch-size", "8",
         "--optimizer", "adam", "--lr", "0.01"]


ACTIVATIONS = {"sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh, "relu": lambda z: np.maximum(z, 0)}


def summary_of(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text())


def forward(folder: Path, x: np.ndarray, activation) -> np.ndarray:
    """The network's raw outputs from params.npz, computed in float64 with NumPy."""
    with np.load(folder / "params.npz") as z:
        layers = sorted({int(re.match(r"\[(\d+)\]", k).group(1)) for k in z.files})
        w = [(z[f"[{i}].w"].astype(np.float64), z[f"[{i}].b"].astype(np.float64)) for i in layers]
    h = np.asarray(x, np.float64)
    for i, (wi, bi) in enumerate(w):
        h = h @ wi + bi
        if i < len(w) - 1:
            h = activation(h)
    return h


def prediction_rows(out: str) -> list[str]:
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("predictions"))
    rows = []
    for line in lines[start + 1:]:
        if not line.startswith("  "):
            break
        rows.append(line)
    return [lines[start], *rows]


# ----------------------------------------------------------------------------- hand vs optax


def test_finding_impl_both_reports_per_step_verdict(tmp_path, capsys, monkeypatch):
    """A chaotic float32 Adam run printed `max |hand - optax| over params 1.57` with no
    tolerance or verdict: the rules agree per step, the trajectories part by rounding."""
    out = tmp_path / "chaotic"
    args = ["--dataset", "sine", "--n-samples", "32", "--hidden", "8", "--activation", "tanh",
            "--optimizer", "adam", "--lr", "0.3", "--epochs", "500", "--out", str(out)]
    assert main(["train", *args]) == 0
    text = capsys.readouterr().out
    check = summary_of(out)["hand_vs_optax"]
    step, gap = check["per_step"], check["trajectories"]
    assert step["verdict"] == "agree" and step["steps"] == 100 and step["row"] == "adam"
    assert step["tol"] == 1e-5 and 0 < step["max_deviation"] <= step["tol"]
    with np.load(out / "params.npz") as a, np.load(out / "params_optax.npz") as b:
        dist = max(float(np.max(np.abs(a[k] - b[k]))) for k in a.files)
        scale = max(float(np.max(np.abs(a[k]))) for k in a.files)
    assert gap["max_abs_diff"] == pytest.approx(dist) and gap["relative"] == pytest.approx(dist / scale)
    assert gap["relative"] > 1e-3  # the trajectories parted
    assert gap["final_loss_diff"] == pytest.approx(gap["final_loss_hand"] - gap["final_loss_optax"])
    assert "per-step check agree: max deviation" in text and "<= tol 1e-05" in text
    assert "not a disagreement" in text and "not a disagreement" in check["reading"]

    # a hand rule with a planted bug: the per-step check disagrees, exit 1, folder written
    monkeypatch.setattr(jaxgd.optimizers, "sgd", sgd_forgetful_momentum)
    bad = tmp_path / "planted"
    code = main(["train", "--optimizer", "sgd", "--momentum", "0.9", "--lr", "0.5", "--epochs", "20",
                 "--out", str(bad)])
    captured = capsys.readouterr()
    assert code == 1
    step = summary_of(bad)["hand_vs_optax"]["per_step"]
    assert step["verdict"] == "disagree" and step["max_deviation"] > step["tol"]
    first = step["first_divergence"]  # the buffers part at step 1 (g1 + mu*g0 vs g1), the updates at 2
    assert (first["step"], first["kind"]) == (1, "state")
    assert "per-step check DISAGREE" in captured.out and "the rules DISAGREE per step" in captured.out
    assert "disagree per step (exit 1)" in captured.err


# ----------------------------------------------------------------------------- predictions


def test_finding_bce_predictions_are_probabilities(tmp_path, capsys):
    """With --loss bce the predictions block showed logits."""
    out = tmp_path / "r"
    assert main(["train", "--dataset", "moons", "--n-samples", "32", "--hidden", "4", "--activation",
                 "tanh", "--loss", "bce", "--lr", "0.5", "--epochs", "30", "--impl", "hand",
                 "--out", str(out)]) == 0
    head, *rows = prediction_rows(capsys.readouterr().out)
    assert "probability of class 1 (sigmoid of the logit)" in head
    x = np.asarray(make_problem(read_config(out / "config.json")).data.x[: len(rows)])
    expected = 1 / (1 + np.exp(-forward(out, x, np.tanh)[:, 0]))
    shown = np.array([float(re.search(r"-> (\S+) \|", r).group(1)) for r in rows])
    assert len(rows) == 4 and np.all((shown >= 0) & (shown <= 1))
    np.testing.assert_allclose(shown, expected, atol=6e-5)  # printed to 4 decimals
    assert not np.allclose(expected, forward(out, x, np.tanh)[:, 0], atol=0.05)  # not the logits


def test_finding_wide_inputs_summarised(tmp_path, capsys):
    """On digits the predictions block printed all 64 features of every row."""
    out = tmp_path / "d"
    assert main(["train", "--dataset", "digits", "--hidden", "8", "--lr", "0.05", "--optimizer",
                 "adam", "--epochs", "5", "--impl", "hand", "--out", str(out)]) == 0
    head, *rows = prediction_rows(capsys.readouterr().out)
    assert "predicted class and its probability (softmax of the logits)" in head
    assert len(rows) == 4
    cfg = read_config(out / "config.json")
    ds = make_problem(cfg).data
    logits = forward(out, np.asarray(ds.x[:4]), ACTIVATIONS[cfg.activation])
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    for i, row in enumerate(rows):
        assert row.startswith(f"  #{i} x[0..3] [") and "... (64 features) ->" in row and len(row) < 100
        cls, prob, target = re.search(r"-> (\d+) \((\S+)\) \| (\d+)$", row).groups()
        assert int(cls) == p[i].argmax() and float(prob) == pytest.approx(p[i].max(), abs=6e-5)
        assert int(target) == int(ds.y[i])


# ----------------------------------------------------------------------------- folder names


def test_finding_default_folders_do_not_collide(tmp_path, monkeypatch, capsys):
    """Two runs started in the same second got the same default folder name."""
    frozen = lambda: 1_700_000_000.0  # noqa: E731 - every run in the same second
    tokens = iter(["beef", "beef", "beef", "cafe"] + [f"{i:04x}" for i in range(1000)])
    lock = threading.Lock()

    def few():  # a tiny alphabet, so that threads draw the same suffix and must draw again
        with lock:
            return next(tokens)[-1] * 4

    made: list[Path] = []
    threads = [threading.Thread(target=lambda: made.append(
        foldername.new_run_folder("xor-sgd", tmp_path / "threads", clock=frozen, suffix=few)))
        for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 16 and len(set(made)) == 16 and all(p.is_dir() for p in made)
    stamp = made[0].name.split("-")[2:4]
    assert all(p.name.split("-")[2:4] == stamp for p in made)  # same second, told apart by the suffix

    # two default-named runs of the command in the same second, the first suffix drawn twice
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(foldername, "_clock", frozen)
    draws = iter(["0a0a", "0a0a", "0b0b"])
    monkeypatch.setattr(foldername, "_suffix", lambda: next(draws))
    assert main(["train", "--quiet", "--epochs", "3"]) == 0
    assert main(["train", "--quiet", "--epochs", "3"]) == 0
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir() if p.name.startswith("xor-sgd"))
    assert len(runs) == 2 and runs[0].endswith("-0a0a") and runs[1].endswith("-0b0b")
    assert all((tmp_path / "runs" / r / "summary.json").is_file() for r in runs)
    # a default-named run that fails leaves no empty folder behind
    monkeypatch.setattr(foldername, "_suffix", lambda: "dead")
    diverges = ["--dataset", "sine", "--n-samples", "32", "--hidden", "", "--optimizer", "sgd",
                "--lr", "1.0", "--impl", "hand", "--epochs", "50"]  # a linear model, diverges at epoch 25
    assert main(["train", "--quiet", *diverges]) == 2
    assert "diverged" in capsys.readouterr().err
    assert not any(p.name.endswith("-dead") for p in (tmp_path / "runs").iterdir())


# ----------------------------------------------------------------------------- resuming


@pytest.fixture
def finished(tmp_path):
    out = tmp_path / "run"
    assert main(["train", *SMALL, "--epochs", "4", "--checkpoint-every", "2", "--quiet",
                 "--out", str(out)]) == 0
    return out


def test_finding_resumed_run_says_so(finished, capsys):
    """`--resume DIR --epochs N` printed a report like a fresh run's."""
    capsys.readouterr()
    assert main(["train", "--resume", str(finished), "--epochs", "6"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert re.fullmatch(rf"resuming {re.escape(str(finished))} from epoch 4 of 6 \(checkpoint of "
                        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\)", first), first
    s = summary_of(finished)
    assert s["epochs"] == 6
    assert {k: s["resumed"][k] for k in ("from_epoch", "epochs", "sides")} == {
        "from_epoch": 4, "epochs": 6, "sides": {"hand": 4, "optax": 4}}


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder.parent)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.parent.rglob("*")) if p.is_file()}


def test_finding_resume_with_nothing_left_changes_nothing(finished, capsys):
    """`--resume` with its epochs already reached printed a full report as if it had trained."""
    before = digests(finished)
    capsys.readouterr()
    for extra in ([], ["--epochs", "4"]):
        assert main(["train", "--resume", str(finished), *extra]) == 0
        assert capsys.readouterr().out == (f"nothing to do: {finished} already has 4 epochs; pass "
                                           "--epochs M with M > 4 to train further\n")
    assert main(["train", "--resume", str(finished), "--json"]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["nothing_to_do"] is True and line["epochs"] == 4
    assert digests(finished) == before  # every file byte for byte, no lock file left


# ----------------------------------------------------------------------------- interrupts


def test_finding_interrupt_resume_command_is_exact(tmp_path, capsys, monkeypatch):
    """The resume command printed on Ctrl-C must run as printed and continue the run (here
    from a folder whose name needs quoting)."""
    monkeypatch.chdir(tmp_path)
    run = ["train", *SMALL, "--epochs", "8", "--checkpoint-every", "3", "--quiet"]
    assert main([*run, "--out", "whole"]) == 0
    save = RunFolder.save

    def save_then_ctrl_c(self, snap):
        save(self, snap)
        raise KeyboardInterrupt

    monkeypatch.setattr(RunFolder, "save", save_then_ctrl_c)
    assert main([*run, "--out", "my run"]) == 130
    err = capsys.readouterr().err.strip()
    assert err.startswith("jaxgd train: interrupted in the hand run at epoch 3; last checkpoint hand at "
                          "epoch 3, optax at epoch 0"), err
    command = err.split("resume with: ", 1)[1]
    assert command == "jaxgd train --resume 'my run' --epochs 8"
    monkeypatch.setattr(RunFolder, "save", save)
    argv = shlex.split(command)
    assert argv[0] == "jaxgd" and main(argv[1:]) == 0
    # the sides run in turn: the hand rule was stopped at epoch 3, the optax twin had not started
    assert capsys.readouterr().out.startswith("resuming my run: hand from epoch 3 of 8, optax from "
                                              "epoch 0 of 8 (checkpoint of ")
    assert summary_of(tmp_path / "my run")["epochs"] == 8
    resumed, whole = (tmp_path / name / "metrics.csv" for name in ("my run", "whole"))
    assert resumed.read_text() == whole.read_text()  # continued: the same run as one never stopped


# ----------------------------------------------------------------------------- damaged files


@pytest.mark.parametrize("damage", ["object array", "pickle", "truncated"])
def test_finding_damaged_params_npz_clear_error(tmp_path, capsys, damage):
    """A damaged params.npz read by `jaxgd plot` must give one line naming the file."""
    pytest.importorskip("matplotlib")
    out = tmp_path / "r"
    assert main(["train", "--dataset", "moons", "--n-samples", "32", "--hidden", "4", "--epochs", "3",
                 "--impl", "hand", "--quiet", "--out", str(out)]) == 0
    path = out / "params.npz"
    if damage == "object array":
        np.savez(path, **{"[0].w": np.array([{"a": 1}], dtype=object)})
    elif damage == "pickle":
        import pickle

        path.write_bytes(pickle.dumps({"[0].w": [1.0]}))
    else:
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    capsys.readouterr()
    assert main(["plot", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert f"could not read the parameters in {str(path)!r}" in err
    assert "Re-run the training that wrote the folder, or delete the file" in err
    assert "allow_pickle" not in err  # never suggests loading it unsafely


def test_finding_user_rule_folder_name_has_no_colon():
    from jaxgd.experiments.foldername import run_folder_name

    path = run_folder_name("xor-my.pkg:my_sgd", clock=lambda: 0.0, suffix=lambda: "abcd")
    assert path.name.startswith("xor-my.pkg-my_sgd-") and path.name.endswith("-abcd")
    assert set(path.name) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
    assert run_folder_name(":/:", suffix=lambda: "0000").name.startswith("run-")


def test_per_step_check_with_batch_size_full(tmp_path, capsys):
    # --batch-size full is stored as 0: the per-step check must read it as the full batch
    from jaxgd.cli import main

    assert main(["train", "--dataset", "moons", "--n-samples", "40", "--batch-size", "full",
                 "--epochs", "3", "--optimizer", "adam", "--out", str(tmp_path / "r"), "--json"]) == 0
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["hand_vs_optax"]["per_step"]["steps"] == 3  # one full-batch step per epoch
    assert summary["hand_vs_optax"]["per_step"]["verdict"] == "agree"


def test_finding_final_loss_names_the_l2_penalty(tmp_path, capsys):
    from jaxgd.cli import main

    assert main(["train", "--l2", "0.001", "--epochs", "5", "--impl", "hand",
                 "--out", str(tmp_path / "r")]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("final loss"))
    assert line.endswith("(mse plus l2 0.001 * sum(W**2))")


def test_finding_header_prints_before_training(capsys, monkeypatch, tmp_path):
    """The settings are on stdout before the first epoch runs (so a long or interrupted run shows
    them), and are not printed again after; --quiet and --json print none."""
    import jaxgd.experiments.run as run_module

    fit, seen = run_module.fit, []

    def fit_after_looking(*args, **kwargs):
        seen.append(capsys.readouterr().out)  # what was printed before this epoch loop started
        return fit(*args, **kwargs)

    monkeypatch.setattr(run_module, "fit", fit_after_looking)
    assert main(["train", *SMALL, "--epochs", "2", "--impl", "hand", "--out", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert len(seen) == 1 and seen[0].startswith("jaxgd train: sine, sizes (1, 4, 1), ")
    assert "adam(lr=0.01)" in seen[0].splitlines()[0] and "jaxgd train:" not in out
    assert out.startswith("epochs run     2")
    assert main(["train", *SMALL, "--epochs", "2", "--impl", "hand", "--quiet",
                 "--out", str(tmp_path / "q")]) == 0
    assert len(seen) == 2 and seen[-1] + capsys.readouterr().out == ""


def test_finding_interrupt_before_first_checkpoint_names_it(tmp_path, capsys, monkeypatch):
    """A run with --checkpoint-every stopped before its first checkpoint was told to "add
    --checkpoint-every"; it must say that the first checkpoint (epoch N) had not come yet."""
    import jaxgd.training.engine

    def stop(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(jaxgd.training.engine, "progress_bar", lambda *a: stop)  # after the first chunk
    out = tmp_path / "r"
    assert main(["train", *SMALL, "--epochs", "8", "--checkpoint-every", "5", "--impl", "hand",
                 "--out", str(out)]) == 130
    err = capsys.readouterr().err.strip()
    assert re.fullmatch(r"jaxgd train: interrupted at epoch [1-5], before the first checkpoint \(epoch 5\); "
                        r"nothing is saved yet, so nothing was written\.", err), err
    assert not out.exists()


def test_finding_interrupt_while_compiling_says_so(tmp_path, capsys, monkeypatch):
    """Ctrl-C while the first chunk compiled said "interrupted at epoch 0"."""
    import jaxgd.training.engine
    from jaxgd.core.errors import TrainingInterrupted
    from jaxgd.training.chunks import run_chunks

    def compiling(*a):
        raise KeyboardInterrupt

    with pytest.raises(TrainingInterrupted, match="^interrupted while compiling, before the first epoch$"):
        run_chunks(compiling, None, None, None, epoch0=0, epochs=4, names=("loss",), prev_loss=0.0)
    with pytest.raises(TrainingInterrupted, match="^interrupted while compiling, at epoch 3$") as info:
        run_chunks(compiling, None, None, None, epoch0=3, epochs=4, names=("loss",), prev_loss=0.0)
    assert info.value.epoch == 3
    monkeypatch.setattr(jaxgd.training.engine, "run_chunks",
                        lambda _, *a, **k: run_chunks(compiling, *a, **k))
    for extra, tail in [([], "; nothing was written. Add --checkpoint-every EPOCHS to make a run resumable."),
                        (["--checkpoint-every", "4"], "; nothing is saved yet (the first checkpoint comes "
                                                      "at epoch 4).")]:
        assert main(["train", *SMALL, "--epochs", "8", "--impl", "hand", *extra,
                     "--out", str(tmp_path / "r")]) == 130
        assert capsys.readouterr().err.strip() == (
            "jaxgd train: interrupted while compiling, before the first epoch" + tail)


def test_finding_interrupt_names_each_sides_checkpoint(tmp_path, capsys, monkeypatch):
    """With --impl both the sides train in turn: stopped in the optax run, the checkpoint holds
    the hand rule at its last epoch and optax at an earlier one; the message gave one epoch."""
    monkeypatch.chdir(tmp_path)
    save = RunFolder.save

    def save_then_stop_in_optax(self, snap):
        save(self, snap)
        if len(snap.history["optax"].get("loss", ())) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(RunFolder, "save", save_then_stop_in_optax)
    assert main(["train", *SMALL, "--epochs", "6", "--checkpoint-every", "3", "--out", "run"]) == 130
    err = capsys.readouterr().err.strip()
    assert err.startswith("jaxgd train: interrupted in the optax run at epoch 3; last checkpoint hand "
                          "at epoch 6, optax at epoch 3 (a resumed run continues each side from its own "
                          "epoch) in 'run'; resume with: jaxgd train --resume run --epochs 6"), err
    stored = RunFolder("run", resume=True)  # what a resume starts from
    try:
        assert stored.stored_epochs() == {"hand": 6, "optax": 3}
    finally:
        stored.close()
