"""Small update rules with planted differences, for the cross-check tests and CLI.

``rmsprop_eps_inside`` / ``rmsprop_eps_outside`` differ only in where eps goes:

    v_t = decay * v_{t-1} + (1 - decay) * g_t**2
    u_t = -lr * g_t / sqrt(v_t + eps)          (inside: optax's default)
    u_t = -lr * g_t / (sqrt(v_t) + eps)        (outside: PyTorch's)

``sgd_forgetful_momentum`` has sgd's signature but a buffer that forgets:

    m_t = g_t + momentum * g_{t-1}             (instead of g_t + momentum * m_{t-1})
    u_t = -lr * m_t

It equals heavy-ball momentum at steps 0 and 1 and parts from step 2 on.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxgd.core.transform import Transform
from jaxgd.core.tree import tree_zeros_like


class RmsState(NamedTuple):
    nu: Any  # like params: v, the running mean of g**2


class LastGradState(NamedTuple):
    trace: Any  # like params: the previous gradient g_{t-1}


def _rmsprop(learning_rate: float, decay: float, eps: float, inside: bool) -> Transform:
    def init(params):
        return RmsState(nu=tree_zeros_like(params))

    def update(grads, state, params=None, **extra):
        del params, extra
        nu = jax.tree.map(lambda v, g: decay * v + (1 - decay) * g**2, state.nu, grads)
        if inside:
            u = jax.tree.map(lambda g, v: -learning_rate * g / jnp.sqrt(v + eps), grads, nu)
        else:
            u = jax.tree.map(lambda g, v: -learning_rate * g / (jnp.sqrt(v) + eps), grads, nu)
        return u, RmsState(nu=nu)

    return Transform(init, update)


def rmsprop_eps_inside(learning_rate: float, decay: float = 0.9, eps: float = 1e-3) -> Transform:
    return _rmsprop(learning_rate, decay, eps, inside=True)


def rmsprop_eps_outside(learning_rate: float, decay: float = 0.9, eps: float = 1e-3) -> Transform:
    return _rmsprop(learning_rate, decay, eps, inside=False)


def sgd_forgetful_momentum(learning_rate: float, momentum: float | None = None,
                           nesterov: bool = False, accumulator_dtype: Any = None) -> Transform:
    del nesterov, accumulator_dtype
    mu = 0.0 if momentum is None else momentum

    def init(params):
        return (LastGradState(trace=tree_zeros_like(params)),)

    def update(grads, state, params=None, **extra):
        del params, extra
        m = jax.tree.map(lambda g, last: g + mu * last, grads, state[0].trace)
        return jax.tree.map(lambda x: -learning_rate * x, m), (LastGradState(trace=grads),)

    return Transform(init, update)
