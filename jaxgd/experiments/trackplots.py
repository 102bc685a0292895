"""tracking.png: what ``jaxgd train --track`` recorded (`jaxgd.experiments.tracking`).

One panel per instrument found in metrics.csv, for the main impl's columns (the hand
rule's when both ran; optax's are the ``optax_`` ones):

    sharpness     the top Hessian eigenvalue per epoch, and the line 2/lr (the edge of
                  stability of plain gradient descent) when the rate was constant
    noise scale   B_simple per epoch (log y when it spans more than two decades)
    monitors      the update-to-parameter ratio, global and per leaf (log y), and the
                  learning rate on a second axis
"""

from __future__ import annotations

import numpy as np

from jaxgd.experiments.plotbase import evaluated, require_matplotlib, spans_decades

__all__ = ["has_tracking", "tracking_figure"]

_FIRST = ("sharpness", "noise_scale", "update_ratio")  # a column that marks each panel


def has_tracking(columns: dict[str, np.ndarray]) -> bool:
    """True when metrics.csv holds any ``--track`` column."""
    return any(k in columns for k in _FIRST)


def tracking_figure(columns: dict[str, np.ndarray]):
    """The Figure of the tracked columns (see the module); one panel per instrument present."""
    Figure = require_matplotlib()
    panels = [k for k in _FIRST if k in columns]
    fig = Figure(figsize=(5 * len(panels), 4), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    epoch = columns["epoch"]
    for ax, kind in zip(axes, panels, strict=True):
        if kind == "sharpness":
            ax.plot(*evaluated(epoch, columns["sharpness"]), "o-", markersize=2, label="sharpness")
            if "two_over_lr" in columns:
                ax.plot(*evaluated(epoch, columns["two_over_lr"]), "--", color="gray", label="2 / lr")
            ax.set(xlabel="epoch", ylabel="top Hessian eigenvalue", title="sharpness")
        elif kind == "noise_scale":
            e, v = evaluated(epoch, columns["noise_scale"])
            ax.plot(e, v, "o-", markersize=2, label="B_simple")
            if spans_decades(v):
                ax.set_yscale("log")
            ax.set(xlabel="epoch", ylabel="B_simple (examples)", title="gradient noise scale")
        else:
            leaves = [k for k in columns if k.startswith("update_ratio[")]
            ax.plot(*evaluated(epoch, columns["update_ratio"]), lw=2, label="all parameters")
            for k in leaves:
                ax.plot(*evaluated(epoch, columns[k]), lw=0.8, label=k.removeprefix("update_ratio"))
            ratios = np.concatenate([columns[k] for k in ("update_ratio", *leaves)])
            if np.any(np.isfinite(ratios) & (ratios > 0)):
                ax.set_yscale("log")
            ax.set(xlabel="epoch", ylabel="||update|| / ||params||", title="update-to-parameter ratio")
            if "lr" in columns:
                lr_ax = ax.twinx()
                lr_ax.plot(*evaluated(epoch, columns["lr"]), ":", color="black", label="lr")
                lr_ax.set_ylabel("learning rate (dotted)")
        ax.legend(fontsize="small")
    return fig
