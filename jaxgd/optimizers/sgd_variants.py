"""Variants of gradient descent: noisy, Polyak step size, optimistic, and Rprop."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxgd.core.errors import (
    ConfigError,
    check_choice,
    check_learning_rate,
    check_nonnegative,
    check_positive,
    check_range,
)
from jaxgd.core.transform import ScalarOrSchedule, Transform, empty_init, safe_increment
from jaxgd.core.tree import tree_sum_of_squares
from jaxgd.optimizers.combine import chain
from jaxgd.optimizers.sgd import sgd
from jaxgd.optimizers.transforms import scale, scale_by_learning_rate

__all__ = [
    "add_noise", "noisy_sgd", "scale_by_polyak", "polyak_sgd", "scale_by_optimistic_gradient",
    "optimistic_gradient_descent", "scale_by_rprop", "rprop", "AddNoiseState",
    "ScaleByOptimisticGradientState", "ScaleByRpropState",
]


class AddNoiseState(NamedTuple):
    count: jax.Array  # int32 scalar: updates applied so far
    rng_key: jax.Array  # typed PRNG key scalar: the key of the next step


class ScaleByOptimisticGradientState(NamedTuple):
    is_initial_step: jax.Array  # bool scalar: no previous gradient yet
    previous_gradient: Any  # like params: g_{t-1}


class ScaleByRpropState(NamedTuple):
    step_sizes: Any  # like params: per-element step size s
    prev_updates: Any  # like params: last step s * sign(g), 0 after a sign change


def check_number(name: str, value: Any) -> Any:
    """Refuse a schedule where optax's rule takes a plain number (it would fail inside update)."""
    if callable(value):
        raise ConfigError(
            f"{name}={value!r}: this rule takes a number, not a schedule; accepted: a float, "
            f"e.g. {name}=0.01."
        )
    return value


def _as_key(key: Any) -> jax.Array:
    """A typed PRNG key from an int seed or a typed key (optax's canonicalisation)."""
    if isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return key
    if isinstance(key, bool) or not (isinstance(key, int | np.integer) or isinstance(key, jax.Array)
                                     and key.ndim == 0 and jnp.issubdtype(key.dtype, jnp.integer)):
        raise ConfigError(
            f"key={key!r} must be an int seed or a typed key; accepted: key=0 or "
            "key=jax.random.key(0) (a raw uint32 jax.random.PRNGKey is not accepted)."
        )
    return jax.random.key(key)


def add_noise(eta: float, gamma: float, key: Any = None, *, seed: int | None = None) -> Transform:
    """Gaussian gradient noise with annealed variance (Neelakantan et al., 2015).

        t = count + 1
        sigma_t = sqrt(eta / t**gamma)
        key, k = split(key)                  (the state keeps the first half)
        k_1..k_L = split(k, L)               (one key per leaf, in tree order)
        u_t = g_t + sigma_t * normal(k_l)    (leaf l)

    This is exactly optax's key handling, so the two draw the same noise.

    Args:
        eta: base variance (>= 0).
        gamma: decay exponent of the variance (>= 0); 0.55 in the paper.
        key: an int seed or a typed key (``jax.random.key``); None means 0, as in optax.
        seed: old name of ``key`` (give one of them).
    """
    check_nonnegative("eta", eta, fix="Use a small value such as 0.01.")
    check_nonnegative("gamma", gamma, fix="The paper uses gamma=0.55.")
    if seed is not None:
        if key is not None:
            raise ConfigError(f"key={key!r} and seed={seed!r}: give only one; accepted: key=0.")
        key = seed
    key = _as_key(0 if key is None else key)

    def init(params):
        del params
        return AddNoiseState(count=jnp.zeros([], jnp.int32), rng_key=key)

    def update(grads, state, params=None, **extra):
        del params, extra
        t = safe_increment(state.count)
        sigma = jnp.sqrt(eta / t**gamma)
        rng_key, sample_key = jax.random.split(state.rng_key)
        leaves, treedef = jax.tree.flatten(grads)
        leaf_keys = jax.random.split(sample_key, len(leaves))
        noisy = [(g + sigma * jax.random.normal(k, g.shape, g.dtype)).astype(g.dtype)
                 for g, k in zip(leaves, leaf_keys, strict=True)]
        return treedef.unflatten(noisy), AddNoiseState(count=t, rng_key=rng_key)

    return Transform(init, update)


def noisy_sgd(
    learning_rate: ScalarOrSchedule,
    eta: float = 0.01,
    gamma: float = 0.55,
    key: Any = None,
    *,
    seed: int | None = None,
) -> Transform:
    """SGD on noisy gradients: ``u_t = -lr_t * (g_t + sqrt(eta / t**gamma) * xi_t)``.

    ``xi_t`` is standard normal noise drawn as in `add_noise` (same stream as optax).
    Parameters move even when the gradient is zero.
    """
    check_learning_rate(learning_rate)
    return chain(add_noise(eta, gamma, key, seed=seed), scale_by_learning_rate(learning_rate))


def scale_by_polyak(
    f_min: float = 0.0,
    max_learning_rate: float = 1.0,
    eps: float = 0.0,
    variant: str = "sps",
) -> Transform:
    """Polyak's step size (Loizou et al., 2021); update() needs ``value=f(x)``.

        gap = f(x) - f_min                    ("sps")
        gap = max(f(x) - f_min, 0)            ("sps+")
        step = min(gap / (||g||**2 + eps), max_learning_rate)
        step = 0                              if ||g||**2 + eps <= machine eps (float64)
        u = step * g
    """
    check_range("f_min", f_min)
    check_positive("max_learning_rate", max_learning_rate, fix="Use e.g. 1.0 (the default).")
    check_nonnegative("eps", eps, fix="Use 0 (the default) or a small positive value.")
    check_choice("variant", variant, ["sps", "sps+"])
    tiny = jnp.finfo(float).eps

    def update(grads, state, params=None, *, value=None, **extra):
        del params, extra
        if value is None:
            raise ValueError("scale_by_polyak needs the loss: call update(grads, state, params, value=f(x)).")
        sq_norm = tree_sum_of_squares(grads)
        gap = jnp.asarray(value - f_min).astype(sq_norm.dtype)
        if variant == "sps+":
            gap = jnp.maximum(gap, 0)
        step = jnp.where(sq_norm + eps <= tiny, jnp.zeros((), sq_norm.dtype),
                         jnp.minimum(gap / (sq_norm + eps), max_learning_rate))
        return jax.tree.map(lambda g: (step * g).astype(g.dtype), grads), state

    return Transform(empty_init, update)


def polyak_sgd(
    max_learning_rate: float = 1.0,
    scaling: ScalarOrSchedule = 1.0,
    f_min: float = 0.0,
    eps: float = 0.0,
    variant: str = "sps",
) -> Transform:
    """SGD with Polyak's step size; update() needs ``value=f(x)``.

        d = -scaling_t * g
        u = min((f(x) - f_min) / (||d||**2 + eps), max_learning_rate) * d

    optax applies the Polyak step to the already-scaled direction ``d``, so with
    ``scaling = c`` the step is ``(f - f_min) / (c**2 ||g||**2 + eps) * c * g``:
    ``scaling`` divides the effective step, it does not multiply it. With the
    default ``scaling = 1`` this is the textbook ``(f - f_min) / ||g||**2``.
    """
    check_learning_rate(scaling, "scaling")
    return chain(sgd(learning_rate=scaling),
                 scale_by_polyak(max_learning_rate=max_learning_rate, f_min=f_min, eps=eps, variant=variant))


def scale_by_optimistic_gradient(alpha: float = 1.0, beta: float = 1.0) -> Transform:
    """Optimistic gradient (Rakhlin & Sridharan, 2013; Daskalakis et al., 2018).

        u_t = (alpha + beta) * g_t - beta * g_{t-1}      (g_0 := g_1 on the first step)
    """
    check_nonnegative("alpha", check_number("alpha", alpha), fix="The usual value is alpha=1.0.")
    check_nonnegative("beta", check_number("beta", beta), fix="The usual value is beta=1.0.")

    def init(params):
        return ScaleByOptimisticGradientState(
            is_initial_step=jnp.array(True),
            previous_gradient=jax.tree.map(jnp.zeros_like, params),
        )

    def update(grads, state, params=None, **extra):
        del params, extra

        def leaf(g, g_prev):
            g_prev = jnp.where(state.is_initial_step, g, g_prev)
            return (alpha + beta) * g - beta * g_prev

        u = jax.tree.map(leaf, grads, state.previous_gradient)
        return u, ScaleByOptimisticGradientState(is_initial_step=jnp.array(False), previous_gradient=grads)

    return Transform(init, update)


def optimistic_gradient_descent(
    learning_rate: ScalarOrSchedule, alpha: float = 1.0, beta: float = 1.0
) -> Transform:
    """Optimistic gradient descent: ``u_t = -lr_t * ((alpha + beta) * g_t - beta * g_{t-1})``.

    With ``alpha = beta = 1`` it is ``x_{t+1} = x_t - lr * (2 g_t - g_{t-1})``, which
    converges on bilinear min-max games where plain descent-ascent cycles.
    ``alpha``/``beta`` take numbers only (optax types them as schedules but fails on one).
    """
    check_learning_rate(learning_rate)
    return chain(scale_by_optimistic_gradient(alpha, beta), scale_by_learning_rate(learning_rate))


def _check_rprop(learning_rate, eta_minus, eta_plus, min_step_size, max_step_size) -> None:
    check_positive("learning_rate", check_number("learning_rate", learning_rate),
                   fix="Rprop's initial step size, e.g. learning_rate=0.01.")
    check_range("eta_minus", eta_minus, low=0.0, high=1.0, low_open=True, high_open=True,
                fix="The usual value is eta_minus=0.5.")
    check_range("eta_plus", eta_plus, low=1.0, fix="The usual value is eta_plus=1.2.")
    check_nonnegative("min_step_size", min_step_size, fix="The usual value is 1e-6.")
    check_positive("max_step_size", max_step_size, fix="The usual value is 50.")
    if all(isinstance(v, int | float) for v in (min_step_size, max_step_size)) and \
            min_step_size > max_step_size:
        raise ConfigError(f"min_step_size={min_step_size!r} exceeds max_step_size={max_step_size!r}; "
                          "accepted: min_step_size <= max_step_size.")


def scale_by_rprop(
    learning_rate: float,
    eta_minus: float = 0.5,
    eta_plus: float = 1.2,
    min_step_size: float = 1e-6,
    max_step_size: float = 50.0,
) -> Transform:
    """Rprop (Riedmiller & Braun, 1993), the iRprop- form optax uses; before the sign flip.

        s_0 = learning_rate,  d_0 = 0
        c = g_t * d_{t-1}                          (sign agreement with the last step)
        s_t = clip(s_{t-1} * (eta_plus if c > 0 else eta_minus), min_step_size, max_step_size)
        s_t = s_{t-1}                              where c == 0
        d_t = 0 where c < 0, else s_t * sign(g_t)
        u_t = d_t                                  (a sign change skips one step)
    """
    _check_rprop(learning_rate, eta_minus, eta_plus, min_step_size, max_step_size)

    def init(params):
        return ScaleByRpropState(
            step_sizes=jax.tree.map(lambda p: jnp.full(jnp.shape(p), learning_rate, jnp.result_type(p)),
                                    params),
            prev_updates=jax.tree.map(jnp.zeros_like, params),
        )

    def update(grads, state, params=None, **extra):
        del params, extra
        c = jax.tree.map(lambda g, d: g * d, grads, state.prev_updates)
        s = jax.tree.map(
            lambda c, s: jnp.where(c == 0, s, jnp.clip(s * jnp.where(c > 0, eta_plus, eta_minus),
                                                       min=min_step_size, max=max_step_size)),
            c, state.step_sizes)
        d = jax.tree.map(lambda c, g, s: jnp.where(c < 0, jnp.zeros_like(g), s * jnp.sign(g)), c, grads, s)
        return d, ScaleByRpropState(step_sizes=s, prev_updates=d)

    return Transform(init, update)


def rprop(
    learning_rate: float,
    eta_minus: float = 0.5,
    eta_plus: float = 1.2,
    min_step_size: float = 1e-6,
    max_step_size: float = 50.0,
) -> Transform:
    """Rprop: ``u_t = -s_t * sign(g_t)`` with per-element step sizes (see scale_by_rprop).

    Only the sign of the gradient is used. ``learning_rate`` is the initial step
    size, a number (no schedule). PyTorch's Rprop (defaults lr 0.01, etas (0.5,
    1.2), step sizes (1e-6, 50)) is the same iRprop- rule. optax 0.2.8's ``rprop``
    returns each step one update late (zeros on the first call); this one does not.
    """
    _check_rprop(learning_rate, eta_minus, eta_plus, min_step_size, max_step_size)
    return chain(scale_by_rprop(learning_rate, eta_minus, eta_plus, min_step_size, max_step_size),
                 scale(-1.0))
