"""Sharded data in one process over 2 or 4 of the 8 CPU devices: each device keeps and batches
its own rows; full batch equals one device; the gradient is that of the global batch mean."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgd import optimizers as O
from jaxgd.cli import main
from jaxgd.core.errors import ConfigError
from jaxgd.data import sine
from jaxgd.experiments.config import TrainConfig, resume_config
from jaxgd.experiments.records import read_metrics_csv
from jaxgd.nn.backprop import mlp_value_and_grad
from jaxgd.nn.losses import accuracy, make_loss_fn
from jaxgd.nn.models import init_mlp, mlp
from jaxgd.training.engine import StepMetrics, TrainState, fit
from jaxgd.training.parallel import make_mesh
from jaxgd.training.sharded import (
    keep_local_rows,
    make_sharded_epoch,
    resolve_data_sharding,
    row_share,
    rows_held,
    shard_rows,
)

LOSS = make_loss_fn("mse", "tanh", "identity")
DS = sine(jax.random.key(1), n=64)
PARAMS = init_mlp(jax.random.key(2), (1, 8, 1), "glorot")


@pytest.mark.parametrize("devices", [2, 4])
def test_full_batch_sharded_equals_one_device_on_the_full_data(devices):
    tx = O.sgd(0.1, momentum=0.9)
    one = fit(LOSS, PARAMS, tx, DS.x, DS.y, epochs=5)
    sharded = fit(LOSS, PARAMS, tx, DS.x, DS.y, epochs=5, mesh=make_mesh(devices),
                  data_sharding="sharded")
    np.testing.assert_allclose(sharded.history["loss"], one.history["loss"], rtol=1e-5)
    np.testing.assert_allclose(sharded.history["grad_norm"], one.history["grad_norm"], rtol=1e-5)
    for a, b in zip(jax.tree.leaves(sharded.state.params), jax.tree.leaves(one.state.params),
                    strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)


def test_rows_that_do_not_split_evenly_are_left_out_of_the_end():
    x, y = jnp.concatenate([DS.x, DS.x[:2]]), jnp.concatenate([DS.y, DS.y[:2] + 5.0])  # 66 rows
    mesh = make_mesh(4)
    share = row_share(66, mesh)
    assert (share.n_keep, share.per_device, share.dropped) == (64, 16, 2)
    assert "the last 2 of 66 examples are left out" in share.note(4)
    sharded = fit(LOSS, PARAMS, O.sgd(0.1), x, y, epochs=3, mesh=mesh, data_sharding="sharded")
    first = fit(LOSS, PARAMS, O.sgd(0.1), DS.x, DS.y, epochs=3)  # the 64 rows that are kept
    np.testing.assert_allclose(sharded.history["loss"], first.history["loss"], rtol=1e-5)


def test_each_process_and_device_holds_only_its_block():
    mesh = make_mesh(4)
    share = row_share(64, mesh)
    x, y = shard_rows((DS.x, DS.y), mesh, share)
    assert [s.data.shape for s in x.addressable_shards] == [(16, 1)] * 4
    for s in x.addressable_shards:  # device k holds rows 16k .. 16k+15, in order
        k = list(mesh.devices.flat).index(s.device)
        np.testing.assert_array_equal(np.asarray(s.data), np.asarray(DS.x[16 * k:16 * (k + 1)]))
    assert rows_held(x) == (16, 64)  # one process: all four blocks
    local = keep_local_rows((DS.x, DS.y), share)
    again, _ = shard_rows(local, mesh, share, local=True)
    np.testing.assert_array_equal(np.asarray(again), np.asarray(x))


def _recording_step(n: int, devices: int, b: int):
    """A step that counts, per device position in the global batch, which rows it saw."""

    def step(state, batch):
        xb, _ = batch
        rows = xb[:, 0].astype(jnp.int32)  # column 0 is the row number
        owner = jnp.arange(rows.shape[0]) // b  # position j of the global batch is device j // b
        seen = state.params.at[owner, rows].add(1)
        return state._replace(params=seen, step=state.step + 1), StepMetrics(jnp.zeros(()), jnp.zeros(()))

    return step


@pytest.mark.parametrize("n,devices,batch", [(48, 4, 8), (40, 2, 6)])
def test_each_device_batches_only_its_own_rows_each_once_per_epoch(n, devices, batch):
    mesh = make_mesh(devices)
    m, b = n // devices, batch // devices
    x = jnp.arange(n, dtype=jnp.float32)[:, None]  # the marker: a row's own number
    share = row_share(n, mesh)
    xs, ys = shard_rows((x, x), mesh, share)
    epoch = jax.jit(make_sharded_epoch(_recording_step(n, devices, b), n, batch, mesh))
    state = TrainState(jnp.zeros((devices, n), jnp.int32), (), jnp.zeros([], jnp.int32),
                       jax.random.key(3))
    state, _ = epoch(state, xs, ys)
    seen = np.asarray(state.params)
    steps = m // b
    assert int(state.step) == steps
    for k in range(devices):
        own = seen[k, k * m:(k + 1) * m]
        assert seen[k].sum() == steps * b == own.sum()  # only rows of its own block
        assert set(np.unique(own)) <= {0, 1}  # never a row twice in an epoch
        assert (own == 1).sum() == steps * b  # all of them when b divides m
    second, _ = epoch(state._replace(params=jnp.zeros_like(state.params)), xs, ys)
    assert not np.array_equal(jax.random.key_data(second.key), jax.random.key_data(state.key))


def test_devices_shuffle_their_rows_each_in_their_own_order():
    n, devices, batch = 32, 2, 4
    mesh = make_mesh(devices)
    x = jnp.arange(n, dtype=jnp.float32)[:, None]
    xs, ys = shard_rows((x, x), mesh, row_share(n, mesh))
    order = []

    def step(state, batch):
        params = state.params.at[state.step].set(batch[0][:, 0])  # step s: row s of the table
        return state._replace(params=params, step=state.step + 1), \
            StepMetrics(jnp.zeros(()), jnp.zeros(()))

    epoch = jax.jit(make_sharded_epoch(step, n, batch, mesh))
    state = TrainState(jnp.zeros((8, batch)), (), jnp.zeros([], jnp.int32), jax.random.key(0))
    for _ in range(2):
        state, _ = epoch(state._replace(step=jnp.zeros([], jnp.int32)), xs, ys)
        order.append(np.asarray(state.params))
    first = order[0]
    dev0, dev1 = first[:, :2].ravel(), first[:, 2:].ravel() - 16
    assert sorted(dev0) == sorted(dev1) == list(range(16))
    assert not np.array_equal(dev0, dev1) and not np.array_equal(dev0, np.arange(16))
    assert not np.array_equal(order[0], order[1])  # a new permutation every epoch
    at_once = jax.jit(make_sharded_epoch(step, n, batch, mesh, gather_per_epoch=True))
    start = state._replace(step=jnp.zeros([], jnp.int32))
    np.testing.assert_array_equal(np.asarray(at_once(start, xs, ys)[0].params),
                                  np.asarray(epoch(start, xs, ys)[0].params))  # same batches


@pytest.mark.parametrize("grad", ["autodiff", "backprop"])
def test_sharded_gradient_is_jax_grad_of_the_mean_over_the_global_batch(grad):
    n, devices, batch = 32, 4, 20  # 8 rows per device, 5 per step: one step per epoch
    key = jax.random.key(7)
    feats = jax.random.normal(key, (n, 1))
    y = jnp.sin(3 * feats)
    x = jnp.concatenate([feats, jnp.arange(n, dtype=jnp.float32)[:, None]], axis=1)  # + marker

    def loss_fn(p, x, y):
        return LOSS(p, x[:, :1], y)

    if grad == "autodiff":
        vg = jax.value_and_grad(loss_fn)
    else:
        vg = lambda p, x, y: mlp_value_and_grad(p, x[:, :1], y, activation="tanh")  # noqa: E731

    def step(state, batch):
        xb, yb = batch
        loss, g = vg(state.params, xb, yb)
        params = jax.tree.map(lambda p, d: p - d, state.params, g)  # sgd, learning rate 1
        seen = state.opt_state.at[xb[:, 1].astype(jnp.int32)].add(1)
        return TrainState(params, seen, state.step + 1, state.key), StepMetrics(loss, jnp.zeros(()))

    mesh = make_mesh(devices)
    xs, ys = shard_rows((x, y), mesh, row_share(n, mesh))
    state = TrainState(PARAMS, jnp.zeros(n, jnp.int32), jnp.zeros([], jnp.int32), key)
    new, metrics = jax.jit(make_sharded_epoch(step, n, batch, mesh))(state, xs, ys)
    rows = np.flatnonzero(np.asarray(new.opt_state))
    assert len(rows) == batch and all(np.sum(rows // 8 == k) == 5 for k in range(devices))
    ref_loss, ref_g = jax.value_and_grad(loss_fn)(PARAMS, np.asarray(x)[rows], np.asarray(y)[rows])
    np.testing.assert_allclose(float(metrics.loss), float(ref_loss), rtol=1e-6)
    for after, p, g in zip(jax.tree.leaves(new.params), jax.tree.leaves(PARAMS),
                           jax.tree.leaves(ref_g), strict=True):
        np.testing.assert_allclose(np.asarray(p) - np.asarray(after), np.asarray(g), rtol=1e-5,
                                   atol=1e-7)


def test_train_accuracy_is_over_every_device_s_rows():
    x = np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32)
    y = (x[:, :1] * x[:, 1:] > 0).astype(np.float32)  # (64, 1) labels 0/1
    loss = make_loss_fn("bce", "tanh", "identity")
    params = init_mlp(jax.random.key(1), (2, 8, 1), "glorot")

    def eval_fn(p, x, y):
        return {"train_accuracy": accuracy(mlp(p, x, "tanh", "identity"), y, "binary", True)}

    res = fit(loss, params, O.adam(0.05), x, y, epochs=4, batch_size=16, mesh=make_mesh(4),
              data_sharding="sharded", eval_fn=eval_fn, eval_with_data=True)
    final = mlp(res.state.params, x, "tanh", "identity")  # no mesh
    expected = float(accuracy(final, y, "binary", True))
    assert res.history["train_accuracy"][-1] == pytest.approx(expected, abs=1e-6)
    assert 0 < expected < 1


def test_bad_data_sharding_values_are_clear_errors():
    for bad in ("shard", 3, ""):
        with pytest.raises(ConfigError, match=r"data_sharding=.*accepted 'replicated'.*'sharded'"):
            fit(LOSS, PARAMS, O.sgd(0.1), DS.x, DS.y, epochs=1, mesh=make_mesh(2), data_sharding=bad)
    with pytest.raises(ConfigError, match="data_sharding='sharded' needs a device mesh"):
        fit(LOSS, PARAMS, O.sgd(0.1), DS.x, DS.y, epochs=1, data_sharding="sharded")
    with pytest.raises(ConfigError, match="n=3 examples cannot be sharded over 4 devices"):
        fit(LOSS, PARAMS, O.sgd(0.1), DS.x[:3], DS.y[:3], epochs=1, mesh=make_mesh(4),
            data_sharding="sharded")
    with pytest.raises(ConfigError, match="batch_size=10 does not split evenly over 4 devices"):
        fit(LOSS, PARAMS, O.sgd(0.1), DS.x, DS.y, epochs=1, batch_size=10, mesh=make_mesh(4),
            data_sharding="sharded")
    assert resolve_data_sharding("auto", make_mesh(2)) == "replicated"  # one process
    assert resolve_data_sharding(None, None) == "replicated"


def test_cli_data_sharding_flag(tmp_path, capsys):
    args = ["train", "--dataset", "sine", "--n-samples", "66", "--hidden", "8", "--batch-size", "16",
            "--optimizer", "sgd", "--lr", "0.05", "--epochs", "2", "--impl", "hand", "--quiet"]
    assert main([*args, "--devices", "4", "--data-sharding", "sharded", "--json",
                 "--out", str(tmp_path / "s")]) == 0
    out = capsys.readouterr().out
    summary = json.loads(out.strip().splitlines()[-1])
    assert (summary["data_sharding"], summary["train_rows"], summary["rows_per_device"]) == \
        ("sharded", 64, 16)
    assert json.loads((tmp_path / "s" / "config.json").read_text())["data_sharding"] == "sharded"
    assert any("the last 2 of 66 examples are left out" in n for n in summary["data"]["notes"])
    assert main([*args, "--data-sharding", "sideways", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "sideways" in err and "auto, replicated, sharded" in err and len(err.strip().splitlines()) == 1
    assert main([*args, "--data-sharding", "sharded", "--out", str(tmp_path / "y")]) == 2
    assert "needs a device mesh" in capsys.readouterr().err
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_resume_refuses_another_data_sharding():
    stored = TrainConfig(devices=4, data_sharding="sharded")
    assert resume_config(stored, {"epochs": 20, "devices": 2}).data_sharding == "sharded"
    with pytest.raises(ConfigError, match="data_sharding='replicated' differs from the run's "
                                          "data_sharding='sharded'.*--data-sharding"):
        resume_config(stored, {"data_sharding": "replicated"})
    assert TrainConfig.from_dict({"epochs": 5}).data_sharding == "auto"  # a config.json from before


@pytest.mark.slow
def test_a_resumed_sharded_run_keeps_its_split_and_continues_exactly(tmp_path, capsys):
    args = ["train", "--dataset", "sine", "--n-samples", "64", "--hidden", "8", "--batch-size", "16",
            "--optimizer", "adam", "--lr", "0.01", "--impl", "hand", "--quiet", "--devices", "4",
            "--checkpoint-every", "2"]
    assert main([*args, "--data-sharding", "sharded", "--epochs", "4", "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--data-sharding", "sharded", "--epochs", "2", "--out", str(tmp_path / "b")]) == 0
    assert main(["train", "--resume", str(tmp_path / "b"), "--epochs", "4", "--quiet"]) == 0
    whole, resumed = (read_metrics_csv(tmp_path / d / "metrics.csv")["loss"] for d in "ab")
    np.testing.assert_array_equal(resumed, whole)
    assert json.loads((tmp_path / "b" / "config.json").read_text())["data_sharding"] == "sharded"
    capsys.readouterr()
    assert main(["train", "--resume", str(tmp_path / "b"), "--epochs", "6", "--data-sharding",
                 "replicated", "--quiet"]) == 2
    assert "data_sharding='replicated' differs from the run's data_sharding='sharded'" in \
        capsys.readouterr().err
    assert main([*args, "--epochs", "2", "--out", str(tmp_path / "c")]) == 0  # auto, one process
    assert json.loads((tmp_path / "c" / "config.json").read_text())["data_sharding"] == "replicated"
