"""Plain and momentum gradient descent: optax's form and the tutorial's form."""

from __future__ import annotations

from typing import Any

from jaxgd.core.deprecation import deprecated_alias
from jaxgd.core.errors import ConfigError, check_decay, check_learning_rate, check_nonnegative
from jaxgd.core.transform import ScalarOrSchedule, Transform, identity
from jaxgd.optimizers.combine import chain
from jaxgd.optimizers.transforms import add_decayed_weights, scale_by_learning_rate, trace

__all__ = ["sgd", "tutorial_momentum", "sgd_l2", "weights_mask"]


def sgd(
    learning_rate: ScalarOrSchedule,
    momentum: float | None = None,
    nesterov: bool = False,
    accumulator_dtype: Any = None,
) -> Transform:
    """Stochastic gradient descent, optionally with heavy-ball or Nesterov momentum.

        m_t = g_t + momentum * m_{t-1}                  (if momentum is given)
        d_t = g_t + momentum * m_t    (nesterov)  |  m_t  (heavy ball)  |  g_t  (plain)
        u_t = -lr_t * d_t

    This is optax's form: the learning rate multiplies the whole buffer at every
    step. PyTorch's SGD is the same rule (with dampening 0). The tutorial's form, where
    the lr is baked into the buffer, is `tutorial_momentum`; the two agree for a
    constant lr and part under a decaying schedule.
    """
    check_learning_rate(learning_rate)
    if nesterov and momentum is None:
        raise ConfigError("nesterov=True needs a momentum, e.g. sgd(0.1, momentum=0.9, nesterov=True).")
    first = identity() if momentum is None else trace(
        check_decay("momentum", momentum), nesterov=nesterov, accumulator_dtype=accumulator_dtype)
    return chain(first, scale_by_learning_rate(learning_rate))


def tutorial_momentum(learning_rate: ScalarOrSchedule, momentum: float = 0.9) -> Transform:
    """The tutorial's momentum (slide 11): the learning rate is inside the velocity.

        v_t = momentum * v_{t-1} + lr_t * g_t
        u_t = -v_t

    Built as ``chain(scale_by_learning_rate(lr), trace(momentum))``: the trace then
    holds ``-v``. Equal to ``sgd(lr, momentum)`` for a constant lr; under a decaying
    schedule old gradients keep the lr they were taken with, so the two part.
    """
    check_learning_rate(learning_rate)
    return chain(scale_by_learning_rate(learning_rate), trace(check_decay("momentum", momentum)))


def weights_mask(params: Any) -> Any:
    """True for weight matrices (ndim >= 2), False for biases: the tutorial's L2 covers W only."""
    import jax

    return jax.tree.map(lambda x: x.ndim >= 2, params)


def sgd_l2(learning_rate: ScalarOrSchedule, l2: float = 0.0, momentum: float | None = None) -> Transform:
    """The tutorial's L2 regularisation (slide 13) as an update rule.

    The tutorial adds ``l2 * sum(W**2)`` to the cost, whose gradient is ``2*l2*W``:

        d_t = g_t + 2 * l2 * W        (weights only, decay first in the chain)
        u_t = sgd(lr, momentum)(d_t)
    """
    check_nonnegative("l2", l2, fix="Use 0 for no regularisation; the tutorial uses 0.01.")
    return chain(add_decayed_weights(2 * l2, mask=weights_mask), sgd(learning_rate, momentum))


seed_momentum = deprecated_alias(tutorial_momentum, "jaxgd.optimizers.seed_momentum",
                                 "jaxgd.optimizers.tutorial_momentum")
