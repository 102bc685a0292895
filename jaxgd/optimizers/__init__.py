"""Hand-written update rules (no optax here). Same names and keywords as optax.

Each module lists its public names in ``__all__``; this package re-exports them.
"""

from jaxgd.optimizers.adam import *  # noqa: F403
from jaxgd.optimizers.adam_layerwise import *  # noqa: F403
from jaxgd.optimizers.adam_max import *  # noqa: F403
from jaxgd.optimizers.adam_variants import *  # noqa: F403
from jaxgd.optimizers.adan import *  # noqa: F403
from jaxgd.optimizers.adaptive import *  # noqa: F403
from jaxgd.optimizers.ademamix import *  # noqa: F403
from jaxgd.optimizers.adopt import *  # noqa: F403
from jaxgd.optimizers.clipping import *  # noqa: F403
from jaxgd.optimizers.cocob import *  # noqa: F403
from jaxgd.optimizers.combine import *  # noqa: F403
from jaxgd.optimizers.dadapt import *  # noqa: F403
from jaxgd.optimizers.dog import *  # noqa: F403
from jaxgd.optimizers.factored import *  # noqa: F403
from jaxgd.optimizers.hyperparams import *  # noqa: F403
from jaxgd.optimizers.layerwise import *  # noqa: F403
from jaxgd.optimizers.lbfgs import *  # noqa: F403
from jaxgd.optimizers.linesearch import *  # noqa: F403
from jaxgd.optimizers.momentum import *  # noqa: F403
from jaxgd.optimizers.muon import *  # noqa: F403
from jaxgd.optimizers.noise import *  # noqa: F403
from jaxgd.optimizers.optimistic import *  # noqa: F403
from jaxgd.optimizers.polyak import *  # noqa: F403
from jaxgd.optimizers.prodigy import *  # noqa: F403
from jaxgd.optimizers.radam import *  # noqa: F403
from jaxgd.optimizers.rms import *  # noqa: F403
from jaxgd.optimizers.sam import *  # noqa: F403
from jaxgd.optimizers.scaling import *  # noqa: F403
from jaxgd.optimizers.schedule_free import *  # noqa: F403
from jaxgd.optimizers.sgd import *  # noqa: F403
from jaxgd.optimizers.sgd import seed_momentum  # deprecated name of tutorial_momentum
from jaxgd.optimizers.sgd_variants import *  # noqa: F403
from jaxgd.optimizers.sign_methods import *  # noqa: F403
from jaxgd.optimizers.sm3 import *  # noqa: F403
from jaxgd.optimizers.transforms import *  # noqa: F403
from jaxgd.optimizers.wrappers import *  # noqa: F403
