"""Variants of gradient descent that remember the last step: optimistic gradient and Rprop.

Noisy SGD (`add_noise`, `noisy_sgd`) lives in `jaxgd.optimizers.noise` and Polyak's
step size (`scale_by_polyak`, `polyak_sgd`) in `jaxgd.optimizers.polyak`; both are
re-exported here, where they used to be.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxgd.core.errors import ConfigError, check_learning_rate, check_nonnegative, check_positive, check_range
from jaxgd.core.precision import refuse_complex, tree_cast_like, tree_upcast, upcast
from jaxgd.core.transform import ScalarOrSchedule, Transform
from jaxgd.optimizers.combine import chain
from jaxgd.optimizers.noise import AddNoiseState, add_noise, noisy_sgd
from jaxgd.optimizers.polyak import polyak_sgd, scale_by_polyak
from jaxgd.optimizers.scaling import scale, scale_by_learning_rate

__all__ = [
    "scale_by_optimistic_gradient", "optimistic_gradient_descent", "scale_by_rprop", "rprop",
    "ScaleByOptimisticGradientState", "ScaleByRpropState",
    # re-exported from their own modules (noise, polyak), for the old import path
    "add_noise", "noisy_sgd", "AddNoiseState", "scale_by_polyak", "polyak_sgd",
]


class ScaleByOptimisticGradientState(NamedTuple):
    """State of `scale_by_optimistic_gradient`, with the fields ``optax.scale_by_optimistic_gradient`` keeps.

    Attributes:
        is_initial_step: bool scalar, True until the first update (no g_{t-1} yet).
        previous_gradient: like params, the last gradient g_{t-1} (zeros at init).
    """

    is_initial_step: jax.Array  # bool scalar: no previous gradient yet
    previous_gradient: Any  # like params: g_{t-1}


class ScaleByRpropState(NamedTuple):
    """State of `scale_by_rprop` (the fields of ``optax.ScaleByRpropState``).

    Attributes:
        step_sizes: like params (params' dtype), the per-element step sizes s.
        prev_updates: like params, the last step d = s * sign(g), 0 after a sign change.
    """

    step_sizes: Any  # like params: per-element step size s
    prev_updates: Any  # like params: last step s * sign(g), 0 after a sign change


def check_number(name: str, value: Any) -> Any:
    """Refuse a schedule where optax's rule takes a plain number (it would fail inside update).

    Args:
        name: the argument's name, for the message.
        value: the value given.

    Returns:
        ``value`` unchanged when it is not callable.

    Raises:
        ConfigError: ``value`` is callable (a schedule).
    """
    if callable(value):
        raise ConfigError(
            f"{name}={value!r}: this rule takes a number, not a schedule; accepted: a float, "
            f"e.g. {name}=0.01."
        )
    return value


def scale_by_optimistic_gradient(alpha: float = 1.0, beta: float = 1.0) -> Transform:
    """Optimistic gradient: extrapolate with the change of the gradient since the last step.

        g_0 := g_1                                       (on the first step)
        u_t = (alpha + beta) * g_t - beta * g_{t-1}

    No minus sign: `optimistic_gradient_descent` chains it before the learning rate.

    Args:
        alpha: the weight of the current gradient (>= 0, a number).
        beta: the weight of the gradient change (>= 0, a number).

    Returns:
        A `Transform` whose state is ``ScaleByOptimisticGradientState(is_initial_step,
        previous_gradient)``: a bool scalar and the last gradient (like params).

    Raises:
        ConfigError: ``alpha`` or ``beta`` is a schedule, negative or not finite.

    References:
        Rakhlin & Sridharan (2013), "Online learning with predictable sequences",
        COLT, arXiv:1208.3728.
        Daskalakis et al. (2018), "Training GANs with optimism", ICLR, arXiv:1711.00141.

    See Also:
        ``optax.scale_by_optimistic_gradient``.
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
            g, g_prev = upcast(g), upcast(g_prev)  # computed in at least float32
            g_prev = jnp.where(state.is_initial_step, g, g_prev)
            return (alpha + beta) * g - beta * g_prev

        u = tree_cast_like(jax.tree.map(leaf, grads, state.previous_gradient), grads)
        return u, ScaleByOptimisticGradientState(is_initial_step=jnp.array(False), previous_gradient=grads)

    return Transform(init, update)


def optimistic_gradient_descent(
    learning_rate: ScalarOrSchedule, alpha: float = 1.0, beta: float = 1.0
) -> Transform:
    """Optimistic gradient descent: step along the gradient extrapolated from its last change.

        u_t = -lr_t * ((alpha + beta) * g_t - beta * g_{t-1})      (g_0 := g_1)

    With ``alpha = beta = 1`` it is ``x_{t+1} = x_t - lr * (2 g_t - g_{t-1})``, which
    converges on bilinear min-max games where plain descent-ascent cycles.
    ``alpha``/``beta`` take numbers only (optax types them as schedules but fails on one).

    Args:
        learning_rate: lr, a float > 0 or a schedule of the int32 update count.
        alpha: the weight of the current gradient (>= 0, a number).
        beta: the weight of the gradient change (>= 0, a number).

    Returns:
        A `Transform` whose state is ``(ScaleByOptimisticGradientState(...),
        EmptyState() or ScaleByScheduleState(count))``.

    Raises:
        ConfigError: ``learning_rate`` is not a finite number > 0 or a callable;
            ``alpha`` or ``beta`` as in `scale_by_optimistic_gradient`.

    References:
        Mokhtari et al. (2019), "A unified analysis of extra-gradient and optimistic
        gradient methods for saddle point problems", arXiv:1901.08511.
        Daskalakis et al. (2018), ICLR, arXiv:1711.00141.

    See Also:
        ``optax.optimistic_gradient_descent``; PyTorch has no built-in equivalent.
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
    """Rprop's step (the iRprop- form optax uses), before the sign flip.

        s_0 = learning_rate,  d_0 = 0
        c = g_t * d_{t-1}                          (sign agreement with the last step)
        s_t = clip(s_{t-1} * (eta_plus if c > 0 else eta_minus), min_step_size, max_step_size)
        s_t = s_{t-1}                              where c == 0
        d_t = 0 where c < 0, else s_t * sign(g_t)
        u_t = d_t                                  (a sign change skips one step)

    Only the sign of the gradient is used; ``rprop`` negates ``u_t`` for descent.
    The step sizes are computed in at least float32 and kept in the params' dtype.
    Real parameters only: the sign agreement ``c > 0`` has no complex meaning (optax
    fails on complex input too).

    Args:
        learning_rate: the initial step size s_0 (> 0, a number, not a schedule).
        eta_minus: the factor that shrinks s after a sign change, in (0, 1).
        eta_plus: the factor that grows s while the sign holds (>= 1).
        min_step_size: the smallest step size (>= 0).
        max_step_size: the largest step size (> 0, >= min_step_size).

    Returns:
        A `Transform` whose state is ``ScaleByRpropState(step_sizes, prev_updates)``,
        both like params in the params' dtype.

    Raises:
        ConfigError: ``learning_rate`` is a schedule or not > 0; ``eta_minus`` is
            outside (0, 1); ``eta_plus`` is below 1; ``min_step_size`` is negative;
            ``max_step_size`` is not > 0; ``min_step_size > max_step_size``.
        UnsupportedDtypeError: from init()/update(), complex params (a TypeError).

    References:
        Riedmiller & Braun (1993), "A direct adaptive method for faster
        backpropagation learning: the RPROP algorithm", IEEE ICNN.
        Igel & Huesken (2003), "Empirical evaluation of the improved Rprop learning
        algorithms", Neurocomputing (iRprop-).

    See Also:
        ``optax.scale_by_rprop``.
    """
    _check_rprop(learning_rate, eta_minus, eta_plus, min_step_size, max_step_size)

    def refuse(tree):
        refuse_complex("rprop", tree, "it compares the signs of successive gradients",
                       "Use sign_sgd or adam, which keep a complex gradient's phase.")

    def init(params):
        refuse(params)
        return ScaleByRpropState(
            step_sizes=jax.tree.map(lambda p: jnp.full(jnp.shape(p), learning_rate, jnp.result_type(p)),
                                    params),
            prev_updates=jax.tree.map(jnp.zeros_like, params),
        )

    def update(grads, state, params=None, **extra):
        del params, extra
        refuse(grads)
        g, prev, s = tree_upcast((grads, state.prev_updates, state.step_sizes))  # >= float32
        c = jax.tree.map(lambda g, d: g * d, g, prev)
        s = jax.tree.map(
            lambda c, s: jnp.where(c == 0, s, jnp.clip(s * jnp.where(c > 0, eta_plus, eta_minus),
                                                       min=min_step_size, max=max_step_size)),
            c, s)
        s = tree_cast_like(s, state.step_sizes)  # the step sizes as stored, so d == s * sign(g) exactly
        d = jax.tree.map(lambda c, g, s: jnp.where(c < 0, jnp.zeros_like(g), s * jnp.sign(g)), c, grads, s)
        return d, ScaleByRpropState(step_sizes=s, prev_updates=tree_cast_like(d, state.prev_updates))

    return Transform(init, update)


def rprop(
    learning_rate: float,
    eta_minus: float = 0.5,
    eta_plus: float = 1.2,
    min_step_size: float = 1e-6,
    max_step_size: float = 50.0,
) -> Transform:
    """Rprop: descend by a per-element step size that adapts to sign changes of the gradient.

        u_t = -d_t        (d_t = s_t * sign(g_t), or 0 after a sign change; see scale_by_rprop)

    Only the sign of the gradient is used. ``learning_rate`` is the initial step
    size, a number (no schedule). PyTorch's Rprop (defaults lr 0.01, etas (0.5,
    1.2), step sizes (1e-6, 50)) is the same iRprop- rule. optax 0.2.8's ``rprop``
    returns each step one update late (zeros on the first call); this one does not.

    Args:
        learning_rate: the initial step size s_0 (> 0, a number).
        eta_minus: the factor that shrinks s after a sign change, in (0, 1).
        eta_plus: the factor that grows s while the sign holds (>= 1).
        min_step_size: the smallest step size (>= 0).
        max_step_size: the largest step size (> 0, >= min_step_size).

    Returns:
        A `Transform` whose state is ``(ScaleByRpropState(step_sizes, prev_updates),
        EmptyState())``.

    Raises:
        ConfigError: as `scale_by_rprop`.

    References:
        Riedmiller & Braun (1993), IEEE ICNN; Igel & Huesken (2003), Neurocomputing.

    See Also:
        ``optax.rprop`` (one step late in 0.2.8); ``torch.optim.Rprop(lr, etas,
        step_sizes)``.
    """
    _check_rprop(learning_rate, eta_minus, eta_plus, min_step_size, max_step_size)
    return chain(scale_by_rprop(learning_rate, eta_minus, eta_plus, min_step_size, max_step_size),
                 scale(-1.0))
