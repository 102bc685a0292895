"""The configuration of a training run: one frozen dataclass, validated once.

The command line builds a `TrainConfig`; so can a script. `validate` checks every
field at the boundary, so the library below it sees only sane values.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from jaxgd.core.deprecation import renamed_value
from jaxgd.core.errors import (
    ConfigError,
    check_choice,
    check_nonnegative,
    check_positive,
    check_positive_int,
    check_range,
)
from jaxgd.core.limits import MAX_INT32

# values renamed in 0.2 (the tutorial deck was called "the seed"): old -> new
RENAMED_VALUES = {"grad": {"seed": "tutorial"}, "schedule": {"seed_step": "tutorial_step"},
                  "optimizer": {"seed_momentum": "tutorial_momentum"}}
IMPLS = ("hand", "optax", "both")
GRADS = ("backprop", "autodiff", "tutorial")
SCHEDULES = ("constant", "exponential", "step", "tutorial_step", "cosine", "warmup_cosine")
DEVICES = ("cpu", "gpu")



@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a run. Defaults = the tutorial: 2-3-1 sigmoid net, XOR, full-batch GD."""

    dataset: str = "xor"
    hidden: tuple[int, ...] = (3,)
    activation: str = "sigmoid"
    output_activation: str | None = None  # None: sigmoid for mse on 0/1 targets, else identity
    loss: str | None = None  # None: mse for xor/regression, bce for binary, softmax_ce for classes
    init: str = "normal"
    optimizer: str = "sgd"
    learning_rate: float = 0.5
    hyper: tuple[tuple[str, Any], ...] = ()  # extra optimizer kwargs, e.g. (("momentum", 0.9),)
    impl: str = "both"
    grad: str = "backprop"
    schedule: str = "constant"
    decay_rate: float = 0.9
    decay_every: int = 100  # epochs
    warmup_epochs: int = 0
    batch_size: int | None = None  # None: full batch
    epochs: int = 10000
    tol: float = 0.0
    gtol: float = 0.0
    l2: float = 0.0
    seed: int = 0
    n_samples: int | None = None  # for synthetic datasets
    test_fraction: float = 0.0
    label_column: str | None = None  # for .csv files
    standardize: bool = False
    device: str = "cpu"
    devices: int | str | None = None  # data-parallel mesh: None = one device, N, or "all"
    checkpoint_every: int = 0  # epochs between checkpoints (0: only at the end)

    def __post_init__(self) -> None:
        for name, renames in RENAMED_VALUES.items():  # old spellings, with a DeprecationWarning
            object.__setattr__(self, name, renamed_value(name, getattr(self, name), renames))

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True, default=str)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - fields)
        if unknown:
            raise ConfigError(f"unknown config keys {unknown}; accepted: {sorted(fields)}.")
        d = dict(d)
        if "hidden" in d:
            d["hidden"] = tuple(d["hidden"])
        if "hyper" in d:
            d["hyper"] = tuple((k, v) for k, v in d["hyper"])
        return cls(**d)


def parse_hidden(text: str) -> tuple[int, ...]:
    """'3' -> (3,); '64,64' -> (64, 64); '' -> () (no hidden layer)."""
    if text.strip() == "":
        return ()
    try:
        sizes = tuple(int(s) for s in text.replace(" ", "").split(","))
    except ValueError:
        raise ConfigError(f"hidden={text!r}: expected comma-separated positive integers, "
                          "e.g. --hidden 3 or --hidden 64,64.") from None
    for s in sizes:
        check_positive_int("hidden size", s, fix="e.g. --hidden 3 or --hidden 64,64.")
    return sizes


def parse_value(text: str) -> Any:
    """A --set value: bool, int, float, None, or the string itself."""
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_assignments(items: list[str] | None) -> tuple[tuple[str, Any], ...]:
    """['momentum=0.9', 'nesterov=true'] -> (('momentum', 0.9), ('nesterov', True))."""
    out = []
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. --set momentum=0.9.")
        k, v = item.split("=", 1)
        out.append((k.strip().replace("-", "_"), parse_value(v.strip())))
    return tuple(out)


def optimizer_names() -> list[str]:
    """Names accepted by --optimizer: the table's public optimizers that take a learning rate.

    Composite recipes that exist only as table rows (e.g. clipping then SGD) are not
    optimizers of their own and are left out.
    """
    from jaxgd import optimizers, reference
    from jaxgd.reference import OPTIMIZERS

    names = {r.hand.__name__ for r in OPTIMIZERS if "learning_rate" in r.kwargs}
    return sorted(n for n in names if hasattr(optimizers, n) and hasattr(reference, n))


def needs_value(optimizer: str) -> bool:
    """True when the rule's update needs ``value=loss`` (Polyak step sizes)."""
    from jaxgd.reference import OPTIMIZERS

    return any(r.hand.__name__ == optimizer and "value" in r.extra for r in OPTIMIZERS)


def validate(cfg: TrainConfig) -> TrainConfig:
    """Check every field; raise ConfigError / UnknownNameError naming the bad one."""
    from jaxgd.data import DATASETS, SYNTHETIC, is_file_name
    from jaxgd.nn.losses import LOSSES
    from jaxgd.nn.models import ACTIVATIONS, INITS

    if not is_file_name(cfg.dataset):
        check_choice("dataset", cfg.dataset, DATASETS)
    for h in cfg.hidden:
        check_positive_int("hidden size", h, fix="e.g. --hidden 3 or --hidden 64,64.")
    check_choice("activation", cfg.activation, ACTIVATIONS)
    if cfg.output_activation is not None:
        check_choice("activation", cfg.output_activation, ACTIVATIONS)
    if cfg.loss is not None:
        check_choice("loss", cfg.loss, LOSSES)
    check_choice("init", cfg.init, INITS)
    check_choice("optimizer", cfg.optimizer, optimizer_names())
    check_positive("learning_rate", cfg.learning_rate,
                   fix="Use a small positive float such as 0.1 or 1e-3.")
    check_choice("impl", cfg.impl, IMPLS)
    check_choice("grad", cfg.grad, GRADS)
    check_choice("schedule", cfg.schedule, SCHEDULES)
    check_range("decay_rate", cfg.decay_rate, low=0.0, high=1.0, low_open=True)
    check_positive_int("decay_every", cfg.decay_every)
    check_nonnegative("warmup_epochs", cfg.warmup_epochs)
    if cfg.batch_size is not None:
        check_positive_int("batch_size", cfg.batch_size,
                           fix="Use --batch-size 32, or leave it out for full-batch descent.")
    check_positive_int("epochs", cfg.epochs)
    if cfg.epochs > MAX_INT32:
        raise ConfigError(f"epochs={cfg.epochs} is more than the int32 epoch counter holds; accepted: "
                          f"1..{MAX_INT32:,}.")
    file_kind = str(cfg.dataset).lower().rsplit(".", 1)[-1] if is_file_name(cfg.dataset) else None
    if cfg.label_column is not None and file_kind != "csv":
        source = f"a .{file_kind} file" if file_kind else "a built-in dataset"
        raise ConfigError(f"label_column={cfg.label_column!r} (--label-column) applies to .csv files "
                          f"only; dataset {cfg.dataset!r} is {source}"
                          + (" whose arrays are named x and y" if file_kind == "npz" else "")
                          + ". Leave --label-column out.")
    if cfg.n_samples is not None and cfg.dataset not in SYNTHETIC:
        raise ConfigError(f"n_samples={cfg.n_samples} (--n-samples) sets the size of a generated "
                          f"dataset ({', '.join(sorted(SYNTHETIC))}); {cfg.dataset!r} has a fixed "
                          "size. Leave --n-samples out.")
    check_nonnegative("tol", cfg.tol)
    check_nonnegative("gtol", cfg.gtol)
    check_nonnegative("l2", cfg.l2, fix="Use 0 for no regularisation; the tutorial uses 0.01.")
    if cfg.n_samples is not None:
        check_positive_int("n_samples", cfg.n_samples)
    check_range("test_fraction", cfg.test_fraction, low=0.0, high=1.0, high_open=True)
    check_choice("device", cfg.device, DEVICES)
    if cfg.devices is not None and cfg.devices != "all":
        check_positive_int("devices", cfg.devices, fix="e.g. --devices 8 or --devices all.")
    check_nonnegative("checkpoint_every", cfg.checkpoint_every,
                      fix="e.g. --checkpoint-every 100; 0 saves only at the end.")
    if int(cfg.checkpoint_every) != cfg.checkpoint_every:
        raise ConfigError(f"checkpoint_every={cfg.checkpoint_every!r}: expected a whole number "
                          "of epochs, e.g. --checkpoint-every 100.")
    if cfg.grad == "tutorial" and (cfg.hidden and len(cfg.hidden) != 1 or cfg.activation != "sigmoid"):
        raise ConfigError("grad='tutorial' is the tutorial's slide-7 formula for one sigmoid hidden layer; "
                          "use --grad backprop for other networks.")
    return cfg


# Fields a resumed run may change: how long and where it runs, not what it computes.
RESUMABLE = ("epochs", "checkpoint_every", "devices", "device", "tol", "gtol")
EPOCH_SCHEDULES = ("cosine", "warmup_cosine")  # their shape depends on `epochs`


def resume_config(stored: TrainConfig, given: TrainConfig, epochs_done: int | None = None,
                  explicit: set[str] | None = None) -> TrainConfig:
    """The stored config of a run with the changes a resume may make.

    Args:
        stored: the run's config (its config.json).
        given: the command line's config.
        epochs_done: epochs already run; ``epochs`` may not go below it.
        explicit: the fields given on the command line; None: those that differ
            from the defaults. Only these count; the others keep the stored value.

    Raises:
        ConfigError: a changed model, data or optimizer field (it would continue a
            different run from this one's checkpoint), naming both values and the fix.
    """
    default = TrainConfig()
    names = [f.name for f in dataclasses.fields(TrainConfig)]
    if explicit is None:
        explicit = {n for n in names if getattr(given, n) != getattr(default, n)}
    for name in names:
        mine, old = getattr(given, name), getattr(stored, name)
        if name in RESUMABLE or name not in explicit or mine == old:
            continue
        flag = "--" + name.replace("_", "-")
        raise ConfigError(f"--resume: {name}={mine!r} differs from the run's {name}={old!r} "
                          f"({flag}); a resumed run keeps its model, data and optimizer. Leave "
                          f"{flag} out, or start a new run with --out.")
    changes = {name: getattr(given, name) for name in RESUMABLE if name in explicit}
    cfg = dataclasses.replace(stored, **changes)
    if cfg.epochs != stored.epochs and stored.schedule in EPOCH_SCHEDULES:
        raise ConfigError(f"--resume: epochs={cfg.epochs} differs from the run's {stored.epochs}, "
                          f"but schedule={stored.schedule!r} is shaped by the epoch count; resume "
                          f"with --epochs {stored.epochs} (or leave it out).")
    if epochs_done is not None and cfg.epochs < epochs_done:
        raise ConfigError(f"--resume: epochs={cfg.epochs} is below the {epochs_done} epochs "
                          f"already run; accepted: --epochs {epochs_done} or more (a total).")
    return validate(cfg)
