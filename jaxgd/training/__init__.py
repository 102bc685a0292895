"""Layer 2: the training engine, compiled.

    engine      `TrainState`, a step (a scan body), an epoch, `fit`
    chunks      epochs in compiled chunks; the host wakes only between them
    tracking    more columns recorded inside the chunks (a per-step monitor, a per-epoch measure)
    parallel    data parallelism over a device mesh, multi-host start-up
    sharded     sharded data: each device its own rows and batches, each process its share
    checkpoint  versioned, checksummed, atomic checkpoints of any pytree
    resources   memory estimates checked before anything is allocated
    problems    test functions (parabola, Rosenbrock) and `minimize`
"""

from jaxgd.training.checkpoint import load_checkpoint, save_checkpoint
from jaxgd.training.engine import FitResult, TrainState, fit, init_state, make_epoch, make_step
from jaxgd.training.parallel import make_mesh
from jaxgd.training.problems import minimize, parabola, rosenbrock

__all__ = ["FitResult", "TrainState", "fit", "init_state", "load_checkpoint", "make_epoch", "make_mesh",
           "make_step", "minimize", "parabola", "rosenbrock", "save_checkpoint"]
