"""Per-coordinate adaptive step sizes from accumulated squared gradients: Adagrad, Adadelta, SM3."""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxgd.core.errors import (
    check_decay,
    check_learning_rate,
    check_nonnegative,
    check_positive,
    check_range,
    is_concrete,
)
from jaxgd.core.transform import ScalarOrSchedule, Transform
from jaxgd.core.tree import tree_full_like, tree_zeros_like
from jaxgd.optimizers.combine import chain
from jaxgd.optimizers.layerwise import check_weight_decay
from jaxgd.optimizers.sgd_variants import check_number
from jaxgd.optimizers.transforms import decayed_weights, scale, scale_by_learning_rate

__all__ = [
    "scale_by_rss", "adagrad", "scale_by_adadelta", "adadelta", "scale_by_sm3", "sm3",
    "ScaleByRssState", "ScaleByAdaDeltaState", "ScaleBySM3State",
]


class ScaleByRssState(NamedTuple):
    sum_of_squares: Any  # like params: G, the running sum of g**2 (starts at the initial value)


class ScaleByAdaDeltaState(NamedTuple):
    e_g: Any  # like params: E[g**2], average squared gradient
    e_x: Any  # like params: E[dx**2], average squared step


class ScaleBySM3State(NamedTuple):
    mu: Any  # like params, each leaf a list of ndim vectors (one per axis): the cover maxima
    nu: Any  # like params: momentum of the preconditioned gradient


def scale_by_rss(initial_accumulator_value: float = 0.1, eps: float = 1e-7) -> Transform:
    """Adagrad's scaling by the root of the summed squares.

        G_t = G_{t-1} + g_t**2                 (G_0 = initial_accumulator_value)
        u_t = g_t / sqrt(G_t + eps)            (0 where G_t == 0)
    """
    check_nonnegative("initial_accumulator_value", initial_accumulator_value,
                      fix="optax uses 0.1, PyTorch 0.")
    check_nonnegative("eps", eps, fix="optax uses 1e-7 (inside the sqrt).")

    def init(params):
        return ScaleByRssState(sum_of_squares=tree_full_like(params, initial_accumulator_value))

    def update(grads, state, params=None, **extra):
        del params, extra
        G = jax.tree.map(lambda g, G: g * g + G, grads, state.sum_of_squares)
        inv_root = jax.tree.map(lambda G: jnp.where(G > 0, jax.lax.rsqrt(G + eps), 0.0), G)
        return jax.tree.map(lambda s, g: s * g, inv_root, grads), ScaleByRssState(sum_of_squares=G)

    return Transform(init, update)


def adagrad(
    learning_rate: ScalarOrSchedule, initial_accumulator_value: float = 0.1, eps: float = 1e-7
) -> Transform:
    """Adagrad (Duchi et al., 2011): ``u_t = -lr_t * g_t / sqrt(G_t + eps)``, ``G_t = G_0 + sum g**2``.

    optax starts ``G`` at 0.1 and puts eps 1e-7 inside the sqrt; PyTorch starts at 0
    and divides by ``sqrt(G) + eps`` (eps 1e-10), with an extra ``lr_decay``. The two
    agree exactly with ``initial_accumulator_value=0, eps=0`` (torch eps=0). Unlike
    jax.example_libraries' "adagrad", there is no momentum here.
    """
    check_learning_rate(learning_rate)
    return chain(scale_by_rss(initial_accumulator_value, eps), scale_by_learning_rate(learning_rate))


def scale_by_adadelta(rho: float = 0.9, eps: float = 1e-6) -> Transform:
    """Adadelta's unit-correcting ratio (Zeiler, 2012).

        E[g2]_t = rho * E[g2]_{t-1} + (1 - rho) * g_t**2
        dx_t = sqrt(E[dx2]_{t-1} + eps) / sqrt(E[g2]_t + eps) * g_t
        E[dx2]_t = rho * E[dx2]_{t-1} + (1 - rho) * dx_t**2
        u_t = dx_t
    """
    check_decay("rho", rho)
    check_nonnegative("eps", eps, fix="The paper uses 1e-6.")

    def init(params):
        return ScaleByAdaDeltaState(e_g=tree_zeros_like(params), e_x=tree_zeros_like(params))

    def update(grads, state, params=None, **extra):
        del params, extra
        e_g = jax.tree.map(lambda g, e: (1 - rho) * g**2 + rho * e, grads, state.e_g)
        dx = jax.tree.map(lambda g, e_g, e_x: (jnp.sqrt(e_x + eps) / jnp.sqrt(e_g + eps)) * g,
                          grads, e_g, state.e_x)
        e_x = jax.tree.map(lambda d, e: (1 - rho) * d**2 + rho * e, dx, state.e_x)
        return dx, ScaleByAdaDeltaState(e_g=e_g, e_x=e_x)

    return Transform(init, update)


def adadelta(
    learning_rate: ScalarOrSchedule | None = None,
    rho: float = 0.9,
    eps: float = 1e-6,
    weight_decay: ScalarOrSchedule = 0.0,
    weight_decay_mask: Any = None,
) -> Transform:
    """Adadelta: ``u_t = -lr_t * dx_t`` on ``g + wd * p`` (see scale_by_adadelta).

    The paper has no learning rate: ``learning_rate=None`` means lr = 1 (PyTorch's
    default lr is 1.0 too; its rho 0.9 and eps 1e-6 are the same). optax 0.2.8's
    ``adadelta()`` without a learning rate skips the sign flip and returns ``+dx``,
    a step uphill; here None descends.
    """
    if learning_rate is not None:
        check_learning_rate(learning_rate)
    check_weight_decay(weight_decay)
    return chain(
        decayed_weights(weight_decay, mask=weight_decay_mask),
        scale_by_adadelta(rho=rho, eps=eps),
        scale(-1.0) if learning_rate is None else scale_by_learning_rate(learning_rate),
    )


def _cover_shape(shape: tuple, axis: int) -> list[int]:
    """``[1, .., n_axis, .., 1]``: a per-axis vector broadcast against the full leaf."""
    return [1] * axis + [shape[axis]] + [1] * (len(shape) - axis - 1)


def scale_by_sm3(b1: float = 0.9, b2: float = 1.0, eps: float = 1e-8) -> Transform:
    """SM3 (Anil et al., 2019): Adagrad with one accumulator per row, column, ... of a leaf.

        nu_i = min over axes a of mu_a[i_a]           (the tightest cover of element i)
        A_t = g_t**2 + nu_i                           (b2 = 1, the paper)
        A_t = (1 - b2) * g_t**2 + b2 * nu_i           (b2 < 1)
        u_t = g_t / sqrt(A_t + eps)                   (0 where A_t == 0)
        m_t = (1 - b1) * u_t + b1 * m_{t-1}           (returned)
        mu_a = max of A_t over every axis but a

    A vector has one accumulator per element (plain Adagrad). optax fails on a 0-d
    leaf and on an empty one; here a scalar is a 1-vector and an empty leaf stays empty.
    """
    check_decay("b1", b1)
    check_range("b2", b2, low=0.0, high=1.0, low_open=True, fix="The paper uses b2=1.0.")
    check_nonnegative("eps", eps, fix="Use a small value such as 1e-8.")

    def init(params):
        def covers(p):
            if jnp.ndim(p) == 0:
                return [jnp.zeros((1,), jnp.result_type(p))]
            return [jnp.zeros((jnp.shape(p)[a],), jnp.result_type(p)) for a in range(jnp.ndim(p))]

        return ScaleBySM3State(mu=jax.tree.map(covers, params), nu=tree_zeros_like(params))

    if is_concrete(b2) and b2 == 1.0:
        accumulate = lambda g, nu: 1.0 * g**2 + b2 * nu
    else:
        accumulate = lambda g, nu: (1.0 - b2) * g**2 + b2 * nu

    def leaf(g, mu):
        shape = g.shape
        if g.ndim < 2:
            A = accumulate(g, jnp.reshape(mu[0], shape))
        else:
            nu = functools.reduce(jnp.minimum, [jnp.reshape(m, _cover_shape(shape, a))
                                                for a, m in enumerate(mu)])
            A = accumulate(g, nu)
        u = g * jnp.where(A > 0, jax.lax.rsqrt(A + eps), 0.0)
        if g.ndim == 0:
            new_mu = [jnp.reshape(A, (1,))]
        elif g.ndim == 1:
            new_mu = [A]
        else:
            new_mu = [jnp.max(A, axis=tuple(b for b in range(g.ndim) if b != a), initial=0.0)
                      for a in range(g.ndim)]
        return u, new_mu

    def update(grads, state, params=None, **extra):
        del params, extra
        out = jax.tree.map(leaf, grads, state.mu)  # grads is the prefix: each mu list goes whole
        u = jax.tree.map(lambda _, o: o[0], grads, out)
        mu = jax.tree.map(lambda _, o: o[1], grads, out)
        nu = jax.tree.map(lambda u, m: (1 - b1) * u + b1 * m, u, state.nu)
        return nu, ScaleBySM3State(mu=mu, nu=nu)

    return Transform(init, update)


def sm3(learning_rate: float, momentum: float = 0.9) -> Transform:
    """SM3 with momentum: ``u_t = -lr * m_t`` (see scale_by_sm3; b2 = 1, eps = 1e-8).

    Memory is one vector per axis of each leaf instead of a full second-moment
    copy. ``learning_rate`` is a number (optax's sm3 takes no schedule).
    """
    check_positive("learning_rate", check_number("learning_rate", learning_rate),
                   fix="Use a small positive float such as 0.1.")
    check_decay("momentum", momentum)
    return chain(scale_by_sm3(momentum), scale(-learning_rate))
