"""optax twins of every hand-written rule, and the table that pairs them.

This package is the only part of jaxgd that imports optax. ``jaxgd.reference.NAME``
takes the same arguments as ``jaxgd.optimizers.NAME``; `OPTIMIZERS` lists every
pair (with test settings and capabilities) and drives the tests and `crosscheck`.
"""

from jaxgd.reference import adam_family, core, others, wrappers
from jaxgd.reference.core import (
    Row,
    adam,
    add_decayed_weights,
    chain,
    masked,
    scale,
    scale_by_adam,
    scale_by_learning_rate,
    seed_momentum,
    sgd,
    sgd_l2,
    trace,
    twin,
)

OPTIMIZERS: tuple[Row, ...] = core.ROWS + adam_family.ROWS + others.ROWS + wrappers.ROWS
_FAMILIES = (adam_family, others, wrappers)


def __getattr__(name):
    for module in _FAMILIES:
        if hasattr(module, name):
            return getattr(module, name)
    raise AttributeError(f"jaxgd.reference has no twin named {name!r}")


def row(row_id: str) -> Row:
    """The table row with this id."""
    from jaxgd.errors import check_choice

    check_choice("optimizer", row_id, [r.id for r in OPTIMIZERS])
    return next(r for r in OPTIMIZERS if r.id == row_id)
