"""What a sweep carries from epoch to epoch, and what it returns."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import numpy as np

from jaxgd.core.deprecation import warn_renamed
from jaxgd.experiments.config import TrainConfig
from jaxgd.experiments.sweep.grid import Grid
from jaxgd.training.steps import TrainState

__all__ = ["SweepCarry", "SweepResult"]


class SweepCarry(NamedTuple):
    """What one run carries from epoch to epoch."""

    state: TrainState  # the run's TrainState, frozen once it diverged
    diverged_at: jax.Array  # int32 scalar: first non-finite epoch (1-based), 0 while finite
    epoch: jax.Array  # int32 scalar: epochs run so far


class SweepResult(NamedTuple):
    """Every run's per-epoch history and final parameters."""

    config: TrainConfig  # the base config (data, model, optimizer)
    impl: str  # "hand" or "optax"
    grid: Grid  # one row per run
    history: dict[str, np.ndarray]  # name -> (runs, epochs); NaN after a run diverged
    diverged_at: np.ndarray  # (runs,) int: first non-finite epoch, 0 = finished finite
    params: Any  # final params, each leaf with a leading (runs,) axis
    seconds: float  # wall time of the whole call (data, checks, compiling, running)
    compile_seconds: float  # compiling the mapped program
    run_seconds: float  # running it (compilation excluded)
    devices: int  # devices the run axis was sharded over
    runs_per_chunk: int  # runs per compiled call (a multiple of `devices`)
    chunks: int  # number of chunks

    @property
    def side(self) -> str:
        """Deprecated: the old name of `impl`."""
        warn_renamed("SweepResult.side", "SweepResult.impl")
        return self.impl
