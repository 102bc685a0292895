"""Help, --version and argument errors print without importing JAX (a fresh process each)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from jaxgd._version import __version__
from jaxgd.cli import COMMANDS

# calls main(argv) for each argv given as JSON, and prints after each: its exit code and
# which heavy modules had been imported by then
DRIVER = """
import contextlib, io, json, sys
from jaxgd.cli import main
for argv in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exit:
            code = exit.code
    heavy = [m for m in ("jax", "jaxlib", "optax", "numpy") if m in sys.modules]
    print(json.dumps({"argv": argv, "code": code, "heavy": heavy, "out": out.getvalue(),
                      "err": err.getvalue()}))
"""


def run_fresh(*argvs: list[str]) -> list[dict]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(argvs)], capture_output=True,
                          text=True, env=env, timeout=120, check=True)
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_help_of_jaxgd_and_of_every_command_imports_no_jax():
    results = run_fresh(["--help"], *([cmd, "--help"] for cmd in COMMANDS))
    assert [r["code"] for r in results] == [0] * (1 + len(COMMANDS))
    assert all(r["out"].startswith("usage: jaxgd") for r in results)
    assert "choices: adabelief, adadelta" in results[1]["out"]  # train --help lists the optimizers
    assert [r["heavy"] for r in results] == [[]] * (1 + len(COMMANDS))


def test_version_prints_the_package_version_without_jax():
    (result,) = run_fresh(["--version"])
    assert (result["code"], result["out"], result["heavy"]) == (0, f"jaxgd {__version__}\n", [])


@pytest.mark.parametrize("argv, message", [
    (["train", "--bogus"], "unrecognized arguments: --bogus"),
    (["train", "--epochs", "ten"], "--epochs 'ten': expected an integer"),
    (["train", "--optimizer", "adamm"], "Did you mean 'adam'?"),
    (["sweep", "--dataset", "moonz", "--lr", "0.1,0.2"], "Did you mean 'moons'?"),
    (["compare", "--optimizers", "sgd", "--schedule", "cosin"], "Did you mean 'cosine'?"),
    (["crosscheck", "--optimizer", "adam", "--steps", "0"], "--steps=0 must be a positive integer"),
    (["nocommand"], "invalid choice: 'nocommand'"),
])
def test_argument_errors_exit_2_without_jax(argv, message):
    (result,) = run_fresh(argv)
    assert result["code"] == 2 and message in result["err"]
    assert result["heavy"] == []


def test_import_jaxgd_is_lazy_and_a_name_imports_its_module():
    code = ("import sys, jaxgd; before = 'jax' in sys.modules; fit = jaxgd.fit; "
            "print(before, 'jax' in sys.modules, fit.__module__, 'fit' in dir(jaxgd))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120, check=True).stdout.split()
    assert out == ["False", "True", "jaxgd.training.engine", "True"]
