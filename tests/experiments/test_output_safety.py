"""Nothing lost, nothing cryptic: run folders jaxgd owns, locks, checks before work,
and one clear line for every failure. Each finding of the fault campaign is a test
named after it; decoy files stand for the user's own."""

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxgd import optimizers
from jaxgd.cli import main
from jaxgd.core.errors import ConfigError, OutputExistsError, RunLockedError, WriteError
from jaxgd.experiments.config import TrainConfig, validate
from jaxgd.experiments.lock import RunLock
from jaxgd.experiments.outdir import MARKER, OutputDir, write_result_folder
from jaxgd.training.engine import fit

QUICK = ["train", "--quiet", "--epochs", "5"]


def digest(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) with the hash of its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def decoys(folder: Path) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "notes.txt").write_text("keep me\n")
    (folder / ".ssh").mkdir(exist_ok=True)
    (folder / ".ssh" / "id_ed25519").write_text("secret\n")
    (folder / ".bashrc").write_text("export X=1\n")
    return digest(folder)


def cli(cwd: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jaxgd", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "PYTHONUNBUFFERED": "1"})


# ----------------------------------------------------------------------------- finding 1


@pytest.mark.parametrize("command", [QUICK, ["sweep", "--quiet", "--epochs", "3", "--lr", "0.1,0.5"]])
def test_overwrite_deletes_files_it_never_wrote(tmp_path, capsys, command):
    out = tmp_path / "d"
    before = decoys(out)
    assert main([*command, "--out", str(out), "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert "holds files that jaxgd did not write" in err and "notes.txt" in err
    assert digest(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]  # no staging or lock left behind


def test_overwrite_of_a_stand_in_home_folder_is_refused(tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    before = decoys(home)
    (home / MARKER).write_text(json.dumps({"files": [], "kind": "train"}))  # even if marked
    before = digest(home)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    assert main([*QUICK, "--out", str(home), "--overwrite"]) == 2
    assert "it is your home folder" in capsys.readouterr().err
    assert digest(home) == before


# ----------------------------------------------------------------------------- finding 2


def test_overwrite_destroys_the_earlier_result_before_the_new_run_succeeds(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    assert main([*QUICK, "--out", str(out)]) == 0
    before = digest(out)
    from jaxgd.experiments.runfolder import RunFolder

    real_save = RunFolder.save

    def save_then_diverge(self, snap):  # a checkpoint is written, then the run diverges
        real_save(self, snap)
        from jaxgd.core.errors import DivergenceError

        raise DivergenceError("training diverged at epoch 15", epoch=15)

    monkeypatch.setattr(RunFolder, "save", save_then_diverge)
    assert main(["train", "--quiet", "--epochs", "30", "--checkpoint-every", "10", "--out", str(out),
                 "--overwrite"]) == 2
    assert "diverged" in capsys.readouterr().err
    assert digest(out) == before  # byte for byte
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_overwrite_replaces_only_after_success_and_keeps_foreign_files(tmp_path):
    out = tmp_path / "run"
    assert main([*QUICK, "--out", str(out)]) == 0
    (out / "notes.txt").write_text("mine\n")
    assert main(["train", "--quiet", "--epochs", "9", "--checkpoint-every", "3", "--out", str(out),
                 "--overwrite"]) == 0
    assert json.loads((out / "summary.json").read_text())["epochs"] == 9
    assert (out / "notes.txt").read_text() == "mine\n"
    marker = json.loads((out / MARKER).read_text())
    assert "notes.txt" not in marker["files"] and "summary.json" in marker["files"]


# ----------------------------------------------------------------------------- finding 3


def test_two_runs_into_one_out_are_not_kept_apart(tmp_path, capsys):
    out = tmp_path / "run"
    lock = RunLock(out)  # another run holds the folder
    try:
        t0 = time.perf_counter()
        assert main([*QUICK, "--epochs", "100000", "--out", str(out), "--overwrite"]) == 2
        assert time.perf_counter() - t0 < 30  # refused up front, not after 100,000 epochs
        assert "in use by another jaxgd run" in capsys.readouterr().err
        with pytest.raises(RunLockedError, match=f"pid {os.getpid()}"):
            OutputDir(out)
    finally:
        lock.release()
    assert not out.exists()
    assert main([*QUICK, "--out", str(out)]) == 0  # free again


def test_a_stale_lock_of_a_dead_process_is_not_in_the_way(tmp_path):
    out = tmp_path / "run"
    (tmp_path / ".run.jaxgd-lock").write_text('{"pid": 999999, "host": "gone", "started": "then"}')
    assert main([*QUICK, "--out", str(out)]) == 0


def test_two_processes_racing_into_one_folder(tmp_path):
    args = ["train", "--json", "--epochs", "3000", "--out", "run"]
    procs = [subprocess.Popen([sys.executable, "-m", "jaxgd", *args], cwd=tmp_path, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    try:
        results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    finally:
        for p in procs:
            p.kill()
            p.communicate()
    codes = sorted(r[0] for r in results)
    assert codes == [0, 2], results
    loser = next(r for r in results if r[0] == 2)
    assert loser[1] == ""  # it never trained: no summary line
    assert "in use by another jaxgd run" in loser[2] or "already holds a jaxgd" in loser[2]


# ----------------------------------------------------------------------------- finding 4


@pytest.mark.parametrize("target", [".", "..", "sub/.."])
def test_out_dot_or_dotdot_with_overwrite(tmp_path, monkeypatch, capsys, target):
    work = tmp_path / "work"
    work.mkdir()
    (work / "sub").mkdir()
    before = digest(tmp_path)
    monkeypatch.chdir(work)
    assert main([*QUICK, "--out", target, "--overwrite"]) == 2
    assert "is refused" in capsys.readouterr().err
    assert digest(tmp_path) == before
    assert not any(p.name.startswith(".") for p in tmp_path.rglob("*"))


# ----------------------------------------------------------------------------- finding 5


def test_bce_on_targets_that_are_not_0_or_1(tmp_path, capsys):
    assert main([*QUICK, "--dataset", "sine", "--loss", "bce", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "needs targets 0 or 1" in err and "Use --loss mse" in err
    assert not (tmp_path / "r").exists()


def test_softmax_ce_on_real_valued_targets(tmp_path, capsys):
    assert main([*QUICK, "--dataset", "sine", "--loss", "softmax_ce", "--out", str(tmp_path / "r")]) == 2
    assert "needs classes, but dataset 'sine' is a regression task" in capsys.readouterr().err


# ----------------------------------------------------------------------------- finding 6


def test_multihost_peer_never_comes_is_reported(tmp_path):
    """Process 1 alone: no coordinator; process 0 alone: no peer. Both end with a message."""
    common = ["train", "--epochs", "3", "--coordinator", "127.0.0.1:29517", "--num-processes", "2",
              "--init-timeout", "3", "--out", "run"]
    t0 = time.perf_counter()
    lone = cli(tmp_path, *common, "--process-id", "1", timeout=60)
    assert lone.returncode == 2, lone.stderr
    assert "process 1 could not reach the coordinator (process 0) at 127.0.0.1:29517" in lone.stderr
    coordinator = cli(tmp_path, *common, "--process-id", "0", timeout=60)
    assert coordinator.returncode == 1, coordinator.stderr[-2000:]
    assert "process 0 of 2 waited as the coordinator" in coordinator.stderr
    assert "127.0.0.1:29517" in coordinator.stderr
    assert time.perf_counter() - t0 < 60


# ----------------------------------------------------------------------------- finding 7


def test_ctrl_c_ends_with_the_last_checkpoint_and_the_resume_command(tmp_path):
    # a test runner may ignore SIGINT, and children inherit that: restore the default, then exec
    args = ["-m", "jaxgd", "train", "--quiet", "--epochs", "2000000", "--checkpoint-every", "20000",
            "--out", "run"]
    launcher = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
                f"os.execv(sys.executable, [sys.executable, *{args!r}])")
    proc = subprocess.Popen([sys.executable, "-c", launcher], cwd=tmp_path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "run" / "checkpoint.npz").is_file() and time.monotonic() < deadline:
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.communicate()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "last checkpoint hand at epoch " in err and ", optax at epoch 0 " in err  # the sides run in turn
    assert "resume with: jaxgd train --resume run --epochs 2000000" in err
    epoch = int(err.split("last checkpoint hand at epoch ")[1].split(",")[0])
    assert epoch % 20000 == 0 and epoch > 0


def test_ctrl_c_before_any_checkpoint_says_nothing_was_written(tmp_path, capsys, monkeypatch):
    import jaxgd.training.engine

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(jaxgd.training.engine, "progress_bar", lambda *a: interrupted)
    assert main([*QUICK, "--out", str(tmp_path / "r")]) == 130
    assert "before any checkpoint; nothing was written" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_folder_is_refused_before_training(tmp_path, monkeypatch, capsys):
    import jaxgd.experiments.run

    monkeypatch.setattr(jaxgd.experiments.run, "fit", lambda *a, **k: pytest.fail("trained"))
    blocker = tmp_path / "file"
    blocker.write_text("x")  # a file where a parent folder should be
    assert main([*QUICK, "--out", str(blocker / "run")]) == 1
    err = capsys.readouterr().err
    assert "could not write" in err and "Traceback" not in err


@contextlib.contextmanager
def tmpfs(path: Path, options: str):
    path.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def test_read_only_folder_is_refused_before_training(tmp_path, monkeypatch, capsys):
    import jaxgd.experiments.run

    monkeypatch.setattr(jaxgd.experiments.run, "fit", lambda *a, **k: pytest.fail("trained"))
    with tmpfs(tmp_path / "ro", "ro,size=1m") as ro:
        assert main([*QUICK, "--out", str(ro / "run")]) == 1
    err = capsys.readouterr().err
    assert "could not write" in err and "Read-only file system" in err


def test_disk_without_room_for_the_run_is_refused_up_front(tmp_path, capsys):
    with tmpfs(tmp_path / "small", "size=160k") as disk:
        out = disk / "run"
        assert main([*QUICK, "--out", str(out)]) == 0
        before = digest(out)
        assert main([*QUICK, "--hidden", "4000", "--out", str(out), "--overwrite"]) == 2
        assert "not enough disk space" in capsys.readouterr().err
        assert digest(out) == before


@pytest.mark.parametrize("checkpoints", [[], ["--checkpoint-every", "1"]])
def test_disk_full_ends_with_a_message_and_the_previous_state_intact(tmp_path, capsys, monkeypatch,
                                                                     checkpoints):
    import jaxgd.experiments.runfolder

    monkeypatch.setattr(jaxgd.experiments.runfolder, "check_disk_space", lambda *a: None)  # let it run out
    with tmpfs(tmp_path / "small", "size=160k") as disk:
        out = disk / "run"
        assert main([*QUICK, "--out", str(out)]) == 0
        before = digest(out)
        code = main([*QUICK, "--hidden", "4000", *checkpoints, "--out", str(out), "--overwrite"])
        err = capsys.readouterr().err
        assert code == 1, err
        assert "could not write" in err and "No space left on device" in err
        assert "Traceback" not in err
        assert digest(out) == before
        assert sorted(p.name for p in disk.iterdir()) == ["run"]


@pytest.mark.parametrize("damage", ["params", "metrics"])
def test_plot_on_a_corrupted_run_folder(tmp_path, capsys, damage):
    pytest.importorskip("matplotlib")
    out = tmp_path / "run"
    assert main([*QUICK, "--dataset", "moons", "--out", str(out)]) == 0
    if damage == "params":
        (out / "params.npz").write_bytes(b"not a zip file")
    else:
        (out / "metrics.csv").write_text("epoch,loss\n1,0.5\n2,abc\n")
    assert main(["plot", str(out)]) == 2
    err = capsys.readouterr().err
    assert ("params.npz" in err) if damage == "params" else ("line 3, column 2" in err)
    assert "Traceback" not in err


def test_internal_errors_are_one_line_unless_debug(tmp_path, capsys, monkeypatch):
    import jaxgd.experiments.run

    def boom(*a, **k):
        raise RuntimeError("something broke")

    monkeypatch.setattr(jaxgd.experiments.run, "fit", boom)
    assert main([*QUICK, "--out", str(tmp_path / "a")]) == 1
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: something broke" in err and "Traceback" not in err
    assert main([*QUICK, "--out", str(tmp_path / "b"), "--debug"]) == 1
    assert "Traceback" in capsys.readouterr().err


# ----------------------------------------------------------------------------- finding 8


@pytest.mark.parametrize("args, message", [
    (["--epochs", "1000000000000"], "int32"),
    (["--hidden", "100000,100000"], "memory"),
    (["--dataset", "DATA.npz", "--label-column", "y"], "--label-column) applies to .csv files"),
    (["--dataset", "DATA.npz", "--n-samples", "50"], "--n-samples) sets the size of a generated"),
    (["--dataset", "digits", "--n-samples", "50"], "has a fixed size"),
    (["--device", "gpu", "--devices", "2"], "JAX sees none"),
])
def test_bad_values_that_crashed_instead_of_being_refused(tmp_path, capsys, args, message):
    np.savez(tmp_path / "DATA.npz", x=np.random.rand(20, 2).astype(np.float32),
             y=(np.random.rand(20, 1) > 0.5).astype(np.float32))
    args = [a.replace("DATA.npz", str(tmp_path / "DATA.npz")) for a in args]
    t0 = time.perf_counter()
    assert main([*QUICK, *args, "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert time.perf_counter() - t0 < 60
    assert not (tmp_path / "r").exists()


def test_epochs_times_steps_over_int32_is_refused():
    x = jnp.zeros((64, 2))
    with pytest.raises(Exception, match="int32 step counter"):
        fit(lambda p, x, y: jnp.sum(p), jnp.zeros(()), optimizers.sgd(0.1), x, x,
            epochs=2**31 // 64 + 1, batch_size=1)


def test_validate_accepts_epochs_10_to_the_12():
    with pytest.raises(ConfigError, match="int32"):
        validate(TrainConfig(epochs=10**12))


@pytest.mark.parametrize("kw, name", [
    ({"tx": "adam"}, "tx='adam'"), ({"tx": None}, "tx=None"), ({"tx": lambda g: g}, "tx=<function"),
    ({"state": (1, 2)}, "state=(1, 2)"), ({"mesh": "cpu"}, "mesh='cpu'"),
])
def test_fit_given_arguments_of_the_wrong_type(kw, name):
    args = {"tx": optimizers.sgd(0.1), **kw}
    tx = args.pop("tx")
    with pytest.raises(ConfigError, match=name.replace("(", r"\(").replace(")", r"\)")):
        fit(lambda p, x, y: jnp.sum(p), jnp.zeros(()), tx, jnp.zeros((4, 1)), jnp.zeros((4, 1)),
            epochs=1, **args)


def test_crosscheck_given_a_rule_that_is_not_one():
    from jaxgd.crosscheck import crosscheck

    with pytest.raises(ConfigError, match="tx_b='sgd' is not an update rule"):
        crosscheck(optimizers.sgd(0.1), "sgd", {"w": jnp.ones(2)}, steps=2)


# ----------------------------------------------------------------------------- finding 9


def test_hand_module_factory_says_it_runs_code():
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert "imports and runs" in readme
    import io
    from contextlib import redirect_stdout

    buf = io.StringIO()
    with redirect_stdout(buf), pytest.raises(SystemExit):
        main(["crosscheck", "--help"])
    assert "imports and runs" in " ".join(buf.getvalue().split())


# ----------------------------------------------------------------------------- the property


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz._-0123456789", min_size=1, max_size=12).filter(
    lambda s: s not in (".", "..", MARKER) and not s.startswith(".jaxgd"))


@settings(max_examples=40, deadline=None)
@given(user_files=st.lists(names, min_size=1, max_size=6, unique=True), marked=st.booleans(),
       ours=st.lists(st.sampled_from(["summary.json", "sweep.csv", "config.json", "notes.txt"]),
                     max_size=3, unique=True), fail=st.booleans())
def test_overwrite_never_removes_a_file_jaxgd_did_not_write(tmp_path_factory, user_files, marked, ours,
                                                            fail):
    root = tmp_path_factory.mktemp("prop")
    out = root / "out"
    if marked:  # an earlier jaxgd result, to which the user added files
        write_result_folder(out, "sweep", {n: (lambda p: p.write_text("old\n")) for n in ours})
    out.mkdir(exist_ok=True)
    for n in user_files:
        if not (out / n).exists():
            (out / n).write_text(f"user {n}\n")
    owned = set(json.loads((out / MARKER).read_text())["files"]) if marked else set()
    user = {n: (out / n).read_text() for n in user_files if n not in owned}

    def new(p):
        if fail:
            raise WriteError("disk full", path=str(p))
        p.write_text("new\n")

    try:
        write_result_folder(out, "sweep", {"summary.json": new, "sweep.csv": new}, overwrite=True)
    except (OutputExistsError, WriteError):
        pass
    for n, text in user.items():
        assert (out / n).read_text() == text
    assert sorted(p.name for p in root.iterdir()) == ["out"]
