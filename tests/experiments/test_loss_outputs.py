"""The loss decides the output layer; --task, --label-column and loss spellings in a config."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgd.cli import build_parser, main
from jaxgd.cli.common import config_from_args
from jaxgd.core.errors import ConfigError, UnknownNameError
from jaxgd.data import load_dataset
from jaxgd.experiments.build import data_summary, make_eval_fn, make_objective, make_problem
from jaxgd.experiments.config import TrainConfig, resume_config, validate
from jaxgd.nn.models import init_mlp, mlp


def _pieces(cfg):
    pb = make_problem(validate(cfg))
    params = init_mlp(jax.random.key(1), pb.sizes, "glorot")
    loss_fn, vg = make_objective(cfg, pb)
    return pb, params, loss_fn, vg


def _grads_agree(params, loss_fn, vg, x, y):
    value, grads = vg(params, x, y)
    want_value, want = jax.value_and_grad(loss_fn)(params, x, y)
    np.testing.assert_allclose(value, want_value, rtol=1e-5)
    for g, w in zip(jax.tree.leaves(grads), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-6)


def test_softmax_ce_on_moons_builds_one_output_per_class():
    # was: moons --loss softmax_ce failed with a hint about targets.argmax(-1)
    cfg = TrainConfig(dataset="moons", loss="softmax_ce", hidden=(8,), activation="tanh",
                      n_samples=40)
    pb, params, loss_fn, vg = _pieces(cfg)
    ds = pb.data
    moons = load_dataset("moons", jax.random.key(1), n=40)
    assert pb.sizes == (2, 8, 2) and (ds.task, ds.n_classes, ds.y.dtype) == ("multiclass", 2, jnp.int32)
    np.testing.assert_array_equal(ds.y, np.asarray(moons.y)[:, 0])
    z = np.asarray(mlp(params, ds.x, "tanh", "identity"), np.float64)  # (n, 2) logits
    y = np.asarray(ds.y)
    want = np.mean(np.log(np.exp(z).sum(1)) - z[np.arange(len(y)), y])
    np.testing.assert_allclose(loss_fn(params, ds.x, ds.y), want, rtol=1e-5)
    _grads_agree(params, loss_fn, vg, ds.x, ds.y)
    acc = make_eval_fn(cfg, pb, loss_fn)(params)["train_accuracy"]
    np.testing.assert_allclose(acc, np.mean(z.argmax(1) == y), rtol=1e-6)


def test_bce_on_a_binary_dataset_builds_one_output():
    pb, params, loss_fn, _ = _pieces(TrainConfig(dataset="moons", loss="bce", n_samples=40))
    assert pb.sizes == (2, 3, 1) and pb.data.y.shape == (40, 1) and pb.output_activation == "identity"
    z = np.asarray(mlp(params, pb.data.x, "sigmoid", "identity"), np.float64)[:, 0]
    t = np.asarray(pb.data.y)[:, 0]
    want = np.mean(np.log1p(np.exp(z)) - t * z)
    np.testing.assert_allclose(loss_fn(params, pb.data.x, pb.data.y), want, rtol=1e-5)


@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_mse_and_bce_on_three_classes_train_on_one_hot_targets(loss):
    # was: spirals --loss bce and digits --loss mse ended in "reshape y"
    cfg = TrainConfig(dataset="spirals", loss=loss, hidden=(8,), activation="tanh", n_samples=30)
    pb, params, loss_fn, vg = _pieces(cfg)
    assert pb.sizes == (2, 8, 3) and pb.one_hot and pb.data.y.dtype == jnp.int32
    assert pb.output_activation == ("sigmoid" if loss == "mse" else "identity")
    out = np.asarray(mlp(params, pb.data.x, "tanh", pb.output_activation), np.float64)  # (n, 3)
    t = np.eye(3)[np.asarray(pb.data.y)]
    per_example = (np.mean((out - t) ** 2, 1) if loss == "mse"
                   else np.sum(np.log1p(np.exp(out)) - t * out, 1))
    np.testing.assert_allclose(loss_fn(params, pb.data.x, pb.data.y), per_example.mean(), rtol=1e-5)
    _grads_agree(params, loss_fn, vg, pb.data.x, pb.data.y)
    assert pb.notes[-1] == f"3 outputs, one per class ({loss} on one-hot labels)"


def test_bce_on_a_two_class_file_builds_one_output(tmp_path):
    # was: a file's 0/1 labels always became a 2-class softmax; --loss bce then failed
    path = tmp_path / "two.csv"
    path.write_text("a,b,label\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(10)))
    pb = make_problem(validate(TrainConfig(dataset=str(path), loss="bce", task="multiclass")))
    assert pb.sizes == (2, 3, 1) and pb.data.task == "binary" and pb.data.y.shape == (10, 1)
    np.testing.assert_allclose(np.asarray(pb.data.y)[:, 0], np.arange(10) % 2)
    summary = data_summary(pb)
    assert summary["task"] == "binary" and summary["outputs"] == 1
    assert summary["notes"][:2] == ["task multiclass, 2 classes (--task)",
                                    "labels in column 3 of 3, 'label' (found by its name; "
                                    "--label-column chooses another)"]


def test_task_regression_on_a_file_keeps_one_output_per_target(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("a,target\n1,0\n2,1\n3,1\n")
    pb = make_problem(validate(TrainConfig(dataset=str(path), task="regression")))
    assert (pb.data.task, pb.loss, pb.sizes[-1], pb.output_activation) == ("regression", "mse", 1,
                                                                         "identity")


def test_string_labels_mapping_is_in_the_data_summary(tmp_path):
    path = tmp_path / "pets.csv"
    path.write_text("w,h,class\n1,2,dog\n2,1,cat\n3,3,dog\n0,1,cat\n")
    summary = data_summary(make_problem(validate(TrainConfig(dataset=str(path)))))
    assert summary["classes"] == ["cat", "dog"] and summary["task"] == "binary"
    assert "labels encoded as classes: cat -> 0, dog -> 1" in summary["notes"]


@pytest.mark.parametrize(("changes", "pattern"), [
    (dict(dataset="sine", loss="softmax_ce"), r"loss='softmax_ce' \(--loss softmax_ce\) needs "
     r"classes, but dataset 'sine' is a regression task.*Use --loss mse\.$"),
    (dict(dataset="sine", loss="bce"), r"loss='bce' \(--loss bce\) needs targets 0 or 1.*--loss mse"),
    (dict(dataset="moons", loss="bce", output_activation="sigmoid"),
     r"output_activation='sigmoid' \(--output-activation\) with loss='bce' \(--loss bce\).*Leave "
     r"--output-activation out"),
])
def test_loss_and_data_that_do_not_fit_are_said_in_flags(changes, pattern):
    with pytest.raises(ConfigError, match=pattern) as err:
        make_problem(validate(TrainConfig(n_samples=20, **changes)))
    assert "reshape" not in str(err.value).lower() and "argmax" not in str(err.value)


# ----------------------------------------------------------------------------- the config


@pytest.mark.parametrize(("spelling", "loss"), [
    ("ce", "softmax_ce"), ("cross_entropy", "softmax_ce"), ("Cross-Entropy", "softmax_ce"),
    ("binary_cross_entropy", "bce"), ("BCE", "bce"), ("squared_error", "mse"),
    ("mean_squared_error", "mse"), ("softmax_ce", "softmax_ce"),
])
def test_loss_aliases_resolve_to_the_loss_names(spelling, loss):
    cfg = validate(TrainConfig(loss=spelling))
    assert cfg.loss == loss
    assert json.loads(cfg.to_json())["loss"] == loss
    assert resume_config(cfg, {"loss": spelling}).loss == loss  # the same loss: not a change


def test_unknown_loss_lists_the_losses_in_flags():
    # was: "Valid losss: bce, mse, softmax_ce"; `--loss ce` suggested bce
    with pytest.raises(UnknownNameError, match=r"unknown loss 'cross_entrpy' \(--loss\)\. Did you "
                       r"mean 'softmax_ce'\? Accepted: bce, mse, softmax_ce; also written ce") as err:
        validate(TrainConfig(loss="cross_entrpy"))
    assert "losss" not in str(err.value)


@pytest.mark.parametrize(("changes", "pattern"), [
    (dict(task="binary"), r"task='binary' \(--task\) says what the labels of a .npz or .csv file "
     r"are; dataset 'xor' is built in"),
    (dict(task="binay", dataset="f.csv"), r"unknown task 'binay'\. Did you mean 'binary'"),
    (dict(n_samples=100), r"does not apply to 'xor': its 4 points are fixed\. Leave --n-samples out"),
    (dict(dataset="data.txt"), r"dataset='data.txt' \(--dataset\) is a file with the suffix '.txt'"
     r", which jaxgd does not read; accepted: a .npz file \(arrays x and y\) or a .csv file"),
    (dict(dataset="moon"), r"unknown dataset 'moon' \(--dataset\)\. Did you mean 'moons'\?"),
    (dict(dataset="f.csv", label_column=0), r"label_column=0 \(--label-column\): expected a column "
     r"name or a position \(1 = the first column, -1 = the last\)"),
])
def test_data_flags_are_checked_before_any_work(changes, pattern):
    with pytest.raises(ConfigError, match=pattern) as err:
        validate(TrainConfig(**changes))
    assert "'n'" not in str(err.value) and "dtype" not in str(err.value)


def test_task_and_label_column_flags(tmp_path):
    args = build_parser().parse_args(["train", "--dataset", "f.csv", "--task", "multiclass",
                                      "--label-column", "-1", "--loss", "ce"])
    cfg = config_from_args(args)
    assert (cfg.task, cfg.label_column, cfg.loss) == ("multiclass", "-1", "softmax_ce")
    assert TrainConfig.from_dict(json.loads(cfg.to_json())) == cfg


def test_train_on_a_headerless_file_needs_the_label_column(tmp_path, capsys):
    path = tmp_path / "points.csv"
    path.write_text("".join(f"{i / 10},{(i * 7) % 5 / 5},{i % 2}\n" for i in range(12)))
    out = tmp_path / "r"
    assert main(["train", "--dataset", str(path), "--epochs", "3", "--quiet", "--out", str(out)]) == 2
    assert "which column holds the labels?" in capsys.readouterr().err
    assert main(["train", "--dataset", str(path), "--label-column", "-1", "--loss", "ce",
                 "--epochs", "3", "--json", "--out", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["epochs"] == 3 and 0.0 <= summary["train_accuracy"] <= 1.0
    with np.load(out / "params.npz") as z:
        assert z["[1].w"].shape == (3, 2)  # softmax_ce on two classes: two outputs
