"""Data parallelism on 8 CPU devices: same curve as one device, deterministic, clear errors."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

from jaxgd import optimizers as O
from jaxgd.cli import main
from jaxgd.core.errors import ConfigError
from jaxgd.data import sine
from jaxgd.experiments.records import read_metrics_csv
from jaxgd.nn.losses import make_loss_fn
from jaxgd.nn.models import init_mlp
from jaxgd.training.engine import fit, init_state, make_epoch, make_step
from jaxgd.training.parallel import check_batch_divisible, make_mesh, parse_coordinator

LOSS = make_loss_fn("mse", "tanh", "identity")
DS = sine(jax.random.key(1), n=64)
PARAMS = init_mlp(jax.random.key(2), (1, 8, 1), "glorot")


def run(mesh, batch_size=16, tx=None):
    return fit(LOSS, PARAMS, tx or O.adam(0.01), DS.x, DS.y, epochs=6, batch_size=batch_size,
               key=jax.random.key(5), mesh=mesh)


@pytest.fixture(scope="module")
def runs():
    mesh = make_mesh(8)
    return run(None), run(mesh), run(mesh)


@pytest.mark.slow  # 25-40 s: fresh processes or many devices; run with pytest -m slow
def test_eight_devices_follow_the_single_device_loss_curve(runs):
    single, sharded, _ = runs
    assert len(sharded.history["loss"]) == 6 and int(sharded.state.step) == 6 * 4
    np.testing.assert_allclose(sharded.history["loss"], single.history["loss"], rtol=1e-5)
    np.testing.assert_allclose(sharded.history["grad_norm"], single.history["grad_norm"], rtol=1e-5)
    for a, b in zip(jax.tree.leaves(sharded.state.params), jax.tree.leaves(single.state.params),
                    strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    w = sharded.state.params[0].w
    assert w.sharding.is_fully_replicated and len(w.sharding.device_set) == 8


def test_two_sharded_runs_are_bitwise_equal(runs):
    _, a, b = runs
    np.testing.assert_array_equal(a.history["loss"], b.history["loss"])
    for x, y in zip(jax.tree.leaves(a.state.params), jax.tree.leaves(b.state.params), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_full_batch_momentum_on_eight_devices_matches_one():
    tx = O.sgd(0.1, momentum=0.9)
    a, b = run(None, batch_size=None, tx=tx), run(make_mesh(8), batch_size=None, tx=tx)
    np.testing.assert_allclose(b.history["loss"], a.history["loss"], rtol=1e-5)


def test_the_compiled_step_splits_the_batch_and_sums_gradients_across_devices():
    mesh = make_mesh(8)
    epoch = make_epoch(make_step(jax.value_and_grad(LOSS), O.sgd(0.1)), 64, 16, mesh)
    state = init_state(PARAMS, O.sgd(0.1), jax.random.key(0))
    hlo = jax.jit(epoch).lower(state, DS.x, DS.y).compile().as_text()
    assert "all-reduce" in hlo  # per-device partial gradients summed: the batch was split
    single = make_epoch(make_step(jax.value_and_grad(LOSS), O.sgd(0.1)), 64, 16)
    assert "all-reduce" not in jax.jit(single).lower(state, DS.x, DS.y).compile().as_text()


def test_batch_that_does_not_split_over_the_devices_is_a_clear_error():
    with pytest.raises(ConfigError) as e:
        run(make_mesh(8), batch_size=30)
    msg = str(e.value)
    assert "batch_size=30" in msg and "8 devices" in msg and "24 or 32" in msg
    with pytest.raises(ConfigError, match=r"batch_size=60 \(full batch: n=60\).*Nearest valid sizes: 56"):
        check_batch_divisible(60, 8, 60)
    check_batch_divisible(24, 8, 64)  # a multiple passes


@pytest.mark.parametrize("devices,match", [(9, "devices=9 but JAX sees 8"), (0, "devices=0"),
                                           ("two", "devices='two'")])
def test_device_count_is_checked(devices, match):
    with pytest.raises(ConfigError, match=match):
        make_mesh(devices)
    assert make_mesh("all").size == make_mesh(None).size == 8 and make_mesh(3).size == 3


def test_coordinator_address_is_checked():
    assert parse_coordinator("127.0.0.1:1234") == ("127.0.0.1", 1234)
    for bad in ("localhost", ":80", "host:0", "host:http"):
        with pytest.raises(ConfigError, match="expected HOST:PORT"):
            parse_coordinator(bad)


@pytest.mark.slow  # 25-40 s: fresh processes or many devices; run with pytest -m slow
def test_cli_devices_flag_runs_data_parallel(tmp_path, capsys):
    args = ["train", "--dataset", "sine", "--n-samples", "64", "--hidden", "8", "--batch-size", "16",
            "--optimizer", "adam", "--lr", "0.01", "--epochs", "4", "--impl", "hand", "--quiet"]
    assert main([*args, "--devices", "8", "--out", str(tmp_path / "p")]) == 0
    assert json.loads((tmp_path / "p" / "summary.json").read_text())["devices"] == 8
    loss = read_metrics_csv(tmp_path / "p" / "metrics.csv")["loss"]
    assert len(loss) == 4 and loss[-1] < loss[0]
    assert main([*args, "--devices", "8", "--batch-size", "12", "--out", str(tmp_path / "x")]) == 2
    assert "batch_size=12 does not split evenly over 8 devices" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
