"""optax twins of the Adam family and their rows in the optimizer table.

Rules: adamw, nadam(w), amsgrad (optimizers.adam); adamax(w), radam, adabelief,
yogi, adan (optimizers.adam_variants); novograd, lamb (optimizers.adam_layerwise).
"""

from __future__ import annotations

import optax

import jaxgd.optimizers.adam_layerwise as _layer
from jaxgd import optimizers as hand
from jaxgd.optimizers.sgd import weights_mask
from jaxgd.reference.core import COMPLEX, OPTAX_BIAS_32, Known, Row, twin

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


_LR, _WD = {"learning_rate": 0.01}, {"learning_rate": 0.01, "weight_decay": 0.1}
_BIAS = (OPTAX_BIAS_32,)
_ONE_ELEMENT = (Known(("float16", "bfloat16", *COMPLEX), ("hand", "optax"),
                      "a one-element leaf steps by lr |p| along the sign (complex: the phase) of its Adam "
                      "direction: where that direction is within rounding of 0, the sign flips"),)
_RHO = (OPTAX_BIAS_32, Known(("float32", *COMPLEX), ("optax",), "optax's rho_t cancels (see the note)"))
_RHO_NOTE = ("optax's rho_t = rho_inf - 2t b2**t / (1 - b2**t) cancels ~2000 down to ~5 at the first "
             "rectified steps and keeps ~1e-4 of it in float32; jaxgd's series form keeps float32 "
             "precision, so the two agree to 2e-4 in float32 (the float64 oracle sides with jaxgd)")

ROWS = (
    Row("adamw", hand.adamw, adamw, _WD,
        note="PyTorch's p *= 1 - lr*wd is the same rule; its default wd is 1e-2, optax's 1e-4", known=_BIAS),
    Row("adamw-mask", hand.adamw, adamw, {**_WD, "mask": weights_mask},
        note="decay on weight matrices (ndim >= 2) only", known=_BIAS),
    Row("adamw-wd_schedule", hand.adamw, adamw, {**_LR, "weight_decay": _wd_schedule},
        note="the weight decay is a schedule of the step count", known=_BIAS),
    Row("nadam", hand.nadam, nadam, _LR,
        note="constant b1; PyTorch's NAdam (momentum_decay 4e-3) matches only with momentum_decay huge",
        known=_BIAS),
    Row("nadamw", hand.nadamw, nadamw, {**_WD, "eps": 1e-3}, known=_BIAS),
    Row("amsgrad", hand.amsgrad, amsgrad, _LR,
        note="max over bias-corrected v_hat; PyTorch takes the max over raw v: no flag reproduces it",
        known=_BIAS),
    Row("amsgrad-raw_nu", hand.amsgrad, amsgrad,
        {**_LR, "eps": 1e-3, "bias_correction_mu": False, "bias_correction_nu": False}),
    Row("adamax", hand.adamax, adamax, _LR, note="same rule as PyTorch's Adamax (eps inside the max)"),
    Row("adamaxw", hand.adamaxw, adamaxw, {**_WD, "eps": 1e-3, "mask": weights_mask}),
    Row("radam", hand.radam, radam, _LR, rtol32=2e-4,
        note="PyTorch divides by sqrt(v)+eps before bias correction and switches at rho > 5: "
             "the same rule only with eps=0. " + _RHO_NOTE, known=_RHO),
    Row("radam-threshold", hand.radam, radam, {**_LR, "threshold": 50.0, "eps": 1e-3}, rtol32=5e-5,
        note="rectification starts at step 51 (rho_t >= 50 with b2 = 0.999)", known=_RHO),
    Row("radam-nesterov", hand.radam, radam, {**_LR, "nesterov": True, "eps_root": 1e-8}, rtol32=2e-4,
        note=_RHO_NOTE, known=_RHO),
    Row("adabelief", hand.adabelief, adabelief, _LR, known=_BIAS),
    Row("adabelief-nesterov", hand.adabelief, adabelief, {**_LR, "nesterov": True, "eps": 1e-3},
        known=_BIAS),
    Row("yogi", hand.yogi, yogi, _LR,
        note="both moments start at 1e-6, so zero gradients still move params (by ~3e-4 * lr at step 1)",
        known=_BIAS),
    Row("adan", hand.adan, adan, _LR,
        note="optax 0.2.8 weights the gradient difference by 1 - b2 (0.08); the paper and "
             "official code by b2 (0.92) (optax PR #1715); jaxgd follows optax"),
    Row("adan-wd", hand.adan, adan, {**_WD, "mask": weights_mask},
        note="decay added to the direction, not the paper's proximal p / (1 + lr*wd)"),
    Row("novograd", _layer.novograd, novograd, _LR,
        note="normalised per leaf: a constant lr circles the minimum, so minimised with a decay"),
    Row("novograd-wd", _layer.novograd, novograd, {**_WD, "eps_root": 1e-6}),
    Row("lamb", _layer.lamb, lamb, _LR, known=_ONE_ELEMENT,
        note="steps are lr * ||p|| per leaf, so a constant lr circles the minimum: minimised with a decay"),
    Row("lamb-wd_mask", _layer.lamb, lamb, {**_WD, "mask": weights_mask}, known=_ONE_ELEMENT),
)
