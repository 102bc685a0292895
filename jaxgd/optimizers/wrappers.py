"""Wrappers around a whole optimizer: gradient accumulation over k calls (`MultiSteps`).

`inject_hyperparams` lives in `jaxgd.optimizers.hyperparams` and is re-exported here,
where it used to be.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxgd.core.errors import ConfigError, check_positive_int, check_transform
from jaxgd.core.precision import abs_sq, tree_cast_like, upcast
from jaxgd.core.transform import Transform, safe_increment
from jaxgd.core.tree import tree_zeros_like
from jaxgd.optimizers.hyperparams import InjectHyperparamsState, WrappedScheduleState, inject_hyperparams

__all__ = [
    "MultiSteps", "skip_not_finite", "skip_large_updates", "MultiStepsState",
    # re-exported from jaxgd.optimizers.hyperparams, for the old import path
    "inject_hyperparams", "InjectHyperparamsState", "WrappedScheduleState",
]


# ------------------------------------------------------------ gradient accumulation


class MultiStepsState(NamedTuple):
    """State of `MultiSteps` (the fields of ``optax.MultiStepsState``).

    Attributes:
        mini_step: int32 scalar, the gradients accumulated since the last emitted step.
        gradient_step: int32 scalar, the steps emitted so far (the inner optimizer's steps).
        inner_opt_state: the inner optimizer's state.
        acc_grads: like params, in ``accumulator_dtype``: the running mean (or sum).
        skip_state: what ``should_skip_update_fn`` last reported (``()`` without one).
    """

    mini_step: jax.Array  # int32 scalar: gradients accumulated since the last emitted step
    gradient_step: jax.Array  # int32 scalar: steps emitted so far (the inner optimizer's steps)
    inner_opt_state: Any  # the inner optimizer's state
    acc_grads: Any  # like params, accumulator_dtype: the running mean (or sum) of gradients
    skip_state: Any = ()  # whatever should_skip_update_fn reports (() without one)


def skip_not_finite(updates, gradient_step, params):
    """A ``should_skip_update_fn`` for `MultiSteps`: skip gradients holding a NaN or inf.

        num = number of non-finite elements over all leaves
        skip = num > 0

    Args:
        updates: the gradients of this call (a pytree).
        gradient_step: the int32 count of emitted steps (unused).
        params: the parameters (unused).

    Returns:
        ``(skip, {"should_skip": skip, "num_not_finite": num})``: a bool scalar and
        the info kept as ``MultiStepsState.skip_state``.

    See Also:
        ``optax.skip_not_finite``.
    """
    del gradient_step, params
    num = jnp.sum(jnp.array([jnp.sum(~jnp.isfinite(x)) for x in jax.tree.leaves(updates)]))
    return num > 0, {"should_skip": num > 0, "num_not_finite": num}


def skip_large_updates(updates, gradient_step, params, max_squared_norm):
    """A ``should_skip_update_fn`` for `MultiSteps` (via functools.partial): skip large gradients.

        norm_sq = sum over leaves of sum(|g|**2)      (each leaf in at least float32)
        skip = not (norm_sq < max_squared_norm)      (a NaN norm is skipped too)

    Args:
        updates: the gradients of this call (a pytree).
        gradient_step: the int32 count of emitted steps (unused).
        params: the parameters (unused).
        max_squared_norm: the squared global norm from which a call is skipped.

    Returns:
        ``(skip, {"should_skip": skip, "norm_squared": norm_sq})``: a bool scalar
        and the info kept as ``MultiStepsState.skip_state``.

    See Also:
        ``optax.skip_large_updates``.
    """
    del gradient_step, params
    norm_sq = jnp.sum(jnp.array([jnp.sum(abs_sq(upcast(x))) for x in jax.tree.leaves(updates)]))
    skip = jnp.logical_not(norm_sq < max_squared_norm)  # also skips a NaN norm
    return skip, {"should_skip": skip, "norm_squared": norm_sq}


class MultiSteps:
    """Gradient accumulation: one step of ``opt`` every ``k`` calls (optax's ``MultiSteps``).

        k = every_k_schedule(gradient_step)
        a_n = a_{n-1} + (g_n - a_{n-1}) / (n + 1)     (use_grad_mean; n = mini_step)
        a_n = a_{n-1} + g_n                           (otherwise)
        u = opt(a_n), gradient_step += 1, a = 0       when n == k - 1
        u = 0, opt's state kept                       otherwise

    The mean is Welford's (1962) running mean, so ``a_{k-1}`` is the mean of the ``k``
    gradients: k mini-batches of size b give the update of one batch of size k*b.
    The accumulator is stored in ``accumulator_dtype`` (float32 by default, also for
    float64 params, as in optax; complex64 for complex params, whose imaginary
    part optax 0.2.8 drops); the gradient handed to ``opt`` is cast back to the
    gradients' dtype. ``opt`` is evaluated at every call and its result kept
    only on the emitting call. Use it as ``MultiSteps(opt, k)`` (it has ``init`` and
    ``update``) or as a `Transform` via ``.gradient_transformation()``.

    Args:
        opt: the optimizer applied to the accumulated gradient.
        every_k_schedule: k as an int >= 1, or a function ``gradient_step -> k``.
        use_grad_mean: average the k gradients (True) or sum them.
        should_skip_update_fn: ``(grads, gradient_step, params) -> (skip, info)``;
            a skipped call changes nothing but ``skip_state = info``.
        accumulator_dtype: dtype of ``acc_grads`` (None: the params' dtype; made
            complex for complex params).

    Raises:
        ConfigError: ``opt`` is not a transform (no callable init and update);
            ``every_k_schedule`` is neither a callable nor an int >= 1; from
            update(), ``should_skip_update_fn`` returned a skip that is not a bool scalar.

    References:
        Welford (1962), "Note on a method for calculating corrected sums of squares
        and products", Technometrics.

    See Also:
        ``optax.MultiSteps``; in PyTorch, calling ``optimizer.step()`` every k
        ``backward()`` calls (which sums unless the loss is divided by k).
    """

    def __init__(self, opt: Transform, every_k_schedule: int | Callable[[jax.Array], Any],
                 use_grad_mean: bool = True, should_skip_update_fn: Callable | None = None,
                 accumulator_dtype: Any = jnp.float32):
        check_transform("opt", opt)
        if not callable(every_k_schedule):
            k = check_positive_int("every_k_schedule", every_k_schedule,
                                   fix="Pass the number of mini-steps per update, or a schedule.")
            every_k_schedule = lambda step: k
        self._opt = opt
        self._every_k = every_k_schedule
        self._use_grad_mean = use_grad_mean
        self._should_skip = should_skip_update_fn
        self._acc_dtype = (None if accumulator_dtype is None
                           else jax.dtypes.canonicalize_dtype(accumulator_dtype))

    @property
    def inner_opt(self) -> Transform:
        """The wrapped optimizer ``opt``."""
        return self._opt

    def init(self, params: Any) -> MultiStepsState:
        """The state before the first call: zero counts and a zero accumulator.

        Args:
            params: the parameters (a pytree).

        Returns:
            ``MultiStepsState`` with int32 counts 0, ``opt.init(params)``, zeros like
            params in ``accumulator_dtype`` and the skip function's info on zeros.
        """
        step = jnp.zeros([], jnp.int32)
        skip_state = () if self._should_skip is None else self._should_skip(
            tree_zeros_like(params), step, params)[1]
        return MultiStepsState(mini_step=step, gradient_step=step, inner_opt_state=self._opt.init(params),
                               acc_grads=tree_zeros_like(params, self._acc_dtype), skip_state=skip_state)

    def _accumulate(self, grads, state, params, extra, skip_state):
        k = self._every_k(state.gradient_step)
        n = state.mini_step
        g, a = jax.tree.map(upcast, (grads, state.acc_grads))  # in at least float32
        if self._use_grad_mean:
            acc = jax.tree.map(lambda g, a: a + (g - a) / (n + 1), g, a)
        else:
            acc = jax.tree.map(lambda g, a: g + a, g, a)
        acc_like_grads = jax.tree.map(lambda a, g: a.astype(g.dtype), acc, grads)
        updates, inner = self._opt.update(acc_like_grads, state.inner_opt_state, params, **extra)
        emit = n == k - 1
        new_state = MultiStepsState(
            mini_step=safe_increment(n) % k,
            gradient_step=jnp.where(emit, safe_increment(state.gradient_step), state.gradient_step),
            inner_opt_state=jax.tree.map(lambda old, new: jnp.where(emit, new, old).astype(old.dtype),
                                         state.inner_opt_state, inner),
            acc_grads=tree_cast_like(jax.tree.map(lambda a: jnp.where(emit, jnp.zeros_like(a), a), acc),
                                     state.acc_grads),
            skip_state=skip_state,
        )
        return jax.tree.map(lambda u: jnp.where(emit, u, jnp.zeros_like(u)), updates), new_state

    def update(self, grads, state: MultiStepsState, params=None, **extra):
        """Accumulate ``grads``; every k-th call return ``opt``'s update, else zeros.

        Args:
            grads: the gradients of one mini-batch (a pytree like params).
            state: the `MultiStepsState` of the previous call.
            params: the parameters, passed on to ``opt``.
            **extra: keyword inputs passed on to ``opt`` (e.g. ``value``).

        Returns:
            ``(updates, state)``: ``opt``'s update of the accumulated gradient on the
            k-th call, zeros (in its shapes and dtypes) otherwise.

        Raises:
            ConfigError: ``should_skip_update_fn`` returned a skip that is not a
                bool scalar.
        """
        if self._should_skip is None:
            return self._accumulate(grads, state, params, extra, ())
        skip, skip_state = self._should_skip(grads, state.gradient_step, params)
        if (jnp.result_type(skip), jnp.shape(skip)) != (jnp.bool_, ()):
            raise ConfigError(f"should_skip_update_fn returned {skip!r}; accepted: a bool scalar "
                              "array as the first element of its (skip, info) result.")

        def skipped():
            shapes = jax.eval_shape(lambda: self._accumulate(grads, state, params, extra, skip_state)[0])
            zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
            return zeros, state._replace(skip_state=skip_state)

        return jax.lax.cond(skip, skipped, lambda: self._accumulate(grads, state, params, extra, skip_state))

    def has_updated(self, state: MultiStepsState) -> jax.Array:
        """Whether the last call emitted a step of ``opt``.

        Args:
            state: a `MultiStepsState`.

        Returns:
            A bool scalar, True right after a call that applied ``opt``.
        """
        return jnp.logical_and(state.mini_step == 0, state.gradient_step > 0)

    def gradient_transformation(self) -> Transform:
        """This accumulation as a plain `Transform`.

        Returns:
            ``Transform(self.init, self.update)``.
        """
        return Transform(self.init, self.update)
