"""optax twins of every hand-written rule, and the table that pairs them.

This package is the only part of jaxgd that imports optax. ``jaxgd.reference.NAME``
takes the same arguments as ``jaxgd.optimizers.NAME``; `OPTIMIZERS` lists every
pair (with its kwargs, capabilities and tolerances) and drives the tests and `crosscheck`.
"""

from jaxgd.core.errors import check_choice
from jaxgd.reference import (
    adam_family,
    contrib,
    contrib_dadapt,
    contrib_lbfgs_sam,
    contrib_schedule_free,
    core,
    others,
    wrappers,
)
from jaxgd.reference.adam_family import *  # noqa: F403
from jaxgd.reference.contrib import *  # noqa: F403
from jaxgd.reference.contrib_dadapt import *  # noqa: F403
from jaxgd.reference.contrib_lbfgs_sam import *  # noqa: F403
from jaxgd.reference.contrib_schedule_free import *  # noqa: F403
from jaxgd.reference.core import *  # noqa: F403
from jaxgd.reference.core import Row, seed_momentum  # seed_momentum: deprecated name
from jaxgd.reference.defaults import (
    DEFAULT_LEARNING_RATES,
    LearningRateDefault,
    default_learning_rate,
)
from jaxgd.reference.others import *  # noqa: F403
from jaxgd.reference.wrappers import *  # noqa: F403

OPTIMIZERS: tuple[Row, ...] = (core.ROWS + adam_family.ROWS + contrib.ROWS + contrib_dadapt.ROWS
                               + contrib_schedule_free.ROWS + others.ROWS + wrappers.ROWS
                               + contrib_lbfgs_sam.ROWS)


def row(row_id: str) -> Row:
    """The table row with this id."""
    check_choice("optimizer", row_id, [r.id for r in OPTIMIZERS])
    return next(r for r in OPTIMIZERS if r.id == row_id)
