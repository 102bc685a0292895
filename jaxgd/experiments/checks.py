"""Checks and parsers of single `TrainConfig` fields: epochs, batch size, seed, optimizer.

The field declarations in `jaxgd.experiments.config` name them as their ``check`` or
``parse``; like the config, they need no JAX.
"""

from __future__ import annotations

import numbers
from typing import Any

from jaxgd.core import names
from jaxgd.core.errors import ConfigError, check_choice, check_positive_int
from jaxgd.core.limits import MAX_INT32

__all__ = ["FULL_BATCH", "FULL_BATCH_RULES", "check_batch", "check_batch_size", "check_epochs",
           "check_optimizer", "check_seed", "full_batch",
           "no_twin_message", "parse_batch_size"]


def check_epochs(name: str, value: Any) -> None:
    check_positive_int(name, value)
    if value > MAX_INT32:
        raise ConfigError(f"epochs={value} is more than the int32 epoch counter holds; accepted: "
                          f"1..{MAX_INT32:,}.")


FULL_BATCH = 0  # batch_size 0: every training row in each step, whatever the dataset's default


def parse_batch_size(text: str) -> int:
    """``--batch-size`` text: a whole number, or "full" (the whole training set, 0)."""
    if text.strip().lower() == "full":
        return FULL_BATCH
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"--batch-size {text!r}: expected a whole number of examples or 'full', "
                          "e.g. --batch-size 32 or --batch-size full.") from None


def check_batch_size(name: str, value: Any) -> None:
    if value == FULL_BATCH and not isinstance(value, bool):
        return
    check_positive_int(name, value, fix="Use --batch-size 32, or --batch-size full for full-batch "
                                        "descent.")


def full_batch(batch_size: int | None) -> bool:
    """Whether a (resolved) ``batch_size`` takes the whole training set each step."""
    return batch_size is None or batch_size == FULL_BATCH


# rules that are sound only on the same objective at every step, and why
FULL_BATCH_RULES = {
    "lbfgs": "its curvature pairs y = g_k - g_{k-1} would mix two batches' gradients, and after one "
             "zero step (a failed line search: s = 0, y != 0) its scale <s, y>/<y, y> is 0, so every "
             "later update is 0 (optax.lbfgs alike)",
}


def check_batch(optimizer: str, batch: int, n: int) -> None:
    """A resolved ``batch`` (examples per step) for ``n`` training rows: at most ``n``, and ``n``
    for the rules of `FULL_BATCH_RULES`. ConfigError naming the fix otherwise."""
    if batch > n:
        raise ConfigError(f"batch_size={batch} is larger than the data (n={n}); accepted: "
                          f"1..{n}. Use --batch-size full for full-batch descent.")
    if batch < n and optimizer in FULL_BATCH_RULES:
        raise ConfigError(f"optimizer {optimizer!r} with batch_size={batch} (n={n}): "
                          f"{FULL_BATCH_RULES[optimizer]}; accepted: the full batch. Use --batch-size "
                          "full.")


def check_seed(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= value <= MAX_INT32:
        raise ConfigError(f"seed={value!r} is not an integer in 0..{MAX_INT32:,} (JAX's keys hold 32 "
                          "bits, and a sweep's seeds are int32); e.g. --seed 0.")


# rules of the table whose factory takes no learning rate, so runs cannot take them
NOT_TRAINED = {
    "polyak_sgd": "it sets its own step from the loss (max_learning_rate, f_min) instead of a "
                  "learning rate. Use jaxgd.optimizers.polyak_sgd in Python (the engine passes it "
                  "value=loss), or check it with `jaxgd crosscheck --optimizer polyak_sgd`.",
}


def check_optimizer(name: str, value: Any) -> None:
    """A rule of the table (`names.OPTIMIZERS`), or a user's own ``MODULE:FACTORY``."""
    if names.is_user_rule(value):
        return
    if isinstance(value, str) and ":" in value:
        raise ConfigError(f"optimizer={value!r} (--optimizer) is not of the form "
                          f"{names.USER_RULE_FORM}: a dotted module path, a colon, a function name.")
    if value in NOT_TRAINED:
        raise ConfigError(f"optimizer={value!r} (--optimizer) is a jaxgd rule that train, compare, sweep "
                          f"and tune do not run: {NOT_TRAINED[value]}")
    check_choice("optimizer", value, names.OPTIMIZERS, also=f"or your own rule as {names.USER_RULE_FORM}")


def no_twin_message(spec: str, impl: str) -> str:
    """Why impl "optax"/"both" is refused for a user's rule, and what to run instead."""
    return (f"optimizer={spec!r} is your own rule, which has no optax twin, so impl={impl!r} cannot "
            "run; use impl='hand' (--impl hand, the default for a MODULE:FACTORY rule on the command "
            f"line), or check it against an optax rule with `jaxgd crosscheck --hand {spec} "
            "--reference NAME`.")
