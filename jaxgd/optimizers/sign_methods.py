"""Rules that step along the sign of a direction: signSGD, Signum and Lion."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxgd.core.errors import check_choice, check_decay, check_learning_rate, check_positive
from jaxgd.core.transform import ScalarOrSchedule, Transform, safe_increment, stateless
from jaxgd.core.tree import tree_cast, tree_zeros_like
from jaxgd.optimizers.combine import chain
from jaxgd.optimizers.layerwise import check_weight_decay
from jaxgd.optimizers.transforms import decayed_weights, ema, scale_by_learning_rate

__all__ = ["scale_by_sign", "sign_sgd", "signum", "scale_by_lion", "lion", "ScaleByLionState"]


class ScaleByLionState(NamedTuple):
    count: jax.Array  # int32 scalar: updates applied so far
    mu: Any  # like params (mu_dtype if given): momentum m


def scale_by_sign() -> Transform:
    """``u = sign(g)`` elementwise; ``sign(0) = 0``, so a zero gradient gives no step."""
    return stateless(lambda grads, params: jax.tree.map(jnp.sign, grads))


def sign_sgd(learning_rate: ScalarOrSchedule) -> Transform:
    """signSGD (Bernstein et al., 2018): ``u_t = -lr_t * sign(g_t)``.

    Every coordinate moves by exactly ``lr`` (or 0 where the gradient is exactly 0).
    """
    check_learning_rate(learning_rate)
    return chain(scale_by_sign(), scale_by_learning_rate(learning_rate))


def signum(
    learning_rate: ScalarOrSchedule, beta: float = 0.9, accumulator_dtype: Any = None
) -> Transform:
    """Signum (Bernstein et al., 2018): the sign of a momentum average.

        m_t = (1 - beta) * g_t + beta * m_{t-1}      (no bias correction: the sign ignores it)
        u_t = -lr_t * sign(m_t)
    """
    check_learning_rate(learning_rate)
    check_decay("beta", beta)
    return chain(
        ema(beta, debias=False, accumulator_dtype=accumulator_dtype),
        scale_by_sign(),
        scale_by_learning_rate(learning_rate),
    )


def _lion_direction(mode: str, smooth_beta: Any):
    if mode == "hard":
        return jnp.sign
    if mode == "smooth":
        return lambda x: jnp.tanh(smooth_beta * x)
    return lambda x: jnp.where(jnp.abs(x) < 1.0, x, jnp.sign(x))  # "refined"


def scale_by_lion(
    b1: float = 0.9,
    b2: float = 0.99,
    mu_dtype: Any = None,
    *,
    mode: str = "hard",
    smooth_beta: float = 1.0,
) -> Transform:
    """Lion's direction (Chen et al., 2023), before weight decay and the learning rate.

        c_t = (1 - b1) * g_t + b1 * m_{t-1}      (interpolation used for the step)
        u_t = sign(c_t)                          (mode "hard"; "smooth": tanh(smooth_beta * c_t);
                                                  "refined": c_t where |c_t| < 1, else sign(c_t))
        m_t = (1 - b2) * g_t + b2 * m_{t-1}      (the momentum kept, with a slower b2)
    """
    check_decay("b1", b1)
    check_decay("b2", b2)
    check_choice("mode", mode, ["hard", "smooth", "refined"])
    check_positive("smooth_beta", smooth_beta, fix="Use 1.0 (the default).")
    direction = _lion_direction(mode, smooth_beta)

    def init(params):
        return ScaleByLionState(count=jnp.zeros([], jnp.int32), mu=tree_zeros_like(params, mu_dtype))

    def update(grads, state, params=None, **extra):
        del params, extra
        u = jax.tree.map(lambda g, m: direction((1.0 - b1) * g + b1 * m), grads, state.mu)
        mu = jax.tree.map(lambda g, m: (1 - b2) * g + b2 * m, grads, state.mu)
        return u, ScaleByLionState(count=safe_increment(state.count), mu=tree_cast(mu, mu_dtype))

    return Transform(init, update)


def lion(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.99,
    mu_dtype: Any = None,
    weight_decay: ScalarOrSchedule = 1e-3,
    mask: Any = None,
) -> Transform:
    """Lion: the sign of an interpolated momentum plus decoupled weight decay.

        c_t = (1 - b1) * g_t + b1 * m_{t-1}
        u_t = -lr_t * (sign(c_t) + wd_t * p_t)          (wd only on leaves in ``mask``)
        m_t = (1 - b2) * g_t + b2 * m_{t-1}

    Decay is multiplied by the lr, as in the paper (AdamW-style). optax's default
    wd is 1e-3; the paper's lr should be 3-10x smaller than Adam's and its wd
    3-10x larger. Parameters move under zero gradients when wd > 0.
    """
    check_learning_rate(learning_rate)
    check_weight_decay(weight_decay)
    return chain(
        scale_by_lion(b1=b1, b2=b2, mu_dtype=mu_dtype),
        decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )
