"""jaxgd.experiments.plots: figures of train, sweep and compare folders; what is drawn equals the CSV."""

import sys

import numpy as np
import pytest

from jaxgd.cli import main
from jaxgd.experiments import plots
from jaxgd.experiments.compare import CompareResult, OptimizerSpec, summarize, write_compare
from jaxgd.experiments.config import TrainConfig
from jaxgd.experiments.records import read_metrics_csv
from jaxgd.experiments.run import train, write_run
from jaxgd.experiments.sweep.engine import SweepResult
from jaxgd.experiments.sweep.grid import make_grid
from jaxgd.experiments.sweep.report import summarize as summarize_sweep
from jaxgd.experiments.sweep.report import write_sweep
from jaxgd.nn.models import mlp

PNG = b"\x89PNG\r\n\x1a\n"


def assert_png(path, min_bytes=8_000):
    data = path.read_bytes()
    assert data[:8] == PNG and len(data) > min_bytes, path


@pytest.fixture(scope="module")
def train_run(tmp_path_factory):
    cfg = TrainConfig(dataset="moons", n_samples=60, hidden=(6,), activation="tanh", optimizer="adam",
                      learning_rate=0.05, epochs=40, impl="hand")
    outcome = train(cfg)
    out = tmp_path_factory.mktemp("runs") / "train"
    write_run(out, outcome)
    return out, outcome


def fake_sweep(loss: np.ndarray, grid) -> SweepResult:
    """A SweepResult from given loss curves (runs, epochs): no training needed."""
    bad = ~np.isfinite(loss)
    at = np.where(bad.any(1), bad.argmax(1) + 1, 0)
    history = {"loss": loss, "grad_norm": np.abs(loss)}
    return SweepResult(TrainConfig(dataset="moons"), "hand", grid, history, at, [], seconds=1.0,
                       compile_seconds=0.5, run_seconds=0.5, devices=1, runs_per_chunk=grid.runs, chunks=1)


def test_train_folder_loss_and_boundary(train_run):
    out, outcome = train_run
    paths = plots.plot_run(out)
    assert [p.name for p in paths] == ["loss.png", "boundary.png"]
    for p in paths:
        assert_png(p)
    cols = read_metrics_csv(out / "metrics.csv")
    fig = plots.loss_figure(cols)
    line = fig.axes[0].lines[0]
    np.testing.assert_array_equal(line.get_xdata(), cols["epoch"])
    np.testing.assert_array_equal(line.get_ydata(), cols["loss"])
    np.testing.assert_array_equal(fig.axes[1].lines[0].get_ydata(), cols["train_accuracy"])


def test_boundary_is_the_trained_network(train_run):
    out, outcome = train_run
    data = plots.boundary_data(out, resolution=20)
    params = outcome.results["hand"].state.params
    corners = np.array([[data["xx"][i, j], data["yy"][i, j]] for i, j in [(0, 0), (0, -1), (-1, 0), (5, 7)]])
    logits = np.asarray(mlp(params, corners.astype(np.float32), "tanh", "identity"))[:, 0]
    expected = (logits > 0).astype(int)
    got = [data["classes"][i, j] for i, j in [(0, 0), (0, -1), (-1, 0), (5, 7)]]
    assert got == expected.tolist()
    final_accuracy = read_metrics_csv(out / "metrics.csv")["train_accuracy"][-1]
    assert np.mean(data["predicted"] == data["labels"]) == pytest.approx(final_accuracy, abs=1e-6)


def test_log_scale_only_past_two_decades():
    epoch = np.arange(1.0, 5.0)
    wide = plots.loss_figure({"epoch": epoch, "loss": np.array([1.0, 0.1, 0.01, 0.005])})
    narrow = plots.loss_figure({"epoch": epoch, "loss": np.array([1.0, 0.5, 0.2, 0.011])})
    assert wide.axes[0].get_yscale() == "log" and narrow.axes[0].get_yscale() == "linear"


def test_sweep_folder_final_loss_against_lr(tmp_path):
    grid = make_grid({"learning_rate": [1e-3, 1e-2, 1e-1, 1.0], "momentum": [0.0, 0.9]}, [0, 1])
    rng = np.random.default_rng(0)
    loss = rng.uniform(0.1, 1.0, (grid.runs, 3))
    loss[13, 1:] = np.nan  # lr=1, momentum=0.0, seed 1 diverges at epoch 2
    loss[13, 1] = np.inf
    result = fake_sweep(loss, grid)
    pngs = write_sweep(tmp_path / "sw", result, summarize_sweep(result), plot=True)
    assert [p.name for p in pngs] == ["sweep.png"]
    assert_png(pngs[0])
    table = plots.read_table(tmp_path / "sw" / "sweep.csv")
    fig = plots.sweep_figure(table, ["learning_rate", "momentum"])
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    by_label = {ln.get_label(): ln for ln in ax.lines}
    assert set(by_label) == {"momentum=0", "momentum=0.9", "diverged (any seed)"}
    final = loss[:, -1].reshape(4, 2, 2)  # (lr, momentum, seed)
    np.testing.assert_allclose(by_label["momentum=0.9"].get_ydata(), final[:, 1].mean(-1))
    np.testing.assert_allclose(by_label["momentum=0"].get_xdata(), [1e-3, 1e-2, 1e-1])  # lr=1 diverged
    np.testing.assert_allclose(by_label["momentum=0"].get_ydata(), final[:3, 0].mean(-1))
    assert by_label["diverged (any seed)"].get_xdata().tolist() == [1.0]


def test_compare_folder_band(tmp_path):
    grid = make_grid({}, [0, 1, 2])
    rng = np.random.default_rng(1)
    curves = [np.exp(-np.arange(6.0) * rate) * rng.uniform(0.8, 1.2, (3, 6)) for rate in (0.3, 1.5)]
    specs = (OptimizerSpec("sgd", "hand", ()), OptimizerSpec("adam", "optax", (("learning_rate", 0.1),)))
    result = CompareResult(specs, tuple(fake_sweep(c, grid) for c in curves))
    pngs = write_compare(tmp_path / "cmp", result, summarize(result, band="minmax"), plot=True)
    assert_png(pngs[0])
    table = plots.read_table(tmp_path / "cmp" / "compare.csv")
    got = plots.compare_curves(table)
    assert list(got) == ["sgd:hand", "adam:optax:learning_rate=0.1"]
    fig = plots.band_figure(got, "minmax")
    ax = fig.axes[0]
    for line, band, c in zip(ax.lines, ax.collections, curves, strict=True):
        np.testing.assert_allclose(line.get_ydata(), c.mean(0), rtol=1e-12)
        ys = band.get_paths()[0].vertices[:, 1]
        assert ys.min() == pytest.approx(c.min()) and ys.max() == pytest.approx(c.max())
    assert ax.lines[1].get_linestyle() == "--"  # optax twins dashed
    assert ax.get_yscale() == "log"  # exp(-7.5) spans more than two decades


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(plots.MissingDependencyError, match=r'pip install -e "\.\[plot\]"'):
        plots.require_matplotlib()


def test_plot_cli(tmp_path, train_run, capsys):
    out, _ = train_run
    assert main(["plot", str(out)]) == 0
    assert capsys.readouterr().out.split() == [str(out / "loss.png"), str(out / "boundary.png")]
    assert main(["plot", str(tmp_path)]) == 2
    assert "not a jaxgd run folder" in capsys.readouterr().err


def test_sparse_eval_columns_plot_the_evaluated_epochs():
    """--eval-every 3 leaves NaN between evaluations; the plotted points are the evaluated ones."""
    epoch = np.arange(1, 8)
    acc = np.array([np.nan, np.nan, 0.5, np.nan, np.nan, 0.75, 0.8])
    e, v = plots.evaluated(epoch, acc)
    assert e.tolist() == [3, 6, 7] and v.tolist() == [0.5, 0.75, 0.8]


@pytest.mark.parametrize("config_text, fragment", [
    ("{", "is damaged (not JSON"),
    ("[1, 2]", "holds a JSON list, not an object"),
    ('{"hidden": [-3]}', "is not a valid run config (hidden size=-3"),
])
def test_plot_on_a_damaged_config_json_names_the_file(tmp_path, train_run, capsys, config_text, fragment):
    """Campaign D51: a corrupt config.json was 'internal error: JSONDecodeError' (exit 1),
    after loss.png had been written."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(train_run[0], run, ignore=shutil.ignore_patterns("*.png"))
    (run / "config.json").write_text(config_text)
    assert main(["plot", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"jaxgd plot: error: {str(run / 'config.json')!r} ") and fragment in err
    assert "internal error" not in err and len(err.splitlines()) == 1
    assert not list(run.glob("*.png"))  # refused before any figure


def test_plot_on_a_damaged_sweep_or_compare_table_names_the_file_and_the_column(tmp_path, capsys):
    """Campaign D52: a sweep.csv without its columns was 'internal error: KeyError: 'epoch''."""
    grid = make_grid({"learning_rate": [0.1, 1.0]}, [0])
    result = fake_sweep(np.ones((grid.runs, 3)), grid)
    sw = tmp_path / "sw"
    write_sweep(sw, result, summarize_sweep(result))
    (sw / "sweep.csv").write_text("junk\n1,2\n")
    assert main(["plot", str(sw)]) == 2
    assert f"{str(sw / 'sweep.csv')!r} has no column 'epoch' (its header: junk)" in capsys.readouterr().err
    (sw / "summary.json").write_text('{"kind": "sweep"}')
    assert main(["plot", str(sw)]) == 2
    assert "has no list of swept names ('names')" in capsys.readouterr().err
    cmp = tmp_path / "cmp"
    compared = CompareResult((OptimizerSpec("sgd", "hand", ()),),
                             (fake_sweep(np.ones((1, 3)), make_grid({}, [0])),))
    write_compare(cmp, compared, summarize(compared))
    (cmp / "compare.csv").write_text("optimizer,impl,seed,epoch,loss\nsgd,hand,0,1\n")
    assert main(["plot", str(cmp)]) == 2
    assert f"{str(cmp / 'compare.csv')!r} line 2 has 4 cells, the header 5" in capsys.readouterr().err
    (cmp / "compare.csv").write_text("optimizer,impl,seed,epoch,loss\nsgd,hand,0,1,x\n")
    assert main(["plot", str(cmp)]) == 2
    assert "line 2, column 5 (loss): 'x' is not a number" in capsys.readouterr().err
