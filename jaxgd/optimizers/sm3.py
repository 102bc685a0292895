"""SM3 (Anil et al., 2019): Adagrad with one accumulator per row, column, ... of a leaf."""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxgd.core.errors import check_decay, check_nonnegative, check_positive, check_range, is_concrete
from jaxgd.core.precision import refuse_complex, tree_cast_like, tree_upcast
from jaxgd.core.transform import Transform
from jaxgd.core.tree import tree_zeros_like
from jaxgd.optimizers.combine import chain
from jaxgd.optimizers.scaling import scale
from jaxgd.optimizers.sgd_variants import check_number

__all__ = ["scale_by_sm3", "sm3", "ScaleBySM3State"]


class ScaleBySM3State(NamedTuple):
    """State of `scale_by_sm3` (the fields of ``optax.ScaleBySM3State``).

    Attributes:
        mu: like params, each leaf a list of ndim vectors (one per axis): the cover maxima.
        nu: like params, the momentum of the preconditioned gradient.
    """

    mu: Any  # like params, each leaf a list of ndim vectors (one per axis): the cover maxima
    nu: Any  # like params: momentum of the preconditioned gradient


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
