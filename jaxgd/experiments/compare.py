"""Several optimizers on one problem, each over several seeds (vmapped): who gets there first.

An optimizer is named ``NAME[:hand|optax][:KEY=VALUE,...]``: ``sgd``, ``adam:optax``,
``adam:hand:learning_rate=0.01,b1=0.8``, or a user's own rule
``MODULE:FACTORY[:hand][:KEY=VALUE,...]`` (``mypkg.rules:my_sgd``, hand only); an item may
list several, ``adam,mypkg.rules:my_sgd``. Each one runs as a `jaxgd.experiments.sweep` over the
seeds only, from the same initial parameters per seed, so hand-written rules and
their optax twins can be set side by side. Reported per optimizer: final loss
(mean ± std over seeds, ddof=0), the first epoch the loss reaches a target,
and the wall time (compiling and running, separately). The report and the run folder
live in `jaxgd.experiments.compare_report` (re-exported here).
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import numpy as np

from jaxgd.core import names
from jaxgd.core.deprecation import renamed_value, warn_renamed
from jaxgd.core.errors import ConfigError, DivergenceError, check_choice
from jaxgd.core.names import USER_RULE_FORM, is_user_rule
from jaxgd.experiments.build import Problem, make_problem, select_device
from jaxgd.experiments.compare_report import (
    BANDS,
    compare_header,
    epochs_to_target,
    format_table,
    summarize,
    write_compare,
    write_csv,
)
from jaxgd.experiments.config import RENAMED_VALUES, SINGLE_IMPLS, TrainConfig, optimizer_names
from jaxgd.experiments.defaults import origins, resolve_defaults
from jaxgd.experiments.fields import parse_value
from jaxgd.experiments.sweep.engine import SweepResult, sweep
from jaxgd.experiments.sweep.grid import make_grid

__all__ = ["BANDS", "CompareResult", "OptimizerSpec", "compare", "compare_header", "epochs_to_target",
           "format_table", "learning_rate_origin", "parse_optimizer", "spec_config", "split_optimizers",
           "summarize", "write_compare", "write_csv"]


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


def learning_rate_origin(cfg: TrainConfig, spec: OptimizerSpec) -> str:
    """Where the learning rate ``spec`` runs with on base config ``cfg`` comes from: ``"given"``
    (in the spec), ``"--lr"`` (the base config's, for every optimizer without its own), or
    its default's source (`jaxgd.experiments.defaults.origins`, e.g. ``"adam's default"``)."""
    if "learning_rate" in dict(spec.kwargs):
        return "given"
    if cfg.learning_rate is not None or "learning_rate" in dict(cfg.hyper):
        return "--lr"
    return origins(spec_config(cfg, spec)).get("learning_rate", "default")


class CompareResult(NamedTuple):
    specs: tuple[OptimizerSpec, ...]
    results: tuple[SweepResult, ...]  # one per spec, a run per seed; each config holds the values used
    config: TrainConfig | None = None  # the base config as given (learning_rate None: each its default)
    problem: Problem | None = None  # the data, network and loss every optimizer trained on
    lr_from: tuple[str, ...] = ()  # per spec: where its learning rate came from (`learning_rate_origin`)


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
    with jax.default_device(devices[0] if devices else select_device(cfg.device)):
        pb = make_problem(configs[0])  # the optimizer does not change the data, network or loss
    results = tuple(sweep(c, grid, impl=s.impl, devices=devices, max_runs_per_chunk=max_runs_per_chunk,
                          progress=progress, label=s.label, raise_if_all_diverged=False, problem=pb)
                    for c, s in zip(configs, specs, strict=True))
    if all(np.all(r.diverged_at > 0) for r in results):
        first = int(min(r.diverged_at.min() for r in results))
        raise DivergenceError(f"every run of every optimizer diverged (the first at epoch {first}); "
                              "lower the learning rates (e.g. divide them by 10).", epoch=first)
    return CompareResult(specs, results, cfg, pb, tuple(learning_rate_origin(cfg, s) for s in specs))
