"""optax twins and table rows: clipping, moving averages, masks, groups, wrappers.

These rules take no learning rate of their own, so each row runs a small recipe
that does (``clip_by_global_norm(2.0)`` then ``sgd(lr, 0.9)``, ...). A recipe is
written once as a function of a library (``jaxgd.optimizers`` or ``optax``: same
names, same arguments), so the hand and optax sides are built the same way.
"""

from __future__ import annotations

import functools

import jax
import optax

from jaxgd import optimizers as hand
from jaxgd.optimizers.sgd import weights_mask
from jaxgd.reference.core import COMPLEX, OPTAX_BIAS_32, Known, Row, twin

__all__ = ["HAND_RECIPES", "MultiSteps", "REF_RECIPES", "apply_if_finite", "clip",
           "clip_by_block_rms", "clip_by_global_norm", "ema", "freeze", "inject_hyperparams",
           "multi_transform", "partition", "selective_transform", "set_to_zero",
           "skip_large_updates", "skip_not_finite"]

clip = twin(hand.clip, optax.clip)
clip_by_global_norm = twin(hand.clip_by_global_norm, optax.clip_by_global_norm)
clip_by_block_rms = twin(hand.clip_by_block_rms, optax.clip_by_block_rms)
ema = twin(hand.ema, optax.ema)
set_to_zero = twin(hand.set_to_zero, optax.set_to_zero)
freeze = twin(hand.freeze, optax.freeze)
multi_transform = twin(hand.multi_transform, optax.multi_transform)
partition = twin(hand.partition, optax.partition)
selective_transform = twin(hand.selective_transform, optax.selective_transform)
apply_if_finite = twin(hand.apply_if_finite, optax.apply_if_finite)
MultiSteps = twin(hand.MultiSteps, optax.MultiSteps)
skip_not_finite = optax.skip_not_finite
skip_large_updates = optax.skip_large_updates


def inject_hyperparams(inner_factory, static_args=(), hyperparam_dtype=None):
    """optax's ``inject_hyperparams``; the returned factory first calls ``inner_factory``
    with the given arguments, so a twin such as ``jaxgd.reference.sgd`` checks them."""
    hand.inject_hyperparams(inner_factory, static_args, hyperparam_dtype)
    made = optax.inject_hyperparams(inner_factory, static_args, hyperparam_dtype)

    @functools.wraps(made)
    def factory(*args, **kwargs):
        inner_factory(*args, **kwargs)
        return made(*args, **kwargs)

    return factory


# ------------------------------------------------ recipes: (library) -> factory(learning_rate, ...)


def _vectors_mask(params):
    """True for 1-d leaves (biases): the leaves the `freeze` row holds fixed."""
    return jax.tree.map(lambda x: x.ndim == 1, params)


def _group_labels(params):
    """"weights" for leaves with ndim >= 2, "others" for the rest."""
    return jax.tree.map(lambda x: "weights" if x.ndim >= 2 else "others", params)


def _recipes(lib):
    """The recipes built from ``lib`` (jaxgd.optimizers or optax)."""

    def clip_sgd(learning_rate, max_delta=0.5):
        return lib.chain(lib.clip(max_delta), lib.sgd(learning_rate))

    def clip_by_global_norm_sgd(learning_rate, max_norm=2.0, momentum=0.9):
        return lib.chain(lib.clip_by_global_norm(max_norm), lib.sgd(learning_rate, momentum))

    def clip_by_block_rms_sgd(learning_rate, threshold=0.5):
        return lib.chain(lib.clip_by_block_rms(threshold), lib.sgd(learning_rate))

    def ema_sgd(learning_rate, decay=0.9, debias=True):
        return lib.chain(lib.ema(decay, debias), lib.scale_by_learning_rate(learning_rate))

    def masked_adam(learning_rate, b1=0.9, b2=0.999):
        """Adam's direction on the weight matrices, the raw gradient elsewhere, then -lr."""
        return lib.chain(lib.masked(lib.scale_by_adam(b1, b2), weights_mask),
                         lib.scale_by_learning_rate(learning_rate))

    def freeze_sgd(learning_rate, momentum=0.9):
        return lib.chain(lib.freeze(_vectors_mask), lib.sgd(learning_rate, momentum))

    def multi_transform_adam_sgd(learning_rate, momentum=0.9):
        return lib.multi_transform(
            {"weights": lib.adam(learning_rate), "others": lib.sgd(learning_rate, momentum)},
            _group_labels)

    def apply_if_finite_sgd(learning_rate, momentum=0.9, max_consecutive_errors=3):
        return lib.apply_if_finite(lib.sgd(learning_rate, momentum), max_consecutive_errors)

    def multi_steps_adam(learning_rate, every_k_schedule=3):
        return lib.MultiSteps(lib.adam(learning_rate), every_k_schedule).gradient_transformation()

    def multi_steps_sum_sgd(learning_rate, every_k_schedule=2, momentum=0.9):
        return lib.MultiSteps(lib.sgd(learning_rate, momentum), every_k_schedule,
                              use_grad_mean=False).gradient_transformation()

    def inject_sgd(learning_rate, momentum=0.9):
        return lib.inject_hyperparams(lib.sgd)(learning_rate=learning_rate, momentum=momentum)

    def inject_adam(learning_rate, b1=0.9, b2=0.999, eps=1e-8):
        return lib.inject_hyperparams(lib.adam)(learning_rate=learning_rate, b1=b1, b2=b2, eps=eps)

    return {f.__name__: f for f in (
        clip_sgd, clip_by_global_norm_sgd, clip_by_block_rms_sgd, ema_sgd, masked_adam, freeze_sgd,
        multi_transform_adam_sgd, apply_if_finite_sgd, multi_steps_adam, multi_steps_sum_sgd,
        inject_sgd, inject_adam)}


HAND_RECIPES = _recipes(hand)
REF_RECIPES = {name: twin(HAND_RECIPES[name], f) for name, f in _recipes(optax).items()}


_ACC_REAL = Known(COMPLEX, ("optax",), "optax keeps acc_grads in float32 for complex params: the "
                  "imaginary part is dropped")


def _pair(name):
    return HAND_RECIPES[name], REF_RECIPES[name]


ROWS = (
    Row("clip", *_pair("clip_sgd"), {"learning_rate": 0.05, "max_delta": 0.5}, complex=False),
    Row("clip_by_global_norm", *_pair("clip_by_global_norm_sgd"),
        {"learning_rate": 0.05, "max_norm": 2.0, "momentum": 0.9}),
    Row("clip_by_block_rms", *_pair("clip_by_block_rms_sgd"), {"learning_rate": 0.05, "threshold": 0.5}),
    Row("ema", *_pair("ema_sgd"), {"learning_rate": 0.05, "decay": 0.9},
        note="ema = (1-decay)*g + decay*ema, debiased: momentum with the step scaled by (1-decay)"),
    Row("ema-no_debias", *_pair("ema_sgd"), {"learning_rate": 0.05, "decay": 0.9, "debias": False}),
    Row("masked", *_pair("masked_adam"), {"learning_rate": 0.01},
        note="adam's direction on weight matrices only (a mask function); plain SGD elsewhere",
        known=(OPTAX_BIAS_32,)),
    Row("freeze", *_pair("freeze_sgd"), {"learning_rate": 0.05, "momentum": 0.9},
        note="1-d leaves (biases) frozen: their updates are 0"),
    Row("multi_transform", *_pair("multi_transform_adam_sgd"), {"learning_rate": 0.01, "momentum": 0.9},
        note="adam on leaves with ndim >= 2, SGD with momentum on the rest (labels from a function)",
        known=(OPTAX_BIAS_32,)),
    Row("apply_if_finite", *_pair("apply_if_finite_sgd"), {"learning_rate": 0.05, "momentum": 0.9}),
    Row("MultiSteps", *_pair("multi_steps_adam"), {"learning_rate": 0.01},
        note="adam every 3 calls on the mean of 3 gradients; acc_grads kept in float32 as in optax",
        known=(OPTAX_BIAS_32, _ACC_REAL)),
    Row("MultiSteps-sum", *_pair("multi_steps_sum_sgd"), {"learning_rate": 0.05, "momentum": 0.9},
        note="use_grad_mean=False: SGD on the sum of 2 gradients every 2 calls", known=(_ACC_REAL,)),
    Row("inject_hyperparams", *_pair("inject_sgd"), {"learning_rate": 0.05, "momentum": 0.9},
        note="learning_rate and momentum live in state.hyperparams"),
    Row("inject_hyperparams-adam", *_pair("inject_adam"), {"learning_rate": 0.01},
        note="jaxgd stores the hyperparameters in float32 for 16-bit params, optax in the params' dtype",
        known=(OPTAX_BIAS_32,
               Known(("float16",), ("optax",), "optax stores the hyperparameters in float16: eps = 1e-8 "
                     "is 0 there (NaN for a zero gradient)"),
               Known(("bfloat16",), ("optax",), "optax stores b2 = 0.999 in bfloat16, where it is 1.0: "
                     "1 - b2**t = 0 and the update is NaN"))),
)
