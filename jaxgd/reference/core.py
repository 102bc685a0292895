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

__all__ = ["COMPLEX", "LOW", "LOW_AND_COMPLEX", "OPTAX_BIAS_32", "Known", "Row", "adam",
           "add_decayed_weights", "chain", "masked", "scale", "scale_by_adam", "scale_by_learning_rate",
           "tutorial_momentum", "sgd", "sgd_l2", "trace", "twin"]


class Known(NamedTuple):
    """A documented exception: where a row is expected not to agree, which side, and why.

    A cross-check of the row in one of ``dtypes`` whose verdict is not "agree" is
    `documented` (and passes) when every side at fault is in ``sides``: a NaN or a
    departure from the float64 oracle on another side still fails.
    """

    dtypes: tuple[str, ...]  # e.g. ("bfloat16",)
    sides: tuple[str, ...]  # "hand", "optax" or both
    reason: str


class Row(NamedTuple):
    """One line of the optimizer table: a hand-written rule and its optax twin.

    What only the tests need (drawn ranges, refused arguments, minimisation runs) is
    kept with the tests, keyed by `id` (tests/optimizers/row_settings.py).

    Attributes:
        id: unique id of the row, e.g. "sgd-nesterov".
        hand: factory of the hand-written Transform.
        ref: factory of the optax twin, same arguments.
        kwargs: arguments of the row's cross-check (a float learning_rate included).
        schedule: accepts a schedule as learning_rate.
        rtol32, rtol64: per-step agreement tolerances (relative to the update scale).
        extra: names of extra update() arguments the rule needs ("value", ...).
        note: a convention difference worth knowing (shown in docs).
        complex: takes complex params (False: both sides refuse them).
        known: documented exceptions by dtype (see `Known`).
        mode: how the row is cross-checked: "stream" (either mode; random gradients by
            default) or "loss" (the rule evaluates the objective itself through its
            ``extra`` arguments, e.g. ``value_fn`` or ``grad_fn``: always on a loss).
    """

    id: str
    hand: Callable[..., Any]
    ref: Callable[..., Any]
    kwargs: dict
    schedule: bool = True
    rtol32: float = 1e-5
    rtol64: float = 1e-12
    extra: tuple = ()
    note: str = ""
    complex: bool = True
    known: tuple[Known, ...] = ()
    mode: str = "stream"

    def known_for(self, dtype: str) -> Known | None:
        """The documented exceptions of this row in ``dtype`` (a dtype name), merged; or None."""
        found = [k for k in self.known if dtype in k.dtypes]
        if not found:
            return None
        sides = tuple(dict.fromkeys(side for k in found for side in k.sides))
        return Known((dtype,), sides, "; ".join(k.reason for k in found))


LOW = ("float16", "bfloat16")
COMPLEX = ("complex64",)
LOW_AND_COMPLEX = (*LOW, "float32", *COMPLEX)
OPTAX_BIAS_32 = Known(("float32", *COMPLEX), ("optax",),
                      "optax computes 1 - b**t directly: up to 6e-5 relative error in float32 for "
                      "b2 = 0.999 (jaxgd: -expm1(t log b), a few ulp)")


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


ROWS = (
    Row("sgd", hand.sgd, sgd, {"learning_rate": 0.05}),
    Row("sgd-momentum", hand.sgd, sgd, {"learning_rate": 0.05, "momentum": 0.9}),
    Row("sgd-nesterov", hand.sgd, sgd, {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}),
    Row("tutorial_momentum", hand.tutorial_momentum, tutorial_momentum,
        {"learning_rate": 0.05, "momentum": 0.9},
        note="lr inside the velocity: equals sgd(lr, momentum) only for a constant lr"),
    Row("sgd_l2", hand.sgd_l2, sgd_l2, {"learning_rate": 0.05, "l2": 0.01},
        note="the tutorial's L2 term lambda*sum(W**2) is decay wd = 2*lambda on weights only"),
    Row("adam", hand.adam, adam, {"learning_rate": 0.01}, known=(OPTAX_BIAS_32,)),
    Row("adam-nesterov", hand.adam, adam, {"learning_rate": 0.01, "nesterov": True},
        known=(OPTAX_BIAS_32,)),
    Row("adam-eps_root", hand.adam, adam, {"learning_rate": 0.01, "eps_root": 1e-8},
        known=(OPTAX_BIAS_32,)),
)


seed_momentum = deprecated_alias(tutorial_momentum, "jaxgd.reference.seed_momentum",
                                 "jaxgd.reference.tutorial_momentum")
