"""optax twins of the core rules, and the `Row` type of the optimizer table.

A twin takes exactly the hand-written factory's arguments, validates them with
the hand-written factory (optax accepts nonsense such as ``sgd(-0.1)`` silently;
see CONVENTIONS), and returns the optax transformation.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import optax

from jaxgd import optimizers as hand
from jaxgd.core.deprecation import deprecated_alias

__all__ = ["Row", "adam", "add_decayed_weights", "chain", "masked", "scale", "scale_by_adam",
           "scale_by_learning_rate", "tutorial_momentum", "sgd", "sgd_l2", "trace", "twin"]


class Row(NamedTuple):
    """One line of the optimizer table: a hand-written rule and its optax twin.

    Attributes:
        id: unique id of the row, e.g. "sgd-nesterov".
        hand: factory of the hand-written Transform.
        ref: factory of the optax twin, same arguments.
        kwargs: arguments for the agreement tests (a float learning_rate included).
        ranges: float hyperparameters drawn in property tests: name -> (low, high).
        invalid: (bad kwargs, argument name the error must mention) pairs.
        schedule: accepts a schedule as learning_rate.
        minimize: kwargs for the parabola/Rosenbrock tests, or None to skip them.
        parabola_tol, rosen_tol: distance to the minimum reached in `steps` steps.
        steps: steps for the minimisation tests.
        rtol32, rtol64: per-step agreement tolerances (relative to the update scale).
        zero_grad_fixed: zero gradients leave params unchanged.
        extra: names of extra update() arguments the rule needs ("value", ...).
        note: a convention difference worth knowing (shown in docs).
    """

    id: str
    hand: Callable[..., Any]
    ref: Callable[..., Any]
    kwargs: dict
    ranges: dict = {}
    invalid: tuple = ()
    schedule: bool = True
    minimize: dict | None = None
    parabola_tol: float = 1e-2
    rosen_tol: float = 5e-2
    steps: int = 1000
    rtol32: float = 1e-5
    rtol64: float = 1e-12
    zero_grad_fixed: bool = True
    extra: tuple = ()
    note: str = ""


def twin(hand_factory: Callable[..., Any], optax_factory: Callable[..., Any]) -> Callable[..., Any]:
    """An optax factory that first validates its arguments with the hand-written one."""

    @functools.wraps(optax_factory)
    def make(*args, **kwargs):
        hand_factory(*args, **kwargs)  # raises jaxgd's ConfigError on bad input
        return optax_factory(*args, **kwargs)

    return make


sgd = twin(hand.sgd, optax.sgd)
adam = twin(hand.adam, optax.adam)
scale = twin(hand.scale, optax.scale)
scale_by_learning_rate = twin(hand.scale_by_learning_rate, optax.scale_by_learning_rate)
trace = twin(hand.trace, optax.trace)
scale_by_adam = twin(hand.scale_by_adam, optax.scale_by_adam)
add_decayed_weights = twin(hand.add_decayed_weights, optax.add_decayed_weights)
chain = optax.chain
masked = optax.masked


def tutorial_momentum(learning_rate, momentum=0.9):
    """The tutorial's ``v = mu*v + lr*g; w -= v`` with optax: lr first, then trace."""
    hand.tutorial_momentum(learning_rate, momentum)
    return optax.chain(optax.scale_by_learning_rate(learning_rate), optax.trace(momentum))


def sgd_l2(learning_rate, l2=0.0, momentum=None):
    """The tutorial's L2 term ``l2*sum(W**2)`` as decay before SGD (wd = 2*l2, weights only)."""
    hand.sgd_l2(learning_rate, l2, momentum)
    return optax.chain(
        optax.add_decayed_weights(2 * l2, mask=hand.weights_mask),
        optax.sgd(learning_rate, momentum),
    )


_BAD_LR = (({"learning_rate": -0.1}, "learning_rate"), ({"learning_rate": 0.0}, "learning_rate"),
           ({"learning_rate": float("nan")}, "learning_rate"))
_BAD_MOMENTUM = _BAD_LR + (({"momentum": 1.0}, "momentum"), ({"momentum": -0.5}, "momentum"))
_BAD_ADAM = _BAD_LR + (({"b1": 1.0}, "b1"), ({"b2": -0.1}, "b2"), ({"eps": -1.0}, "eps"))

ROWS = (
    Row("sgd", hand.sgd, sgd, {"learning_rate": 0.05}, invalid=_BAD_LR,
        minimize={"learning_rate": 0.002}, steps=4000, rosen_tol=0.2),
    Row("sgd-momentum", hand.sgd, sgd, {"learning_rate": 0.05, "momentum": 0.9},
        ranges={"momentum": (0.0, 0.99)}, invalid=_BAD_MOMENTUM,
        minimize={"learning_rate": 0.0005, "momentum": 0.9}, steps=3000),
    Row("sgd-nesterov", hand.sgd, sgd, {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True},
        ranges={"momentum": (0.0, 0.99)}, invalid=_BAD_MOMENTUM,
        minimize={"learning_rate": 0.0005, "momentum": 0.9, "nesterov": True}, steps=3000),
    Row("tutorial_momentum", hand.tutorial_momentum, tutorial_momentum,
        {"learning_rate": 0.05, "momentum": 0.9}, ranges={"momentum": (0.0, 0.99)},
        invalid=_BAD_MOMENTUM, minimize={"learning_rate": 0.0005, "momentum": 0.9}, steps=3000,
        note="lr inside the velocity: equals sgd(lr, momentum) only for a constant lr"),
    Row("sgd_l2", hand.sgd_l2, sgd_l2, {"learning_rate": 0.05, "l2": 0.01},
        ranges={"l2": (0.0, 0.1)}, invalid=_BAD_LR + (({"l2": -1.0}, "l2"),),
        zero_grad_fixed=False,
        note="the tutorial's L2 term lambda*sum(W**2) is decay wd = 2*lambda on weights only"),
    Row("adam", hand.adam, adam, {"learning_rate": 0.01},
        ranges={"b1": (0.0, 0.99), "b2": (0.5, 0.9999), "eps": (1e-8, 1e-3)}, invalid=_BAD_ADAM,
        minimize={"learning_rate": 0.02}, steps=2000, rosen_tol=0.1),
    Row("adam-nesterov", hand.adam, adam, {"learning_rate": 0.01, "nesterov": True},
        ranges={"b1": (0.0, 0.99), "b2": (0.5, 0.9999)}, invalid=_BAD_ADAM,
        minimize={"learning_rate": 0.02, "nesterov": True}, steps=2000, rosen_tol=0.1),
    Row("adam-eps_root", hand.adam, adam, {"learning_rate": 0.01, "eps_root": 1e-8},
        ranges={"eps_root": (0.0, 1e-3)}, invalid=_BAD_ADAM),
)


seed_momentum = deprecated_alias(tutorial_momentum, "jaxgd.reference.seed_momentum",
                                 "jaxgd.reference.tutorial_momentum")
