"""The report of `jaxgd.experiments.compare`: its summary, table, header and run folder.

    compare.csv     one row per optimizer per seed per epoch
    summary.json    per optimizer: the learning rate and arguments it ran with (and where
                    the rate came from), final loss over seeds, accuracy, epochs to target, times
    config.json     the base config (learning_rate null: each optimizer its own default)
                    and, under "optimizers", each optimizer's resolved settings
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from jaxgd.core.errors import check_choice, check_nonnegative
from jaxgd.experiments.defaults import origins, resolve_defaults
from jaxgd.experiments.outdir import write_result_folder
from jaxgd.experiments.sweep.report import EVAL_COLUMNS

CompareResult = Any  # `jaxgd.experiments.compare.CompareResult` (which imports this module)

__all__ = ["BANDS", "compare_header", "epochs_to_target", "format_table", "summarize", "write_compare",
           "write_csv"]

BANDS = ("minmax", "std")


def epochs_to_target(loss: np.ndarray, target: float) -> np.ndarray:
    """First epoch (1-based) at which ``loss[run, :] <= target``; 0 where it never does."""
    hit = np.asarray(loss) <= target  # NaN compares False
    return np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, 0)


def _f(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _settings(result: CompareResult, i: int) -> dict[str, Any]:
    """The learning rate and arguments optimizer ``i`` ran with, and where the rate came from."""
    cfg = result.results[i].config  # resolved by the sweep
    if i < len(result.lr_from):
        origin = result.lr_from[i]
    else:  # a result put together by hand: as its config says
        try:
            origin = origins(cfg).get("learning_rate", "given")
        except (ValueError, TypeError):
            origin = None
    lr = cfg.learning_rate
    return {"learning_rate": lr, "learning_rate_from": origin,
            "hyper": {**({} if lr is None else {"learning_rate": lr}), **dict(cfg.hyper)}}


def _model(result: CompareResult) -> dict[str, Any] | None:
    """The network and loss every optimizer trained (None when the result does not say)."""
    if result.problem is None or result.config is None:
        return None
    pb, cfg = result.problem, resolve_defaults(result.results[0].config)
    why = origins(cfg)
    return {"sizes": list(pb.sizes), "sizes_from": why.get("hidden"), "activation": cfg.activation,
            "activation_from": why.get("activation"), "loss": pb.loss, "task": pb.data.task,
            "batch_size": cfg.batch_size, "test_split": pb.data.x_test is not None}


def summarize(result: CompareResult, target: float | None = None, band: str = "minmax") -> dict:
    """Per optimizer: the settings it ran with, final loss mean/std/min/max over finite seeds,
    final accuracies (classification), epochs to target, times."""
    check_choice("band", band, BANDS)
    if target is not None:
        check_nonnegative("target", target, fix="A loss is finite and at least 0; e.g. target=0.1.")
    rows = []
    for i, (spec, r) in enumerate(zip(result.specs, result.results, strict=True)):
        ok = r.diverged_at == 0
        final = r.history["loss"][:, -1][ok]
        row = {"label": spec.label, "optimizer": spec.name, "impl": spec.impl, **_settings(result, i),
               "seeds": r.grid.seeds.tolist(), "diverged": int(np.sum(~ok)),
               "final_loss_mean": _f(np.mean(final)) if ok.any() else None,
               "final_loss_std": _f(np.std(final)) if ok.any() else None,
               "final_loss_min": _f(np.min(final)) if ok.any() else None,
               "final_loss_max": _f(np.max(final)) if ok.any() else None,
               "seconds": round(r.compile_seconds + r.run_seconds, 4),
               "compile_seconds": round(r.compile_seconds, 4), "run_seconds": round(r.run_seconds, 4)}
        for k in EVAL_COLUMNS:
            if k in r.history and ok.any():
                row[f"final_{k}_mean"] = _f(np.mean(r.history[k][:, -1][ok]))
        if target is not None:
            hits = epochs_to_target(r.history["loss"], target)
            row["epochs_to_target"] = [int(e) if e else None for e in hits]
            row["epochs_to_target_mean"] = _f(np.mean(hits[hits > 0])) if (hits > 0).any() else None
        rows.append(row)
    cfg = result.results[0].config
    out = {"kind": "compare", "dataset": cfg.dataset, "epochs": cfg.epochs, "target": target,
           "band": band, "optimizers": rows}
    model = _model(result)
    if model is not None:
        out["model"] = model
    return out


def _seeds(n: int) -> str:
    return f"{n} seed" + ("" if n == 1 else "s")


def compare_header(summary: dict) -> str:
    """The report's first line: the problem, the network and loss, and the runs."""
    rows, m = summary["optimizers"], summary.get("model")
    n = max((len(r["seeds"]) for r in rows), default=0)
    net = ""
    if m is not None:
        sizes = tuple(m["sizes"])
        net = (f", sizes {sizes}" + (f" ({m['sizes_from']})" if m["sizes_from"] else "")
               + f", {m['activation']}" + (f" ({m['activation_from']})" if m["activation_from"] else "")
               + f", loss {m['loss']}")
    return (f"jaxgd compare: {summary['dataset']}{net}, {len(rows)} optimizer{'s' if len(rows) != 1 else ''}"
            f" x {_seeds(n)}, {summary['epochs']} epochs")


def _lr(row: dict) -> str:
    if row.get("learning_rate") is None:
        return "-"
    origin = row.get("learning_rate_from")
    return f"{row['learning_rate']:g}" + (f" ({origin})" if origin and origin != "given" else "")


def format_table(summary: dict) -> str:
    """One line per optimizer: its learning rate (and where it came from) and other arguments,
    final loss (mean ± std over seeds; the value alone with one seed), final accuracy for a
    classification task, epochs to target, wall time."""
    target, rows = summary["target"], summary["optimizers"]
    several = any(len(r["seeds"]) > 1 for r in rows)
    other = any(set(r.get("hyper", {})) - {"learning_rate"} for r in rows)
    acc = [k for k in ("train_accuracy", "test_accuracy") if any(f"final_{k}_mean" in r for r in rows)]
    head = ["optimizer", "lr", *(["other args"] if other else []), "final loss",
            *(["± std"] if several else []), "diverged", *(k.replace("_", " ") for k in acc)]
    head += [f"epochs to {target:g}"] if target is not None else []
    head += ["run s", "compile s"]
    body = []
    for r in rows:
        n = len(r["seeds"])
        args = ",".join(f"{k}={v}" for k, v in r.get("hyper", {}).items() if k != "learning_rate")
        line = [r["label"], _lr(r), *([args or "-"] if other else []),
                "diverged" if r["final_loss_mean"] is None else f"{r['final_loss_mean']:.4g}"]
        if several:
            line.append("-" if r["final_loss_std"] is None or n == 1 else f"{r['final_loss_std']:.2g}")
        line.append(f"{r['diverged']}/{n}")
        for k in acc:
            value = r.get(f"final_{k}_mean")
            line.append("-" if value is None else f"{value:.4f}")
        if target is not None:
            reached = sum(e is not None for e in r["epochs_to_target"])
            mean = r["epochs_to_target_mean"]
            line.append("never" if mean is None else f"{mean:.1f} ({reached}/{n})")
        line += [f"{r['run_seconds']:.3f}", f"{r['compile_seconds']:.2f}"]
        body.append(line)
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                     for row in [head, *body])


def write_csv(path: Path, result: CompareResult) -> None:
    """Tidy: one row per optimizer per seed per epoch."""
    metrics = ["loss", "grad_norm", *(k for k in EVAL_COLUMNS if k in result.results[0].history)]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["optimizer", "impl", "seed", "epoch", *metrics])
        for spec, r in zip(result.specs, result.results, strict=True):
            for i, seed in enumerate(r.grid.seeds):
                for e in range(r.history["loss"].shape[1]):
                    w.writerow([spec.label, spec.impl, int(seed), e + 1,
                                *(repr(float(r.history[k][i, e])) for k in metrics)])


def compare_config(result: CompareResult, summary: dict) -> dict[str, Any]:
    """config.json of a compare folder: the base config, its defaults resolved except the
    optimizer's (``optimizer``, ``impl`` null and ``learning_rate`` null unless --lr gave one:
    each optimizer has its own), and under ``optimizers`` each one's resolved settings."""
    if result.config is None:  # a result put together by hand: the first optimizer's config
        base = dataclasses.asdict(result.results[0].config)
    else:
        resolved = result.results[0].config
        base = dataclasses.asdict(dataclasses.replace(resolved, learning_rate=result.config.learning_rate,
                                                      hyper=result.config.hyper))
        base.update(optimizer=None, impl=None)
    keys = ("label", "optimizer", "impl", "learning_rate", "learning_rate_from", "hyper")
    base["optimizers"] = [{k: row.get(k) for k in keys} for row in summary["optimizers"]]
    return base


def write_compare(out_dir, result: CompareResult, summary: dict, overwrite: bool = False,
                  plot: bool = False) -> list[Path]:
    """The run folder (config.json, compare.csv, summary.json, and compare.png with ``plot``);
    ``out_dir`` is a path or an `OutputDir` claimed before the runs."""
    config = json.dumps(compare_config(result, summary), indent=2, sort_keys=True, default=str)
    return write_result_folder(out_dir, "compare", {
        "config.json": lambda p: p.write_text(config + "\n"),
        "compare.csv": lambda p: write_csv(p, result),
        "summary.json": lambda p: p.write_text(json.dumps(summary, indent=2) + "\n"),
    }, overwrite, figures=_plot_run if plot else None)


def _plot_run(folder: Path) -> list[Path]:
    from jaxgd.experiments.plots import plot_run  # matplotlib only when figures are asked for

    return plot_run(folder)

