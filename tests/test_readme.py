"""The README's example and its slide table's commands run as written."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from jaxgd.cli import main

README = (Path(__file__).parent.parent / "README.md").read_text()


def test_library_example_runs_and_hand_equals_optax(capsys):
    code = re.search(r"## The library in 20 lines\n\n```python\n(.*?)```", README, re.S).group(1)
    assert len(code.strip().splitlines()) <= 20
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    dev = float(re.search(r"max \|hand - optax\|: (\S+)", out).group(1))
    assert dev < 1e-6


SLIDE_COMMANDS = re.findall(r"^\| (\d+) \|.*\| `(jaxgd train[^`]*)`", README, re.M)


def test_every_slide_has_a_command():
    assert [int(n) for n, _ in SLIDE_COMMANDS] == list(range(1, 14))


@pytest.mark.parametrize(("slide", "command"), SLIDE_COMMANDS, ids=[n for n, _ in SLIDE_COMMANDS])
def test_slide_command_runs(slide, command, tmp_path, capsys):
    argv = shlex.split(command)[1:] + ["--epochs", "30", "--impl", "hand", "--json",
                                       "--out", str(tmp_path / "r")]
    assert main(argv) == 0, capsys.readouterr().err
    assert '"final_loss"' in capsys.readouterr().out


@pytest.mark.parametrize("slide", ["10", "13"])
def test_finding_slide_10_and_13_commands_learn_xor(slide, tmp_path, capsys):
    """At their full length (10000 epochs) the slide-10 decay and slide-13 L2 commands still
    solve XOR: with the slides' own decay every 100 epochs the rate ended at 1e-5, and with
    their lambda 0.01 every prediction was 0.5."""
    import json

    command = dict(SLIDE_COMMANDS)[slide]
    argv = shlex.split(command)[1:] + ["--impl", "hand", "--json", "--out", str(tmp_path / "r")]
    assert main(argv) == 0, capsys.readouterr().err
    summary = json.loads(capsys.readouterr().out)
    assert summary["epochs"] == 10000 and summary["train_accuracy"] == 1.0
    assert summary["final_loss"] < {"10": 0.01, "13": 0.2}[slide]  # degenerate: 0.10 and 0.25


def test_track_command_records_its_columns(tmp_path, capsys):
    """The --track command of the README runs as written (shortened) and writes what its
    table lists into metrics.csv, and tracking.png."""
    from jaxgd.experiments.records import read_metrics_csv

    command = re.search(r"^(jaxgd train --track .*)$", README, re.M).group(1)
    out = tmp_path / "r"
    argv = shlex.split(command)[1:] + ["--epochs", "20", "--impl", "hand", "--quiet", "--out", str(out)]
    assert main(argv) == 0, capsys.readouterr().err
    columns = read_metrics_csv(out / "metrics.csv")
    for name in ("sharpness", "two_over_lr", "noise_scale", "lr", "update_norm", "update_ratio",
                 "update_ratio[0].w"):
        assert f"`{name}`" in README and name in columns
    assert columns["sharpness"][9] > 0 and columns["two_over_lr"][9] == 2 / 2
    assert (out / "tracking.png").is_file()


@pytest.mark.slow  # ~20 s on 2 busy cores: a dozen programs compiled op by op
def test_instruments_example_runs_and_its_numbers_hold(capsys):
    section = r"## Looking inside training: jaxgd.instruments\n.*?```python\n(.*?)```"
    code = re.search(section, README, re.S).group(1)
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    sharp, pre = (float(v) for v in re.search(r"sharpness (\S+) .*preconditioned (\S+) ", out).groups())
    assert 0 < sharp < 40 and 0 < pre < 760  # below the stability limits the example prints
    curve = re.search(r"loss from init to trained: \[(.*)\]", out).group(1).split()
    assert float(curve[-1]) < float(curve[0])
