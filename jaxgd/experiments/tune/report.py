"""What a tuning study reports: a summary, printed tables, and the run folder.

    summary.json   per dataset and optimizer: the search space, the chosen trial, validation
                   and test metric as mean [CI] over seeds, time to target; each pair of
                   optimizers: paired difference of the test metric and the probability
                   of improvement; the budget; over several datasets, the performance profile
    trials.csv     dataset, optimizer, trial, each hyperparameter (empty where the optimizer
                   has no such axis), seed, val_loss[, val_accuracy], selected, diverged_at
    seeds.csv      dataset, optimizer, seed, val_loss, test_loss[, val_accuracy,
                   test_accuracy], epochs_to_target (empty: never), diverged_at
    config.json    the base TrainConfig

Intervals are 95% percentile bootstrap intervals over seeds (`jaxgd.experiments.stats`);
diverged seeds are left out of them (and counted). The performance profile's time of an
optimizer on a dataset is the median over seeds of the steps to target, a seed that
never reaches it counting as infinite.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from jaxgd.experiments.config import full_batch
from jaxgd.experiments.outdir import write_result_folder
from jaxgd.experiments.stats import (
    Estimate,
    bootstrap_ci,
    paired_difference,
    performance_profile,
    probability_of_improvement,
)
from jaxgd.experiments.tune.study import TuneResult

TAUS = (1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 8.0, 16.0)


def _f(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def _est(e: Estimate | None) -> dict[str, float | None] | None:
    return None if e is None else {"mean": _f(e.value), "low": _f(e.low), "high": _f(e.high)}


def _ci(values: np.ndarray, confidence: float) -> Estimate | None:
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    return bootstrap_ci(v, confidence) if v.size else None


def _optimizer_row(name: str, r: TuneResult, confidence: float) -> dict[str, Any]:
    o = r.outcomes[name]
    cfg = o.final.config
    n = r.data.problem.data.n
    steps_per_epoch = n // (n if full_batch(cfg.batch_size) else cfg.batch_size)
    hits = o.epochs_to_target
    reached = hits > 0
    test_key = "test_" + r.metric.removeprefix("val_")
    row = {"optimizer": name, "factory": o.space.optimizer,
           "space": [{"name": a.name, "low": a.low, "high": a.high, "scale": a.scale}
                     for a in o.space.axes],
           "best_trial": o.best,
           "best": dict(zip(o.space.names, map(float, o.trials[o.best]), strict=True)),
           "best_score": _f(o.scores[o.best]), "diverged_trials": int(np.sum(o.tuning.diverged_at > 0)),
           "seeds": r.seeds.tolist(), "diverged_seeds": int(np.sum(o.final.diverged_at > 0)),
           r.metric: _est(_ci(o.val, confidence)), test_key: _est(_ci(o.test, confidence)),
           "compute_seconds": round(o.seconds, 3)}
    if r.target is not None:
        epochs = hits[reached].astype(np.float64)
        per_epoch_s = o.final.run_seconds / cfg.epochs
        row["target"] = {
            "reached": int(reached.sum()),
            "epochs": [int(e) if e else None for e in hits],
            "epochs_ci": _est(_ci(epochs, confidence)),
            "steps_ci": _est(_ci(epochs * steps_per_epoch, confidence)),
            "seconds_ci": _est(_ci(epochs * per_epoch_s, confidence)),
            "median_steps": _f(float(np.median(np.where(reached, hits * steps_per_epoch, np.inf)))),
        }
    return row


def _pairs(r: TuneResult, confidence: float) -> list[dict[str, Any]]:
    out = []
    for a, b in itertools.combinations(r.outcomes, 2):
        ta, tb = r.outcomes[a].test, r.outcomes[b].test
        both = np.isfinite(ta) & np.isfinite(tb)
        row: dict[str, Any] = {"a": a, "b": b, "seeds": int(both.sum()), "difference": None,
                               "p_improvement": None}
        if both.any():
            row["difference"] = _est(paired_difference(ta[both], tb[both], confidence))
            row["p_improvement"] = _est(probability_of_improvement(
                ta[both], tb[both], lower_is_better=r.lower_is_better, confidence=confidence))
        out.append(row)
    return out


def summarize(results: Sequence[TuneResult], trials: int, confidence: float = 0.95,
              taus: Sequence[float] = TAUS) -> dict[str, Any]:
    """The study's summary (see the module docstring); JSON-ready."""
    first = results[0]
    cfg = next(iter(first.outcomes.values())).final.config
    seeds = len(first.seeds)
    budget = {"trials": trials, "seeds": seeds, "epochs": cfg.epochs, "runs": trials + seeds}
    datasets = []
    for r in results:
        d = r.data.problem.data
        datasets.append({"dataset": r.data.config.dataset, "train_rows": d.n,
                         "val_rows": int(d.x_test.shape[0]), "test_rows": int(r.data.x_test.shape[0]),
                         "test_fraction": r.data.config.test_fraction,
                         "optimizers": [_optimizer_row(k, r, confidence) for k in r.outcomes],
                         "pairs": _pairs(r, confidence)})
    out = {"kind": "tune", "metric": first.metric, "test_metric": "test_" + first.metric[4:],
           "lower_is_better": first.lower_is_better, "target": first.target,
           "selection": "final epoch", "confidence": confidence, "budget": budget,
           "optimizers": list(first.outcomes), "datasets": datasets, "profile": None}
    if first.target is not None and len(results) > 1:
        times = {k: [next(o for o in d["optimizers"] if o["optimizer"] == k)["target"]["median_steps"]
                     for d in datasets] for k in first.outcomes}
        times = {k: [math.inf if t is None else t for t in v] for k, v in times.items()}
        profile = performance_profile(times, taus)
        out["profile"] = {"taus": list(map(float, taus)), "time": "median steps to target",
                          "fractions": {k: v.tolist() for k, v in profile.items()}}
    return out


def _show(e: dict | None, digits: int = 4) -> str:
    if e is None or e["mean"] is None:
        return "-"
    if e["low"] == e["high"] == e["mean"]:
        return f"{e['mean']:.{digits}g}"
    return f"{e['mean']:.{digits}g} [{e['low']:.{digits}g}, {e['high']:.{digits}g}]"


def hyper_text(value: float) -> str:
    """A hyperparameter for a table: 3 significant digits, and for a decay just below 1
    (b2 = 0.99987) as many as tell it apart from 1."""
    if 0.9 < value < 1:
        return f"{1 - float(f'{1 - value:.2g}'):.10g}"
    return f"{value:.3g}"


def _table(head: list[str], body: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                     for row in [head, *body])


def budget_line(summary: dict) -> str:
    """``budget per optimizer: T trials + S seeds = R runs of E epochs`` (or of N steps, for an
    objective's budget, which has ``steps`` instead of ``epochs``)."""
    b = summary["budget"]
    unit = "steps" if "steps" in b else "epochs"
    return (f"budget per optimizer: {b['trials']} trials + {b['seeds']} seeds = {b['runs']} runs of "
            f"{b[unit]} {unit}")


def format_tables(summary: dict) -> str:
    """Per dataset: one row per optimizer, then one per pair; the profile over datasets.

    An objective's summary (`jaxgd.experiments.tune.suite_report`) has the same form with
    ``steps`` in its budget: its test metric is its metric (one column), time is counted in
    steps, and each dataset entry brings its own ``header`` line.
    """
    metric, test, target = summary["metric"], summary["test_metric"], summary["target"]
    steps_only = "steps" in summary["budget"]
    pct = f"{summary['confidence']:.0%}"
    blocks = []
    for d in summary["datasets"]:
        head = ["optimizer", "best hyperparameters", f"{metric} [{pct} CI]"]
        head += [f"{test} [{pct} CI]"] if test != metric else []
        if target is not None:
            head += [f"steps to {target:g}"] if steps_only else [f"epochs to {target:g}", "steps"]
            head += ["seconds"]
        head += ["compute s"]
        body = []
        for o in d["optimizers"]:
            hp = " ".join(f"{'lr' if k == 'learning_rate' else k}={hyper_text(v)}"
                          for k, v in o["best"].items())
            line = [o["optimizer"], hp, _show(o[metric]), *([_show(o[test])] if test != metric else [])]
            if target is not None:
                t, n = o["target"], len(o["seeds"])
                line += [f"{_show(t['epochs_ci'], 3)} ({t['reached']}/{n} seeds reached)",
                         *([] if steps_only else [_show(t["steps_ci"], 3)]), _show(t["seconds_ci"], 2)]
            body.append([*line, f"{o['compute_seconds']:.1f}"])
        header = d.get("header") or (f"{d['dataset']}: {d['train_rows']} training / {d['val_rows']} "
                                     f"validation / {d['test_rows']} test rows")
        blocks.append(f"{header}; {budget_line(summary)}\n" + _table(head, body))
        better = "lower" if summary["lower_is_better"] else "higher"
        pairs = [[f"{p['a']} vs {p['b']}", _show(p["difference"]), _show(p["p_improvement"], 3)]
                 for p in d["pairs"]]
        if pairs:
            head = ["pair (A vs B)", f"{test} A - B [{pct} CI]", f"P(A better, {better} {test}) [{pct} CI]"]
            blocks.append(f"{d['dataset']}, each pair over the same {summary['budget']['seeds']} seeds; "
                          f"{budget_line(summary)}\n" + _table(head, pairs))
    if summary["profile"] is not None:
        blocks.append(format_profile(summary["profile"], f"{len(summary['datasets'])} datasets",
                                     budget_line(summary)))
    return "\n\n".join(blocks)


def format_profile(prof: dict, over: str, budget: str) -> str:
    """The performance profile as a table: one row per optimizer, one column per tau."""
    head = ["optimizer", *(f"tau={t:g}" for t in prof["taus"])]
    body = [[k, *(f"{x:.2f}" for x in v)] for k, v in prof["fractions"].items()]
    return (f"performance profile over {over} (fraction solved within tau x the best "
            f"{prof['time']}); {budget}\n" + _table(head, body))


def write_trials_csv(path: Path, results: Sequence[TuneResult]) -> None:
    names = list(dict.fromkeys(n for r in results for o in r.outcomes.values() for n in o.space.names))
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        has_acc = "test_accuracy" in next(iter(results[0].outcomes.values())).tuning.history
        w.writerow(["dataset", "optimizer", "trial", *names, "seed", "val_loss",
                    *(["val_accuracy"] if has_acc else []), "selected", "diverged_at"])
        for r in results:
            for k, o in r.outcomes.items():
                h, at = o.tuning.history, o.tuning.diverged_at
                for i, row in enumerate(o.trials):
                    hp = dict(zip(o.space.names, row, strict=True))
                    vals = [h["test_loss"][i, -1], *([h["test_accuracy"][i, -1]] if has_acc else [])]
                    w.writerow([r.data.config.dataset, k, i, *(repr(float(hp[n])) if n in hp else ""
                                                               for n in names),
                                int(o.tuning.grid.seeds[i]), *(repr(float(v)) for v in vals),
                                int(i == o.best), int(at[i])])


def write_seeds_csv(path: Path, results: Sequence[TuneResult]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        has_acc = "test_accuracy" in next(iter(results[0].outcomes.values())).final.history
        metrics = ["loss", *(["accuracy"] if has_acc else [])]
        w.writerow(["dataset", "optimizer", "seed", *(f"{s}_{m}" for m in metrics for s in ("val", "test")),
                    "epochs_to_target", "diverged_at"])
        for r in results:
            for k, o in r.outcomes.items():
                h = o.final.history
                for i, seed in enumerate(r.seeds):
                    vals = [x for m in metrics for x in (h[f"test_{m}"][i, -1], o.tests[f"test_{m}"][i])]
                    hit = int(o.epochs_to_target[i])
                    w.writerow([r.data.config.dataset, k, int(seed), *(repr(float(v)) for v in vals),
                                hit if hit else "", int(o.final.diverged_at[i])])


def write_tune(out_dir, results: Sequence[TuneResult], summary: dict, overwrite: bool = False,
               plot: bool = False) -> list[Path]:
    """The run folder (see the module docstring); ``out_dir`` a path or a claimed `OutputDir`."""
    cfg = next(iter(results[0].outcomes.values())).final.config

    def figures(folder: Path) -> list[Path]:
        from jaxgd.experiments.tune.figures import draw_all

        return draw_all(folder, results, summary)

    return write_result_folder(out_dir, "tune", {
        "config.json": lambda p: p.write_text(cfg.to_json() + "\n"),
        "trials.csv": lambda p: write_trials_csv(p, results),
        "seeds.csv": lambda p: write_seeds_csv(p, results),
        "summary.json": lambda p: p.write_text(json.dumps(summary, indent=2) + "\n"),
    }, overwrite, figures=figures if plot else None)
