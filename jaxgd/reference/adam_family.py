"""optax twins of the Adam family and their rows in the optimizer table.

Rules: adamw, nadam(w), amsgrad (optimizers.adam); adamax(w), radam, adabelief,
yogi, adan (optimizers.adam_variants); novograd, lamb (optimizers.adam_layerwise).
"""

from __future__ import annotations

import optax

import jaxgd.optimizers.adam_layerwise as _layer
from jaxgd import optimizers as hand
from jaxgd.optimizers.sgd import weights_mask
from jaxgd.reference.core import Row, twin

__all__ = ["adabelief", "adamax", "adamaxw", "adamw", "adan", "amsgrad", "lamb", "nadam", "nadamw",
           "novograd", "radam", "scale_by_adamax", "scale_by_adan", "scale_by_amsgrad",
           "scale_by_belief", "scale_by_novograd", "scale_by_radam", "scale_by_trust_ratio",
           "scale_by_yogi", "yogi"]

adamw = twin(hand.adamw, optax.adamw)
nadam = twin(hand.nadam, optax.nadam)
nadamw = twin(hand.nadamw, optax.nadamw)
amsgrad = twin(hand.amsgrad, optax.amsgrad)
scale_by_amsgrad = twin(hand.scale_by_amsgrad, optax.scale_by_amsgrad)
adamax = twin(hand.adamax, optax.adamax)
adamaxw = twin(hand.adamaxw, optax.adamaxw)
scale_by_adamax = twin(hand.scale_by_adamax, optax.scale_by_adamax)
radam = twin(hand.radam, optax.radam)
scale_by_radam = twin(hand.scale_by_radam, optax.scale_by_radam)
adabelief = twin(hand.adabelief, optax.adabelief)
scale_by_belief = twin(hand.scale_by_belief, optax.scale_by_belief)
yogi = twin(hand.yogi, optax.yogi)
scale_by_yogi = twin(hand.scale_by_yogi, optax.scale_by_yogi)
adan = twin(hand.adan, optax.adan)
scale_by_adan = twin(hand.scale_by_adan, optax.scale_by_adan)
novograd = twin(_layer.novograd, optax.novograd)
scale_by_novograd = twin(_layer.scale_by_novograd, optax.scale_by_novograd)
lamb = twin(_layer.lamb, optax.lamb)
scale_by_trust_ratio = twin(_layer.scale_by_trust_ratio, optax.scale_by_trust_ratio)


def _wd_schedule(count):
    """A decaying weight decay, to exercise schedules in the decay term."""
    return 0.1 * 0.98 ** count


def _decaying_lr(count):
    """A decaying lr: NovoGrad's and LAMB's steps do not shrink near a minimum by themselves."""
    return 0.05 * 0.998 ** count


_BAD_LR = (({"learning_rate": -0.1}, "learning_rate"), ({"learning_rate": 0.0}, "learning_rate"),
           ({"learning_rate": float("nan")}, "learning_rate"))
_BAD_B = _BAD_LR + (({"b1": 1.0}, "b1"), ({"b1": -0.1}, "b1"), ({"b2": 1.5}, "b2"))
_BAD_ADAM = _BAD_B + (({"eps": -1.0}, "eps"), ({"eps_root": -1e-8}, "eps_root"))
_BAD_WD = (({"weight_decay": -0.1}, "weight_decay"), ({"weight_decay": float("inf")}, "weight_decay"))
_ADAM_RANGES = {"b1": (0.0, 0.99), "b2": (0.5, 0.9999), "eps": (1e-8, 1e-3)}
_WD_RANGES = {**_ADAM_RANGES, "weight_decay": (0.0, 0.5)}
_LR, _WD = {"learning_rate": 0.01}, {"learning_rate": 0.01, "weight_decay": 0.1}
_MIN = {"minimize": {"learning_rate": 0.02}, "steps": 2000, "rosen_tol": 0.1}

ROWS = (
    Row("adamw", hand.adamw, adamw, _WD, ranges=_WD_RANGES, invalid=_BAD_ADAM + _BAD_WD,
        zero_grad_fixed=False, minimize={"learning_rate": 0.02, "weight_decay": 1e-4}, steps=2000,
        rosen_tol=0.1,
        note="PyTorch's p *= 1 - lr*wd is the same rule; its default wd is 1e-2, optax's 1e-4"),
    Row("adamw-mask", hand.adamw, adamw, {**_WD, "mask": weights_mask}, ranges=_WD_RANGES,
        invalid=_BAD_WD, zero_grad_fixed=False, note="decay on weight matrices (ndim >= 2) only"),
    Row("adamw-wd_schedule", hand.adamw, adamw, {**_LR, "weight_decay": _wd_schedule},
        zero_grad_fixed=False, note="the weight decay is a schedule of the step count"),
    Row("nadam", hand.nadam, nadam, _LR, ranges=_ADAM_RANGES, invalid=_BAD_ADAM, **_MIN,
        note="constant b1; PyTorch's NAdam (momentum_decay 4e-3) matches only with momentum_decay huge"),
    Row("nadamw", hand.nadamw, nadamw, {**_WD, "eps": 1e-3}, ranges=_WD_RANGES,
        invalid=_BAD_ADAM + _BAD_WD, zero_grad_fixed=False),
    Row("amsgrad", hand.amsgrad, amsgrad, _LR, ranges=_ADAM_RANGES, invalid=_BAD_ADAM,
        minimize={"learning_rate": 0.5}, steps=3000, rosen_tol=0.1,
        note="max over bias-corrected v_hat; PyTorch takes the max over raw v: no flag reproduces it"),
    Row("amsgrad-raw_nu", hand.amsgrad, amsgrad,
        {**_LR, "eps": 1e-3, "bias_correction_mu": False, "bias_correction_nu": False},
        ranges=_ADAM_RANGES, invalid=_BAD_ADAM),
    Row("adamax", hand.adamax, adamax, _LR, ranges=_ADAM_RANGES, invalid=_BAD_B + (({"eps": -1.0}, "eps"),),
        minimize={"learning_rate": 0.05}, steps=3000, rosen_tol=0.1,
        note="same rule as PyTorch's Adamax (eps inside the max)"),
    Row("adamaxw", hand.adamaxw, adamaxw, {**_WD, "eps": 1e-3, "mask": weights_mask},
        ranges=_WD_RANGES, invalid=_BAD_LR + _BAD_WD, zero_grad_fixed=False),
    Row("radam", hand.radam, radam, _LR, ranges={**_ADAM_RANGES, "threshold": (4.0, 60.0)},
        invalid=_BAD_ADAM + (({"threshold": float("nan")}, "threshold"), ({"threshold": 3.0}, "threshold")),
        minimize={"learning_rate": 0.005, "b2": 0.99}, steps=4000, rosen_tol=0.1,
        note="PyTorch divides by sqrt(v)+eps before bias correction and switches at rho > 5: "
             "the same rule only with eps=0"),
    Row("radam-threshold", hand.radam, radam, {**_LR, "threshold": 50.0, "eps": 1e-3},
        ranges={"threshold": (4.0, 60.0)}, invalid=_BAD_LR,
        note="rectification starts at step 51 (rho_t >= 50 with b2 = 0.999)"),
    Row("radam-nesterov", hand.radam, radam, {**_LR, "nesterov": True, "eps_root": 1e-8},
        ranges=_ADAM_RANGES, invalid=_BAD_ADAM),
    Row("adabelief", hand.adabelief, adabelief, _LR,
        ranges={**_ADAM_RANGES, "eps": (1e-16, 1e-3), "eps_root": (1e-16, 1e-3)}, invalid=_BAD_ADAM,
        **_MIN),
    Row("adabelief-nesterov", hand.adabelief, adabelief, {**_LR, "nesterov": True, "eps": 1e-3},
        ranges=_ADAM_RANGES, invalid=_BAD_ADAM),
    Row("yogi", hand.yogi, yogi, _LR, ranges={**_ADAM_RANGES, "eps": (1e-6, 1e-2)},
        invalid=_BAD_B + (({"eps": -1.0}, "eps"),), minimize={"learning_rate": 0.05}, steps=2000,
        rosen_tol=0.1, zero_grad_fixed=False,
        note="both moments start at 1e-6, so zero gradients still move params (by ~3e-4 * lr at step 1)"),
    Row("adan", hand.adan, adan, _LR, ranges={**_ADAM_RANGES, "b3": (0.5, 0.999)},
        invalid=_BAD_ADAM + (({"b3": 1.0}, "b3"),), **_MIN,
        note="optax 0.2.8 weights the gradient difference by 1 - b2 (0.08); the paper and "
             "official code by b2 (0.92) (optax PR #1715); jaxgd follows optax"),
    Row("adan-wd", hand.adan, adan, {**_WD, "mask": weights_mask}, ranges={"weight_decay": (0.0, 0.5)},
        invalid=_BAD_LR + _BAD_WD, zero_grad_fixed=False,
        note="decay added to the direction, not the paper's proximal p / (1 + lr*wd)"),
    Row("novograd", _layer.novograd, novograd, _LR,
        ranges={"b1": (0.0, 0.99), "b2": (0.0, 0.99), "eps": (1e-8, 1e-3)}, invalid=_BAD_ADAM,
        minimize={"learning_rate": _decaying_lr}, steps=3000, rosen_tol=0.1,
        note="normalised per leaf: a constant lr circles the minimum, so minimised with a decay"),
    Row("novograd-wd", _layer.novograd, novograd, {**_WD, "eps_root": 1e-6},
        ranges={"weight_decay": (0.0, 0.5)}, invalid=_BAD_LR + _BAD_WD, zero_grad_fixed=False),
    Row("lamb", _layer.lamb, lamb, _LR, ranges=_ADAM_RANGES, invalid=_BAD_ADAM,
        minimize={"learning_rate": _decaying_lr}, steps=3000, rosen_tol=0.1,
        note="steps are lr * ||p|| per leaf, so a constant lr circles the minimum: minimised with a decay"),
    Row("lamb-wd_mask", _layer.lamb, lamb, {**_WD, "mask": weights_mask}, ranges=_WD_RANGES,
        invalid=_BAD_LR + _BAD_WD, zero_grad_fixed=False),
)
