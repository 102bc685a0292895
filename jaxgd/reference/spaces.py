"""Each optimizer's search space for tuning (`jaxgd tune`), built beside its default learning rate.

A space is a few axes, each a range and a scale:

    lin     uniform in [low, high]
    log     log-uniform: uniform in log10 between low > 0 and high
    log1m   1 - x log-uniform: uniform in log10(1 - x), for decays close to 1 (b2)

The generic ranges (the choices, after Schmidt, Schneider & Hennig 2021 and AlgoPerf's
external tuning, Dahl et al. 2023):

    learning_rate   log    default/100 .. min(default*100, 10)   around the table's default
    momentum        lin    0.5 .. 0.99                            uniform, as b1
    b1              lin    0.5 .. 0.99
    b2              log1m  0.9 .. 0.9999                          1 - b2 in [1e-4, 1e-1]
    weight_decay    log    1e-6 .. 1e-1

An axis enters an optimizer's space when its hand-written factory takes that keyword
with a number as default that lies inside the generic range: a hyperparameter the rule
leaves off by default (sgd's ``momentum=None``, lamb's ``weight_decay=0``) stays off, as
does one whose default means something else (novograd's b2 = 0.25). Everything else
keeps the factory's default. The contender ``momentum`` is sgd with momentum on (heavy
ball), so "sgd" and "momentum" are the two optimizers Schmidt et al. list.
"""

from __future__ import annotations

import inspect
from typing import NamedTuple

from jaxgd.core.errors import check_choice
from jaxgd.reference.defaults import DEFAULT_LEARNING_RATES

__all__ = ["CONTENDERS", "SCALES", "Axis", "SearchSpace", "search_space"]

SCALES = ("lin", "log", "log1m")
LR_SPAN = 100.0  # the learning rate axis spans default/LR_SPAN .. default*LR_SPAN
LR_CAP = 10.0  # and never above this
GENERIC = {"momentum": (0.5, 0.99, "lin"), "b1": (0.5, 0.99, "lin"),
           "b2": (0.9, 0.9999, "log1m"), "weight_decay": (1e-6, 1e-1, "log")}
# contender -> (the factory it runs, axes it adds beyond the generic rule)
CONTENDERS = {"momentum": ("sgd", ("momentum",))}


class Axis(NamedTuple):
    """One hyperparameter's range."""

    name: str  # the factory's keyword (or a TrainConfig float: learning_rate, l2, decay_rate)
    low: float
    high: float  # low < high
    scale: str  # "lin" | "log" | "log1m"


class SearchSpace(NamedTuple):
    """What tuning a contender varies: the factory it builds and the axes."""

    contender: str  # the name the user wrote: an optimizer, or a contender of `CONTENDERS`
    optimizer: str  # the factory of jaxgd.optimizers / jaxgd.reference
    axes: tuple[Axis, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.axes)


def _inside(default: object, low: float, high: float) -> bool:
    return (isinstance(default, int | float) and not isinstance(default, bool)
            and low <= default <= high)


def search_space(contender: str) -> SearchSpace:
    """The default search space of an optimizer of the table, or of a contender (``momentum``).

    Raises:
        UnknownNameError: a name neither the table nor `CONTENDERS` knows, naming both.
    """
    from jaxgd import optimizers

    check_choice("optimizer", contender, sorted({*DEFAULT_LEARNING_RATES, *CONTENDERS}))
    optimizer, extra = CONTENDERS.get(contender, (contender, ()))
    lr = DEFAULT_LEARNING_RATES[optimizer].value
    axes = [Axis("learning_rate", lr / LR_SPAN, min(lr * LR_SPAN, LR_CAP), "log")]
    params = inspect.signature(getattr(optimizers, optimizer)).parameters
    for name, (low, high, scale) in GENERIC.items():
        if name in params and (name in extra or _inside(params[name].default, low, high)):
            axes.append(Axis(name, low, high, scale))
    return SearchSpace(contender, optimizer, tuple(axes))
