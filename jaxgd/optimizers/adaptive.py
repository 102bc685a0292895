"""Per-coordinate step sizes from accumulated squared gradients: Adagrad and Adadelta.

SM3 (`scale_by_sm3`, `sm3`) lives in `jaxgd.optimizers.sm3` and is re-exported here,
where it used to be.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxgd.core.errors import (
    check_decay,
    check_learning_rate,
    check_nonnegative,
)
from jaxgd.core.precision import abs_sq, tree_cast_like, tree_upcast
from jaxgd.core.transform import ScalarOrSchedule, Transform
from jaxgd.core.tree import tree_full_like, tree_zeros_like
from jaxgd.optimizers.combine import chain
from jaxgd.optimizers.sm3 import ScaleBySM3State, scale_by_sm3, sm3
from jaxgd.optimizers.transforms import add_decayed_weights, scale, scale_by_learning_rate

__all__ = [
    "scale_by_rss", "adagrad", "scale_by_adadelta", "adadelta", "ScaleByRssState", "ScaleByAdaDeltaState",
    # re-exported from jaxgd.optimizers.sm3, for the old import path
    "scale_by_sm3", "sm3", "ScaleBySM3State",
]


class ScaleByRssState(NamedTuple):
    """State of `scale_by_rss` (the field of ``optax.ScaleByRssState``).

    Attributes:
        sum_of_squares: like params, G: the running sum of |g|**2, from the initial value.
    """

    sum_of_squares: Any  # like params: G, the running sum of g**2 (starts at the initial value)


class ScaleByAdaDeltaState(NamedTuple):
    """State of `scale_by_adadelta` (the fields of ``optax.ScaleByAdaDeltaState``).

    Attributes:
        e_g: like params, E[g2]: the average squared gradient.
        e_x: like params, E[dx2]: the average squared step.
    """

    e_g: Any  # like params: E[g**2], average squared gradient
    e_x: Any  # like params: E[dx**2], average squared step


def scale_by_rss(initial_accumulator_value: float = 0.1, eps: float = 1e-7) -> Transform:
    """Adagrad's scaling: divide by the root of the running sum of squared gradients.

        G_t = G_{t-1} + |g_t|**2               (G_0 = initial_accumulator_value)
        u_t = g_t / sqrt(G_t + eps)            (0 where G_t == 0)

    ``G`` only grows, so each coordinate's step shrinks, fastest where gradients are large.

    Args:
        initial_accumulator_value: ``G_0`` in every element, >= 0 (optax 0.1, PyTorch 0).
        eps: added to ``G_t`` inside the sqrt, >= 0.

    Returns:
        A Transform with a `ScaleByRssState`: ``sum_of_squares`` (``G``, like params).

    Raises:
        ConfigError: ``initial_accumulator_value`` or ``eps`` < 0 (or not finite).

    References:
        Duchi, Hazan & Singer, "Adaptive Subgradient Methods for Online Learning and Stochastic
        Optimization", JMLR 12, 2011 (no arXiv version). Mirrors ``optax.scale_by_rss``.
    """
    check_nonnegative("initial_accumulator_value", initial_accumulator_value,
                      fix="optax uses 0.1, PyTorch 0.")
    check_nonnegative("eps", eps, fix="optax uses 1e-7 (inside the sqrt).")

    def init(params):
        return ScaleByRssState(sum_of_squares=tree_full_like(params, initial_accumulator_value))

    def update(grads, state, params=None, **extra):
        del params, extra
        g, G = tree_upcast((grads, state.sum_of_squares))  # computed in at least float32
        G = jax.tree.map(lambda g, G: abs_sq(g) + jnp.real(G), g, G)
        inv_root = jax.tree.map(lambda G: jnp.where(G > 0, jax.lax.rsqrt(G + eps), 0.0), G)
        u = jax.tree.map(lambda s, g: s * g, inv_root, g)
        G = tree_cast_like(G, state.sum_of_squares)
        return tree_cast_like(u, grads), ScaleByRssState(sum_of_squares=G)

    return Transform(init, update)


def adagrad(
    learning_rate: ScalarOrSchedule, initial_accumulator_value: float = 0.1, eps: float = 1e-7
) -> Transform:
    """Adagrad: per-coordinate steps that shrink with the sum of past squared gradients.

        d_t = scale_by_rss(g_t)      (g_t / sqrt(G_t + eps), G_t = G_{t-1} + g_t**2)
        u_t = -lr_t * d_t

    optax starts ``G`` at 0.1 and puts eps 1e-7 inside the sqrt; PyTorch starts at 0
    and divides by ``sqrt(G) + eps`` (eps 1e-10), with an extra ``lr_decay``. The two
    agree exactly with ``initial_accumulator_value=0, eps=0`` (torch eps=0). Unlike
    jax.example_libraries' "adagrad", there is no momentum here.

    Args:
        learning_rate: the step size ``lr > 0``, or a schedule of the int32 step count.
        initial_accumulator_value, eps: as in `scale_by_rss`.

    Returns:
        ``chain(scale_by_rss(...), scale_by_learning_rate(learning_rate))``.

    Raises:
        ConfigError: a bad ``learning_rate``, ``initial_accumulator_value`` or ``eps``.

    References:
        Duchi, Hazan & Singer, JMLR 12, 2011. Mirrors ``optax.adagrad``; PyTorch:
        ``torch.optim.Adagrad`` (see above for the conventions).
    """
    check_learning_rate(learning_rate)
    return chain(scale_by_rss(initial_accumulator_value, eps), scale_by_learning_rate(learning_rate))


def scale_by_adadelta(rho: float = 0.9, eps: float = 1e-6) -> Transform:
    """Adadelta's ratio of root-mean-square step to root-mean-square gradient.

        E[g2]_t = rho * E[g2]_{t-1} + (1 - rho) * |g_t|**2
        dx_t = sqrt(E[dx2]_{t-1} + eps) / sqrt(E[g2]_t + eps) * g_t
        E[dx2]_t = rho * E[dx2]_{t-1} + (1 - rho) * |dx_t|**2
        u_t = dx_t

    The ratio carries the parameters' units, so no learning rate is needed. For
    complex params both averages are of ``|.|**2`` (optax 0.2.8 squares, ``g**2``,
    and so turns a complex step real).

    Args:
        rho: decay of both averages, in [0, 1).
        eps: added inside both roots, >= 0 (1e-6 in the paper).

    Returns:
        A Transform with a `ScaleByAdaDeltaState`: ``e_g`` (``E[g2]``) and ``e_x``
        (``E[dx2]``), both like params.

    Raises:
        ConfigError: ``rho`` outside [0, 1), or ``eps`` < 0.

    References:
        Zeiler, "ADADELTA: An Adaptive Learning Rate Method", 2012, arXiv:1212.5701.
        Mirrors ``optax.scale_by_adadelta``.
    """
    check_decay("rho", rho)
    check_nonnegative("eps", eps, fix="The paper uses 1e-6.")

    def init(params):
        return ScaleByAdaDeltaState(e_g=tree_zeros_like(params), e_x=tree_zeros_like(params))

    def update(grads, state, params=None, **extra):
        del params, extra
        g, e_g, e_x = tree_upcast((grads, state.e_g, state.e_x))  # computed in at least float32
        e_g = jax.tree.map(lambda g, e: (1 - rho) * abs_sq(g) + rho * e, g, e_g)
        dx = jax.tree.map(lambda g, e_g, e_x: (jnp.sqrt(e_x + eps) / jnp.sqrt(e_g + eps)) * g, g, e_g, e_x)
        e_x = jax.tree.map(lambda d, e: (1 - rho) * abs_sq(d) + rho * e, dx, e_x)
        new = ScaleByAdaDeltaState(e_g=tree_cast_like(e_g, state.e_g), e_x=tree_cast_like(e_x, state.e_x))
        return tree_cast_like(dx, grads), new

    return Transform(init, update)


def adadelta(
    learning_rate: ScalarOrSchedule | None = None,
    rho: float = 0.9,
    eps: float = 1e-6,
    weight_decay: ScalarOrSchedule = 0.0,
    weight_decay_mask: Any = None,
) -> Transform:
    """Adadelta: steps sized by the ratio of past step and gradient magnitudes.

        d_t = g_t + wd_t * p_t             (add_decayed_weights; where weight_decay_mask is True)
        d_t = scale_by_adadelta(d_t)       (dx_t)
        u_t = -lr_t * d_t                  (lr = 1 when learning_rate is None)

    The paper has no learning rate: ``learning_rate=None`` means lr = 1 (PyTorch's
    default lr is 1.0 too; its rho 0.9 and eps 1e-6 are the same). optax 0.2.8's
    ``adadelta()`` without a learning rate skips the sign flip and returns ``+dx``,
    a step uphill; here None descends.

    Args:
        learning_rate: the step size ``lr > 0``, a schedule of the int32 step count,
            or None (lr = 1, the paper's rule).
        rho, eps: as in `scale_by_adadelta`.
        weight_decay: coupled L2 factor ``wd >= 0`` added to the gradient, or a schedule.
        weight_decay_mask: a pytree of bools like params, or a function params -> such
            a tree; only True leaves decay (None: all).

    Returns:
        ``chain(add_decayed_weights(...), scale_by_adadelta(rho, eps), step)``; its
        update needs ``params``.

    Raises:
        ConfigError: ``learning_rate`` not > 0, ``rho`` outside [0, 1), or ``eps`` or
            ``weight_decay`` negative (any of them not finite).

    References:
        Zeiler, 2012, arXiv:1212.5701. Mirrors ``optax.adadelta``; PyTorch:
        ``torch.optim.Adadelta``.
    """
    if learning_rate is not None:
        check_learning_rate(learning_rate)
    return chain(
        add_decayed_weights(weight_decay, mask=weight_decay_mask),
        scale_by_adadelta(rho=rho, eps=eps),
        scale(-1.0) if learning_rate is None else scale_by_learning_rate(learning_rate),
    )
