"""What a sweep reports: a tidy CSV, a summary (JSON and a printed table), a run folder.

    sweep.csv      one row per run per epoch: run, seed, each hyperparameter, epoch,
                   loss, grad_norm, and accuracy / test columns where they apply
    summary.json   per setting: final loss mean and std over seeds (ddof=0, finite
                   runs only), diverged count; the best setting by mean final loss;
                   per run: final loss and the epoch it diverged at (0 = never)
    config.json    the base TrainConfig
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from jaxgd.experiments.outdir import write_result_folder
from jaxgd.experiments.sweep.engine import SweepResult
from jaxgd.experiments.sweep.grid import settings

EVAL_COLUMNS = ("train_accuracy", "test_loss", "test_accuracy")


def _float(x: float) -> float | None:
    """A JSON-safe float: None for NaN or infinity."""
    return float(x) if math.isfinite(x) else None


def summarize(result: SweepResult) -> dict[str, Any]:
    """Per-run and per-setting final values and the best setting (see the module docstring)."""
    grid, h = result.grid, result.history
    names = list(grid.names)
    final = {k: v[:, -1] for k, v in h.items()}
    runs = [{"run": i, "seed": int(grid.seeds[i]),
             "hyper": dict(zip(names, map(float, grid.values[i]), strict=True)),
             "final_loss": _float(final["loss"][i]), "diverged_at": int(result.diverged_at[i])}
            for i in range(grid.runs)]
    rows = []
    for values, idx in settings(grid):
        ok = idx[result.diverged_at[idx] == 0]
        losses = final["loss"][ok]
        row = {"hyper": dict(zip(names, values, strict=True)), "seeds": grid.seeds[idx].tolist(),
               "final_loss_mean": _float(float(np.mean(losses))) if len(ok) else None,
               "final_loss_std": _float(float(np.std(losses))) if len(ok) else None,
               "final_losses": [_float(float(final["loss"][i])) for i in idx],
               "diverged": int(np.sum(result.diverged_at[idx] > 0))}
        for k in EVAL_COLUMNS:
            if k in final and len(ok):
                row[f"final_{k}_mean"] = _float(float(np.mean(final[k][ok])))
        rows.append(row)
    ranked = [r for r in rows if r["final_loss_mean"] is not None]
    clean = [r for r in ranked if r["diverged"] == 0] or ranked
    best = min(clean, key=lambda r: r["final_loss_mean"]) if clean else None
    cfg = result.config
    return {
        "kind": "sweep", "dataset": cfg.dataset, "optimizer": cfg.optimizer, "impl": result.impl,
        "epochs": int(h["loss"].shape[1]), "names": names, "runs_total": grid.runs,
        "diverged_runs": int(np.sum(result.diverged_at > 0)), "devices": result.devices,
        "runs_per_chunk": result.runs_per_chunk, "chunks": result.chunks,
        "seconds": round(result.seconds, 4), "compile_seconds": round(result.compile_seconds, 4),
        "run_seconds": round(result.run_seconds, 4),
        "best": best, "settings": rows, "runs": runs,
    }


def _g(x: float | None, fmt: str = ".4g", missing: str = "diverged") -> str:
    return missing if x is None else format(x, fmt)


def format_table(summary: dict[str, Any], limit: int = 40) -> str:
    """The settings as a text table, best marked with ``*``; the best ``limit`` if there are more."""
    names, rows = summary["names"], summary["settings"]
    if len(rows) > limit:
        rows = sorted(rows, key=lambda r: (r["final_loss_mean"] is None, r["final_loss_mean"] or 0))
        rows = rows[:limit]
    acc = [k for k in EVAL_COLUMNS if rows and f"final_{k}_mean" in rows[0]]
    head = ["", *names, "final loss", "± std", "diverged", *(f"final {k}" for k in acc)]
    body = [["*" if r == summary["best"] else " ",
             *(_g(r["hyper"][k]) for k in names),
             _g(r["final_loss_mean"]), _g(r["final_loss_std"], ".2g", "-"),
             f"{r['diverged']}/{len(r['seeds'])}",
             *(_g(r.get(f"final_{k}_mean"), ".4f") for k in acc)] for r in rows]
    widths = [max([len(h), *(len(b[i]) for b in body)]) for i, h in enumerate(head)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(b, widths, strict=True)).rstrip()
             for b in [head, *body]]
    if len(summary["settings"]) > limit:
        lines.append(f"... {len(summary['settings']) - limit} more settings in summary.json")
    return "\n".join(lines)


def write_csv(path: Path, result: SweepResult) -> None:
    """The tidy table: one row per run per epoch."""
    grid, h = result.grid, result.history
    metrics = ["loss", "grad_norm", *(k for k in EVAL_COLUMNS if k in h)]
    epochs = h["loss"].shape[1]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["run", "seed", *grid.names, "epoch", *metrics])
        for i in range(grid.runs):
            head = [i, int(grid.seeds[i]), *(repr(float(v)) for v in grid.values[i])]
            for e in range(epochs):
                w.writerow([*head, e + 1, *(repr(float(h[k][i, e])) for k in metrics)])


def write_sweep(out_dir, result: SweepResult, summary: dict[str, Any], overwrite: bool = False,
                plot: bool = False) -> list[Path]:
    """Write the run folder (a path, or an `OutputDir` claimed before the sweep) once
    everything is ready; with ``plot``, its figures too. Returns the PNG paths."""
    return write_result_folder(out_dir, "sweep", {
        "config.json": lambda p: p.write_text(result.config.to_json() + "\n"),
        "sweep.csv": lambda p: write_csv(p, result),
        "summary.json": lambda p: p.write_text(json.dumps(summary, indent=2) + "\n"),
    }, overwrite, figures=_plot_run if plot else None)


def _plot_run(folder: Path) -> list[Path]:
    from jaxgd.experiments.plots import plot_run  # matplotlib only when figures are asked for

    return plot_run(folder)
