"""optax twins of the rules that optax keeps in ``optax.contrib``, and their table rows.

Rules: adopt (optimizers.adopt).
"""

from __future__ import annotations

import optax.contrib

from jaxgd import optimizers as hand
from jaxgd.reference.core import Row, twin

__all__ = ["adopt", "scale_by_adopt"]

adopt = twin(hand.adopt, optax.contrib.adopt)
scale_by_adopt = twin(hand.scale_by_adopt, optax.contrib.scale_by_adopt)

_LR = {"learning_rate": 0.01}

ROWS = (
    Row("adopt", hand.adopt, adopt, _LR, complex=False,
        note="the first step only records v_0 = g_0**2 (no move); clipping at t**0.25 is on by "
             "default, as in the authors' code"),
    Row("adopt-nesterov_noclip", hand.adopt, adopt,
        {**_LR, "nesterov": True, "use_clipping": False, "eps": 1e-3}),
)
