"""The benchmark suite: seven small problems, each with a shipped target (`jaxgd suite`).

Every problem is tuned with the protocol of `jaxgd tune` (`jaxgd.experiments.tune.study`):
per optimizer, ``trials`` Sobol points of its search space as one vmapped program,
selection on the validation metric at the last epoch, the chosen point re-run over
``seeds`` and the time to the problem's target. The two objectives (the quadratic and
Rosenbrock) have no data: they follow `jaxgd.experiments.tune.objective`, where the
"validation metric" is the objective value itself and the seeds are random starts.

    problem     source                         target                length      hidden layers / start
    xor         the 4 corners (validated on    val_loss <= 0.05      500 epochs  8 tanh, full batch
                the same 4: nothing to hold)
    moons       300 rows                       val_accuracy >= 0.95  100 epochs  16 tanh, batch 32
    spirals     300 rows                       val_accuracy >= 0.9   200 epochs  32,32 tanh, batch 32
    digits      sklearn's 8x8 digits           val_accuracy >= 0.95  20 epochs   64 relu, batch 64
    mnist1d     MNIST-1D (own test split)      val_accuracy >= 0.5   30 epochs   100,100 relu, batch 128
    quadratic   0.5 sum_i c_i (x_i - 1)^2,     f <= 1e-3             1000 steps  10 parameters from 0;
                c log-spaced in [1, 100]                                         seeds: spread 0.5
    rosenbrock  (1 - x)^2 + 100 (y - x^2)^2    f <= 1e-2             5000 steps  from (-1.2, 1);
                                                                                 seeds: spread 0.1

The table is `PROBLEMS`; the numbers are chosen so the whole default suite (3 optimizers,
16 trials, 5 seeds) runs in a few minutes on a laptop CPU.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from jaxgd.core.errors import ConfigError
from jaxgd.experiments.config import TrainConfig

DEFAULT_OPTIMIZERS = ("sgd", "momentum", "adam")
OBJECTIVE = "f"  # the metric of an objective: its value


class SuiteProblem(NamedTuple):
    """One row of the suite: what is trained, what counts as solved, and the budget."""

    name: str
    source: str  # a dataset of jaxgd.data, or an objective: "quadratic" | "rosenbrock"
    metric: str  # "val_loss" | "val_accuracy" | "f" (the objective value)
    target: float  # metric <= target (a loss, f) or >= target (an accuracy)
    length: int  # epochs (a dataset) or steps (an objective) per run
    hidden: tuple[int, ...] = ()  # hidden widths (a dataset)
    activation: str = "tanh"
    batch_size: int | None = None  # None: the full batch
    n_samples: int | None = None  # rows of a generated dataset
    spread: float = 0.0  # an objective's seeds start at x0 + spread * N(0, I)

    @property
    def is_objective(self) -> bool:
        return self.metric == OBJECTIVE

    @property
    def unit(self) -> str:
        return "steps" if self.is_objective else "epochs"

    @property
    def reached(self) -> str:
        """The target as a condition, e.g. ``val_accuracy >= 0.95``."""
        return f"{self.metric} {'>=' if self.metric.endswith('accuracy') else '<='} {self.target:g}"


PROBLEMS: dict[str, SuiteProblem] = {p.name: p for p in (
    SuiteProblem("xor", "xor", "val_loss", 0.05, 500, (8,), "tanh"),
    SuiteProblem("moons", "moons", "val_accuracy", 0.95, 100, (16,), "tanh", 32, 300),
    SuiteProblem("spirals", "spirals", "val_accuracy", 0.9, 200, (32, 32), "tanh", 32, 300),
    SuiteProblem("digits", "digits", "val_accuracy", 0.95, 20, (64,), "relu", 64),
    SuiteProblem("mnist1d", "mnist1d", "val_accuracy", 0.5, 30, (100, 100), "relu", 128),
    SuiteProblem("quadratic", "quadratic", OBJECTIVE, 1e-3, 1000, spread=0.5),
    SuiteProblem("rosenbrock", "rosenbrock", OBJECTIVE, 1e-2, 5000, spread=0.1),
)}
QUADRATIC_DIM, QUADRATIC_CONDITION = 10, 100.0


def check_problems(names: Iterable[str]) -> list[str]:
    """The names, each once and each a problem of `PROBLEMS`; ConfigError naming the accepted ones."""
    names = list(names)
    unknown = [n for n in names if n not in PROBLEMS]
    if unknown or not names:
        what = f"unknown {', '.join(map(repr, unknown))}" if unknown else "no problem given"
        raise ConfigError(f"--problems {','.join(names)!r}: {what}; accepted: {', '.join(PROBLEMS)} "
                          "(comma-separated, e.g. --problems quadratic,rosenbrock).")
    if len(set(names)) != len(names):
        raise ConfigError(f"--problems {','.join(names)} lists a problem twice; give each once.")
    return names


def objective(p: SuiteProblem):
    """The `jaxgd.training.problems.Problem` of an objective row."""
    from jaxgd.training.problems import parabola, rosenbrock

    if p.source == "quadratic":
        return parabola(QUADRATIC_DIM, QUADRATIC_CONDITION)._replace(name="quadratic")
    return rosenbrock()


def data_config(p: SuiteProblem, seed: int = 0, impl: str = "hand") -> TrainConfig:
    """The TrainConfig of a dataset row (its network, batch, epochs and rows)."""
    extra = {"n_samples": p.n_samples} if p.n_samples is not None else {}
    return TrainConfig(dataset=p.source, hidden=p.hidden, activation=p.activation, epochs=p.length,
                       batch_size=p.batch_size if p.batch_size is not None else 0, seed=seed,
                       impl=impl, **extra)


def run_problem(p: SuiteProblem, contenders: Sequence[str], trials: int, seeds: Sequence[int],
                seed: int = 0, impl: str = "hand", progress: bool = False) -> dict:
    """Tune every contender on one problem; its summary (the form of `jaxgd tune`'s)."""
    from jaxgd.reference.spaces import search_space

    spaces = {c: search_space(c) for c in contenders}
    if p.is_objective:
        from jaxgd.experiments.tune.objective import objective_summary, tune_objective

        pb = objective(p)
        outcomes = {c: tune_objective(pb, s, trials, seeds, p.length, p.spread, p.target, seed, impl)
                    for c, s in spaces.items()}
        return objective_summary(p.name, outcomes, trials, seeds, p.length, p.target, p.spread)
    from jaxgd.experiments.tune.report import summarize
    from jaxgd.experiments.tune.study import tune

    cfg = data_config(p, seed, impl)
    data = _xor_data(cfg) if p.source == "xor" else None
    result = tune(cfg, spaces, trials, seeds, p.metric, p.target, impl=impl, data=data, progress=progress)
    summary = summarize([result], trials)
    summary["problem"] = p.name
    if data is not None:
        summary["datasets"][0]["header"] = ("xor: the 4 corners, trained and validated on the same 4 "
                                            "(no test rows)")
    return summary


def _xor_data(cfg: TrainConfig):
    """XOR is its whole distribution: the 4 corners are trained on, validated and tested on."""
    from jaxgd.experiments.build import make_problem
    from jaxgd.experiments.tune.study import TuneData

    pb = make_problem(cfg)
    d = pb.data
    return TuneData(pb._replace(data=d._replace(x_test=d.x, y_test=d.y)), d.x, d.y, cfg)
