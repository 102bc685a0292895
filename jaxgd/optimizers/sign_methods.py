"""Rules that step along the sign of a direction: signSGD, Signum and Lion."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxgd.core.errors import check_choice, check_decay, check_learning_rate, check_positive
from jaxgd.core.precision import tree_cast_like, tree_upcast
from jaxgd.core.transform import ScalarOrSchedule, Transform, safe_increment, stateless
from jaxgd.core.tree import tree_zeros_like
from jaxgd.optimizers.combine import chain
from jaxgd.optimizers.layerwise import check_weight_decay
from jaxgd.optimizers.scaling import scale_by_learning_rate
from jaxgd.optimizers.transforms import decayed_weights, ema

__all__ = ["scale_by_sign", "sign_sgd", "signum", "scale_by_lion", "lion", "ScaleByLionState"]


class ScaleByLionState(NamedTuple):
    """State of `scale_by_lion` (the fields of ``optax.ScaleByLionState``).

    Attributes:
        count: int32 scalar, the updates so far (kept for optax's layout; unused by the rule).
        mu: like params (``mu_dtype`` if given), the momentum m.
    """

    count: jax.Array  # int32 scalar: updates applied so far
    mu: Any  # like params (mu_dtype if given): momentum m


def scale_by_sign() -> Transform:
    """Replace every gradient element by its sign.

        u = sign(g)          (elementwise; sign(0) = 0, so a zero gradient gives no step)

    Returns:
        A `Transform` whose state is ``EmptyState()``.

    References:
        Bernstein et al. (2018), "signSGD: compressed optimisation for non-convex
        problems", ICML, arXiv:1802.04434.

    See Also:
        ``optax.scale_by_sign``.
    """
    return stateless(lambda grads, params: jax.tree.map(jnp.sign, grads))


def sign_sgd(learning_rate: ScalarOrSchedule) -> Transform:
    """signSGD (Bernstein et al., 2018): descend by the sign of the gradient.

        u_t = -lr_t * sign(g_t)

    Every coordinate moves by exactly ``lr`` (or 0 where the gradient is exactly 0).

    Args:
        learning_rate: lr, a float > 0 or a schedule of the int32 update count.

    Returns:
        A `Transform` whose state is ``(EmptyState(), EmptyState() or
        ScaleByScheduleState(count))``.

    Raises:
        ConfigError: ``learning_rate`` is not a finite number > 0 or a callable.

    References:
        Bernstein et al. (2018), "signSGD: compressed optimisation for non-convex
        problems", ICML, arXiv:1802.04434.

    See Also:
        ``optax.sign_sgd``; PyTorch has no built-in equivalent.
    """
    check_learning_rate(learning_rate)
    return chain(scale_by_sign(), scale_by_learning_rate(learning_rate))


def signum(
    learning_rate: ScalarOrSchedule, beta: float = 0.9, accumulator_dtype: Any = None
) -> Transform:
    """Signum (Bernstein et al., 2018): the sign of a momentum average.

        m_t = (1 - beta) * g_t + beta * m_{t-1}      (no bias correction: the sign ignores it)
        u_t = -lr_t * sign(m_t)

    Args:
        learning_rate: lr, a float > 0 or a schedule of the int32 update count.
        beta: the averaging factor of the momentum, in [0, 1).
        accumulator_dtype: dtype in which ``m`` is stored (None: the params' dtype).

    Returns:
        A `Transform` whose state is ``(EmaState(count, ema=m), EmptyState(),
        EmptyState() or ScaleByScheduleState(count))``.

    Raises:
        ConfigError: ``learning_rate`` is not a finite number > 0 or a callable;
            ``beta`` is outside [0, 1).

    References:
        Bernstein et al. (2018), "signSGD: compressed optimisation for non-convex
        problems", ICML, arXiv:1802.04434 (Signum is signSGD with momentum).

    See Also:
        ``optax.signum``; PyTorch has no built-in equivalent.
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

    Args:
        b1: the interpolation factor of the step direction, in [0, 1).
        b2: the decay of the momentum kept, in [0, 1).
        mu_dtype: dtype in which ``m`` is stored (None: the params' dtype).
        mode: ``"hard"`` (the paper's sign), ``"smooth"`` or ``"refined"``.
        smooth_beta: the slope of ``tanh`` in mode "smooth" (> 0).

    Returns:
        A `Transform` whose state is ``ScaleByLionState(count, mu)``: an int32
        count and the momentum ``m`` (like params).

    Raises:
        ConfigError: ``b1`` or ``b2`` is outside [0, 1); ``mode`` is not one of the
            three (UnknownNameError); ``smooth_beta`` is not > 0.

    References:
        Chen et al. (2023), "Symbolic discovery of optimization algorithms",
        NeurIPS, arXiv:2302.06675.

    See Also:
        ``optax.scale_by_lion`` (mode "hard"; the other modes are jaxgd's).
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
        g, m = tree_upcast((grads, state.mu))  # computed in at least float32
        u = jax.tree.map(lambda g, m: direction((1.0 - b1) * g + b1 * m), g, m)
        mu = jax.tree.map(lambda g, m: (1 - b2) * g + b2 * m, g, m)
        return tree_cast_like(u, grads), ScaleByLionState(count=safe_increment(state.count),
                                                          mu=tree_cast_like(mu, state.mu))

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

    Args:
        learning_rate: lr, a float > 0 or a schedule of the int32 update count.
        b1: the interpolation factor of the step direction, in [0, 1).
        b2: the decay of the momentum kept, in [0, 1).
        mu_dtype: dtype in which ``m`` is stored (None: the params' dtype).
        weight_decay: wd >= 0, or a schedule of the int32 update count.
        mask: None (decay every leaf), or a bool pytree (a prefix of the params) or
            a function of the params returning one; only True leaves are decayed.

    Returns:
        A `Transform` whose state is ``(ScaleByLionState(count, mu), weight decay
        state, EmptyState() or ScaleByScheduleState(count))``; the weight decay
        state is ``EmptyState()`` (``WeightDecayState(count)`` for a scheduled wd),
        inside ``MaskedState`` when a mask is given.

    Raises:
        ConfigError: ``learning_rate`` is not a finite number > 0 or a callable;
            ``weight_decay`` is a negative or non-finite number; ``b1`` or ``b2`` is
            outside [0, 1); from init()/update(), a ``mask`` that is not a static
            bool prefix of the params.

    References:
        Chen et al. (2023), "Symbolic discovery of optimization algorithms",
        NeurIPS, arXiv:2302.06675.

    See Also:
        ``optax.lion``; PyTorch has no built-in equivalent.
    """
    check_learning_rate(learning_rate)
    check_weight_decay(weight_decay)
    return chain(
        scale_by_lion(b1=b1, b2=b2, mu_dtype=mu_dtype),
        decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )
