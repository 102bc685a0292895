"""optax twins of D-Adaptation AdamW (optimizers.dadapt) and optimistic Adam (optimizers.optimistic)."""

from __future__ import annotations

import optax
import optax.contrib

from jaxgd import optimizers as hand
from jaxgd.reference.core import OPTAX_BIAS_32, Known, Row, twin

__all__ = ["dadapt_adamw", "optimistic_adam_v2"]

dadapt_adamw = twin(hand.dadapt_adamw, optax.contrib.dadapt_adamw)
optimistic_adam_v2 = twin(hand.optimistic_adam_v2, optax.optimistic_adam_v2)

_DADAPT_F16 = Known(("float16",), ("hand", "optax"),
                    "m and s carry d_t gamma_t g_t, ~1e-7 while d is near d_0 = 1e-6: in float16 that is "
                    "below the smallest normal number (6e-5), where the spacing is an absolute 6e-8, so the "
                    "moments and steps carry far more than float16's relative rounding")
_DADAPT_F16_SCALARS = Known(("float16",), ("optax",),
                            "optax computes its scalars in the params' dtype: numerator_weighted (~1e-10 "
                            "here) and (1 - sqrt(b2)) ||s||_1 fall below float16's smallest subnormal (6e-8) "
                            "and round to 0, so d stops growing or becomes 0/0 = NaN (jaxgd: float32)")
# both take optax's 1 - b**t (dadapt_adamw in its rate, optimistic Adam in Adam's moments)
_BIAS = (OPTAX_BIAS_32,)

ROWS = (
    Row("dadapt_adamw", hand.dadapt_adamw, dadapt_adamw, {"learning_rate": 1.0}, complex=False,
        known=(OPTAX_BIAS_32, _DADAPT_F16),
        note="learning-rate free: lr multiplies d_t; optax's (the authors' code's) form: bias correction "
             "inside the rate, <g, s> weighted by the previous v (the paper: the new one), d kept while "
             "||s||_1 = 0 (optax: NaN); eps must be > 0"),
    Row("dadapt_adamw-wd_betas", hand.dadapt_adamw, dadapt_adamw,
        {"learning_rate": 0.5, "betas": (0.8, 0.99), "eps": 1e-3, "estim_lr0": 1e-3,
         "weight_decay": 0.1}, complex=False, known=(*_BIAS, _DADAPT_F16_SCALARS),
        note="decoupled decay times d_t gamma_t, on every leaf (optax's dadapt_adamw has no mask)"),
    Row("optimistic_adam_v2", hand.optimistic_adam_v2, optimistic_adam_v2, {"learning_rate": 0.01},
        known=_BIAS,
        note="nesterov=True by default (optax's); the first step is plain Adam, r_0 = r_1 (the paper: "
             "r_0 = 0, a doubled first step)"),
    Row("optimistic_adam_v2-plain", hand.optimistic_adam_v2, optimistic_adam_v2,
        {"learning_rate": 0.01, "alpha": 0.5, "beta": 2.0, "nesterov": False, "eps": 1e-3, "eps_root": 1e-8},
        known=_BIAS, note="the paper's Adam moments (no Nesterov look-ahead); alpha, beta apart"),
)
