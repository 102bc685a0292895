"""L-BFGS (Nocedal & Wright 2006, Algorithm 7.4 and 7.5): a quasi-Newton direction from the last
``m`` steps and gradient changes, then a strong-Wolfe line search along it."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxgd.core.errors import ConfigError, check_positive_int, check_transform
from jaxgd.core.precision import refuse_complex, scalar_dtype, tree_cast_like, tree_upcast
from jaxgd.core.transform import ScalarOrSchedule, Transform, identity, safe_increment
from jaxgd.core.tree import tree_sum_of_squares
from jaxgd.optimizers.combine import chain
from jaxgd.optimizers.linesearch import scale_by_zoom_linesearch, tree_vdot
from jaxgd.optimizers.scaling import scale, scale_by_learning_rate

__all__ = ["ScaleByLBFGSState", "lbfgs", "lbfgs_direction", "scale_by_lbfgs"]


class ScaleByLBFGSState(NamedTuple):
    """State of `scale_by_lbfgs` (as ``optax.ScaleByLBFGSState``); ``m = memory_size`` pair slots.

    Attributes:
        count: k, updates so far (int32).
        params: w_{k-1}, the params of the last update (like params).
        updates: g_{k-1}, the gradient of the last update (like params).
        diff_params_memory: s_i = w_{i+1} - w_i, each leaf (m, *leaf.shape), params' dtype.
        diff_updates_memory: y_i = g_{i+1} - g_i, likewise.
        weights_memory: rho_i = 1 / <y_i, s_i> (0 where that is 0), shape (m,).
    """

    count: jax.Array
    params: Any
    updates: Any
    diff_params_memory: Any
    diff_updates_memory: Any
    weights_memory: jax.Array


def lbfgs_direction(grads: Any, diff_params: Any, diff_updates: Any, weights: jax.Array,
                    gamma: jax.Array, newest: jax.Array) -> Any:
    """``H_k g`` by the two-loop recursion (Nocedal & Wright 2006, Algorithm 7.4).

        q = g
        for i = k-1, ..., k-m:   alpha_i = rho_i <s_i, q>;   q = q - alpha_i y_i
        r = gamma q                                           (H_k^0 = gamma I)
        for i = k-m, ..., k-1:   beta = rho_i <y_i, r>;      r = r + (alpha_i - beta) s_i

    Args:
        grads: g, like params.
        diff_params, diff_updates: s_i and y_i stacked on a leading axis of length m.
        weights: rho_i, shape (m,); a 0 makes its pair a no-op (empty slots).
        gamma: the scale of the initial inverse Hessian, a scalar.
        newest: the slot of the newest pair (k - 1 mod m), an int scalar.

    Returns:
        ``H_k g`` like ``grads`` (computed in at least float32, cast to each leaf's dtype).

    References:
        Nocedal & Wright, Numerical Optimization (2006), Algorithm 7.4.
    """
    m = weights.shape[0]
    order = (newest + 1 + jnp.arange(m)) % m  # oldest to newest

    def pair(i):
        return jax.tree.map(lambda x: x[i], (diff_params, diff_updates))

    def first(q, i):
        s, y = pair(i)
        alpha = weights[i] * tree_vdot(s, q)
        return tree_cast_like(jax.tree.map(lambda q, y: q - alpha * y, q, y), q), alpha

    q, alphas = jax.lax.scan(first, tree_upcast(grads), order, reverse=True)
    r = jax.tree.map(lambda q: gamma * q, q)

    def second(r, i_alpha):
        i, alpha = i_alpha
        s, y = pair(i)
        beta = weights[i] * tree_vdot(y, r)
        return tree_cast_like(jax.tree.map(lambda r, s: r + (alpha - beta) * s, r, s), r), beta

    r, _ = jax.lax.scan(second, r, (order, alphas))
    return tree_cast_like(r, grads)


def scale_by_lbfgs(memory_size: int = 10, scale_init_precond: bool = True) -> Transform:
    """The L-BFGS direction ``H_k g_k`` from the last ``memory_size`` pairs ``(s_i, y_i)``.

        s_{k-1} = w_k - w_{k-1};   y_{k-1} = g_k - g_{k-1};   rho_{k-1} = 1 / <y_{k-1}, s_{k-1}>
        gamma_k = <s_{k-1}, y_{k-1}> / <y_{k-1}, y_{k-1}>     (scale_init_precond; else 1)
        gamma_0 = min(1, 1 / ||g_0||)
        u_k     = H_k g_k                                        (`lbfgs_direction`)

    The memory is updated first, then used: so the pair of the step just taken enters
    the direction of the next one (at k = 0 there is no pair: ``u_0 = gamma_0 g_0``).
    ``gamma_0`` caps the first step at length 1 (optax's choice; the references leave
    it open). A pair with ``<y, s> = 0`` gets weight 0 (no effect) instead of 1/0.

    Args:
        memory_size: m, the pairs kept, an int >= 1.
        scale_init_precond: scale the initial inverse Hessian by ``gamma_k`` (Nocedal &
            Wright eq. 7.20); False: ``H_k^0 = I``.

    Returns:
        A Transform with a `ScaleByLBFGSState`; update() needs ``params``. The direction
        is a descent direction for the gradient: negate it (``lbfgs`` does) to descend.

    Raises:
        ConfigError: ``memory_size`` not an int >= 1, or ``scale_init_precond`` not a bool.
        UnsupportedDtypeError: complex params (from init/update).
        ValueError: from update(), when ``params`` is not given.

    References:
        Nocedal & Wright, Numerical Optimization, 2nd ed., Springer 2006, Algorithms 7.4
        and 7.5; Liu & Nocedal, "On the limited memory BFGS method for large scale
        optimization", Math. Programming 1989. Mirrors ``optax.scale_by_lbfgs``.
    """
    m = check_positive_int("memory_size", memory_size, fix="e.g. memory_size=10 (optax's).")
    if not isinstance(scale_init_precond, bool):
        raise ConfigError(f"scale_init_precond={scale_init_precond!r} is not a bool; accepted: True or "
                          "False.")

    def refuse(tree):
        refuse_complex("lbfgs", tree, "its curvature pairs are compared as real inner products",
                       "Use adam or sgd.")

    def init(params):
        refuse(params)
        stacked = jax.tree.map(lambda x: jnp.zeros((m, *jnp.shape(x)), jnp.result_type(x)), params)
        zeros = jax.tree.map(jnp.zeros_like, params)
        return ScaleByLBFGSState(jnp.zeros([], jnp.int32), zeros, zeros, stacked, stacked,
                                 jnp.zeros((m,), scalar_dtype(params)))

    def update(grads, state, params=None, **extra):
        del extra
        if params is None:
            raise ValueError("lbfgs: update() needs params (its pairs are s = w_k - w_{k-1}).")
        refuse(grads)
        first = state.count == 0
        slot = (state.count - 1) % m  # where the pair (s_{k-1}, y_{k-1}) goes
        s = jax.tree.map(lambda w, w0: jnp.where(first, 0, w - w0).astype(w.dtype), params, state.params)
        y = jax.tree.map(lambda g, g0: jnp.where(first, 0, g - g0).astype(g.dtype), grads, state.updates)
        sy = tree_vdot(y, s)
        rho = jnp.where(first | (sy == 0.0), 0.0, 1.0 / sy).astype(state.weights_memory.dtype)
        s_mem = jax.tree.map(lambda mem, x: mem.at[slot].set(x), state.diff_params_memory, s)
        y_mem = jax.tree.map(lambda mem, x: mem.at[slot].set(x), state.diff_updates_memory, y)
        rho_mem = state.weights_memory.at[slot].set(rho)
        if scale_init_precond:
            yy = tree_sum_of_squares(y)
            gamma = jnp.where(yy > 0.0, sy / yy, 1.0)
            gamma0 = jnp.minimum(1.0, 1.0 / jnp.sqrt(tree_sum_of_squares(grads)))
            gamma = jnp.where(first, gamma0, gamma)
        else:
            gamma = 1.0
        direction = lbfgs_direction(grads, s_mem, y_mem, rho_mem, gamma, slot)
        return direction, ScaleByLBFGSState(safe_increment(state.count), params, grads, s_mem, y_mem,
                                            rho_mem)

    return Transform(init, update)


def lbfgs(
    learning_rate: ScalarOrSchedule | None = None,
    memory_size: int = 10,
    scale_init_precond: bool = True,
    linesearch: Transform | str | None = "zoom",
) -> Transform:
    """L-BFGS: the quasi-Newton direction, then a line search along it.

        d_k = H_k g_k                          (scale_by_lbfgs: two-loop recursion)
        d_k = -lr_k d_k                        (lr None: -d_k)
        u_k = eta_k d_k                        (eta_k: strong-Wolfe zoom line search)

    The line search evaluates the objective: update() takes ``value = f(w)``, ``grad =
    grad f(w)`` and ``value_fn = f`` (keyword-only), and the step it finds is the whole
    learning rate: a ``learning_rate`` only rescales the direction before it (1.0 is the
    same as None). With a minibatch objective, ``value_fn`` is the loss on the batch of
    the step.

    Args:
        learning_rate: None (the line search alone), a float > 0, or a schedule.
        memory_size, scale_init_precond: as in `scale_by_lbfgs`.
        linesearch: "zoom" (``scale_by_zoom_linesearch(max_linesearch_steps=20,
            initial_guess_strategy="one")``, optax.lbfgs's default), another line-search
            Transform, or None (no line search: ``u_k = d_k``).

    Returns:
        ``chain(scale_by_lbfgs(memory_size, scale_init_precond), scale(-1) or
        scale_by_learning_rate(learning_rate), linesearch)``.

    Raises:
        ConfigError: a bad ``memory_size``, ``scale_init_precond``, ``learning_rate`` or
            ``linesearch``.

    References:
        Nocedal & Wright, Numerical Optimization, 2nd ed., Springer 2006, Algorithms 7.4,
        7.5, 3.5 and 3.6; Liu & Nocedal, Math. Programming 1989. Mirrors ``optax.lbfgs``.
    """
    if linesearch == "zoom":
        linesearch = scale_by_zoom_linesearch(max_linesearch_steps=20, initial_guess_strategy="one")
    elif isinstance(linesearch, str):
        raise ConfigError(f"linesearch={linesearch!r}; accepted: 'zoom', None or a line-search "
                          "Transform such as jaxgd.optimizers.scale_by_zoom_linesearch(20).")
    elif linesearch is not None:
        check_transform("linesearch", linesearch)
    direction = scale_by_lbfgs(memory_size, scale_init_precond)
    step = scale(-1.0) if learning_rate is None else scale_by_learning_rate(learning_rate)
    return chain(direction, step, identity() if linesearch is None else linesearch)
