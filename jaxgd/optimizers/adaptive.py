"""Per-coordinate step sizes from accumulated squared gradients: Adagrad, Adadelta, SM3."""

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
from jaxgd.core.precision import abs_sq, refuse_complex, tree_cast_like, tree_upcast
from jaxgd.core.transform import ScalarOrSchedule, Transform
from jaxgd.core.tree import tree_full_like, tree_zeros_like
from jaxgd.optimizers.combine import chain
from jaxgd.optimizers.sgd_variants import check_number
from jaxgd.optimizers.transforms import add_decayed_weights, scale, scale_by_learning_rate

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


def _cover_shape(shape: tuple, axis: int) -> list[int]:
    """``[1, .., n_axis, .., 1]``: a per-axis vector broadcast against the full leaf."""
    return [1] * axis + [shape[axis]] + [1] * (len(shape) - axis - 1)


def scale_by_sm3(b1: float = 0.9, b2: float = 1.0, eps: float = 1e-8) -> Transform:
    """SM3's direction: Adagrad with one accumulator per row, column, ... of a leaf.

        nu_i = min over axes a of mu_a[i_a]           (the tightest cover of element i)
        A_t = g_t**2 + nu_i                           (b2 = 1, the paper)
        A_t = (1 - b2) * g_t**2 + b2 * nu_i           (b2 < 1)
        u_t = g_t / sqrt(A_t + eps)                   (0 where A_t == 0)
        m_t = (1 - b1) * u_t + b1 * m_{t-1}           (returned)
        mu_a = max of A_t over every axis but a

    A leaf of shape ``(n, k)`` keeps ``n + k`` numbers instead of ``n * k``; a vector
    has one accumulator per element (plain Adagrad). optax fails on a 0-d leaf and
    on an empty one; here a scalar is a 1-vector and an empty leaf stays empty.
    Computed in at least float32. Real parameters only: the cover maxima order the
    accumulators, and optax refuses complex input too.

    Args:
        b1: decay of the momentum ``m``, in [0, 1).
        b2: weight of the old accumulator, in (0, 1]; 1 is the paper's sum.
        eps: added to ``A_t`` inside the sqrt, >= 0.

    Returns:
        A Transform with a `ScaleBySM3State`: ``mu`` (per leaf a list of ``ndim``
        vectors, the i-th of length ``shape[i]``, in the leaf's dtype; one (1,)
        vector for a 0-d leaf) and ``nu`` (the momentum ``m``, like params).

    Raises:
        ConfigError: ``b1`` outside [0, 1), ``b2`` outside (0, 1], or ``eps`` < 0.
        UnsupportedDtypeError: from init()/update(), complex params (a TypeError).

    References:
        Anil, Gupta, Koren & Singer, "Memory-Efficient Adaptive Optimization", 2019
        (NeurIPS 2019), arXiv:1901.11150. Mirrors ``optax.scale_by_sm3``.
    """
    check_decay("b1", b1)
    check_range("b2", b2, low=0.0, high=1.0, low_open=True, fix="The paper uses b2=1.0.")
    check_nonnegative("eps", eps, fix="Use a small value such as 1e-8.")

    def refuse(tree):
        refuse_complex("sm3", tree, "its cover accumulators take maxima, which complex numbers do not "
                       "have (optax's sm3 refuses them too)",
                       "Use adagrad (scale_by_rss) for complex parameters.")

    def init(params):
        refuse(params)

        def covers(p):  # one vector per axis; a 0-d leaf is a 1-vector
            return [jnp.zeros((n,), jnp.result_type(p)) for n in (jnp.shape(p) or (1,))]

        return ScaleBySM3State(mu=jax.tree.map(covers, params), nu=tree_zeros_like(params))

    if is_concrete(b2) and b2 == 1.0:
        accumulate = lambda g, nu: 1.0 * g**2 + b2 * nu
    else:
        accumulate = lambda g, nu: (1.0 - b2) * g**2 + b2 * nu

    def leaf(g, mu):
        out_dtype, g, mu = g.dtype, *tree_upcast((g, mu))  # computed in at least float32
        if g.ndim < 2:  # one accumulator per element
            A = accumulate(g, jnp.reshape(mu[0], g.shape))
            new_mu = [jnp.reshape(A, (-1,))]
        else:
            nu = functools.reduce(jnp.minimum, [jnp.reshape(m, _cover_shape(g.shape, a))
                                                for a, m in enumerate(mu)])
            A = accumulate(g, nu)
            new_mu = [jnp.max(A, axis=tuple(b for b in range(g.ndim) if b != a), initial=0.0)
                      for a in range(g.ndim)]
        u = g * jnp.where(A > 0, jax.lax.rsqrt(A + eps), 0.0)
        return u, [m.astype(out_dtype) for m in new_mu]

    def update(grads, state, params=None, **extra):
        del params, extra
        refuse(grads)
        out = jax.tree.map(leaf, grads, state.mu)  # grads is the prefix: each mu list goes whole
        u = jax.tree.map(lambda _, o: o[0], grads, out)
        mu = jax.tree.map(lambda _, o: o[1], grads, out)
        nu = jax.tree.map(lambda u, m: (1 - b1) * u + b1 * m, u, tree_upcast(state.nu))
        nu = tree_cast_like(nu, state.nu)
        return tree_cast_like(nu, grads), ScaleBySM3State(mu=mu, nu=nu)

    return Transform(init, update)


def sm3(learning_rate: float, momentum: float = 0.9) -> Transform:
    """SM3: memory-light Adagrad (one accumulator vector per axis) with momentum.

        d_t = scale_by_sm3(g_t)      (m_t, with b1 = momentum, b2 = 1, eps = 1e-8)
        u_t = -lr * d_t

    Args:
        learning_rate: the step size ``lr > 0``, a number (optax's sm3 takes no schedule).
        momentum: decay of the momentum, in [0, 1).

    Returns:
        ``chain(scale_by_sm3(momentum), scale(-learning_rate))``.

    Raises:
        ConfigError: ``learning_rate`` not > 0 or a schedule, or ``momentum`` outside [0, 1).

    References:
        Anil et al., 2019, arXiv:1901.11150. Mirrors ``optax.sm3``; PyTorch has none built in.
    """
    check_positive("learning_rate", check_number("learning_rate", learning_rate),
                   fix="Use a small positive float such as 0.1.")
    check_decay("momentum", momentum)
    return chain(scale_by_sm3(momentum), scale(-learning_rate))
