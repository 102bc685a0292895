"""The names a run can be given, readable without importing JAX.

The command line lists them in ``--help`` and checks a configuration against them
before any JAX work starts, so help and argument errors are instant. Each tuple is,
in order, the key set of a table that needs JAX to build; tests/core/test_names.py
checks that they stay equal:

    DATASETS     jaxgd.data.DATASETS             (SYNTHETIC: the generated ones)
    ACTIVATIONS  jaxgd.nn.models.ACTIVATIONS
    INITS        jaxgd.nn.models.INITS
    LOSSES       jaxgd.nn.losses.LOSSES
    SCHEDULES    jaxgd.schedules.table.SCHEDULES
    OPTIMIZERS   jaxgd.experiments.config.optimizer_names() (from jaxgd.reference.OPTIMIZERS)
    WORKLOADS    jaxgd.benchmark.WORKLOADS (defined here: `jaxgd bench --workloads`)

The file suffixes of dataset files and the old schedule spellings live here only;
`jaxgd.data` and `jaxgd.schedules.table` take them from here. So does the form of a
user's own rule, ``MODULE:FACTORY`` (`is_user_rule`), accepted wherever an optimizer
name is; `jaxgd.optimizers.user` imports and checks it.
"""

from __future__ import annotations

import os
import re
from typing import Any

SYNTHETIC = ("xor", "moons", "circles", "spirals", "sine")
DATASETS = (*SYNTHETIC, "digits", "mnist1d")
FILE_SUFFIXES = (".npz", ".csv")
ACTIVATIONS = ("sigmoid", "tanh", "relu", "identity", "leaky_relu", "gelu", "softplus", "elu")
INITS = ("normal", "glorot", "he", "lecun")
LOSSES = ("mse", "bce", "softmax_ce")
SCHEDULES = ("constant", "exponential", "staircase", "step", "tutorial_step", "cosine",
             "warmup_cosine", "linear", "polynomial", "piecewise", "onecycle")
# schedule names of jaxgd 0.1 -> their names now (accepted with a DeprecationWarning)
RENAMED_SCHEDULES = {"seed_step": "tutorial_step", "step_decay": "step",
                     "tutorial_step_decay": "tutorial_step", "seed_step_decay": "tutorial_step"}
OPTIMIZERS = ("adabelief", "adadelta", "adafactor", "adagrad", "adam", "adamax", "adamaxw", "adamw",
              "adan", "ademamix", "adopt", "amsgrad", "cocob", "dadapt_adamw", "dog", "fromage", "lamb",
              "lars", "lbfgs", "lion", "muon", "nadam", "nadamw", "noisy_sgd", "novograd",
              "optimistic_adam_v2", "optimistic_gradient_descent", "prodigy", "radam", "rmsprop", "rprop",
              "sam", "schedule_free_adamw", "schedule_free_sgd", "sgd", "sgd_l2", "sign_sgd", "signum", "sm3",
              "tutorial_momentum", "yogi")
# where the training rows live on a device mesh (jaxgd.training.sharded)
DATA_SHARDINGS = ("auto", "replicated", "sharded")
WORKLOADS = ("W1", "W2", "W3", "W4", "W5")
# a user's own rule factory: a dotted module path, a colon, a function name (mypkg.rules:my_sgd)
USER_RULE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")
USER_RULE_FORM = "MODULE:FACTORY (e.g. mypkg.rules:my_sgd)"


def is_file_name(name: Any) -> bool:
    """True when ``name`` is a path to a dataset file (ends in .npz or .csv)."""
    return isinstance(name, str | os.PathLike) and str(name).lower().endswith(FILE_SUFFIXES)


def is_user_rule(name: Any) -> bool:
    """True when ``name`` has the form ``MODULE:FACTORY`` of a user's own rule factory."""
    return isinstance(name, str) and USER_RULE.match(name) is not None
