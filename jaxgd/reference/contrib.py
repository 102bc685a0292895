"""optax twins of the rules that optax keeps in ``optax.contrib``, and their table rows.

Rules: adopt (optimizers.adopt), ademamix (optimizers.ademamix).
"""

from __future__ import annotations

import jax.numpy as jnp
import optax.contrib

from jaxgd import optimizers as hand
from jaxgd.optimizers.sgd import weights_mask
from jaxgd.reference.core import Row, twin

__all__ = ["ademamix", "adopt", "scale_by_ademamix", "scale_by_adopt"]

adopt = twin(hand.adopt, optax.contrib.adopt)
scale_by_adopt = twin(hand.scale_by_adopt, optax.contrib.scale_by_adopt)
ademamix = twin(hand.ademamix, optax.contrib.ademamix)
scale_by_ademamix = twin(hand.scale_by_ademamix, optax.contrib.scale_by_ademamix)


def _b3_warmup(count):
    """A slow-EMA decay that grows from 0.9 towards 0.999, as the paper's b3 warmup does."""
    return 0.999 - 0.099 * 0.97 ** count


def _alpha_warmup(count):
    """The paper's linear alpha warmup, here to alpha = 5 over 100 steps."""
    return 5.0 * jnp.minimum(count / 100.0, 1.0)

_LR = {"learning_rate": 0.01}

ROWS = (
    Row("adopt", hand.adopt, adopt, _LR, complex=False,
        note="the first step only records v_0 = g_0**2 (no move); clipping at t**0.25 is on by "
             "default, as in the authors' code"),
    Row("adopt-nesterov_noclip", hand.adopt, adopt,
        {**_LR, "nesterov": True, "use_clipping": False, "eps": 1e-3}),
    Row("ademamix", hand.ademamix, ademamix, _LR,
        note="optax's default alpha is 5 (scale_by_ademamix's 6); the authors' code's 2. No warmup of "
             "alpha and b3 unless given as schedules"),
    Row("ademamix-warmup_wd", hand.ademamix, ademamix,
        {**_LR, "b3": _b3_warmup, "alpha": _alpha_warmup, "eps_root": 1e-8, "weight_decay": 0.1,
         "mask": weights_mask},
        note="b3 and alpha as schedules of the step count (the paper's warmups)"),
)
