"""Ctrl-C and SIGTERM end every command with one line and exit 130 / 143, whenever they come.

Each process test starts ``python -m jaxgd`` through a launcher that restores Python's
SIGINT handler (a test runner may ignore SIGINT, and children inherit that) and places
the signal where the fault campaign found it mishandled.
"""

from __future__ import annotations

import gc
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jaxgd.cli import main, report
from jaxgd.cli.signals import StopSignals, exit_code, stopped_text, unsafe_to_raise_in

LAUNCH = """
import os, runpy, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
{setup}
sys.argv = ["jaxgd", *{args!r}]
runpy.run_module("jaxgd", run_name="__main__")
"""

# a signal that arrives inside a gc callback, as JAX's `_xla_gc_callback`, once JAX is imported
IN_GC_CALLBACK = """
import gc
def callback(phase, info, fired=[]):
    if not fired and "jax" in sys.modules:
        fired.append(True)
        signal.raise_signal(signal.SIGINT)
        fired.append(True)  # Python runs the handler here, inside the callback
gc.callbacks.append(callback)
"""

# SIGINT a while into XLA's first compilation: the compile call returns to Python while
# compiler threads run on
IN_COMPILATION = """
import threading
import jax._src.compiler as compiler
compile_and_load = compiler.backend_compile_and_load
def patched(*a, fired=[], **k):
    if not fired:
        fired.append(True)
        threading.Timer({after}, os.kill, (os.getpid(), signal.SIGINT)).start()
    return compile_and_load(*a, **k)
compiler.backend_compile_and_load = patched
"""


def launch(tmp_path: Path, args: list[str], setup: str = "", timeout: float = 240):
    code = LAUNCH.format(setup=setup, args=args)
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, text=True, capture_output=True,
                          timeout=timeout)


def test_ctrl_c_inside_jax_gc_callback_is_not_dropped(tmp_path):
    """Finding 1: Ctrl-C during start-up landed in JAX's gc callback, where Python printed
    'Exception ignored ... KeyboardInterrupt' and dropped it; the run then finished, exit 0."""
    proc = launch(tmp_path, ["train", "--quiet", "--epochs", "5", "--out", "run"], IN_GC_CALLBACK)
    assert proc.returncode == 130, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines() == ["jaxgd train: interrupted; nothing was written"]
    assert not (tmp_path / "run").exists()
    assert list(tmp_path.iterdir()) == []  # no lock file left either


def test_ctrl_c_during_compilation_exits_130_not_sigsegv(tmp_path):
    """Finding 4: Ctrl-C before the first epoch (while XLA compiled) printed the message,
    then the process died of SIGSEGV in interpreter shutdown (exit -11)."""
    args = ["sweep", "--no-compile-cache", "--quiet", "--dataset", "moons", "--epochs", "5",
            "--lr", "0.01,0.1", "--out", "sw"]
    proc = launch(tmp_path, args, IN_COMPILATION.format(after=1.0))
    assert proc.returncode == 130, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1] == "jaxgd sweep: interrupted; nothing was written"
    assert "Traceback" not in proc.stderr and "Fatal" not in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_sigterm_stops_training_like_ctrl_c_and_removes_the_lock(tmp_path):
    """Finding 16: SIGTERM (how schedulers and `timeout` stop jobs) ended the run silently
    with exit -15 and left the lock file `.run.jaxgd-lock` behind."""
    args = ["train", "--quiet", "--epochs", "2000000", "--checkpoint-every", "20000", "--out", "run"]
    proc = subprocess.Popen([sys.executable, "-c", LAUNCH.format(setup="", args=args)], cwd=tmp_path,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "run" / "checkpoint.npz").is_file() and time.monotonic() < deadline:
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.communicate()
    assert proc.returncode == 143, err
    assert err.startswith("jaxgd train: stopped by SIGTERM in the hand run at epoch "), err
    assert "resume with: jaxgd train --resume run --epochs 2000000" in err
    assert len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # the lock is gone


def test_stop_messages_name_the_signal_and_its_exit_status():
    assert exit_code(None) == exit_code(signal.SIGINT) == 130
    assert exit_code(signal.SIGTERM) == 143
    text = "interrupted at epoch 3; resume with: jaxgd train --resume r --epochs 9"
    assert stopped_text(text, signal.SIGINT) == text
    assert stopped_text(text, signal.SIGTERM) == ("stopped by SIGTERM at epoch 3; resume with: "
                                                  "jaxgd train --resume r --epochs 9")


def test_a_stop_turned_into_another_error_by_a_library_is_reported_as_the_stop(capsys):
    """A KeyboardInterrupt inside a C extension's import comes back as an ImportError."""
    assert report("train", ImportError("error initializing the extension"), signum=signal.SIGINT) == 130
    assert capsys.readouterr().err == "jaxgd train: interrupted; nothing was written\n"


def test_signals_are_put_off_inside_gc_callbacks_only():
    seen = []

    def callback(phase, info):
        if not seen:
            seen.append(unsafe_to_raise_in(sys._getframe()))

    assert not unsafe_to_raise_in(sys._getframe())
    gc.callbacks.append(callback)
    try:
        gc.collect()
    finally:
        gc.callbacks.remove(callback)
    assert seen == [True]


def test_handlers_are_restored_after_a_command(tmp_path):
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with StopSignals() as stop:
        assert signal.getsignal(signal.SIGTERM) == stop._handle
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    assert main(["plot", str(tmp_path)]) == 2
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


@pytest.mark.parametrize("argv, message", [
    (["train", "--optimizer", "adam", "--eps", "-1e-8"], "eps=-1e-08 is outside the accepted range"),
    (["train", "--tol", "-inf"], "tol=-inf is not finite"),
    (["train", "--lr", "-.5"], "learning_rate=-0.5 is outside the accepted range"),
    (["sweep", "--lr", "-1:1:4:log"], "a log range needs START > 0"),
])
def test_negative_number_flag_values_reach_the_flags_check(argv, message, capsys):
    """Finding 8: `--eps -1e-8` and `--lr -1:1:4:log` failed in argparse with 'expected one
    argument' (it took the value for a flag), never reaching the range message."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "expected one argument" not in err
