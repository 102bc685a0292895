"""The defaults a run resolves from its other settings: network, batch, init, learning rate.

`TrainConfig` leaves five fields unset (None) unless they are given; a run fills them
in once, before it starts, and keeps the concrete values in its ``config.json``:

    activation, hidden, batch_size, the dataset's (`jaxgd.data.registry.NETWORK_DEFAULTS`):
                                    the tutorial's 2-3-1 sigmoid net, full batch, for XOR and
                                    the generated sets; a ReLU MLP with minibatches for the
                                    real datasets (digits, mnist1d); the full batch for
                                    the rules that need one objective (lbfgs)
    init                            follows the activation: he (Kaiming) for the ReLU family,
                                    glorot (Xavier) for the others; the tutorial's randn
                                    (normal) for its XOR sigmoid network
    learning_rate                   the optimizer's (`jaxgd.reference.DEFAULT_LEARNING_RATES`);
                                    0.5 for the tutorial's own rules on XOR

A value given explicitly always wins. `origins` says where each resolved value came from,
for the run header.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from jaxgd.core import names
from jaxgd.core.errors import ConfigError
from jaxgd.data.registry import TUTORIAL_NETWORK, network_defaults
from jaxgd.experiments.checks import FULL_BATCH, FULL_BATCH_RULES
from jaxgd.experiments.config import TrainConfig
from jaxgd.optimizers import user_rules
from jaxgd.reference.defaults import DEFAULT_LEARNING_RATES, TUTORIAL_RULES

__all__ = ["RELU_FAMILY", "RESOLVED", "TUTORIAL_LEARNING_RATE", "TUTORIAL_RULES", "default_for",
           "origins", "resolve_defaults"]

TUTORIAL_DATASET = "xor"
TUTORIAL_LEARNING_RATE = 0.5
RELU_FAMILY = ("relu", "leaky_relu", "elu", "gelu")  # He et al. 2015's derivation: half the units pass
RESOLVED = ("activation", "hidden", "batch_size", "epochs", "init", "learning_rate")  # in dependency order


def default_for(cfg: TrainConfig, name: str) -> tuple[Any, str]:
    """``(value, where it comes from)`` of field ``name``'s default, given ``cfg``'s other fields.

    ``cfg`` must have the fields ``name`` depends on resolved (`RESOLVED` is in that order).
    """
    dataset = cfg.dataset if isinstance(cfg.dataset, str) else str(cfg.dataset)
    net = network_defaults(cfg.dataset)
    tutorial = dataset == TUTORIAL_DATASET
    own = ("the tutorial's network" if tutorial else
           f"the default for {os.path.basename(dataset)}: the tutorial's network"
           if net == TUTORIAL_NETWORK else f"the default for {dataset}")
    if name == "batch_size" and cfg.optimizer in FULL_BATCH_RULES:
        return FULL_BATCH, f"the full batch: {cfg.optimizer} needs one objective at every step"
    if name in ("activation", "hidden", "batch_size", "epochs"):
        return getattr(net, name), own
    if name == "init":
        if tutorial and cfg.activation == "sigmoid":
            return "normal", "the tutorial's randn"
        if cfg.activation in RELU_FAMILY:
            return "he", f"He init for {cfg.activation}"
        return "glorot", f"Glorot init for {cfg.activation}"
    if name == "learning_rate":
        if tutorial and cfg.optimizer in TUTORIAL_RULES:
            return TUTORIAL_LEARNING_RATE, f"the tutorial's, for {cfg.optimizer} on {dataset}"
        if names.is_user_rule(cfg.optimizer):  # a rule of your own: its factory's default, if any
            own = _factory_learning_rate(cfg.optimizer)
            if own is not None:
                return own, f"{cfg.optimizer}'s own default"
        if cfg.optimizer not in DEFAULT_LEARNING_RATES:
            raise ConfigError(f"optimizer {cfg.optimizer!r} has no default learning rate in jaxgd's "
                              "table (docs/defaults.md) and its factory gives none; give one with --lr, "
                              "e.g. --lr 0.01.")
        return DEFAULT_LEARNING_RATES[cfg.optimizer].value, f"{cfg.optimizer}'s default"
    raise KeyError(f"{name!r} is not resolved from other fields; those are {RESOLVED}")


def _factory_learning_rate(spec: str) -> float | None:
    """The float default of ``learning_rate`` in the signature of a user's factory, if it has one."""
    signature = user_rules.factory_signature(user_rules.load_factory(spec))
    param = None if signature is None else signature.parameters.get("learning_rate")
    default = None if param is None else param.default
    if isinstance(default, int | float) and not isinstance(default, bool):
        return float(default)
    return None


def resolve_defaults(cfg: TrainConfig) -> TrainConfig:
    """``cfg`` with every unset field of `RESOLVED` filled in (the others as given).

    Idempotent: a resolved config comes back equal. The optimizer and dataset must be
    valid names (`jaxgd.experiments.config.validate` checks them).
    """
    for name in RESOLVED:  # batch_size None is also the full batch: a dataset's default replaces it
        if getattr(cfg, name) is None:
            cfg = dataclasses.replace(cfg, **{name: default_for(cfg, name)[0]})
    return cfg


def origins(cfg: TrainConfig) -> dict[str, str]:
    """For each field of `RESOLVED` whose value in ``cfg`` (resolved or not) is its default:
    where that default comes from, e.g. ``{"learning_rate": "adam's default"}``."""
    cfg = resolve_defaults(cfg)
    out = {}
    for name in RESOLVED:
        try:
            value, origin = default_for(cfg, name)
        except ConfigError:  # no default to compare with (a user's rule given --lr): not a default
            continue
        if getattr(cfg, name) == value:
            out[name] = origin
    return out
