"""optax twins and table rows of the rules that evaluate the objective themselves: L-BFGS with its
zoom line search (optax.lbfgs) and SAM (optax.contrib.sam, opaque form).

Their update() needs more than the gradient (``value``, ``grad`` and ``value_fn``; or
``grad_fn``), so their rows have ``mode="loss"``: they are cross-checked on an
objective (`jaxgd.crosscheck.rows.example_loss`), never on a stream of random gradients.
"""

from __future__ import annotations

import optax

from jaxgd import optimizers as hand
from jaxgd.reference.core import LOW, Known, Row, twin

__all__ = ["lbfgs", "normalize", "sam", "scale_by_lbfgs", "scale_by_zoom_linesearch"]

scale_by_lbfgs = twin(hand.scale_by_lbfgs, optax.scale_by_lbfgs)
scale_by_zoom_linesearch = twin(hand.scale_by_zoom_linesearch, optax.scale_by_zoom_linesearch)
normalize = twin(hand.normalize, optax.contrib.normalize)


def lbfgs(learning_rate=None, memory_size=10, scale_init_precond=True, linesearch="zoom"):
    """``optax.lbfgs`` with jaxgd's arguments: ``linesearch="zoom"`` is optax's default line
    search (``scale_by_zoom_linesearch(max_linesearch_steps=20, initial_guess_strategy="one")``);
    a Transform is passed as it is (give an optax one for an optax-only rule)."""
    hand.lbfgs(learning_rate, memory_size, scale_init_precond, linesearch)
    kw = {} if isinstance(linesearch, str) else {"linesearch": linesearch}
    return optax.lbfgs(learning_rate, memory_size, scale_init_precond, **kw)


def sam(optimizer=None, adv_optimizer=None, sync_period=2, reset_state=True, opaque_mode=True, *,
        learning_rate=None, rho=0.05, momentum=None):
    """``optax.contrib.sam(..., opaque_mode=True)`` with jaxgd's arguments: with ``optimizer``
    None, the paper's recipe from optax pieces (``optax.sgd(learning_rate, momentum)`` outside,
    ``chain(optax.contrib.normalize(), optax.sgd(rho))`` adversarial)."""
    hand.sam(optimizer, adv_optimizer, sync_period, reset_state, opaque_mode,
             learning_rate=learning_rate, rho=rho, momentum=momentum)  # raises ConfigError
    if optimizer is None:
        optimizer = optax.sgd(learning_rate, momentum)
    if adv_optimizer is None:
        adv_optimizer = optax.chain(optax.contrib.normalize(), optax.sgd(rho))
    return optax.contrib.sam(optimizer, adv_optimizer, sync_period, reset_state, opaque_mode=True)


_LBFGS_EXTRA = ("value", "grad", "value_fn")
_LBFGS_LOW = (Known(LOW, ("hand", "optax"),
                    "the line search compares values of f that differ by less than a 16-bit ulp "
                    "(sufficient decrease with c1 = 1e-4): its choices of step part from float64's"),
              Known(("float32",), ("hand", "optax"),
                    "the zoom's cubic and quadratic fits divide differences of nearby values of f, "
                    "so the step picked carries f's rounding amplified (float32 left the plain "
                    "rounding bound of float64's run by 1.4x at step 6 with memory_size=3); hand and "
                    "optax agree with each other exactly"))
_LBFGS_NOTE = ("the line search's step is the learning rate: lr only rescales the direction before it "
               "(lr 1 = optax's None); update() needs value, grad and value_fn (loss mode only)")
_SAM_32 = (Known(("float32",), ("hand", "optax"),
                 "near the minimum of the objective ||g|| falls towards rounding level and the "
                 "adversarial direction g/||g|| is set by rounding: each dtype then follows its own "
                 "trajectory (float32 left the float64 run by up to 5.6x its plain rounding bound at "
                 "steps 57-65 on drawn seeds); hand and optax agree with each other exactly"),)
_SAM_NOTE = ("the paper's recipe: sgd(lr, momentum) on the gradient at w + rho g/||g||; update() needs "
             "grad_fn (loss mode only); jaxgd's normalize gives 0, not 0/0, for a zero gradient")

ROWS = (
    Row("lbfgs", hand.lbfgs, lbfgs, {"learning_rate": 1.0}, extra=_LBFGS_EXTRA, complex=False,
        known=_LBFGS_LOW, note=_LBFGS_NOTE, mode="loss"),
    Row("lbfgs-m3_no_scale", hand.lbfgs, lbfgs,
        {"learning_rate": 1.0, "memory_size": 3, "scale_init_precond": False}, extra=_LBFGS_EXTRA,
        complex=False, known=_LBFGS_LOW, note="3 pairs, H_0 = I", mode="loss"),
    Row("sam", hand.sam, sam, {"learning_rate": 0.05, "rho": 0.05}, extra=("grad_fn",),
        complex=False, known=_SAM_32, note=_SAM_NOTE, mode="loss"),
    Row("sam-sync3_momentum", hand.sam, sam,
        {"learning_rate": 0.05, "rho": 0.1, "sync_period": 3, "momentum": 0.9, "reset_state": False},
        extra=("grad_fn",), complex=False, known=_SAM_32, mode="loss",
        note="two adversarial steps per update, the adversarial sgd's state kept"),
)
