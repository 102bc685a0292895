"""From a config to the pieces of a run: data, network, loss, update rule, metrics.

Each takes a `TrainConfig` whose unset defaults it resolves (`jaxgd.experiments.defaults`).

    make_problem    dataset + layer sizes + loss + output activation (the loss decides the outputs)
    make_schedule   the learning rate (constant or a schedule of the update count)
    make_tx         the update rule, written by hand or with optax
    make_objective  ``(loss_fn, value_and_grad)`` from backprop, jax.grad or the tutorial
    make_eval_fn    per-epoch accuracy / test metrics, computed inside the compiled loop
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxgd import optimizers, reference, schedules
from jaxgd.core import names
from jaxgd.core.errors import ConfigError
from jaxgd.data import Dataset, load_dataset
from jaxgd.data.real import standardize
from jaxgd.experiments.config import TrainConfig, no_twin_message
from jaxgd.experiments.defaults import resolve_defaults
from jaxgd.nn.backprop import mlp_value_and_grad, tutorial_backprop
from jaxgd.nn.losses import accuracy, check_targets, make_loss_fn
from jaxgd.nn.models import init_mlp, mlp
from jaxgd.optimizers import user_rules
from jaxgd.reference import schedules as ref_schedules
from jaxgd.schedules.table import ScheduleSettings, build_schedule
from jaxgd.training.resources import check_fits

# peak bytes per example while a dataset is generated (float32 x and y, the generator's
# temporaries, the shuffle): measured about 160 for spirals, less for the others
GENERATED_BYTES = 160


class Problem(NamedTuple):
    """A dataset with the network and loss that go with it."""

    data: Dataset  # labels in the form the loss takes (see `targets_for_loss`)
    sizes: tuple[int, ...]  # layer widths, inputs first, outputs last
    loss: str
    output_activation: str
    one_hot: bool = False  # class indices reach the loss as one-hot rows (mse or bce on 3+ classes)
    notes: tuple[str, ...] = ()  # what loading and the loss decided, a line each, for the run header


def default_loss(ds: Dataset) -> str:
    if ds.task == "multiclass":
        return "softmax_ce"
    if ds.task == "binary" and ds.name != "xor":
        return "bce"
    return "mse"  # the tutorial's XOR, and regression


def _as_classes(ds: Dataset) -> Dataset:
    """Binary labels (n, 1) of 0/1 as the class indices (n,) of two classes."""
    labels = lambda y: None if y is None else jnp.asarray(y)[:, 0].astype(jnp.int32)  # noqa: E731
    return ds._replace(y=labels(ds.y), y_test=labels(ds.y_test), task="multiclass", n_classes=2)


def _as_binary(ds: Dataset) -> Dataset:
    """The class indices (n,) of two classes as binary labels (n, 1) of 0/1."""
    column = lambda y: None if y is None else jnp.asarray(y, ds.x.dtype)[:, None]  # noqa: E731
    return ds._replace(y=column(ds.y), y_test=column(ds.y_test), task="binary", n_classes=2)


def targets_for_loss(ds: Dataset, loss: str, from_file: bool = False) -> tuple[Dataset, bool, str]:
    """The labels in the form ``loss`` trains on; the loss decides the network's outputs.

    softmax_ce: one output per class (a binary dataset becomes two classes).
    bce, mse on two classes: one output (class indices become 0/1 labels).
    bce, mse on 3+ classes: one output per class, the labels one-hot.
    Regression: one output per target; softmax_ce is refused, bce needs 0/1 targets.

    Returns:
      (the dataset, whether its class indices are one-hot encoded for the loss, a note).
    """
    task_hint = "; or --task multiclass if its labels are classes" if from_file else ""
    if ds.task == "regression":
        k = int(jnp.shape(ds.y)[1])
        if loss == "softmax_ce":
            raise ConfigError(f"loss='softmax_ce' (--loss softmax_ce) needs classes, but dataset "
                              f"{ds.name!r} is a regression task (real-valued targets). Use "
                              f"--loss mse{task_hint}.")
        y = np.asarray(ds.y)
        if loss == "bce" and ((y != 0) & (y != 1)).any():
            raise ConfigError(f"loss='bce' (--loss bce) needs targets 0 or 1, but dataset "
                              f"{ds.name!r} is a regression task with targets in "
                              f"[{y.min():g}, {y.max():g}]. Use --loss mse{task_hint}.")
        return ds, False, f"{k} output{'s' if k > 1 else ''}, one per target ({loss})"
    if loss == "softmax_ce":
        ds = _as_classes(ds) if ds.task == "binary" else ds
        return ds, False, f"{ds.n_classes} outputs, one per class ({loss})"
    if ds.task == "multiclass" and ds.n_classes == 2:
        ds = _as_binary(ds)
    if ds.task == "binary":
        return ds, False, f"1 output for the two classes ({loss}, labels 0 and 1)"
    return ds, True, f"{ds.n_classes} outputs, one per class ({loss} on one-hot labels)"


def make_problem(cfg: TrainConfig) -> Problem:
    """Load the data and choose the loss, the output activation and, from the loss, the outputs."""
    cfg = resolve_defaults(cfg)
    kwargs: dict[str, Any] = {}
    if cfg.n_samples is not None:
        check_fits(cfg.n_samples * GENERATED_BYTES, what=f"generating {cfg.n_samples:,} examples of "
                   f"{cfg.dataset!r} (--n-samples)", fix="Use a smaller --n-samples.")
        kwargs["n"] = cfg.n_samples
    if cfg.test_fraction:
        kwargs["test_fraction"] = cfg.test_fraction
    if cfg.label_column is not None:
        kwargs["label_column"] = cfg.label_column
    if cfg.task is not None:
        kwargs["task"] = cfg.task
    ds = load_dataset(cfg.dataset, jax.random.key(cfg.seed + 1), **kwargs)
    if cfg.standardize:
        if ds.x_test is not None:
            x, x_test, _ = standardize(ds.x, ds.x_test)
            ds = ds._replace(x=x, x_test=x_test)
        else:
            x, _ = standardize(ds.x)
            ds = ds._replace(x=x)
    loss = cfg.loss or default_loss(ds)
    ds, one_hot, outputs = targets_for_loss(ds, loss, names.is_file_name(cfg.dataset))
    if loss in ("bce", "softmax_ce") and cfg.output_activation not in (None, "identity"):
        squash = "sigmoid" if loss == "bce" else "softmax"
        raise ConfigError(f"output_activation={cfg.output_activation!r} (--output-activation) with "
                          f"loss={loss!r} (--loss {loss}): {loss} takes the network's raw outputs "
                          f"(logits) and applies the {squash} itself. Leave --output-activation "
                          f"out, or use --loss mse for a {cfg.output_activation} output.")
    squashed = loss == "mse" and ds.task != "regression"  # 0/1 or one-hot targets
    out_act = cfg.output_activation or ("sigmoid" if squashed else "identity")
    k = ds.n_classes if ds.task == "multiclass" else int(np.shape(ds.y)[1])
    for y in (ds.y, ds.y_test):
        if y is not None and not one_hot:
            check_targets(loss, y, k, where=f"dataset {ds.name!r}")
    return Problem(ds, (ds.n_features, *cfg.hidden, k), loss, out_act, one_hot,
                   (*ds.notes, outputs))


def data_summary(pb: Problem) -> dict[str, Any]:
    """What the run header prints and summary.json keeps about the data: the task, the
    outputs, the class names of encoded text labels (class i is ``classes[i]``), the notes."""
    out: dict[str, Any] = {"task": pb.data.task, "outputs": pb.sizes[-1], "notes": list(pb.notes)}
    if pb.data.classes:
        out["classes"] = list(pb.data.classes)
    return out


def make_schedule(cfg: TrainConfig, steps_per_epoch: int, impl: str):
    """The learning rate for one impl ("hand" or "optax"): the float itself for a constant
    rate, else the schedule `cfg.schedule` of `jaxgd.schedules.table` over the update count."""
    cfg = resolve_defaults(cfg)
    if cfg.schedule == "constant":
        return cfg.learning_rate
    settings = ScheduleSettings(cfg.learning_rate, steps_per_epoch, cfg.epochs * steps_per_epoch,
                                cfg.decay_rate, cfg.decay_every, cfg.warmup_epochs)
    return build_schedule(cfg.schedule, settings, schedules if impl == "hand" else ref_schedules)


def make_tx(cfg: TrainConfig, impl: str, steps_per_epoch: int):
    """The update rule `cfg.optimizer` written by hand (impl "hand") or with optax ("optax").

    A user's rule ``MODULE:FACTORY`` (`jaxgd.optimizers.user_rules`) is built by its own
    factory; it has no optax twin, so only impl "hand" builds it (ConfigError otherwise).
    """
    cfg = resolve_defaults(cfg)
    kwargs = dict(cfg.hyper)
    if names.is_user_rule(cfg.optimizer):
        if impl != "hand":
            raise ConfigError(no_twin_message(cfg.optimizer, impl))
        return user_rules.build_rule(cfg.optimizer, learning_rate=make_schedule(cfg, steps_per_epoch, impl),
                                     **kwargs)
    factory = getattr(optimizers if impl == "hand" else reference, cfg.optimizer)
    try:
        return factory(learning_rate=make_schedule(cfg, steps_per_epoch, impl), **kwargs)
    except TypeError as err:
        raise ConfigError(f"optimizer {cfg.optimizer!r} does not take {sorted(kwargs)}: {err}. "
                          f"See `jaxgd optimizers {cfg.optimizer}` for its arguments.") from None


def probe_user_rule(cfg: TrainConfig, pb: Problem, tx) -> None:
    """For a user's rule: one abstract init and update on the network's params (no compute),
    so a broken rule is refused before any work (`jaxgd.optimizers.user_rules.probe_rule`)."""
    if names.is_user_rule(cfg.optimizer):
        init = resolve_defaults(cfg).init
        shapes = jax.eval_shape(lambda: init_mlp(jax.random.key(0), pb.sizes, init))
        user_rules.probe_rule(cfg.optimizer, tx, shapes)


def make_objective(cfg: TrainConfig, pb: Problem):
    """``(loss_fn, value_and_grad)`` by the gradient source the config names.

    Both take the dataset's labels; with ``pb.one_hot`` they encode them for the loss.
    """
    cfg = resolve_defaults(cfg)
    k = pb.sizes[-1]

    def targets(x, y):
        return jax.nn.one_hot(y, k, dtype=x.dtype) if pb.one_hot else y

    base_loss = make_loss_fn(pb.loss, cfg.activation, pb.output_activation, cfg.l2)

    def loss_fn(params, x, y):
        return base_loss(params, x, targets(x, y))

    if cfg.grad == "autodiff":
        return loss_fn, jax.value_and_grad(loss_fn)
    if cfg.grad == "tutorial":
        if pb.loss != "mse" or pb.output_activation != "sigmoid" or cfg.l2:
            raise ConfigError("grad='tutorial' is the tutorial's formula for MSE on a sigmoid output "
                              "without l2; use --grad backprop.")

        def tutorial_vg(params, x, y):
            return loss_fn(params, x, y), tutorial_backprop(params, x, targets(x, y))

        return loss_fn, tutorial_vg

    def hand_vg(params, x, y):
        return mlp_value_and_grad(params, x, targets(x, y), activation=cfg.activation,
                                  output_activation=pb.output_activation, loss=pb.loss, l2=cfg.l2)

    return loss_fn, hand_vg


def make_eval_fn(cfg: TrainConfig, pb: Problem, loss_fn):
    """Per-epoch metrics computed inside the compiled loop: accuracy, test loss/accuracy."""
    cfg = resolve_defaults(cfg)
    ds = pb.data
    classify = ds.task in ("binary", "multiclass")
    from_logits = pb.output_activation == "identity"
    if not classify and ds.x_test is None:
        return None

    def eval_fn(params):
        out = {}
        if classify:
            out["train_accuracy"] = accuracy(mlp(params, ds.x, cfg.activation, pb.output_activation),
                                             ds.y, ds.task, from_logits)
        if ds.x_test is not None:
            out["test_loss"] = loss_fn(params, ds.x_test, ds.y_test)
            if classify:
                outputs = mlp(params, ds.x_test, cfg.activation, pb.output_activation)
                out["test_accuracy"] = accuracy(outputs, ds.y_test, ds.task, from_logits)
        return out

    return eval_fn


def select_device(kind: str):
    """This process's first device of ``kind``; a clear error with the install hint when absent.

    ``kind="auto"`` is JAX's default backend: the GPU when JAX sees one, else the CPU.
    """
    if kind == "auto":
        return jax.local_devices()[0]
    try:
        devices = jax.local_devices(backend=kind)
    except RuntimeError:
        devices = []
    if not devices:
        hint = ('install the CUDA build of jaxlib with `pip install -e ".[cuda]"` on a machine '
                "with an NVIDIA GPU, or use --device cpu") if kind == "gpu" else "use --device gpu"
        raise ConfigError(f"device={kind!r} was asked for but JAX sees none "
                          f"(available: {[d.platform for d in jax.devices()]}); {hint}.")
    return devices[0]
