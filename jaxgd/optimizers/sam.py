"""Sharpness-aware minimisation (Foret et al. 2021): the gradient taken at an adversarial point
near the params, in the opaque form (the adversarial steps run inside one update)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxgd.core.errors import ConfigError, check_positive, check_positive_int, check_transform
from jaxgd.core.precision import refuse_complex, tree_cast_like, tree_upcast
from jaxgd.core.transform import ScalarOrSchedule, Transform, apply_updates, empty_init
from jaxgd.core.tree import tree_l2_norm
from jaxgd.optimizers.combine import chain
from jaxgd.optimizers.sgd import sgd

__all__ = ["SAMState", "normalize", "sam"]


def normalize() -> Transform:
    """Divide the gradient by its global l2 norm: ``u = g / ||g||`` (0 where ``g = 0``).

    Returns:
        A stateless Transform (``EmptyState()``).

    See Also:
        ``optax.contrib.normalize``, which gives 0/0 = NaN for a zero gradient.
    """

    def update(grads, state, params=None, **extra):
        del params, extra
        norm = tree_l2_norm(grads)
        safe = jnp.where(norm == 0.0, 1.0, norm)
        return tree_cast_like(jax.tree.map(lambda g: g / safe, tree_upcast(grads)), grads), state

    return Transform(empty_init, update)


class SAMState(NamedTuple):
    """State of `sam` (opaque form; Foret et al. 2021, arXiv:2010.01412), as ``optax.contrib.SAMState``.

    Attributes:
        steps_since_sync: always 0 between updates (int32; the transparent form counts here).
        opt_state: the outer optimizer's state.
        adv_state: the adversarial optimizer's state (fresh after each update with reset_state).
        cache: None (the transparent form keeps the outer params here).
    """

    steps_since_sync: jax.Array
    opt_state: Any
    adv_state: Any
    cache: Any


def sam(
    optimizer: Transform | None = None,
    adv_optimizer: Transform | None = None,
    sync_period: int = 2,
    reset_state: bool = True,
    opaque_mode: bool = True,
    *,
    learning_rate: ScalarOrSchedule | None = None,
    rho: float = 0.05,
    momentum: float | None = None,
) -> Transform:
    """SAM: the outer optimizer's step with the gradient at an adversarial point.

        w^0 = w;   d^0 = g = grad f(w)
        for i = 0 .. sync_period - 2:
            a, adv_state = adv_optimizer(d^i)           (a descent step on d^i)
            w^{i+1} = w^i - a                            (so an ascent step)
            d^{i+1} = grad_fn(w^{i+1}, i)
        u = optimizer(d^{sync_period - 1}) at w

    With ``adv_optimizer = chain(normalize(), sgd(rho))`` and ``sync_period = 2`` this is
    the paper's SAM: ``u = optimizer(grad f(w + rho g / ||g||))``. Every update calls
    ``grad_fn`` ``sync_period - 1`` times; pass it as update(..., grad_fn=fn) with
    ``fn(params, i) -> gradient`` of the same objective (the same batch, or batch i).

    The paper's recipe is built from floats when ``optimizer`` is None: ``optimizer =
    sgd(learning_rate, momentum)``, ``adv_optimizer = chain(normalize(), sgd(rho))``
    (``jaxgd train --optimizer sam --lr 0.05 --set rho=0.05``).

    Args:
        optimizer: the outer rule (a jaxgd Transform or an optax one), or None for the recipe.
        adv_optimizer: the adversarial rule; None: ``chain(normalize(), sgd(rho))``.
        sync_period: an int >= 1: ``sync_period - 1`` adversarial steps per update
            (1: none, the outer rule on g).
        reset_state: start the adversarial rule from a fresh state at every update.
        opaque_mode: must be True: the adversarial steps run inside update() (optax's
            ``opaque_mode=True``). optax's transparent form, where they are updates of their
            own, is not offered.
        learning_rate: the recipe's outer learning rate, a float > 0 or a schedule
            (only with ``optimizer=None``).
        rho: the radius of the adversarial step, > 0 (Foret et al.: 0.05).
        momentum: the recipe's outer SGD momentum, None or in [0, 1).

    Returns:
        A Transform with a `SAMState`. update(grads, state, params, *, grad_fn) needs
        ``params`` and ``grad_fn``.

    Raises:
        ConfigError: ``sync_period`` not an int >= 1, ``opaque_mode`` False, ``rho`` not
            > 0, both or neither of ``optimizer`` and ``learning_rate``, or a bad argument
            of the recipe's sgd.
        ValueError: from update(), when ``params`` or ``grad_fn`` is missing.

    References:
        Foret, Kleiner, Mobahi & Neyshabur, "Sharpness-Aware Minimization for Efficiently
        Improving Generalization", ICLR 2021, arXiv:2010.01412, Algorithm 1. Mirrors
        ``optax.contrib.sam(..., opaque_mode=True)``.
    """
    sync_period = check_positive_int("sync_period", sync_period, fix="The paper's SAM is sync_period=2.")
    if not isinstance(reset_state, bool):
        raise ConfigError(f"reset_state={reset_state!r} is not a bool; accepted: True or False.")
    if opaque_mode is not True:
        raise ConfigError(f"opaque_mode={opaque_mode!r}; accepted: True (the adversarial steps run "
                          "inside update()). optax's transparent form is not offered: drop "
                          "opaque_mode or pass opaque_mode=True.")
    check_positive("rho", rho, fix="Foret et al. use rho=0.05; rho -> 0 is plain SGD.")
    if optimizer is None:
        if learning_rate is None:
            raise ConfigError("sam: optimizer=None and learning_rate=None; accepted: optimizer=<a "
                              "Transform>, or learning_rate=<float> for the paper's recipe (sgd("
                              "learning_rate, momentum) at w + rho g/||g||).")
        optimizer = sgd(learning_rate, momentum)
    elif learning_rate is not None or momentum is not None:
        raise ConfigError(f"sam: learning_rate={learning_rate!r} and momentum={momentum!r} build the "
                          "recipe's outer sgd, but optimizer=... is given too; accepted: one or the "
                          "other. Drop them (set them on your optimizer).")
    check_transform("optimizer", optimizer)
    adv_optimizer = chain(normalize(), sgd(rho)) if adv_optimizer is None else \
        check_transform("adv_optimizer", adv_optimizer)

    def refuse(tree):
        refuse_complex("sam", tree, "its adversarial step is taken on a real loss surface",
                       "Use sgd or adam.")

    def init(params):
        refuse(params)
        return SAMState(jnp.zeros([], jnp.int32), optimizer.init(params), adv_optimizer.init(params), None)

    def update(grads, state, params=None, *, grad_fn=None, **extra):
        del extra
        if params is None or grad_fn is None:
            raise ValueError("sam: update() needs params and grad_fn=(params, i) -> gradient. Pass "
                             "extras=('grad_fn',) to jaxgd.fit, jaxgd.minimize or "
                             "jaxgd.training.make_step, which then give it on each step's batch.")
        refuse(grads)
        point, d, adv_state = params, grads, state.adv_state
        for i in range(sync_period - 1):
            a, adv_state = adv_optimizer.update(d, adv_state, point)
            point = apply_updates(point, jax.tree.map(jnp.negative, a))  # ascent
            d = grad_fn(point, i)
        if reset_state:
            adv_state = adv_optimizer.init(params)
        updates, opt_state = optimizer.update(d, state.opt_state, params)
        return updates, SAMState(jnp.zeros([], jnp.int32), opt_state, adv_state, None)

    return Transform(init, update)

