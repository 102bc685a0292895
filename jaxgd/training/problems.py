"""Test objectives with known minima, and `minimize` for plain functions.

These are the classic sanity checks for an optimizer: a well- or ill-conditioned
quadratic (the parabola) and the Rosenbrock valley.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxgd.core.errors import check_positive, check_positive_int
from jaxgd.core.transform import Transform, apply_updates
from jaxgd.training.steps import check_extras, update_extras


class Problem(NamedTuple):
    """An objective, where to start, and where its minimum is."""

    name: str
    f: Callable[[Any], jax.Array]  # params -> scalar
    x0: Any  # starting params
    x_star: Any  # the minimiser
    f_star: float  # the minimum value


def parabola(dim: int = 4, condition: float = 10.0, dtype: Any = jnp.float32) -> Problem:
    """``f(x) = 0.5 * sum_i c_i (x_i - 1)^2`` with c spaced log-uniformly in [1, condition]."""
    check_positive_int("dim", dim)
    check_positive("condition", condition)
    c = jnp.logspace(0.0, jnp.log10(condition), dim, dtype=dtype)

    def f(x):
        return 0.5 * jnp.sum(c * (x - 1.0) ** 2)

    return Problem("parabola", f, jnp.zeros(dim, dtype), jnp.ones(dim, dtype), 0.0)


def rosenbrock(a: float = 1.0, b: float = 100.0, dtype: Any = jnp.float32) -> Problem:
    """``f(x, y) = (a - x)^2 + b (y - x^2)^2``, minimum 0 at ``(a, a^2)``; start (-1.2, 1)."""

    def f(p):
        x, y = p[0], p[1]
        return (a - x) ** 2 + b * (y - x**2) ** 2

    return Problem("rosenbrock", f, jnp.array([-1.2, 1.0], dtype), jnp.array([a, a * a], dtype), 0.0)


def descend(f, x0, tx: Transform, steps: int, extra_value: bool = False, extras: tuple[str, ...] = ()):
    """The pure scan behind `minimize` (not jitted: compose it inside your own jit)."""
    names = tuple(dict.fromkeys((*(("value",) if extra_value else ()), *check_extras(extras))))
    value_and_grad = jax.value_and_grad(f)

    def body(carry, _):
        x, state = carry
        value, g = value_and_grad(x)
        extra = update_extras(names, value, g, value_and_grad)
        u, state = tx.update(g, state, x, **extra)
        return (apply_updates(x, u), state), value

    (x, _), values = jax.lax.scan(body, (x0, tx.init(x0)), None, length=steps)
    return x, values


def minimize(
    f: Callable[[Any], jax.Array],
    x0: Any,
    tx: Transform,
    steps: int = 1000,
    extra_value: bool = False,
    extras: tuple[str, ...] = (),
) -> tuple[Any, jax.Array]:
    """Run ``steps`` updates of ``tx`` on ``f`` from ``x0`` in one compiled scan.

    Args:
        f: scalar objective of a params pytree.
        x0: starting params.
        tx: the update rule (hand-written or optax).
        steps: number of updates.
        extra_value: pass ``value=f(x)`` to ``tx.update`` (Polyak step sizes need it).
        extras: names of `jaxgd.training.steps.EXTRAS` to pass (``value``, ``grad``,
            ``value_fn = f``, ``grad_fn``): lbfgs needs the first three, sam ``grad_fn``.

    Returns:
        ``(x_final, f_values)`` with ``f_values[t] = f(x_t)`` before update t.
    """
    check_positive_int("steps", steps)
    return jax.jit(lambda x0: descend(f, x0, tx, steps, extra_value, extras))(x0)
