"""optax twins of the schedule-free rules (optimizers.schedule_free), and their table rows.

Also registers optax's ``ScheduleFreeState`` with `jaxgd.core.transform.eval_params`, so an
optax twin is evaluated, reported and saved at its average ``x`` as the hand rule is.
"""

from __future__ import annotations

import optax

from jaxgd import optimizers as hand
from jaxgd.core.transform import register_eval_params
from jaxgd.reference.core import OPTAX_BIAS_32, Known, Row, twin

__all__ = ["schedule_free_adamw", "schedule_free_sgd"]

schedule_free_sgd = twin(hand.schedule_free_sgd, optax.contrib.schedule_free_sgd)
schedule_free_adamw = twin(hand.schedule_free_adamw, optax.contrib.schedule_free_adamw)

register_eval_params(optax.contrib.ScheduleFreeState, optax.contrib.schedule_free_eval_params)

_LOW = (Known(("float16", "bfloat16"), ("optax",),
              "optax keeps max_lr and the weight sum in the params' dtype: lr**2 rounds in 16 bits "
              "(and underflows to 0 in float16 below lr ~2e-4, which stops x), and x = (y - (1 - b1) z) "
              "/ b1 is computed there (jaxgd: scalars and x in float32)"),)
# the warmup rows' first steps of z (lr/4 times the decay) are below half an ulp of z
_Z16 = Known(("float16", "bfloat16"), ("hand", "optax"),
             "z is kept in the params' dtype (as optax keeps it; state_dtype=float32 keeps it wider): a "
             "step of z below half an ulp of z, such as a warmup's first ones, is rounded away")
_NOTE = ("x (evaluated, reported, saved) is the lr**2-weighted average of z; the weights read lr at "
         "the step's number t from 1, the base rule at t - 1 (as in optax; the paper: lr_t for both)")

ROWS = (
    Row("schedule_free_sgd", hand.schedule_free_sgd, schedule_free_sgd, {"learning_rate": 0.1},
        complex=False, known=_LOW, note=_NOTE),
    Row("schedule_free_sgd-warmup_wd", hand.schedule_free_sgd, schedule_free_sgd,
        {"learning_rate": 0.5, "warmup_steps": 4, "b1": 0.75, "weight_decay": 0.0625,
         "weight_lr_power": 1.0}, schedule=False, complex=False, known=(*_LOW, _Z16),
        note="linear warmup from 0 (optax's: the first step of z is 0); coupled decay at y"),
    Row("schedule_free_adamw", hand.schedule_free_adamw, schedule_free_adamw, {"learning_rate": 0.01},
        complex=False, known=(*_LOW, OPTAX_BIAS_32),
        note="Adam without momentum steps z; bias correction on v (the paper: in lr_t, so in the weights)"),
    Row("schedule_free_adamw-warmup_wd", hand.schedule_free_adamw, schedule_free_adamw,
        {"learning_rate": 0.015625, "warmup_steps": 4, "b1": 0.5, "b2": 0.99, "eps": 1e-3,
         "weight_decay": 0.125}, schedule=False, complex=False, known=(*_LOW, _Z16, OPTAX_BIAS_32),
        note="linear warmup from 0; decoupled decay at y, times lr_t"),
)
