"""jaxgd.experiments.compare: optimizer specs, hand vs optax over vmapped seeds, epochs to target, CLI."""

import dataclasses
import json

import jax
import numpy as np
import pytest

from jaxgd.cli import main
from jaxgd.core.errors import ConfigError, UnknownNameError
from jaxgd.experiments.build import make_eval_fn, make_objective, make_problem, make_tx
from jaxgd.experiments.compare import (
    OptimizerSpec,
    compare,
    compare_header,
    epochs_to_target,
    format_table,
    parse_optimizer,
    spec_config,
    summarize,
)
from jaxgd.experiments.config import TrainConfig
from jaxgd.experiments.defaults import resolve_defaults
from jaxgd.experiments.plots import read_table
from jaxgd.nn.models import init_mlp
from jaxgd.reference import DEFAULT_LEARNING_RATES
from jaxgd.training.engine import fit

CFG = TrainConfig(dataset="moons", n_samples=40, hidden=(4,), activation="tanh", learning_rate=0.5,
                  epochs=8, impl="hand")
SPECS = ["sgd:hand", "sgd:optax", "adam:hand:learning_rate=0.05,b1=0.8"]


@pytest.fixture(scope="module")
def result():
    return compare(CFG, SPECS, [0, 1])


@pytest.mark.parametrize("text, expected", [
    ("sgd", OptimizerSpec("sgd", "hand", ())),
    ("adam:optax", OptimizerSpec("adam", "optax", ())),
    ("adam:hand:learning_rate=0.01", OptimizerSpec("adam", "hand", (("learning_rate", 0.01),))),
    ("adam:learning_rate=0.01,b1=0.8", OptimizerSpec("adam", "hand", (("learning_rate", 0.01), ("b1", 0.8)))),
    ("sgd:optax:momentum=0.9:nesterov=true",
     OptimizerSpec("sgd", "optax", (("momentum", 0.9), ("nesterov", True)))),
])
def test_parse_optimizer(text, expected):
    assert parse_optimizer(text) == expected


@pytest.mark.parametrize("text, error, fragment", [
    ("adamm", UnknownNameError, "Did you mean 'adam'"),
    ("adam:torch", ConfigError, "impl 'torch' is not one of"),
    ("adam:hand:b1", ConfigError, "'b1' is not KEY=VALUE"),
    ("adam:hand:=3", ConfigError, "is not KEY=VALUE"),
])
def test_parse_optimizer_rejects(text, error, fragment):
    with pytest.raises(error, match=fragment):
        parse_optimizer(text)


def test_spec_config_and_repeated_labels():
    c = spec_config(CFG, parse_optimizer("adam:optax:learning_rate=0.01,b1=0.8"))
    assert (c.optimizer, c.learning_rate, c.impl, c.hyper) == ("adam", 0.01, "optax", (("b1", 0.8),))
    with pytest.raises(ConfigError, match="more than once"):
        compare(CFG, ["sgd", "sgd:hand"], [0])
    with pytest.raises(ConfigError, match="learning_rate='x' is not a number"):
        spec_config(CFG, parse_optimizer("sgd:learning_rate=x"))


@pytest.mark.parametrize("target, expected", [(0.5, [2, 0, 1]), (0.25, [0, 0, 3]), (9.0, [1, 1, 1])])
def test_epochs_to_target(target, expected):
    loss = np.array([[0.9, 0.5, 0.4], [0.8, np.nan, np.nan], [0.3, 0.3, 0.2]])
    assert epochs_to_target(loss, target).tolist() == expected


def test_hand_and_optax_sgd_agree_per_seed(result):
    hand, optax_ = result.results[0], result.results[1]
    assert hand.grid.seeds.tolist() == optax_.grid.seeds.tolist() == [0, 1]
    np.testing.assert_allclose(hand.history["loss"], optax_.history["loss"], rtol=1e-5)
    assert not np.allclose(hand.history["loss"][0], hand.history["loss"][1])  # seeds differ


def test_adam_run_equals_fit(result):
    c = resolve_defaults(dataclasses.replace(CFG, optimizer="adam", learning_rate=0.05,
                                             hyper=(("b1", 0.8),)))  # the init the run used
    pb = make_problem(c)
    loss_fn, vg = make_objective(c, pb)
    alone = fit(None, init_mlp(jax.random.key(1), pb.sizes, c.init), make_tx(c, "hand", 1),
                pb.data.x, pb.data.y, epochs=c.epochs, key=jax.random.key(3), value_and_grad=vg,
                eval_fn=make_eval_fn(c, pb, loss_fn))
    np.testing.assert_allclose(result.results[2].history["loss"][1], alone.history["loss"], rtol=2e-5)


def test_summary_numbers(result):
    s = summarize(result, target=0.6, band="std")
    rows = {r["label"]: r for r in s["optimizers"]}
    assert list(rows) == ["sgd:hand", "sgd:optax", "adam:hand:learning_rate=0.05,b1=0.8"]
    for r, res in zip(s["optimizers"], result.results, strict=True):
        final = res.history["loss"][:, -1]
        assert r["final_loss_mean"] == pytest.approx(float(final.mean()), rel=1e-6)
        assert r["final_loss_std"] == pytest.approx(float(final.std()), rel=1e-5, abs=1e-9)
        hits = epochs_to_target(res.history["loss"], 0.6)
        assert r["epochs_to_target"] == [int(h) if h else None for h in hits]
        assert r["seconds"] == pytest.approx(r["compile_seconds"] + r["run_seconds"], abs=1e-3)
    table = format_table(s)
    assert table.splitlines()[0].split()[:7] == ["optimizer", "lr", "other", "args", "final", "loss", "±"]
    assert "epochs to 0.6" in table and len(table.splitlines()) == 4
    with pytest.raises(UnknownNameError, match="band"):
        summarize(result, band="iqr")


def test_cli_writes_csv_json_and_band_plot(tmp_path):
    out = tmp_path / "cmp"
    rc = main(["compare", "--dataset", "xor", "--epochs", "6", "--optimizers", "sgd:hand:learning_rate=2",
               "--seeds", "2", "--target", "0.3", "--plot", "--out", str(out), "--quiet"])
    assert rc == 0
    table = read_table(out / "compare.csv")
    assert list(table)[:4] == ["optimizer", "impl", "seed", "epoch"]
    assert len(table["loss"]) == 2 * 6 and set(table["optimizer"]) == {"sgd:hand:learning_rate=2"}
    summary = json.loads((out / "summary.json").read_text())
    row = summary["optimizers"][0]
    final = table["loss"][table["epoch"] == 6]
    assert row["final_loss_mean"] == pytest.approx(final.mean(), rel=1e-6)
    png = (out / "compare.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_compare_shows_each_optimizers_settings(tmp_path, capsys):
    """Each row says the learning rate and arguments its optimizer ran with and where the rate
    came from; the header names the network and loss; config.json and summary.json agree."""
    out = tmp_path / "cmp"
    assert main(["compare", "--dataset", "moons", "--n-samples", "40", "--epochs", "3",
                 "--optimizers", "sgd:momentum=0.5", "adam", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    head, table = text.splitlines()[0], text.splitlines()[1:4]
    assert head.startswith("jaxgd compare: moons, sizes (2, 3, 1) (")
    assert ", sigmoid (" in head and ", loss bce, 2 optimizers x 1 seed, 3 epochs" in head
    assert "seeds" not in head and "± std" not in table[0] and "train accuracy" in table[0]
    sgd_lr, adam_lr = DEFAULT_LEARNING_RATES["sgd"].value, DEFAULT_LEARNING_RATES["adam"].value
    assert f"{sgd_lr:g} (sgd's default)" in table[1] and f"{adam_lr:g} (adam's default)" in table[2]
    assert "momentum=0.5" in table[1]
    rows = json.loads((out / "summary.json").read_text())["optimizers"]
    assert [(r["learning_rate"], r["learning_rate_from"]) for r in rows] == [
        (sgd_lr, "sgd's default"), (adam_lr, "adam's default")]
    assert [r["hyper"] for r in rows] == [{"learning_rate": sgd_lr, "momentum": 0.5},
                                          {"learning_rate": adam_lr}]
    config = json.loads((out / "config.json").read_text())
    assert (config["optimizer"], config["learning_rate"], config["hyper"]) == (None, None, [])
    assert [(o["label"], o["learning_rate"]) for o in config["optimizers"]] == [
        ("sgd:hand:momentum=0.5", sgd_lr), ("adam:hand", adam_lr)]
    table_csv = read_table(out / "compare.csv")
    last = table_csv["epoch"] == 3
    for row, line in zip(rows, table[1:], strict=True):
        mine = last & (table_csv["optimizer"] == row["label"])
        assert row["final_train_accuracy_mean"] == pytest.approx(float(table_csv["train_accuracy"][mine][0]))
        assert f"{row['final_train_accuracy_mean']:.4f}" in line and f"{row['final_loss_mean']:.4g}" in line


def test_compare_table_says_given_lr_seeds_and_test_accuracy(result):
    """--lr and a spec's own rate are named as such; several seeds show ± std; a test split
    adds its accuracy column."""
    s = summarize(result)
    assert [r["learning_rate_from"] for r in s["optimizers"]] == ["--lr", "--lr", "given"]
    assert s["optimizers"][2]["hyper"] == {"learning_rate": 0.05, "b1": 0.8}
    assert s["model"]["sizes"] == [2, 4, 1] and s["model"]["loss"] == "bce"
    lines = format_table(s).splitlines()
    assert "± std" in lines[0] and "0.5 (--lr)" in lines[1] and lines[3].split()[1:3] == ["0.05", "b1=0.8"]
    assert "2 seeds" in compare_header(s) and "test accuracy" not in lines[0]
    s["optimizers"][0]["final_test_accuracy_mean"] = 0.75
    lines = format_table(s).splitlines()
    assert "test accuracy" in lines[0] and "0.7500" in lines[1] and lines[2].split()[-3] == "-"
