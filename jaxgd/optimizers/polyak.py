"""Polyak's step size: a step length set by the gap between the loss and its minimum."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxgd.core.errors import (
    check_choice,
    check_learning_rate,
    check_nonnegative,
    check_positive,
    check_range,
)
from jaxgd.core.transform import ScalarOrSchedule, Transform, empty_init
from jaxgd.core.tree import tree_sum_of_squares
from jaxgd.optimizers.combine import chain
from jaxgd.optimizers.sgd import sgd

__all__ = ["scale_by_polyak", "polyak_sgd"]


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

    ``||g||**2`` sums over all leaves; the step is computed in its dtype and each
    update keeps its gradient's dtype. No minus sign: chain it after a descent
    direction, as `polyak_sgd` does.

    Args:
        f_min: a lower bound on the loss, e.g. 0 for a non-negative loss (finite).
        max_learning_rate: the largest step (> 0), the SPS_max cap.
        eps: added to ``||g||**2`` (>= 0).
        variant: ``"sps"`` or ``"sps+"`` (a loss below ``f_min`` gives no step).

    Returns:
        A `Transform` whose state is ``EmptyState()``; its update() takes the
        keyword ``value``, the loss at the current params.

    Raises:
        ConfigError: ``f_min`` is not finite; ``max_learning_rate`` is not > 0;
            ``eps`` is negative; ``variant`` is not "sps" or "sps+" (UnknownNameError).
        ValueError: from update(), when ``value=`` is not given.

    References:
        Polyak (1987), "Introduction to Optimization" (the step for known f_min).
        Loizou et al. (2021), "Stochastic Polyak step-size for SGD: an adaptive
        learning rate for fast convergence", AISTATS, arXiv:2002.10542.
        Garrigos et al. (2023), arXiv:2307.14528 ("sps+").

    See Also:
        ``optax.scale_by_polyak``.
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

    Args:
        max_learning_rate: the largest step (> 0).
        scaling: c, a float > 0 or a schedule of the int32 update count.
        f_min: a lower bound on the loss (finite).
        eps: added to ``||d||**2`` (>= 0).
        variant: ``"sps"`` or ``"sps+"`` (see `scale_by_polyak`).

    Returns:
        A `Transform` whose state is ``((EmptyState(), EmptyState() or
        ScaleByScheduleState(count)), EmptyState())``; its update() takes ``value``.

    Raises:
        ConfigError: ``scaling`` is not a finite number > 0 or a callable; the
            arguments of `scale_by_polyak` as there.
        ValueError: from update(), when ``value=`` is not given.

    References:
        Loizou et al. (2021), AISTATS, arXiv:2002.10542; Garrigos et al. (2023),
        arXiv:2307.14528.

    See Also:
        ``optax.polyak_sgd``; PyTorch has no built-in equivalent.
    """
    check_learning_rate(scaling, "scaling")
    return chain(sgd(learning_rate=scaling),
                 scale_by_polyak(max_learning_rate=max_learning_rate, f_min=f_min, eps=eps, variant=variant))
