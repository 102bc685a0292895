"""Several optimizers on one problem, each over several seeds (vmapped): who gets there first.

An optimizer is named ``NAME[:hand|optax][:KEY=VALUE,...]``: ``sgd``, ``adam:optax``,
``adam:hand:learning_rate=0.01,b1=0.8``, or a user's own rule
``MODULE:FACTORY[:hand][:KEY=VALUE,...]`` (``mypkg.rules:my_sgd``, hand only); an item may
list several, ``adam,mypkg.rules:my_sgd``. Each one runs as a `jaxgd.experiments.sweep` over the
seeds only, from the same initial parameters per seed, so hand-written rules and
their optax twins can be set side by side. Reported per optimizer: final loss
(mean ± std over seeds, ddof=0), the first epoch the loss reaches a target,
and the wall time (compiling and running, separately).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from jaxgd.core import names
from jaxgd.core.deprecation import renamed_value, warn_renamed
from jaxgd.core.errors import ConfigError, DivergenceError, check_choice, check_nonnegative
from jaxgd.core.names import USER_RULE_FORM, is_user_rule
from jaxgd.experiments.config import RENAMED_VALUES, SINGLE_IMPLS, TrainConfig, optimizer_names
from jaxgd.experiments.defaults import resolve_defaults
from jaxgd.experiments.fields import parse_value
from jaxgd.experiments.outdir import write_result_folder
from jaxgd.experiments.sweep.engine import SweepResult, sweep
from jaxgd.experiments.sweep.grid import make_grid
from jaxgd.experiments.sweep.report import EVAL_COLUMNS

BANDS = ("minmax", "std")


class OptimizerSpec(NamedTuple):
    """One contender: a factory name, an impl, and its own hyperparameters."""

    name: str  # a factory in jaxgd.optimizers / jaxgd.reference
    impl: str  # "hand" or "optax"
    kwargs: tuple[tuple[str, Any], ...]  # its own hyperparameters, learning_rate included

    @property
    def label(self) -> str:
        extra = ",".join(f"{k}={v}" for k, v in self.kwargs)
        return f"{self.name}:{self.impl}" + (f":{extra}" if extra else "")

    @property
    def side(self) -> str:
        """Deprecated: the old name of `impl`."""
        warn_renamed("OptimizerSpec.side", "OptimizerSpec.impl")
        return self.impl


def parse_optimizer(text: str) -> OptimizerSpec:
    """``"adam:hand:learning_rate=0.01,b1=0.8"`` -> OptimizerSpec (impl defaults to hand)."""
    parts = [p.strip() for p in str(text).split(":")]
    name, impl, kv = parts[0], "hand", parts[1:]
    builtin = name in names.OPTIMIZERS or name in RENAMED_VALUES["optimizer"]
    if kv and not builtin and is_user_rule(f"{name}:{kv[0]}") and kv[0] not in SINGLE_IMPLS:
        name, kv = f"{name}:{kv[0]}", kv[1:]  # a user's rule MODULE:FACTORY[:IMPL][:K=V,...]
    if kv and "=" not in kv[0]:
        impl, kv = kv[0], kv[1:]
    name = renamed_value("optimizer", name, RENAMED_VALUES["optimizer"])
    if not is_user_rule(name):
        check_choice("optimizer", name, optimizer_names(), also=f"or your own rule as {USER_RULE_FORM}")
    if impl not in SINGLE_IMPLS:
        raise ConfigError(f"--optimizers {text!r}: impl {impl!r} is not one of {list(SINGLE_IMPLS)}; "
                          f"write {name}:hand or {name}:optax.")
    kwargs = {}
    for item in (i.strip() for group in kv for i in group.split(",")):
        if "=" not in item or not item.split("=", 1)[0].strip():
            raise ConfigError(f"--optimizers {text!r}: {item!r} is not KEY=VALUE; write e.g. "
                              f"{name}:{impl}:learning_rate=0.01,b1=0.8.")
        k, v = (s.strip() for s in item.split("=", 1))
        kwargs[k.replace("-", "_")] = parse_value(v)
    return OptimizerSpec(name, impl, tuple(kwargs.items()))


def split_optimizers(texts: Any) -> list[str]:
    """The ``--optimizers`` items, where an item may be a comma list (``adam,mypkg.rules:my_sgd``);
    a piece ``KEY=VALUE`` (no ``:`` before its ``=``) continues the arguments of the one before."""
    out: list[str] = []
    for text in [texts] if isinstance(texts, str) else texts:
        if not isinstance(text, str):
            out.append(text)
            continue
        for piece in text.split(","):
            if out and isinstance(out[-1], str) and "=" in piece and ":" not in piece.split("=")[0]:
                out[-1] += "," + piece
            else:
                out.append(piece)
    return out


def spec_config(cfg: TrainConfig, spec: OptimizerSpec) -> TrainConfig:
    """``cfg`` with the optimizer of ``spec``; its own hyperparameters over ``cfg``'s, and its
    default learning rate where neither sets one (`jaxgd.experiments.defaults`)."""
    kw = {**dict(cfg.hyper), **dict(spec.kwargs)}
    lr = kw.pop("learning_rate", cfg.learning_rate)
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, int | float)):
        raise ConfigError(f"{spec.label}: learning_rate={lr!r} is not a number; e.g. learning_rate=0.01.")
    return resolve_defaults(dataclasses.replace(
        cfg, optimizer=spec.name, learning_rate=None if lr is None else float(lr), impl=spec.impl,
        hyper=tuple(sorted(kw.items()))))


class CompareResult(NamedTuple):
    specs: tuple[OptimizerSpec, ...]
    results: tuple[SweepResult, ...]  # one per spec, a run per seed


def compare(cfg: TrainConfig, specs, seeds, *, devices=None, max_runs_per_chunk: int | None = None,
            progress: bool = False) -> CompareResult:
    """Run every optimizer of ``specs`` over ``seeds`` on ``cfg``'s problem.

    Raises:
        ConfigError: no optimizers, a repeated label, or a bad hyperparameter.
        DivergenceError: every run of every optimizer diverged.
    """
    specs = tuple(parse_optimizer(s) if isinstance(s, str) else s for s in split_optimizers(specs))
    if not specs:
        raise ConfigError("compare needs at least one optimizer, e.g. --optimizers sgd:hand adam:optax.")
    labels = [s.label for s in specs]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"--optimizers lists {sorted({x for x in labels if labels.count(x) > 1})} "
                          "more than once; give each optimizer once.")
    configs = [spec_config(cfg, s) for s in specs]
    grid = make_grid({}, seeds)
    results = tuple(sweep(c, grid, impl=s.impl, devices=devices, max_runs_per_chunk=max_runs_per_chunk,
                          progress=progress, label=s.label, raise_if_all_diverged=False)
                    for c, s in zip(configs, specs, strict=True))
    if all(np.all(r.diverged_at > 0) for r in results):
        first = int(min(r.diverged_at.min() for r in results))
        raise DivergenceError(f"every run of every optimizer diverged (the first at epoch {first}); "
                              "lower the learning rates (e.g. divide them by 10).", epoch=first)
    return CompareResult(specs, results)


def epochs_to_target(loss: np.ndarray, target: float) -> np.ndarray:
    """First epoch (1-based) at which ``loss[run, :] <= target``; 0 where it never does."""
    hit = np.asarray(loss) <= target  # NaN compares False
    return np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, 0)


def _f(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def summarize(result: CompareResult, target: float | None = None, band: str = "minmax") -> dict:
    """Per optimizer: final loss mean/std/min/max over finite seeds, epochs to target, times."""
    check_choice("band", band, BANDS)
    if target is not None:
        check_nonnegative("target", target, fix="A loss is finite and at least 0; e.g. target=0.1.")
    rows = []
    for spec, r in zip(result.specs, result.results, strict=True):
        ok = r.diverged_at == 0
        final = r.history["loss"][:, -1][ok]
        row = {"label": spec.label, "optimizer": spec.name, "impl": spec.impl,
               "hyper": dict(spec.kwargs), "seeds": r.grid.seeds.tolist(),
               "diverged": int(np.sum(~ok)),
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
    return {"kind": "compare", "dataset": cfg.dataset, "epochs": cfg.epochs, "target": target,
            "band": band, "optimizers": rows}


def format_table(summary: dict) -> str:
    """One line per optimizer: final loss mean ± std, epochs to target, wall time."""
    target = summary["target"]
    head = ["optimizer", "final loss", "± std", "diverged"]
    head += [f"epochs to {target:g}"] if target is not None else []
    head += ["run s", "compile s"]
    body = []
    for r in summary["optimizers"]:
        n = len(r["seeds"])
        line = [r["label"], "diverged" if r["final_loss_mean"] is None else f"{r['final_loss_mean']:.4g}",
                "-" if r["final_loss_std"] is None else f"{r['final_loss_std']:.2g}", f"{r['diverged']}/{n}"]
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


def write_compare(out_dir, result: CompareResult, summary: dict, overwrite: bool = False,
                  plot: bool = False) -> list[Path]:
    """The run folder (config.json, compare.csv, summary.json, and compare.png with ``plot``);
    ``out_dir`` is a path or an `OutputDir` claimed before the runs."""
    return write_result_folder(out_dir, "compare", {
        "config.json": lambda p: p.write_text(result.results[0].config.to_json() + "\n"),
        "compare.csv": lambda p: write_csv(p, result),
        "summary.json": lambda p: p.write_text(json.dumps(summary, indent=2) + "\n"),
    }, overwrite, figures=_plot_run if plot else None)


def _plot_run(folder: Path) -> list[Path]:
    from jaxgd.experiments.plots import plot_run  # matplotlib only when figures are asked for

    return plot_run(folder)
