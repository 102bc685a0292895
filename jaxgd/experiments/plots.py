"""Pictures of run folders (matplotlib, the optional extra ``plot``).

    train folder (metrics.csv)   loss.png: loss per epoch (log y when it spans more
                                 than two decades), accuracy beside it; boundary.png:
                                 the decision regions of a 2-D classifier; tracking.png:
                                 what --track recorded (`jaxgd.experiments.trackplots`)
    sweep folder (sweep.csv)     sweep.png: final loss against the first swept
                                 hyperparameter (learning rate on a log axis), mean
                                 over seeds with a min-max band, a line per setting
                                 of the others
    compare folder (compare.csv) compare.png: loss per epoch per optimizer, mean over
                                 seeds with a min-max or ±std band

Figures are built with `matplotlib.figure.Figure` and drawn by the Agg canvas:
no pyplot, no global state, no window. Each ``*_figure`` function returns the
Figure, so what it plots can be read back from its Axes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from jaxgd.core.errors import ConfigError, DataError, MissingDependencyError  # noqa: F401 (re-exported)
from jaxgd.experiments.build import make_problem
from jaxgd.experiments.config import TrainConfig
from jaxgd.experiments.outdir import read_marker, record_files
from jaxgd.experiments.plotbase import evaluated, require_matplotlib, spans_decades
from jaxgd.experiments.records import (
    REWRITE,
    load_params,
    read_config,
    read_json,
    read_metrics_csv,
    read_table,
)
from jaxgd.experiments.trackplots import has_tracking, tracking_figure
from jaxgd.nn.models import init_mlp, mlp


def run_kind(run_dir) -> str:
    """``"train"``, ``"sweep"`` or ``"compare"``, from the files in the folder."""
    d = Path(run_dir)
    for kind, name in (("sweep", "sweep.csv"), ("compare", "compare.csv"), ("train", "metrics.csv")):
        if (d / name).is_file():
            return kind
    raise ConfigError(f"{str(d)!r} is not a jaxgd run folder: expected metrics.csv (train), sweep.csv "
                      "(sweep) or compare.csv (compare). Pass the folder a run wrote with --out.")


def loss_figure(columns: dict[str, np.ndarray]):
    """Loss (and optax twin, test loss) per epoch; accuracies in a second panel."""
    Figure = require_matplotlib()
    acc = [k for k in ("train_accuracy", "test_accuracy") if k in columns]
    fig = Figure(figsize=(10 if acc else 6, 4), layout="constrained")
    axes = fig.subplots(1, 2 if acc else 1, squeeze=False)[0]
    epoch = columns["epoch"]
    losses = [k for k in ("loss", "optax_loss", "test_loss") if k in columns]
    for k, style in zip(losses, ("-", "--", ":"), strict=False):
        axes[0].plot(*evaluated(epoch, columns[k]), style, label=k.replace("_", " "))
    if spans_decades(np.concatenate([columns[k] for k in losses])):
        axes[0].set_yscale("log")
    axes[0].set(xlabel="epoch", ylabel="loss", title="training loss")
    axes[0].legend()
    for k in acc:
        axes[1].plot(*evaluated(epoch, columns[k]), label=k.replace("_", " "))
    if acc:
        axes[1].set(xlabel="epoch", ylabel="accuracy", title="accuracy", ylim=(0, 1.02))
        axes[1].legend()
    return fig


def boundary_data(run_dir, resolution: int = 150, cfg: TrainConfig | None = None) -> dict[str, Any]:
    """The trained network's class on a grid over the data, rebuilt from the run folder.

    Returns:
        ``{"xx", "yy": (res, res) coordinates, "classes": (res, res) int, "x": (n, 2),
        "labels": (n,) int, "predicted": (n,) int}``; raises ConfigError unless the
        dataset is a 2-D classification problem.
    """
    import jax

    d = Path(run_dir)
    cfg = cfg or read_config(d / "config.json")
    pb = make_problem(cfg)
    ds = pb.data
    if ds.n_features != 2 or ds.task not in ("binary", "multiclass"):
        raise ConfigError(f"dataset {cfg.dataset!r} has {ds.n_features} features and task {ds.task!r}; "
                          "a decision boundary needs 2 features and classes.")
    params = load_params(d / "params.npz", init_mlp(jax.random.key(0), pb.sizes, cfg.init))
    threshold = 0.0 if pb.output_activation == "identity" else 0.5  # as `losses.accuracy`

    def classify(points):
        out = np.asarray(mlp(params, np.asarray(points, np.float32), cfg.activation, pb.output_activation))
        return np.argmax(out, -1) if ds.task == "multiclass" else (out[:, 0] > threshold).astype(int)

    x = np.asarray(ds.x)
    lo, hi = x.min(0), x.max(0)
    pad = 0.1 * (hi - lo) + 1e-6
    xx, yy = np.meshgrid(np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution),
                         np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution))
    classes = classify(np.stack([xx.ravel(), yy.ravel()], 1)).reshape(xx.shape)
    labels = np.asarray(ds.y).reshape(len(x), -1)[:, 0] if ds.task == "binary" else np.asarray(ds.y)
    return {"xx": xx, "yy": yy, "classes": classes, "x": x, "labels": (labels > 0.5).astype(int)
            if ds.task == "binary" else labels.astype(int), "predicted": classify(x)}


def boundary_figure(data: dict[str, Any]):
    """Decision regions (filled) and the training points coloured by their label."""
    Figure = require_matplotlib()
    fig = Figure(figsize=(5, 5), layout="constrained")
    ax = fig.subplots()
    k = int(max(data["classes"].max(), data["labels"].max())) + 1
    ax.contourf(data["xx"], data["yy"], data["classes"], levels=np.arange(k + 1) - 0.5,
                cmap="coolwarm", alpha=0.35)
    ax.scatter(data["x"][:, 0], data["x"][:, 1], c=data["labels"], cmap="coolwarm", s=12,
               vmin=0, vmax=max(k - 1, 1), edgecolors="k", linewidths=0.3)
    acc = float(np.mean(data["predicted"] == data["labels"]))
    ax.set(title=f"decision regions (train accuracy {acc:.3f})", xlabel="x1", ylabel="x2")
    return fig


def sweep_final_losses(table: dict[str, np.ndarray], names: list[str]) -> dict[str, np.ndarray]:
    """Per run: its hyperparameters, seed and last-epoch loss (NaN if it diverged)."""
    last = table["epoch"] == table["epoch"].max()
    return {k: table[k][last] for k in ("run", "seed", *names, "loss")}


def sweep_figure(table: dict[str, np.ndarray], names: list[str]):
    """Final loss against the swept axis; a line (mean over seeds, min-max band) per other setting."""
    Figure = require_matplotlib()
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    runs = sweep_final_losses(table, names)
    axis = "learning_rate" if "learning_rate" in names else names[0]
    others = [k for k in names if k != axis]
    keys = sorted({tuple(runs[k][i] for k in others) for i in range(len(runs["run"]))})
    bad_x = []
    for key in keys:
        sel = np.all([runs[k] == v for k, v in zip(others, key, strict=True)], axis=0) if others \
            else np.ones(len(runs["run"]), bool)
        xs = np.unique(runs[axis][sel])
        per = [runs["loss"][sel & (runs[axis] == v)] for v in xs]
        finite = np.array([np.all(np.isfinite(p)) for p in per])
        bad_x += list(xs[~finite])
        mean = np.array([p.mean() for p in per])[finite]
        label = ", ".join(f"{k}={v:g}" for k, v in zip(others, key, strict=True)) or "mean over seeds"
        line = ax.plot(xs[finite], mean, "o-", label=label, markersize=3)[0]
        if max(len(p) for p in per) > 1:
            ax.fill_between(xs[finite], [p.min() for p, f in zip(per, finite, strict=True) if f],
                            [p.max() for p, f in zip(per, finite, strict=True) if f],
                            color=line.get_color(), alpha=0.2)
    if spans_decades(runs["loss"]):
        ax.set_yscale("log")
    if axis == "learning_rate" or spans_decades(runs[axis]):
        ax.set_xscale("log")
    if bad_x:
        top = ax.get_ylim()[1]
        ax.plot(bad_x, [top] * len(bad_x), "x", color="red", label="diverged (any seed)")
    ax.set(xlabel=axis, ylabel="final loss", title="final loss over the grid")
    ax.legend(fontsize="small")
    return fig


def band_figure(curves: dict[str, np.ndarray], band: str = "minmax"):
    """Loss per epoch per optimizer: mean over seeds (finite runs) and a band."""
    Figure = require_matplotlib()
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    everything = []
    for label, loss in curves.items():  # loss: (seeds, epochs)
        loss = loss[np.all(np.isfinite(loss), axis=1)]
        if not len(loss):
            continue
        epoch = np.arange(1, loss.shape[1] + 1)
        mean = loss.mean(0)
        lo, hi = (loss.min(0), loss.max(0)) if band == "minmax" else (mean - loss.std(0), mean + loss.std(0))
        line = ax.plot(epoch, mean, "--" if ":optax" in label else "-", label=label)[0]
        ax.fill_between(epoch, lo, hi, color=line.get_color(), alpha=0.2)
        everything.append(loss.ravel())
    if everything and spans_decades(np.concatenate(everything)):
        ax.set_yscale("log")
    what = "min-max" if band == "minmax" else "±1 std"
    ax.set(xlabel="epoch", ylabel="loss", title=f"loss, mean over seeds ({what} band)")
    ax.legend(fontsize="small")
    return fig


def compare_curves(table: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """From compare.csv: optimizer label -> loss (seeds, epochs), in file order."""
    out = {}
    for label in dict.fromkeys(table["optimizer"].tolist()):
        sel = table["optimizer"] == label
        seeds = np.unique(table["seed"][sel])
        out[label] = np.stack([table["loss"][sel & (table["seed"] == s)] for s in seeds])
    return out


def _save(fig, path: Path) -> Path:
    fig.savefig(path, dpi=120)
    return path


def plot_run(run_dir) -> list[Path]:
    """Write the figures of a train, sweep or compare folder into it; return their paths.

    The figures join the folder's list of files jaxgd wrote (`jaxgd.rundir.MARKER`).

    Raises:
        ConfigError: not a run folder. DataError, CheckpointError: a damaged table or
        parameter file (named).
    """
    paths = _plot_run(run_dir)
    if read_marker(run_dir) is not None:
        record_files(run_dir, [p.name for p in paths])
    return paths


def _plot_run(run_dir) -> list[Path]:
    d = Path(run_dir)
    kind = run_kind(d)
    if kind == "train":  # every file read before any figure is written
        metrics = read_metrics_csv(d / "metrics.csv")
        has_model = (d / "params.npz").is_file() and (d / "config.json").is_file()
        cfg = read_config(d / "config.json") if has_model else None
        paths = [_save(loss_figure(metrics), d / "loss.png")]
        if has_tracking(metrics):  # jaxgd train --track
            paths.append(_save(tracking_figure(metrics), d / "tracking.png"))
        if cfg is not None:
            try:
                data = boundary_data(d, cfg=cfg)
            except ConfigError:
                data = None  # not a 2-D classification problem
            if data is not None:
                paths.append(_save(boundary_figure(data), d / "boundary.png"))
        return paths
    summary = read_json(d / "summary.json")
    if kind == "sweep":
        names = summary.get("names")
        if not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
            raise DataError(f"{str(d / 'summary.json')!r} has no list of swept names ('names'); {REWRITE}.")
        table = read_table(d / "sweep.csv", numeric=("run", "seed", "epoch", "loss", *names))
        if names:
            return [_save(sweep_figure(table, names), d / "sweep.png")]
        curves = {"seeds": np.stack([table["loss"][table["run"] == r] for r in np.unique(table["run"])])}
        return [_save(band_figure(curves), d / "sweep.png")]
    table = read_table(d / "compare.csv", numeric=("seed", "epoch", "loss"), text=("optimizer",))
    return [_save(band_figure(compare_curves(table), summary.get("band", "minmax")), d / "compare.png")]
