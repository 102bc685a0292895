"""Layer 3: two update rules in lockstep, leaf by leaf, step by step.

    engine  `crosscheck` (two rules, one gradient stream or one loss), `crosscheck_schedule`
    leaves  pairing state leaves by key path
    report  `CrosscheckReport`: per-step deviations, the first divergent step and leaf
    rows    `crosscheck_row`: a row of the optimizer table, hand rule against its optax twin
"""

from jaxgd.crosscheck.engine import DEFAULT_RTOL, crosscheck, crosscheck_schedule, default_rtol
from jaxgd.crosscheck.report import CrosscheckReport
from jaxgd.crosscheck.rows import crosscheck_row

__all__ = ["DEFAULT_RTOL", "CrosscheckReport", "crosscheck", "crosscheck_row", "crosscheck_schedule",
           "default_rtol"]
