"""DoG (Ivgi, Hinder & Carmon, 2023): SGD whose step is distance travelled over gradient norms."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxgd.core.errors import ConfigError, check_learning_rate, check_nonnegative, check_positive
from jaxgd.core.precision import scalar_dtype, tree_cast_like, tree_upcast
from jaxgd.core.transform import ScalarOrSchedule, Transform, identity
from jaxgd.core.tree import tree_l2_norm, tree_sum_of_squares
from jaxgd.optimizers.combine import chain
from jaxgd.optimizers.transforms import add_decayed_weights, scale_by_learning_rate

__all__ = ["DOG_INIT_STEPS", "ScaleByDogState", "dog", "scale_by_dog"]

# how the first step is set: r_eps given, eta_0 given, or r_eps = value * (1 + ||x_0||)
DOG_INIT_STEPS = ("distance", "learning_rate", "heuristic")


class ScaleByDogState(NamedTuple):
    """State of `scale_by_dog` (Ivgi, Hinder & Carmon 2023, arXiv:2302.12022).

    Attributes:
        is_init_step: bool scalar, True before the first update.
        init_params: the params ``x_0`` given to init(), like params.
        max_dist: ``rbar``, the largest distance ``||x_i - x_0||`` so far (at least
            ``r_eps``), a real scalar.
        sum_sq_norm_grads: ``G``, the sum of ``||g_i||**2`` so far, a real scalar.
    """

    is_init_step: jax.Array
    init_params: Any
    max_dist: jax.Array
    sum_sq_norm_grads: jax.Array


def check_init_step(init_step: Any) -> tuple[str, Any]:
    """Return ``init_step`` as ``(tag, value)`` if it is one; raise ConfigError otherwise."""
    if not (isinstance(init_step, tuple | list) and len(init_step) == 2 and isinstance(init_step[0], str)):
        raise ConfigError(f"init_step={init_step!r} is not a (tag, value) pair; accepted: a tag in "
                          f"{DOG_INIT_STEPS} and a number > 0, e.g. init_step=('heuristic', 1e-6).")
    tag, value = init_step
    if tag not in DOG_INIT_STEPS:
        raise ConfigError(f"init_step={init_step!r}: unknown tag {tag!r}; accepted: {DOG_INIT_STEPS}, "
                          "e.g. init_step=('heuristic', 1e-6) (the paper's r_eps = 1e-6 (1 + ||x_0||)).")
    try:
        check_positive("value", value)
    except ConfigError as err:
        raise ConfigError(f"init_step={init_step!r}: the value must be a finite number > 0; the paper's "
                          "r_eps is small: ('heuristic', 1e-6), or 1e-4 with batch norm.") from err
    return tag, value


def scale_by_dog(init_step: tuple[str, Any] = ("heuristic", 1e-6), eps: float = 1e-8) -> Transform:
    """DoG's step size times the gradient.

        rbar_t = max(rbar_{t-1}, ||x_t - x_0||)      (rbar_{-1} = r_eps)
        G_t    = G_{t-1} + ||g_t||**2                (G_{-1} = 0)
        eta_t  = rbar_t / sqrt(G_t + eps)
        u_t    = eta_t * g_t

    Norms are global (over all leaves) and real (``|z|**2`` for complex leaves).
    ``init_step`` sets the first step: ``("distance", r)`` takes ``r_eps = r``;
    ``("heuristic", a)`` takes ``r_eps = a * (1 + ||x_0||)`` (the paper's choice, with
    ``a = 1e-6``, or 1e-4 for models with batch normalisation); ``("learning_rate",
    eta)`` takes ``r_eps = 0`` and the first step ``eta_0 = eta``. The paper has no
    ``eps`` (optax's guard against G = 0): ``eps = 0`` is the paper's rule.

    Args:
        init_step: ``(tag, value)``, tag one of ``DOG_INIT_STEPS``, value > 0.
        eps: added to ``G_t`` under the square root, >= 0.

    Returns:
        A Transform with a `ScaleByDogState`. init() needs the actual initial params
        (they are ``x_0``); update() needs ``params``.

    Raises:
        ConfigError: ``init_step`` not a (tag, value) pair with a known tag and a
            value > 0, or ``eps`` negative or not finite.
        ValueError: from update(), when ``params`` is not given.

    References:
        Ivgi, Hinder & Carmon, "DoG is SGD's Best Friend: A Parameter-Free Dynamic Step
        Size Schedule", ICML 2023, arXiv:2302.12022, Algorithm 1. Mirrors
        ``optax.contrib.scale_by_dog``.
    """
    tag, value = check_init_step(init_step)
    check_nonnegative("eps", eps, fix="Use a small value such as 1e-8 (optax's), or 0 for the paper's rule.")

    def init(params):
        dtype = scalar_dtype(params)
        if tag == "distance":
            r_eps = jnp.asarray(value, dtype)
        elif tag == "heuristic":
            r_eps = value * (1 + tree_l2_norm(tree_upcast(params)).astype(dtype))
        else:
            r_eps = jnp.zeros([], dtype)
        return ScaleByDogState(is_init_step=jnp.asarray(True), init_params=params,
                               max_dist=jnp.asarray(r_eps, dtype), sum_sq_norm_grads=jnp.zeros([], dtype))

    def update(grads, state, params=None, **extra):
        del extra
        if params is None:
            raise ValueError("scale_by_dog: update() needs params (DoG measures the distance from x_0).")
        g, p, p0 = tree_upcast((grads, params, state.init_params))
        dtype = state.max_dist.dtype
        dist = tree_l2_norm(jax.tree.map(lambda a, b: a - b, p, p0)).astype(dtype)
        max_dist = jnp.maximum(state.max_dist, dist)
        sum_sq = state.sum_sq_norm_grads + tree_sum_of_squares(g).astype(dtype)
        eta = max_dist / jnp.sqrt(sum_sq + eps)
        if tag == "learning_rate":
            eta = jnp.where(state.is_init_step, jnp.asarray(value, dtype), eta)
        u = jax.tree.map(lambda x: eta * x, g)
        new = ScaleByDogState(is_init_step=jnp.asarray(False), init_params=state.init_params,
                              max_dist=max_dist, sum_sq_norm_grads=sum_sq)
        return tree_cast_like(u, grads), new

    return Transform(init, update)


def dog(
    learning_rate: ScalarOrSchedule = 1.0,
    init_step: tuple[str, Any] = ("heuristic", 1e-6),
    eps: float = 1e-8,
    weight_decay: ScalarOrSchedule | None = None,
    mask: Any = None,
) -> Transform:
    """DoG: SGD with the step size "distance over gradients" (learning-rate free).

        d_t = g_t + wd * p_t                     (leaves where mask is True; if weight_decay)
        u_t = -lr_t * scale_by_dog(d_t)          (eta_t = rbar_t / sqrt(G_t + eps))

    ``learning_rate`` is a multiplier of DoG's own step size (1.0: the paper's DoG).
    The decay, as in optax, is added to the gradient before DoG, so it enters ``G_t``.
    The authors recommend averaging the iterates (not done here).

    Args:
        learning_rate: multiplier ``lr > 0`` of the step (default 1.0), or a schedule
            of the int32 step count.
        init_step, eps: as in `scale_by_dog`.
        weight_decay: coupled decay ``wd >= 0`` (or a schedule); None: no decay.
        mask: a pytree of bools like params (or a function of params); only True
            leaves are decayed.

    Returns:
        ``chain(add_decayed_weights(weight_decay, mask) or identity(), scale_by_dog(...),
        scale_by_learning_rate(learning_rate))``. init() needs the actual initial params.

    Raises:
        ConfigError: ``learning_rate`` not > 0, ``weight_decay`` negative or not
            finite, or a bad argument of `scale_by_dog`.

    References:
        Ivgi, Hinder & Carmon, ICML 2023, arXiv:2302.12022. Mirrors ``optax.contrib.dog``.
    """
    check_learning_rate(learning_rate)
    decay = identity() if weight_decay is None else add_decayed_weights(weight_decay, mask)
    return chain(decay, scale_by_dog(init_step, eps), scale_by_learning_rate(learning_rate))
