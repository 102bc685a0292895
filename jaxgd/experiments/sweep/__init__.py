"""Many runs of one model and optimizer in one compiled program.

    grid    the run axis: seeds x hyperparameter values (`make_grid`, `parse_spec`)
    plan    runs per compiled call, from a memory estimate
    engine  `sweep`: vmap over the grid, chunks over devices
    report  the summary table and the run folder
"""

from jaxgd.experiments.sweep.engine import SweepResult, sweep
from jaxgd.experiments.sweep.grid import Grid, make_grid, parse_seeds, parse_spec

__all__ = ["Grid", "SweepResult", "make_grid", "parse_seeds", "parse_spec", "sweep"]
