"""optax twins of the rules that optax keeps in ``optax.contrib``, and their table rows.

Rules: adopt (optimizers.adopt), ademamix (optimizers.ademamix), muon (optimizers.muon),
dog (optimizers.dog), prodigy (optimizers.prodigy), cocob (optimizers.cocob).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax.contrib

from jaxgd import optimizers as hand
from jaxgd.optimizers.muon import NS_COEFFS
from jaxgd.optimizers.sgd import weights_mask
from jaxgd.reference.core import LOW, LOW_AND_COMPLEX, OPTAX_BIAS_32, Known, Row, twin

__all__ = ["ademamix", "adopt", "cocob", "dog", "muon", "prodigy", "scale_by_ademamix", "scale_by_adopt",
           "scale_by_cocob", "scale_by_dog", "scale_by_muon"]

adopt = twin(hand.adopt, optax.contrib.adopt)
scale_by_adopt = twin(hand.scale_by_adopt, optax.contrib.scale_by_adopt)
ademamix = twin(hand.ademamix, optax.contrib.ademamix)
scale_by_ademamix = twin(hand.scale_by_ademamix, optax.contrib.scale_by_ademamix)
scale_by_muon = twin(hand.scale_by_muon, optax.contrib.scale_by_muon)
dog = twin(hand.dog, optax.contrib.dog)
prodigy = twin(hand.prodigy, optax.contrib.prodigy)
cocob = twin(hand.cocob, optax.contrib.cocob)
scale_by_cocob = twin(hand.scale_by_cocob, optax.contrib.scale_by_cocob)

# optax.contrib exports dog only; its scale_by_dog lives in the private module
scale_by_dog = twin(hand.scale_by_dog, optax.contrib._dog.scale_by_dog)


def muon(learning_rate, ns_coeffs=NS_COEFFS, ns_steps=5, beta=0.95, eps=1e-8, weight_decay=0.0,
         weight_decay_mask=None, mu_dtype=None, *, nesterov=True, adam_b1=0.9, adam_b2=0.999,
         adam_eps_root=0.0, adam_weight_decay=0.0, adam_learning_rate=None, consistent_rms=None):
    """``optax.contrib.muon`` with jaxgd's split: non-empty matrices to Muon (see jaxgd.optimizers.muon)."""
    kwargs = dict(ns_coeffs=ns_coeffs, ns_steps=ns_steps, beta=beta, eps=eps, weight_decay=weight_decay,
                  weight_decay_mask=weight_decay_mask, mu_dtype=mu_dtype, nesterov=nesterov,
                  adam_b1=adam_b1, adam_b2=adam_b2, adam_eps_root=adam_eps_root,
                  adam_weight_decay=adam_weight_decay, adam_learning_rate=adam_learning_rate,
                  consistent_rms=consistent_rms)
    hand.muon(learning_rate, **kwargs)
    dims = lambda params: jax.tree.map(  # noqa: E731
        lambda x: optax.contrib.MuonDimensionNumbers() if hand.is_muon_leaf(x) else None, params)
    return optax.contrib.muon(learning_rate, **kwargs, muon_weight_dimension_numbers=dims)


def _b3_warmup(count):
    """A slow-EMA decay that grows from 0.9 towards 0.999, as the paper's b3 warmup does."""
    return 0.999 - 0.099 * 0.97 ** count


def _alpha_warmup(count):
    """The paper's linear alpha warmup, here to alpha = 5 over 100 steps."""
    return 5.0 * jnp.minimum(count / 100.0, 1.0)

_LR = {"learning_rate": 0.01}
_DOG_LOW = (Known(LOW_AND_COMPLEX, ("hand", "optax"),
                  "||x_t - x_0|| is a difference of nearby params: while DoG's steps are far below |x| "
                  "(the first is ~1e-6 |x|) it carries the params' rounding (relative eps |x| / "
                  "||x_t - x_0||), and in float16/bfloat16 such steps leave x_t = x_0; rbar_t and so "
                  "the step depart from float64 beyond the rounding of one update"),)
_PRODIGY_KNOWN = (OPTAX_BIAS_32, Known((*LOW, "float32"), ("hand", "optax"),
                                      "<g, x_0 - x_t> is taken on params that moved by ~d_0 = 1e-6 of "
                                      "|x|: it carries the params' rounding (float16/bfloat16: no move "
                                      "at all), so d grows otherwise than in float64"))
_COCOB_F16 = (Known(("float16",), ("optax",),
                    "optax keeps L in the params' dtype, where L_0 = eps = 1e-8 is 0 in float16: a "
                    "coordinate whose gradients were all zero divides 0 by 0 (jaxgd keeps L in float32)"),)

ROWS = (
    Row("adopt", hand.adopt, adopt, _LR, complex=False,
        note="the first step only records v_0 = g_0**2 (no move); clipping at t**0.25 is on by "
             "default, as in the authors' code"),
    Row("adopt-nesterov_noclip", hand.adopt, adopt,
        {**_LR, "nesterov": True, "use_clipping": False, "eps": 1e-3}, rtol32=5e-5,
        note="without the clip, g / max(sqrt(v), eps) passes float32 rounding on: agree to 5e-5"),
    Row("ademamix", hand.ademamix, ademamix, _LR,
        note="optax's default alpha is 5 (scale_by_ademamix's 6); the authors' code's 2. No warmup of "
             "alpha and b3 unless given as schedules"),
    Row("ademamix-warmup_wd", hand.ademamix, ademamix,
        {**_LR, "b3": _b3_warmup, "alpha": _alpha_warmup, "eps_root": 1e-8, "weight_decay": 0.1,
         "mask": weights_mask},
        note="b3 and alpha as schedules of the step count (the paper's warmups)"),
    Row("muon", hand.muon, muon, _LR, known=(OPTAX_BIAS_32,),
        note="Newton-Schulz on non-empty 2-D leaves (optax's default split also sends zero-size "
             "matrices there, and divides by their zero fan_in); AdamW on the others"),
    Row("muon-plain_wd_rms", hand.muon, muon,
        {**_LR, "nesterov": False, "weight_decay": 0.1, "adam_weight_decay": 0.01,
         "adam_learning_rate": 0.003, "consistent_rms": 0.2, "beta": 0.9}, known=(OPTAX_BIAS_32,)),
    Row("dog", hand.dog, dog, {"learning_rate": 1.0}, known=_DOG_LOW,
        note="learning-rate free: lr multiplies eta_t = rbar_t / sqrt(G_t + eps); optax's eps (not in "
             "the paper) sits under the square root; r_eps = 1e-6 (1 + ||x_0||), so init() needs the "
             "actual params"),
    Row("dog-distance_wd", hand.dog, dog,
        {"learning_rate": 0.5, "init_step": ("distance", 1e-3), "weight_decay": 0.01, "mask": weights_mask},
        known=_DOG_LOW,
        note="coupled decay added to the gradient before DoG, so it enters G_t (as in optax)"),
    Row("dog-first_lr", hand.dog, dog, {"learning_rate": 1.0, "init_step": ("learning_rate", 1e-3)},
        note="the first step is eta_0 = 1e-3; r_eps = 0 afterwards"),
    Row("prodigy", hand.prodigy, prodigy, {"learning_rate": 1.0}, complex=False, known=_PRODIGY_KNOWN,
        note="learning-rate free: lr multiplies d_t; optax's (the authors' code's) form: bias correction "
             "inside the rate, d_{t+1} eps in the denominator, d kept while ||s||_1 = 0 (optax: NaN)"),
    Row("prodigy-wd_b3_safeguard", hand.prodigy, prodigy,
        {"learning_rate": 0.5, "betas": (0.8, 0.99), "beta3": 0.9, "estim_lr0": 1e-3, "weight_decay": 0.1,
         "safeguard_warmup": True}, complex=False, known=_PRODIGY_KNOWN,
        note="decoupled decay times d_t gamma_t, on every leaf (optax's prodigy has no mask)"),
    Row("cocob", hand.cocob, cocob, {"learning_rate": 1.0}, complex=False, known=_COCOB_F16, rtol32=5e-5,
        note="learning-rate free: lr scales the gradients before COCOB (as in optax), and COCOB's move "
             "does not change when they are scaled, so lr has next to no effect; L_0 = eps (the paper: "
             "0). The update x_0 + move - x is a difference of nearby params: both sides carry their "
             "rounding (each departs from float64 alike), so they agree to 5e-5 in float32"),
    Row("cocob-alpha_wd", hand.cocob, cocob,
        {"learning_rate": 0.5, "alpha": 10.0, "weight_decay": 0.01, "mask": weights_mask}, complex=False,
        known=_COCOB_F16, note="coupled decay added to the gradient before COCOB"),
)
