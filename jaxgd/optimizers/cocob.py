"""COCOB-Backprop (Orabona & Tommasi, 2017): training by continuous coin betting, no step size."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxgd.core.errors import check_learning_rate, check_positive
from jaxgd.core.precision import compute_dtype, refuse_complex, tree_cast_like, tree_upcast
from jaxgd.core.transform import ScalarOrSchedule, Transform
from jaxgd.core.tree import tree_zeros_like
from jaxgd.optimizers.combine import chain
from jaxgd.optimizers.scaling import scale_by_learning_rate
from jaxgd.optimizers.transforms import add_decayed_weights

__all__ = ["ScaleByCocobState", "cocob", "scale_by_cocob"]


class ScaleByCocobState(NamedTuple):
    """State of `scale_by_cocob` (Orabona & Tommasi 2017, arXiv:1705.07795), each like params.

    Attributes:
        init_particles: ``w_1``, the params given to init().
        cumulative_gradients: ``theta``, minus the sum of the gradients so far.
        scale: ``L``, the largest ``|g|`` so far (from ``eps``), kept in at least float32
            (``eps = 1e-8`` is 0 in float16).
        subgradients: ``G``, the sum of ``|g|`` so far.
        reward: ``R``, the bettor's winnings ``max(R - g (w - w_1), 0)``.
    """

    init_particles: Any
    cumulative_gradients: Any
    scale: Any
    subgradients: Any
    reward: Any


def scale_by_cocob(alpha: float = 100.0, eps: float = 1e-8) -> Transform:
    """COCOB-Backprop's move to the next bet, per coordinate.

        L_t     = max(L_{t-1}, |g_t|)                      (L_0 = eps)
        G_t     = G_{t-1} + |g_t|
        R_t     = max(R_{t-1} - g_t (w_t - w_1), 0)
        theta_t = theta_{t-1} - g_t
        w_{t+1} = w_1 + theta_t (L_t + R_t) / (L_t max(G_t + L_t, alpha L_t))
        u_t     = w_{t+1} - w_t

    The update is the whole move to the next iterate (no learning rate after it).
    The paper starts from ``L_0 = 0``; ``eps`` (optax's) keeps a coordinate whose
    gradients were all zero at ``w_1`` instead of dividing 0 by 0.

    Args:
        alpha: ``alpha > 0``, bounds the fraction bet early on (the paper's 100).
        eps: ``L_0 > 0``.

    Returns:
        A Transform with a `ScaleByCocobState`. init() needs the actual initial
        params (they are ``w_1``); update() needs ``params``.

    Raises:
        ConfigError: ``alpha`` or ``eps`` not > 0 (or not finite).
        UnsupportedDtypeError: from init()/update(), complex params.
        ValueError: from update(), when ``params`` is not given.

    References:
        Orabona & Tommasi, "Training Deep Networks without Learning Rates Through Coin
        Betting", NeurIPS 2017, arXiv:1705.07795, Algorithm 2. Mirrors
        ``optax.contrib.scale_by_cocob``.
    """
    check_positive("alpha", alpha, fix="The paper's is 100.")
    check_positive("eps", eps, fix="Use a small value such as 1e-8 (optax's).")

    def refuse(tree):
        refuse_complex("cocob", tree, "it bets on each coordinate with |g| and max(., 0)",
                       "Use sgd or adam with a tuned learning rate.")

    def init(params):
        refuse(params)
        zeros = tree_zeros_like(params)
        return ScaleByCocobState(init_particles=params, cumulative_gradients=zeros,
                                 scale=jax.tree.map(lambda x: jnp.full(jnp.shape(x), eps, compute_dtype(
                                     jnp.result_type(x))), params),
                                 subgradients=zeros, reward=zeros)

    def update(grads, state, params=None, **extra):
        del extra
        if params is None:
            raise ValueError("cocob: update() needs params (its reward uses w_t - w_1).")
        refuse(grads)
        g, w, w1, theta, big_l, big_g, reward = tree_upcast((grads, params, *state))
        big_l = jax.tree.map(lambda lt, g: jnp.maximum(lt, jnp.abs(g)), big_l, g)
        big_g = jax.tree.map(lambda gt, g: gt + jnp.abs(g), big_g, g)
        reward = jax.tree.map(lambda r, g, w, w1: jnp.maximum(r - g * (w - w1), 0), reward, g, w, w1)
        theta = jax.tree.map(lambda th, g: th - g, theta, g)

        def move(w, w1, th, lt, gt, r):
            bet = th / (lt * jnp.maximum(gt + lt, alpha * lt)) * (lt + r)
            return (w1 - w) + bet  # w1 - w first: exact for nearby params (optax: (w1 + bet) - w)

        u = jax.tree.map(move, w, w1, theta, big_l, big_g, reward)
        new = ScaleByCocobState(init_particles=state.init_particles,
                                cumulative_gradients=tree_cast_like(theta, state.cumulative_gradients),
                                scale=tree_cast_like(big_l, state.scale),
                                subgradients=tree_cast_like(big_g, state.subgradients),
                                reward=tree_cast_like(reward, state.reward))
        return tree_cast_like(u, grads), new

    return Transform(init, update)


def cocob(
    learning_rate: ScalarOrSchedule = 1.0,
    alpha: float = 100.0,
    eps: float = 1e-8,
    weight_decay: ScalarOrSchedule = 0.0,
    mask: Any = None,
) -> Transform:
    """COCOB-Backprop: each coordinate bets on the sign of the gradient (learning-rate free).

        d_t = lr_t * (g_t + wd * p_t)      (decay on leaves where mask is True)
        u_t = scale_by_cocob(d_t)          (the move to the next bet)

    As in optax, ``learning_rate`` scales the gradients COCOB sees, not the move:
    COCOB's move is unchanged when all its gradients are scaled by one factor (only
    ``L_0 = eps`` is not), so a constant ``learning_rate`` has next to no effect,
    and a schedule acts only through the relative weights it gives the steps.

    Args:
        learning_rate: ``lr > 0`` (default 1.0), or a schedule of the int32 step count.
        alpha, eps: as in `scale_by_cocob`.
        weight_decay: coupled decay ``wd >= 0`` (or a schedule) added to the gradient.
        mask: a pytree of bools like params (or a function of params); only True
            leaves are decayed.

    Returns:
        ``chain(add_decayed_weights(weight_decay, mask), scale_by_learning_rate(
        learning_rate, flip_sign=False), scale_by_cocob(alpha, eps))``.

    Raises:
        ConfigError: ``learning_rate`` not > 0, ``weight_decay`` negative or not
            finite, or a bad argument of `scale_by_cocob`.

    References:
        Orabona & Tommasi, NeurIPS 2017, arXiv:1705.07795. Mirrors ``optax.contrib.cocob``.
    """
    check_learning_rate(learning_rate)
    return chain(add_decayed_weights(weight_decay, mask),
                 scale_by_learning_rate(learning_rate, flip_sign=False), scale_by_cocob(alpha, eps))
