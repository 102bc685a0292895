"""The configuration of a training run: one frozen dataclass, validated once.

Each field declares, once, its flag(s), help, default, choices, check, and whether
a resumed run may change it (`jaxgd.experiments.fields.option`). The command line
derives its flags from them, `validate` its checks, `to_json`/`from_dict` their
conversions and `resume_config` the resume rules. The names a field accepts come
from `jaxgd.core.names`, so a config is built and validated without importing JAX;
heavy packages (the optimizer table, datasets, the network) are imported only
inside functions.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from jaxgd.core import names
from jaxgd.core.deprecation import renamed_value
from jaxgd.core.errors import ConfigError, check_choice
from jaxgd.experiments.checks import (
    FULL_BATCH,
    check_batch_size,
    check_epochs,
    check_optimizer,
    check_seed,
    full_batch,
    no_twin_message,
    parse_batch_size,
)
from jaxgd.experiments.fields import (
    LOSS_ALIASES,
    Shortcut,
    check_dataset,
    check_devices,
    check_hidden,
    check_label_column,
    check_loss,
    check_pairs,
    count,
    field_options,
    flags_of,
    in_range,
    load_pairs,
    nonnegative,
    option,
    parse_assignment,
    parse_assignments,
    parse_devices,
    parse_hidden,
    parse_value,
    positive,
    resolve_loss,
    show_hidden,
    show_pairs,
)
from jaxgd.experiments.trackspec import check_track, load_track, parse_track, show_track

__all__ = ["FULL_BATCH", "GRADS", "IMPLS", "LOSS_ALIASES", "RESUMABLE", "SINGLE_IMPLS", "TASKS",
           "TrainConfig", "check_optimizer", "full_batch", "optimizer_names", "parse_batch_size",
           "parse_assignment", "parse_assignments", "parse_hidden", "parse_value", "resume_config",
           "validate"]

IMPLS = ("hand", "optax", "both")
SINGLE_IMPLS = ("hand", "optax")  # one rule per run: sweep and compare
GRADS = ("backprop", "autodiff", "tutorial")
DEVICES = ("auto", "cpu", "gpu")
TASKS = ("binary", "multiclass", "regression")  # jaxgd.data.TASKS, readable without JAX
# values renamed in 0.2 (the tutorial deck was called "the seed"): old -> new; schedules: their table
RENAMED_VALUES = {"grad": {"seed": "tutorial"}, "optimizer": {"seed_momentum": "tutorial_momentum"}}
HYPER_SHORTCUTS = tuple(Shortcut(f"--{k.replace('_', '-')}", k, f"{what} (the same as --set {k}=X)")
                        for k, what in (("momentum", "momentum of sgd and its kin"),
                                        ("b1", "Adam's first-moment decay"),
                                        ("b2", "Adam's second-moment decay"),
                                        ("eps", "the optimizer's epsilon"),
                                        ("weight_decay", "decoupled weight decay")))
HYPER_SHORTCUTS += (Shortcut("--nesterov", "nesterov", "Nesterov momentum (--set nesterov=true)", None),)


def optimizer_names() -> list[str]:
    """Names accepted by --optimizer: the table's public optimizers that take a learning rate.

    Composite recipes that exist only as table rows (e.g. clipping then SGD) are not
    optimizers of their own and are left out.
    """
    from jaxgd import optimizers, reference
    from jaxgd.reference import OPTIMIZERS

    rules = {r.hand.__name__ for r in OPTIMIZERS if "learning_rate" in r.kwargs}
    return sorted(n for n in rules if hasattr(optimizers, n) and hasattr(reference, n))


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a run. Defaults = the tutorial: 2-3-1 sigmoid net, XOR, full-batch GD.

    ``hidden``, ``activation``, ``init``, ``learning_rate`` and ``batch_size`` default to
    None: resolved from the dataset, the activation and the optimizer when the run is
    built (`jaxgd.experiments.defaults.resolve_defaults`), and saved resolved.
    """

    dataset: str = option("xor", "a built-in dataset, or a .npz/.csv file", choices=names.DATASETS,
                          check=check_dataset, metavar="NAME|PATH")
    hidden: tuple[int, ...] | None = option(
        None, "hidden layer sizes ('' for none)", parse=parse_hidden, show=show_hidden,
        load=lambda v: None if v is None else tuple(v), check=check_hidden, metavar="N[,N...]",
        unset="the dataset's: 3 (the tutorial's 2-3-1), 128 for digits, 256,256 for mnist1d")
    activation: str | None = option(None, "hidden-layer activation", choices=names.ACTIVATIONS,
                                    unset="the dataset's: sigmoid, relu for digits and mnist1d")
    output_activation: str | None = option(None, "output activation", choices=names.ACTIVATIONS,
                                           unset="sigmoid for mse on 0/1 targets, else identity")
    loss: str | None = option(None, "per-example loss, averaged over the batch; it decides the outputs "
                              "(softmax_ce: one per class; bce, mse: one for two classes, one per "
                              "class on one-hot labels for more). Also written ce, cross_entropy, "
                              "binary_cross_entropy, squared_error", choices=names.LOSSES,
                              check=check_loss, unset="mse for xor and regression, bce for binary, "
                                                      "softmax_ce for classes")
    init: str | None = option(None, "weight init (normal: the tutorial's randn)", choices=names.INITS,
                              unset="he for relu, leaky_relu, elu, gelu; glorot for the other "
                                    "activations; normal for the tutorial's sigmoid net on xor")
    optimizer: str = option("sgd", "update rule (jaxgd.optimizers / jaxgd.reference)",
                            choices=names.OPTIMIZERS, check=check_optimizer)
    learning_rate: float | None = option(
        None, "learning rate (the peak of a schedule)", flags=("--learning-rate", "--lr"),
        parse=float, check=positive("Use a small positive float such as 0.1 or 1e-3."),
        unset="the optimizer's (docs/optimizers.md): e.g. adam 0.001, sgd 0.01; 0.5 for sgd, "
              "tutorial_momentum and sgd_l2 on xor (the tutorial)")
    hyper: tuple[tuple[str, Any], ...] = option(  # extra optimizer kwargs, e.g. (("momentum", 0.9),)
        (), "any other optimizer argument, repeatable", flags=("--set",), parse=parse_assignment,
        show=show_pairs, load=load_pairs, check=check_pairs, metavar="KEY=VALUE", repeat=True,
        shortcuts=HYPER_SHORTCUTS, unset="the optimizer's own")
    impl: str = option("both", "the hand-written rule, its optax twin, or both side by side",
                       choices=IMPLS)
    grad: str = option("backprop", "gradients: hand-written backprop, jax.grad, or the tutorial's "
                       "slide-7 formula", choices=GRADS)
    schedule: str = option("constant", "learning-rate schedule (jaxgd.schedules.table)",
                           choices=names.SCHEDULES)
    decay_rate: float = option(0.9, "factor of the decaying schedules", parse=float,
                               check=in_range(low=0.0, high=1.0, low_open=True))
    decay_every: int = option(100, "epochs between decays", parse=int, check=count())
    warmup_epochs: int = option(0, "warmup epochs of warmup_cosine", parse=int, check=count(0))
    batch_size: int | None = option(None, "examples per update; full (or 0): the whole training set",
                                    parse=parse_batch_size, metavar="N|full",
                                    show=lambda v: "full" if v == FULL_BATCH else str(v),
                                    unset="the dataset's: the full batch, 32 for digits, 128 for "
                                          "mnist1d",
                                    check=check_batch_size)
    epochs: int | None = option(None, "epochs in all (with --resume: the total to reach)", parse=int,
                                check=check_epochs, resumable=True,
                                unset="the dataset's: 10000, 30 for digits, 150 for mnist1d")
    tol: float = option(0.0, "stop when |loss change| < tol (0: never)", parse=float,
                        check=nonnegative(), resumable=True)
    gtol: float = option(0.0, "stop when the gradient norm < gtol (0: never)", parse=float,
                         check=nonnegative(), resumable=True)
    l2: float = option(0.0, "the tutorial's lambda * sum(W**2) added to the loss", parse=float,
                       check=nonnegative("Use 0 for no regularisation; the tutorial uses 0.01."))
    seed: int = option(0, "PRNG seed: parameters key(seed), data key(seed+1), shuffling "
                       "key(seed+2)", parse=int, check=check_seed)
    n_samples: int | None = option(None, "size of a generated dataset", parse=int,
                                   check=count(fix="Generated data must also fit in memory."),
                                   unset="the dataset's own")
    test_fraction: float = option(0.0, "share of a generated dataset held out for testing",
                                  parse=float, check=in_range(low=0.0, high=1.0, high_open=True))
    label_column: str | int | None = option(
        None, "label column of a .csv file: a header name, or a position (1 = the first column, "
        "-1 = the last)", check=check_label_column, metavar="NAME|POSITION",
        unset="the column named label, target, y or class")
    task: str | None = option(None, "what the labels of a .npz/.csv file are", choices=TASKS,
                              unset="inferred: 0/1 binary, class numbers or names multiclass, "
                                    "other numbers regression")
    standardize: bool = option(False, "standardise x with the training statistics", switch=True)
    eval_every: int = option(1, "evaluate accuracy and test metrics every N epochs and at the last "
                             "(other epochs: NaN in the history)", parse=int, metavar="N",
                             check=count(fix="Use 1 to evaluate after every epoch."),
                             resumable=True)
    track: tuple[tuple[str, int], ...] | None = option(  # (("sharpness", 10), ("monitors", 1))
        None, "instruments recorded into metrics.csv inside the compiled loop: sharpness[:EVERY] "
        "(top Hessian eigenvalue of the training loss, and 2/lr for a constant rate), "
        "noise_scale[:EVERY] (B_simple from per-example gradients), monitors (learning rate, "
        "update norm, update-to-parameter ratios, each the mean over the epoch's updates); "
        "EVERY epochs, 1 when left out; NaN at the epochs an instrument skips",
        parse=parse_track, show=show_track, load=load_track, check=check_track,
        metavar="NAME[:EVERY][,...]", unset="nothing tracked")
    device: str = option("auto", "where the run computes (auto: JAX's default backend, the GPU "
                         "when there is one)", choices=DEVICES, resumable=True)
    devices: int | str | None = option(  # data-parallel mesh: None = one device, N, or "all"
        None, "split each batch over N devices (parameters replicated)", parse=parse_devices,
        check=check_devices, metavar="N|all", unset="one device", resumable=True)
    data_sharding: str = option(
        "auto", "where the training rows live on a device mesh: replicated (every process holds "
        "all of them) or sharded (each device its own n/D rows, each process only its devices' "
        "rows, each device batching its own; the last n % D examples are left out); auto: "
        "sharded in a multi-process run, else replicated (the run folder records which; a "
        "resumed run keeps it)", choices=names.DATA_SHARDINGS)
    checkpoint_every: int = option(0, "save a checkpoint into the run folder every EPOCHS epochs "
                                   "(0: at the end only)", parse=int,
                                   check=count(0, "e.g. --checkpoint-every 100; 0 saves only at the end."),
                                   metavar="EPOCHS", resumable=True)

    def __post_init__(self) -> None:
        renamed = (*RENAMED_VALUES.items(), ("schedule", names.RENAMED_SCHEDULES))  # old spellings
        for name, renames in renamed:
            object.__setattr__(self, name, renamed_value(name, getattr(self, name), renames))
        object.__setattr__(self, "loss", resolve_loss(self.loss))  # 'ce' -> 'softmax_ce', ...
        object.__setattr__(self, "track", load_track(self.track))  # 'sharpness:5' -> (('sharpness', 5),)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True, default=str)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrainConfig:
        options = field_options(cls)
        unknown = sorted(set(d) - set(options))
        if unknown:
            raise ConfigError(f"unknown config keys {unknown}; accepted: {sorted(options)}.")
        return cls(**{k: options[k][1].load(v) for k, v in d.items()})


FIELDS = field_options(TrainConfig)
# Fields a resumed run may change: how long and where it runs, not what it computes.
RESUMABLE = tuple(name for name, (_, opt) in FIELDS.items() if opt.resumable)


def needs_value(optimizer: str) -> bool:
    """True when the rule's update needs ``value=loss`` (Polyak step sizes)."""
    from jaxgd.reference import OPTIMIZERS

    return any(r.hand.__name__ == optimizer and "value" in r.extra for r in OPTIMIZERS)


def validate(cfg: TrainConfig) -> TrainConfig:
    """Check every field by its declaration, then the rules between fields; raise
    ConfigError / UnknownNameError naming the bad one."""
    for name, (default, opt) in FIELDS.items():
        value = getattr(cfg, name)
        if value is None and default is None:  # None is accepted where it is the default
            continue
        if opt.check is not None:
            opt.check(name, value)
        elif opt.choices is not None:
            check_choice(name.replace("_", " "), value, opt.choices() if callable(opt.choices)
                         else opt.choices)
    if names.is_user_rule(cfg.optimizer) and cfg.impl != "hand":
        raise ConfigError(no_twin_message(cfg.optimizer, cfg.impl))
    is_file = names.is_file_name(cfg.dataset)
    file_kind = str(cfg.dataset).lower().rsplit(".", 1)[-1] if is_file else None
    if cfg.label_column is not None and file_kind != "csv":
        source = f"a .{file_kind} file" if file_kind else "a built-in dataset"
        raise ConfigError(f"label_column={cfg.label_column!r} (--label-column) applies to .csv files "
                          f"only; dataset {cfg.dataset!r} is {source}"
                          + (" whose arrays are named x and y" if file_kind == "npz" else "")
                          + ". Leave --label-column out.")
    if cfg.task is not None and not is_file:
        raise ConfigError(f"task={cfg.task!r} (--task) says what the labels of a .npz or .csv file "
                          f"are; dataset {cfg.dataset!r} is built in, with its own task. Leave "
                          "--task out.")
    if cfg.n_samples is not None and (cfg.dataset not in names.SYNTHETIC or cfg.dataset == "xor"):
        sized = sorted(set(names.SYNTHETIC) - {"xor"})
        what = ("its 4 points are fixed" if cfg.dataset == "xor" else "it has a fixed size")
        raise ConfigError(f"n_samples={cfg.n_samples} (--n-samples) sets the size of a generated "
                          f"dataset ({', '.join(sized)}); it does not apply to {cfg.dataset!r}: "
                          f"{what}. Leave --n-samples out.")
    if cfg.grad == "tutorial" and (cfg.hidden and len(cfg.hidden) != 1  # None: resolved later
                                   or cfg.activation not in (None, "sigmoid")):
        raise ConfigError("grad='tutorial' is the tutorial's slide-7 formula for one sigmoid hidden layer; "
                          "use --grad backprop for other networks.")
    return cfg


def resume_config(stored: TrainConfig, changes: Mapping[str, Any],
                  epochs_done: int | None = None) -> TrainConfig:
    """The stored config of a run with the changes a resume may make.

    Args:
        stored: the run's config (its config.json).
        changes: the fields given on the command line, by name; the others keep
            the stored value.
        epochs_done: epochs already run; ``epochs`` may not go below it.

    Raises:
        ConfigError: a changed field that is not resumable (a model, data or optimizer
            field: it would continue a different run from this one's checkpoint),
            naming both values and the fix.
    """
    cfg = dataclasses.replace(stored, **changes)  # old spellings renamed, like the stored ones
    for name in changes:
        mine, old = getattr(cfg, name), getattr(stored, name)
        if FIELDS[name][1].resumable or mine == old:
            continue
        flag = flags_of(name, FIELDS[name][1])[0]
        raise ConfigError(f"--resume: {name}={mine!r} differs from the run's {name}={old!r} "
                          f"({flag}); a resumed run keeps its model, data and optimizer. Leave "
                          f"{flag} out, or start a new run with --out.")
    from jaxgd.schedules.table import shaped_by_length

    if cfg.epochs != stored.epochs and shaped_by_length(stored.schedule):
        raise ConfigError(f"--resume: epochs={cfg.epochs} differs from the run's {stored.epochs}, "
                          f"but schedule={stored.schedule!r} is shaped by the epoch count; resume "
                          f"with --epochs {stored.epochs} (or leave it out).")
    if epochs_done is not None and cfg.epochs < epochs_done:
        raise ConfigError(f"--resume: epochs={cfg.epochs} is below the {epochs_done} epochs "
                          f"already run; accepted: --epochs {epochs_done} or more (a total).")
    return validate(cfg)
