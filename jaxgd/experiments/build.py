"""From a config to the pieces of a run: data, network, loss, update rule, metrics.

    make_problem    dataset + layer sizes + loss + output activation
    make_schedule   the learning rate (constant or a schedule of the update count)
    make_tx         the update rule, written by hand or with optax
    make_objective  ``(loss_fn, value_and_grad)`` from backprop, jax.grad or the tutorial
    make_eval_fn    per-epoch accuracy / test metrics, computed inside the compiled loop
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import numpy as np

from jaxgd import optimizers, reference, schedules
from jaxgd.core.errors import ConfigError
from jaxgd.data import Dataset, load_dataset
from jaxgd.data.real import standardize
from jaxgd.experiments.config import TrainConfig
from jaxgd.nn.backprop import mlp_value_and_grad, tutorial_backprop
from jaxgd.nn.losses import accuracy, check_targets, make_loss_fn
from jaxgd.nn.models import mlp
from jaxgd.reference import schedules as ref_schedules
from jaxgd.schedules.table import ScheduleSettings, build_schedule
from jaxgd.training.resources import check_fits

# peak bytes per example while a dataset is generated (float32 x and y, the generator's
# temporaries, the shuffle): measured about 160 for spirals, less for the others
GENERATED_BYTES = 160


class Problem(NamedTuple):
    """A dataset with the network and loss that go with it."""

    data: Dataset
    sizes: tuple[int, ...]
    loss: str
    output_activation: str


def default_loss(ds: Dataset) -> str:
    if ds.task == "multiclass":
        return "softmax_ce"
    if ds.task == "binary" and ds.name != "xor":
        return "bce"
    return "mse"  # the tutorial's XOR, and regression


def make_problem(cfg: TrainConfig) -> Problem:
    """Load the data and choose output size, loss and output activation."""
    kwargs: dict[str, Any] = {}
    if cfg.n_samples is not None:
        check_fits(cfg.n_samples * GENERATED_BYTES, what=f"generating {cfg.n_samples:,} examples of "
                   f"{cfg.dataset!r} (--n-samples)", fix="Use a smaller --n-samples.")
        kwargs["n"] = cfg.n_samples
    if cfg.test_fraction:
        kwargs["test_fraction"] = cfg.test_fraction
    if cfg.label_column is not None:
        kwargs["label_column"] = cfg.label_column
    ds = load_dataset(cfg.dataset, jax.random.key(cfg.seed + 1), **kwargs)
    if cfg.standardize:
        if ds.x_test is not None:
            x, x_test, _ = standardize(ds.x, ds.x_test)
            ds = ds._replace(x=x, x_test=x_test)
        else:
            x, _ = standardize(ds.x)
            ds = ds._replace(x=x)
    loss = cfg.loss or default_loss(ds)
    out_act = cfg.output_activation or ("sigmoid" if loss == "mse" and ds.task == "binary"
                                        else "identity")
    k = ds.n_classes if ds.task == "multiclass" else int(np.shape(ds.y)[1])
    for y in (ds.y, ds.y_test):
        if y is not None:
            check_targets(loss, y, k, where=f"dataset {ds.name!r}")
    return Problem(ds, (ds.n_features, *cfg.hidden, k), loss, out_act)


def make_schedule(cfg: TrainConfig, steps_per_epoch: int, impl: str):
    """The learning rate for one impl ("hand" or "optax"): the float itself for a constant
    rate, else the schedule `cfg.schedule` of `jaxgd.schedules.table` over the update count."""
    if cfg.schedule == "constant":
        return cfg.learning_rate
    settings = ScheduleSettings(cfg.learning_rate, steps_per_epoch, cfg.epochs * steps_per_epoch,
                                cfg.decay_rate, cfg.decay_every, cfg.warmup_epochs)
    return build_schedule(cfg.schedule, settings, schedules if impl == "hand" else ref_schedules)


def make_tx(cfg: TrainConfig, impl: str, steps_per_epoch: int):
    """The update rule `cfg.optimizer` written by hand (impl "hand") or with optax ("optax")."""
    factory = getattr(optimizers if impl == "hand" else reference, cfg.optimizer)
    kwargs = dict(cfg.hyper)
    try:
        return factory(learning_rate=make_schedule(cfg, steps_per_epoch, impl), **kwargs)
    except TypeError as err:
        raise ConfigError(f"optimizer {cfg.optimizer!r} does not take {sorted(kwargs)}: {err}. "
                          f"See `jaxgd crosscheck --optimizer {cfg.optimizer}` for its arguments.") from None


def make_objective(cfg: TrainConfig, pb: Problem):
    """``(loss_fn, value_and_grad)`` by the gradient source the config names."""
    loss_fn = make_loss_fn(pb.loss, cfg.activation, pb.output_activation, cfg.l2)
    if cfg.grad == "autodiff":
        return loss_fn, jax.value_and_grad(loss_fn)
    if cfg.grad == "tutorial":
        if pb.loss != "mse" or pb.output_activation != "sigmoid" or cfg.l2:
            raise ConfigError("grad='tutorial' is the tutorial's formula for MSE on a sigmoid output "
                              "without l2; use --grad backprop.")

        def tutorial_vg(params, x, y):
            return loss_fn(params, x, y), tutorial_backprop(params, x, y)

        return loss_fn, tutorial_vg

    def hand_vg(params, x, y):
        return mlp_value_and_grad(params, x, y, activation=cfg.activation,
                                  output_activation=pb.output_activation, loss=pb.loss, l2=cfg.l2)

    return loss_fn, hand_vg


def make_eval_fn(cfg: TrainConfig, pb: Problem, loss_fn):
    """Per-epoch metrics computed inside the compiled loop: accuracy, test loss/accuracy."""
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
