"""The diagonal preconditioner ``P`` of Adam and RMSprop, read from their optimizer state.

Both methods step ``p <- p - lr P^-1 m`` (m the gradient or its momentum); the
preconditioned sharpness ``lambda_max(P^-1 H)`` of `preconditioned_sharpness` is then
compared with the method's stability threshold (Cohen et al. 2022, arXiv:2207.14484).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxgd.core.errors import ConfigError, check_decay, check_nonnegative
from jaxgd.optimizers.rms import (
    ScaleByRmsState,
    ScaleByRmsWithCountState,
    ScaleByRStdDevState,
    ScaleByRStdDevWithCountState,
)
from jaxgd.optimizers.transforms import ScaleByAdamState

__all__ = ["adam_preconditioner", "rmsprop_preconditioner"]

_RMS_STATES = (ScaleByRmsState, ScaleByRmsWithCountState, ScaleByRStdDevState, ScaleByRStdDevWithCountState)


def _find_state(opt_state: Any, kinds: tuple[type, ...], what: str) -> Any:
    """The one node of ``opt_state`` that is an instance of ``kinds`` (searched through chains)."""
    found = [s for s in jax.tree.leaves(opt_state, is_leaf=lambda s: isinstance(s, kinds))
             if isinstance(s, kinds)]
    if len(found) != 1:
        names = ", ".join(k.__name__ for k in kinds)
        raise ConfigError(f"opt_state holds {len(found)} {what} states ({names}), expected exactly one; "
                          f"pass the state of one {what} optimizer, e.g. tx.init(params) for "
                          f"tx = jaxgd.optimizers.{what}(1e-3).")
    return found[0]


def adam_preconditioner(opt_state: Any, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> Any:
    """Adam's diagonal preconditioner, the form of Cohen et al. (2022):

        P_t = (1 - b1**t) (sqrt(v_hat_t) + eps),     v_hat_t = v_t / (1 - b2**t)

    Adam's step ``-lr m_hat / (sqrt(v_hat) + eps)`` is then heavy-ball momentum on the
    raw ``m_t`` preconditioned by ``P_t``, whose stability threshold for
    ``lambda_max(P^-1 H)`` is ``(2 + 2 b1) / ((1 - b1) lr)`` (38 / lr for b1 = 0.9).
    The learning rate is not folded into ``P``: compare the sharpness with that threshold.
    At ``t = 0`` (no step taken yet) ``t`` is taken as 1.

    Args:
        opt_state: the state of a jaxgd `adam`/`adamw`/`nadam` (any tree holding exactly
            one ``ScaleByAdamState``: ``count`` int32 scalar, ``nu`` like params).
        b1, b2, eps: the optimizer's hyperparameters (defaults as `adam`).

    Returns:
        ``diag(P)``, a pytree like params, float (at least float32).

    Raises:
        ConfigError: no single ``ScaleByAdamState`` in ``opt_state``, or a bad b1, b2, eps.

    References:
        Cohen et al., "Adaptive Gradient Methods at the Edge of Stability", 2022,
        arXiv:2207.14484 (section 2); Kingma & Ba, "Adam", 2014, arXiv:1412.6980.
    """
    check_decay("b1", b1)
    check_decay("b2", b2)
    check_nonnegative("eps", eps)
    state = _find_state(opt_state, (ScaleByAdamState,), "adam")
    t = jnp.maximum(state.count, 1).astype(jnp.result_type(float))
    bc1, bc2 = 1 - b1**t, 1 - b2**t
    return jax.tree.map(lambda v: bc1 * (jnp.sqrt(jnp.real(v) / bc2) + eps), state.nu)


def rmsprop_preconditioner(
    opt_state: Any, decay: float = 0.9, eps: float = 1e-8, eps_in_sqrt: bool = True, centered: bool = False
) -> Any:
    """RMSprop's diagonal preconditioner ``P`` (its step is ``-lr P^-1 g``):

        P = sqrt(v_hat + eps)           (eps_in_sqrt, optax's default)
        P = sqrt(v_hat) + eps           (otherwise, PyTorch's placement)

    with ``v_hat = v`` (``v / (1 - decay**t)`` when the state keeps a count), and
    ``v - m**2`` in place of ``v`` for centered RMSprop. The stability threshold of
    ``lambda_max(P^-1 H)`` is ``2 / lr`` (``(2 + 2 momentum) / lr`` with heavy-ball
    momentum inside RMSprop's buffer).

    Args:
        opt_state: the state of a jaxgd `rmsprop` (a tree holding exactly one
            ``ScaleByRmsState``/``ScaleByRStdDevState`` or their ``WithCount`` forms).
        decay, eps, eps_in_sqrt, centered: the optimizer's settings (defaults as `rmsprop`).

    Returns:
        ``diag(P)``, a pytree like params, float.

    Raises:
        ConfigError: no single RMSprop state in ``opt_state``, or a bad decay or eps.

    References:
        Tieleman & Hinton, Coursera lecture 6.5, 2012; Graves, "Generating Sequences
        With Recurrent Neural Networks", 2013 (centered); Cohen et al., 2022,
        arXiv:2207.14484.
    """
    check_decay("decay", decay)
    check_nonnegative("eps", eps)
    state = _find_state(opt_state, _RMS_STATES, "rmsprop")
    v = jax.tree.map(jnp.real, state.nu)
    if centered:
        if not isinstance(state, ScaleByRStdDevState | ScaleByRStdDevWithCountState):
            raise ConfigError(f"centered=True but opt_state holds a {type(state).__name__} (no mean "
                              "of g); pass centered=False, or the state of rmsprop(..., centered=True).")
        v = jax.tree.map(lambda v, m: v - jnp.abs(m) ** 2, v, state.mu)
    if isinstance(state, ScaleByRmsWithCountState | ScaleByRStdDevWithCountState):
        bc = 1 - decay ** jnp.maximum(state.count, 1).astype(jnp.result_type(float))
        v = jax.tree.map(lambda v: v / bc, v)
    if eps_in_sqrt:
        return jax.tree.map(lambda v: jnp.sqrt(v + eps), v)
    return jax.tree.map(lambda v: jnp.sqrt(v) + eps, v)
