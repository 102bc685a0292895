"""Figures of a tuning study (matplotlib, the optional extra ``plot``).

    tune-<dataset>.png   left: the validation metric of every trial against its learning
                         rate (log x), one colour per optimizer, the chosen trial circled;
                         right: epochs to target per optimizer, mean with its bootstrap
                         interval (with a target)
    profile.png          the performance profile over datasets (with a target and several
                         datasets)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from jaxgd.experiments.plots import require_matplotlib
from jaxgd.experiments.tune.study import TuneResult


def study_figure(result: TuneResult, dataset_summary: dict, summary: dict):
    """Metric against learning rate per optimizer, and time to target with CI bars."""
    Figure = require_matplotlib()
    target = summary["target"]
    fig = Figure(figsize=(11 if target is not None else 6, 4), layout="constrained")
    axes = fig.subplots(1, 2 if target is not None else 1, squeeze=False)[0]
    ax = axes[0]
    for name, o in result.outcomes.items():
        lr = o.trials[:, o.space.names.index("learning_rate")]
        dots = ax.scatter(lr, o.scores, s=18, label=name)
        ax.scatter(lr[o.best], o.scores[o.best], s=120, facecolors="none",
                   edgecolors=dots.get_facecolor()[0], linewidths=1.5)
    ax.set_xscale("log")
    ax.set(xlabel="learning rate", ylabel=f"{summary['metric']} (final epoch)",
           title=f"{dataset_summary['dataset']}: {summary['budget']['trials']} trials per optimizer "
                 "(chosen: circled)")
    if target is not None:
        ax.axhline(target, color="grey", lw=0.8, ls=":")
    ax.legend(fontsize="small")
    if target is not None:
        ax = axes[1]
        rows = dataset_summary["optimizers"]
        names = [o["optimizer"] for o in rows]
        cis = [o["target"]["epochs_ci"] for o in rows]
        mean = np.array([np.nan if c is None else c["mean"] for c in cis])
        err = np.array([[0, 0] if c is None else [c["mean"] - c["low"], c["high"] - c["mean"]]
                        for c in cis]).T
        x = np.arange(len(names))
        ax.bar(x, np.nan_to_num(mean), yerr=err, capsize=4, color="tab:blue", alpha=0.7)
        labels = [f"{n}\n{o['target']['reached']}/{len(o['seeds'])} reached"
                  for n, o in zip(names, rows, strict=True)]
        ax.set_xticks(x, labels)
        ax.set(ylabel=f"epochs to {summary['metric']} {'<=' if summary['lower_is_better'] else '>='} "
                      f"{target:g}", title=f"time to target, mean [{summary['confidence']:.0%} CI]")
    return fig


def profile_figure(summary: dict, what: str = "datasets"):
    """Fraction of ``what`` (datasets, problems) solved within tau x the best time, per optimizer."""
    Figure = require_matplotlib()
    prof = summary["profile"]
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    for name, frac in prof["fractions"].items():
        ax.step(prof["taus"], frac, where="post", label=name)
    ax.set_xscale("log", base=2)
    ax.set(xlabel="tau (ratio to the best time)", ylabel=f"fraction of {what}", ylim=(-0.02, 1.02),
           title=f"performance profile ({prof['time']})")
    ax.legend(fontsize="small")
    return fig


def draw_all(folder: Path, results: Sequence[TuneResult], summary: dict) -> list[Path]:
    """Write the study's figures into ``folder``; their paths."""
    paths = []
    for r, d in zip(results, summary["datasets"], strict=True):
        path = folder / f"tune-{Path(d['dataset']).stem}.png"
        study_figure(r, d, summary).savefig(path, dpi=120)
        paths.append(path)
    if summary["profile"] is not None:
        path = folder / "profile.png"
        profile_figure(summary).savefig(path, dpi=120)
        paths.append(path)
    return paths
