"""jaxgd.experiments.sweep: grids from text, vmapped runs equal to `fit` one at a time, sharding,
memory chunks, divergence of single runs, and `jaxgd sweep` end to end."""

import dataclasses
import json
import math

import jax
import numpy as np
import pytest

from jaxgd.cli import main
from jaxgd.core.errors import ConfigError, DivergenceError, ResourceError, UnknownNameError
from jaxgd.experiments.build import make_eval_fn, make_objective, make_problem, make_tx
from jaxgd.experiments.config import TrainConfig
from jaxgd.experiments.defaults import resolve_defaults
from jaxgd.experiments.plots import read_table
from jaxgd.experiments.sweep.engine import make_run_fns, sweep
from jaxgd.experiments.sweep.grid import check_names, make_grid, parse_seeds, parse_spec
from jaxgd.experiments.sweep.plan import bytes_per_run, epoch_calls, plan_chunks, use_cpu_devices
from jaxgd.nn.models import init_mlp
from jaxgd.training.engine import fit

MOONS = TrainConfig(dataset="moons", n_samples=48, hidden=(4,), activation="tanh", optimizer="sgd",
                    batch_size=16, epochs=4, impl="hand")
GRID = make_grid({"learning_rate": [0.05, 0.5, 2.0], "momentum": [0.0, 0.9]}, [0, 1])  # 12 runs
SINE = TrainConfig(dataset="sine", n_samples=32, hidden=(8,), activation="tanh", optimizer="sgd",
                   epochs=12, impl="hand")


def fit_one(cfg: TrainConfig, seed: int, **hyper):
    """The run with this seed and these hyperparameters, alone, the way `jaxgd train` does it."""
    lr = hyper.pop("learning_rate")
    c = resolve_defaults(dataclasses.replace(cfg, learning_rate=lr, hyper=tuple(sorted(hyper.items()))))
    pb = make_problem(c)
    loss_fn, vg = make_objective(c, pb)
    batch = c.batch_size or pb.data.n
    tx = make_tx(c, "hand", pb.data.n // batch)
    return fit(None, init_mlp(jax.random.key(seed), pb.sizes, c.init), tx, pb.data.x, pb.data.y,
               epochs=c.epochs, batch_size=batch, key=jax.random.key(seed + 2), value_and_grad=vg,
               eval_fn=make_eval_fn(c, pb, loss_fn), learning_rate=lr)


@pytest.fixture(scope="module")
def sharded():
    return sweep(MOONS, GRID)  # every device; 12 runs padded to a multiple of the device count


@pytest.fixture(scope="module")
def diverging():
    return sweep(SINE, make_grid({"learning_rate": [0.05, 40.0]}, [0]))


# ------------------------------------------------------------------------- grid text


@pytest.mark.parametrize("spec, expected", [
    ("1e-4:1e-1:4:log", [1e-4, 1e-3, 1e-2, 1e-1]),
    ("0:0.9:4:lin", [0.0, 0.3, 0.6, 0.9]),
    ("0:0.9:4", [0.0, 0.3, 0.6, 0.9]),
    ("1:1:1:LOG", [1.0]),
    ("0.1,0.2,0.5", [0.1, 0.2, 0.5]),
    (" 0.9 ", [0.9]),
    ("-1,2e-3", [-1.0, 2e-3]),
])
def test_parse_spec_values(spec, expected):
    np.testing.assert_allclose(parse_spec("--lr", spec), expected, rtol=1e-12)


@pytest.mark.parametrize("spec, fragment", [
    ("", "is empty"),
    ("0.1,,0.2", "empty item"),
    ("abc", "'abc' is not a number"),
    ("0.1:1", "3 or 4 parts"),
    ("0.1:1:2:log:x", "3 or 4 parts"),
    ("0.1:1:0:log", "NUM='0' must be a positive integer"),
    ("0.1:1:2.5", "NUM='2.5' must be a positive integer"),
    ("0.1:1:x", "NUM='x'"),
    ("0:1:4:log", "a log range needs START > 0"),
    ("-1:1:4:log", "a log range needs START > 0"),
    ("0.1:1:4:cubic", "unknown scale 'cubic'; accepted: log, lin"),
    ("nan", "is not finite"),
    ("0.1:inf:3", "is not finite"),
])
def test_parse_spec_rejects(spec, fragment):
    with pytest.raises(ConfigError) as err:
        parse_spec("--lr", spec)
    assert fragment in str(err.value) and "--lr" in str(err.value)


@pytest.mark.parametrize("spec, base, expected", [
    ("3", 0, [0, 1, 2]), (2, 5, [5, 6]), ("0,3,7", 0, [0, 3, 7]), ([4, 1], 0, [4, 1]),
])
def test_parse_seeds(spec, base, expected):
    assert parse_seeds(spec, base).tolist() == expected


@pytest.mark.parametrize("spec, fragment", [
    ("0", "positive count"), ("x", "positive count"), ("1,-2", "non-negative"), ("1,1", "repeats"),
])
def test_parse_seeds_rejects(spec, fragment):
    with pytest.raises(ConfigError, match=fragment):
        parse_seeds(spec)


def test_grid_is_the_product_with_seeds_fastest():
    g = make_grid({"learning_rate": [0.1, 0.2], "momentum": [0.0, 0.5, 0.9]}, [3, 4])
    assert g.runs == 12 and g.names == ("learning_rate", "momentum")
    assert g.seeds.tolist() == [3, 4] * 6
    assert g.values[:, 0].tolist() == [0.1] * 6 + [0.2] * 6
    assert g.values[:4, 1].tolist() == [0.0, 0.0, 0.5, 0.5]


@pytest.mark.parametrize("names, error, fragment", [
    (("nesterov",), ConfigError, "not a float hyperparameter"),
    (("bogus",), UnknownNameError, "Accepted sgd hyperparameter values"),
    (("momentum", "momentum"), ConfigError, "given twice"),
])
def test_check_names_rejects(names, error, fragment):
    with pytest.raises(error, match=fragment):
        check_names(MOONS, names)


def test_check_names_accepts_optimizer_and_config_floats():
    adam = dataclasses.replace(MOONS, optimizer="adam")
    assert check_names(adam, ("learning_rate", "b1", "b2", "eps", "l2")) == (
        "learning_rate", "b1", "b2", "eps", "l2")


def test_bad_grid_value_fails_before_compiling():
    with pytest.raises(ConfigError, match="momentum=1.0"):
        sweep(MOONS, make_grid({"momentum": [0.5, 1.0]}, [0]))


def test_optax_schedule_that_reads_a_swept_value_is_refused_clearly():
    cfg = dataclasses.replace(SINE, schedule="warmup_cosine", warmup_epochs=2)
    with pytest.raises(ConfigError, match=r"warmup_cosine.*\(learning_rate\).*--impl hand"):
        sweep(cfg, make_grid({"learning_rate": [0.05]}, [0]), impl="optax")


# ------------------------------------------------------------------------- planning


@pytest.mark.parametrize("runs, devices, per_run, budget, cap, expected", [
    (12, 8, 100, 10**6, None, (16, 1)),   # one chunk, padded to the devices
    (12, 1, 100, 500, None, (4, 3)),      # 5 runs fit: 3 equal chunks of 4
    (12, 8, 100, 100, None, (8, 2)),      # one run per device
    (12, 8, 100, 50, None, (8, 2)),       # not even one fits: still one per device
    (30, 4, 1, 10**6, 10, (8, 4)),        # the cap rounds down to the devices
    (3, 8, 1, 10**6, 2, (8, 1)),          # a cap below the device count still fills them
])
def test_plan_chunks(runs, devices, per_run, budget, cap, expected):
    per_chunk, chunks = plan_chunks(runs, devices, per_run, budget, cap)
    assert (per_chunk, chunks) == expected
    assert per_chunk % devices == 0 and per_chunk * chunks >= runs


@pytest.mark.parametrize("epochs, expected", [(4, [1, 1, 1, 1]), (20, [2] * 10), (25, [2] * 12 + [1])])
def test_epoch_calls(epochs, expected):
    assert epoch_calls(epochs) == expected


def test_bytes_per_run_counts_params_and_adam_state():
    cfg = dataclasses.replace(MOONS, optimizer="adam")
    pb = make_problem(cfg)
    n_params = 2 * 4 + 4 + 4 * 1 + 1  # moons: 2 inputs, 4 hidden, 1 output
    got = bytes_per_run(cfg, pb, "hand", (), np.zeros(0), 16, 1)
    state = 4 * (n_params + 2 * n_params) + 4  # params, mu, nu (float32) and the int32 count
    activations = 4 * 48 * (2 + 4 + 1) * 4
    assert got == 2 * state + 4 * n_params + activations + 8 * 4 + 4 * 48


def test_use_cpu_devices_after_start_gives_a_note():
    have = len(jax.devices("cpu"))  # the backend is running from here on
    assert use_cpu_devices(have) is None
    note = use_cpu_devices(have + 1)
    assert f"--xla_force_host_platform_device_count={have + 1}" in note
    with pytest.raises(ConfigError, match="cpu_devices=0"):
        use_cpu_devices(0)


# ------------------------------------------------------------------------- runs


@pytest.mark.parametrize("run", [0, 9])  # seed 0 and seed 1, different lr
def test_runs_equal_fit_one_at_a_time(sharded, run):
    seed = int(GRID.seeds[run])
    hyper = dict(zip(GRID.names, map(float, GRID.values[run]), strict=True))
    alone = fit_one(MOONS, seed, **hyper)
    assert set(sharded.history) == set(alone.history) == {"loss", "grad_norm", "train_accuracy"}
    for k, v in alone.history.items():
        np.testing.assert_allclose(sharded.history[k][run], v, rtol=2e-5, atol=1e-6, err_msg=k)
    for got, want in zip(jax.tree.leaves(sharded.params), jax.tree.leaves(alone.state.params),
                         strict=True):
        np.testing.assert_allclose(got[run], want, rtol=2e-5, atol=1e-6)


def test_sharded_equals_one_device_in_memory_chunks(sharded):
    n = len(jax.devices())
    assert (sharded.devices, sharded.chunks) == (n, 1)
    assert sharded.runs_per_chunk == math.ceil(12 / n) * n
    pb = make_problem(MOONS)
    per_run = bytes_per_run(MOONS, pb, "hand", GRID.names, GRID.values[0], 16, 1)
    single = sweep(MOONS, GRID, devices=jax.devices()[:1], memory_budget=5 * per_run)
    assert (single.devices, single.runs_per_chunk, single.chunks) == (1, 4, 3)
    for k in sharded.history:
        np.testing.assert_allclose(single.history[k], sharded.history[k], rtol=1e-6, atol=1e-7)
    for a, b in zip(jax.tree.leaves(single.params), jax.tree.leaves(sharded.params), strict=True):
        assert a.shape[0] == 12
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_diverging_run_is_marked_and_the_other_is_untouched(diverging):
    with pytest.raises(DivergenceError) as err:
        fit_one(SINE, 0, learning_rate=40.0)
    at = err.value.epoch
    assert diverging.diverged_at.tolist() == [0, at]
    loss = diverging.history["loss"][1]
    assert np.all(np.isfinite(loss[: at - 1])) and not np.isfinite(loss[at - 1])
    assert np.all(np.isnan(loss[at:]))
    assert all(np.all(np.isfinite(leaf[1])) for leaf in jax.tree.leaves(diverging.params))
    alone = fit_one(SINE, 0, learning_rate=0.05)
    np.testing.assert_allclose(diverging.history["loss"][0], alone.history["loss"], rtol=2e-5)


def test_eval_every_in_a_sweep_is_a_real_cond_and_keeps_the_history(sharded):
    """eval_every=3 over 4 epochs: train_accuracy at epochs 3 and 4 (the last) equals the
    every-epoch sweep's, NaN at 1 and 2; losses unchanged. The epoch number is shared by
    the runs, so under vmap the evaluation stays a `cond` (not a select of both branches)."""
    sparse = sweep(dataclasses.replace(MOONS, eval_every=3), GRID)
    acc, full = sparse.history["train_accuracy"], sharded.history["train_accuracy"]
    assert np.all(np.isnan(acc[:, :2])) and np.all(np.isfinite(acc[:, 2:]))
    np.testing.assert_allclose(acc[:, 2:], full[:, 2:], rtol=1e-6)
    np.testing.assert_allclose(sparse.history["loss"], sharded.history["loss"], rtol=1e-6)
    cfg = dataclasses.replace(MOONS, eval_every=3)
    pb = make_problem(cfg)
    init_one, run_one = make_run_fns(cfg, pb, "hand", GRID.names, 16)
    values = jax.numpy.asarray(GRID.values[:2], jax.numpy.float32)
    first = jax.tree.map(lambda *a: jax.numpy.stack(a), *[init_mlp(jax.random.key(s), pb.sizes)
                                                          for s in (0, 1)])
    carry = jax.vmap(init_one)(values, first, jax.numpy.arange(2))
    mapped = jax.vmap(lambda c, v, s: run_one(c, v, pb.data.x, pb.data.y, 4, s),
                      in_axes=(0, 0, None))
    text = str(jax.make_jaxpr(mapped)(carry, values, np.int32(0)))
    assert "cond[" in text


def test_device_auto_is_the_default_backend():
    from jaxgd.experiments.build import select_device

    assert TrainConfig().device == "auto"
    assert select_device("auto") == jax.local_devices()[0]


def test_every_run_diverging_raises():
    with pytest.raises(DivergenceError, match="every run of the sweep diverged") as err:
        sweep(SINE, make_grid({"learning_rate": [40.0, 80.0]}, [0]))
    assert err.value.epoch >= 1 and err.value.learning_rate in (40.0, 80.0)


def test_cli_writes_tidy_csv_and_summary(tmp_path):
    out = tmp_path / "sweep"
    rc = main(["sweep", "--dataset", "xor", "--epochs", "5", "--lr", "0.5,4", "--seeds", "2",
               "--out", str(out), "--quiet"])
    assert rc == 0
    table = read_table(out / "sweep.csv")
    assert list(table) == ["run", "seed", "learning_rate", "epoch", "loss", "grad_norm", "train_accuracy"]
    assert len(table["run"]) == 4 * 5
    final = table["loss"][table["epoch"] == 5]
    lr = table["learning_rate"][table["epoch"] == 5]
    means = {v: final[lr == v].mean() for v in (0.5, 4.0)}
    summary = json.loads((out / "summary.json").read_text())
    best = min(means, key=means.get)
    assert summary["best"]["hyper"] == {"learning_rate": best}
    assert summary["best"]["final_loss_mean"] == pytest.approx(means[best], rel=1e-6)
    assert json.loads((out / "config.json").read_text())["dataset"] == "xor"


@pytest.mark.parametrize("build", [
    lambda: parse_spec("--lr", "0.1:1:1000000000:lin"),
    lambda: parse_seeds("100000000"),
    lambda: make_grid({"learning_rate": np.ones(1024), "momentum": np.ones(1024)}, [0, 1]),
], ids=["axis", "seeds", "product"])
def test_sweep_grid_too_large_is_refused_before_it_is_built(build):
    """A billion-value axis once filled 23 GB of host memory before anything was said."""
    with pytest.raises(ConfigError, match=r"runs, more than one sweep takes \(1,048,576\)"):
        build()


def test_sweep_run_larger_than_device_memory_is_refused_before_compiling():
    """hidden=100000,100000 once aborted inside XLA; now a ResourceError names the size."""
    cfg = dataclasses.replace(MOONS, hidden=(100_000, 100_000))
    with pytest.raises(ResourceError, match=r"one run of this sweep needs about .* GiB.*--hidden"):
        sweep(cfg, make_grid({"learning_rate": [0.1]}, [0]), memory_budget=1 << 30)
