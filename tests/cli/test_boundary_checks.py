"""Values the fault campaign found refused too late (an internal error, a numpy warning, a
benchmark run first) or not at all: each is now a one-line error, exit 2, before any work."""

from __future__ import annotations

import warnings

import pytest

import jaxgd.benchmark
import jaxgd.experiments.compare
import jaxgd.experiments.run
import jaxgd.experiments.sweep.engine
from jaxgd.cli import main
from jaxgd.core.errors import ConfigError
from jaxgd.experiments.config import TrainConfig, validate

BIG = str(10**12)


@pytest.fixture
def no_work(monkeypatch):
    """Training, sweeping, comparing or benchmarking fails the test: refusals come first."""
    for module, name in ((jaxgd.experiments.run, "fit"), (jaxgd.experiments.sweep.engine, "sweep"),
                         (jaxgd.experiments.compare, "compare"), (jaxgd.benchmark, "run_bench")):
        monkeypatch.setattr(module, name, lambda *a, **k: pytest.fail("worked before refusing"))


def refused(argv: list[str], capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "internal error" not in err and "Warning" not in err, err
    return err


@pytest.mark.parametrize("flags, message", [
    (["--dataset", "moons", "--n-samples", BIG], f"n_samples={BIG}: expected a whole number in "
                                                 "1..2,147,483,647"),
    (["--seed", str(10**20)], f"seed={10**20} is not an integer in 0..2,147,483,647"),
    (["--seed", "-1"], "seed=-1 is not an integer in 0..2,147,483,647"),
    (["--schedule", "exponential", "--decay-every", BIG], f"decay_every={BIG}: expected a whole number"),
    (["--schedule", "warmup_cosine", "--warmup-epochs", BIG], f"warmup_epochs={BIG}: expected a whole"),
    (["--eval-every", BIG], f"eval_every={BIG}: expected a whole number in 1..2,147,483,647"),
    (["--checkpoint-every", BIG], f"checkpoint_every={BIG}: expected a whole number in 0..2,147,483,647"),
])
def test_huge_integer_flags_are_range_errors_not_internal_overflow(flags, message, capsys, tmp_path,
                                                                   no_work):
    """Campaign A055, A104: 'internal error: OverflowError' (exit 1) for --n-samples 1e12 and
    --seed 1e20; the same held for every count the device keeps in an int32."""
    assert message in refused(["train", "--epochs", "3", *flags, "--out", str(tmp_path / "o")], capsys)
    assert list(tmp_path.iterdir()) == []


def test_n_samples_beyond_free_memory_is_refused_before_generating(monkeypatch, capsys, tmp_path):
    import jaxgd.experiments.build
    import jaxgd.training.resources

    monkeypatch.setattr(jaxgd.training.resources, "available_memory", lambda device=None: 2**30)
    monkeypatch.setattr(jaxgd.experiments.build, "load_dataset", lambda *a, **k: pytest.fail("generated"))
    err = refused(["train", "--dataset", "moons", "--n-samples", "100000000", "--out",
                   str(tmp_path / "o")], capsys)
    assert "generating 100,000,000 examples of 'moons' (--n-samples) needs about 14.90 GiB" in err
    assert "but only 1.00 GiB is available. Use a smaller --n-samples." in err


@pytest.mark.parametrize("flags, message", [
    (["--lr", "1e308"], "learning_rate=1e+308 is outside the accepted range; accepted: (0, 3.40282e+38]. "
                        "A run computes in float32"),
    (["--l2", "1e39"], "l2=1e+39 is outside the accepted range"),
    (["--tol", "1e300"], "tol=1e+300 is outside the accepted range"),
    (["--set", "momentum=1e39"], "momentum=1e+39 does not fit in float32"),
    (["--set", "betas=(0.9, 1e300)"], "betas=1e+300 does not fit in float32"),
])
def test_float_values_beyond_float32_are_refused_without_a_numpy_warning(flags, message, capsys,
                                                                         tmp_path, no_work):
    """Campaign A011: --lr 1e308 printed numpy's 'RuntimeWarning: overflow encountered in cast'
    before the divergence message."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning fails the command, so the test
        assert message in refused(["train", *flags, "--out", str(tmp_path / "o")], capsys)


@pytest.mark.parametrize("argv, message", [
    (["sweep", "--memory-budget-mb", "-1"], "--memory-budget-mb=-1.0 is outside the accepted range; "
                                            "accepted: [1, inf]"),
    (["sweep", "--memory-budget-mb", "0.000001"], "--memory-budget-mb=1e-06 is outside the accepted"),
    (["sweep", "--memory-budget-mb", "nan"], "--memory-budget-mb=nan is not finite"),
    (["train", "--init-timeout", "-1"], "--init-timeout=-1.0 is outside the accepted range"),
    (["train", "--init-timeout", "nan"], "--init-timeout=nan is not finite"),
    (["compare", "--optimizers", "sgd", "--target", "nan"], "--target=nan is not finite"),
    (["compare", "--optimizers", "sgd", "--target", "-1"], "--target=-1.0 is outside the accepted range"),
    (["bench", "--workloads", ""], "--workloads '' names no workload; accepted: a comma-separated "
                                   "subset of W1, W2, W3, W4, W5"),
    (["bench", "--workloads", " , "], "names no workload"),
    (["bench", "--repeats", "0"], "--repeats=0 must be a positive integer"),
])
def test_silently_accepted_values_are_refused(argv, message, capsys, tmp_path, no_work):
    """Campaign B020, B021, A120, A121, B039, B076: accepted without a word (exit 0)."""
    assert message in refused([*argv, "--out", str(tmp_path / "o")], capsys)
    assert list(tmp_path.iterdir()) == []


def test_bench_out_that_is_a_file_is_refused_before_benchmarking(tmp_path, capsys, no_work):
    """Campaign B075: 'could not access notes.txt: File exists' (exit 1) after 9 s of benchmarking."""
    notes = tmp_path / "notes.txt"
    notes.write_text("mine\n")
    err = refused(["bench", "--quick", "--workloads", "W1", "--out", str(notes)], capsys)
    assert f"--out {str(notes)!r} is a file; bench writes bench.json and bench.md into a folder" in err
    err = refused(["bench", "--out", str(notes / "sub")], capsys)
    assert f"lies under {str(notes)!r}, which is a file" in err
    assert notes.read_text() == "mine\n" and sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize("seed", [1.5, True, -1, 2**31])
def test_validate_refuses_a_seed_that_is_not_a_32_bit_integer(seed):
    """Campaign API: validate(TrainConfig(seed=1.5)) passed."""
    with pytest.raises(ConfigError, match=r"seed=.* is not an integer in 0\.\.2,147,483,647"):
        validate(TrainConfig(seed=seed))
