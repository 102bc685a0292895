"""Wrappers around a whole optimizer: gradient accumulation, hyperparameters in the state."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxgd.core.errors import ConfigError, check_positive_int, check_transform
from jaxgd.core.transform import Transform, safe_increment
from jaxgd.core.tree import tree_cast, tree_zeros_like

__all__ = [
    "MultiSteps", "inject_hyperparams", "skip_not_finite", "skip_large_updates",
    "MultiStepsState", "InjectHyperparamsState", "WrappedScheduleState",
]


# ------------------------------------------------------------ gradient accumulation


class MultiStepsState(NamedTuple):
    mini_step: jax.Array  # int32 scalar: gradients accumulated since the last emitted step
    gradient_step: jax.Array  # int32 scalar: steps emitted so far (the inner optimizer's steps)
    inner_opt_state: Any  # the inner optimizer's state
    acc_grads: Any  # like params, accumulator_dtype: the running mean (or sum) of gradients
    skip_state: Any = ()  # whatever should_skip_update_fn reports (() without one)


def skip_not_finite(updates, gradient_step, params):
    """For ``should_skip_update_fn``: skip gradients holding a NaN or inf."""
    del gradient_step, params
    num = jnp.sum(jnp.array([jnp.sum(~jnp.isfinite(x)) for x in jax.tree.leaves(updates)]))
    return num > 0, {"should_skip": num > 0, "num_not_finite": num}


def skip_large_updates(updates, gradient_step, params, max_squared_norm):
    """For ``should_skip_update_fn`` (via functools.partial): skip when ``||g||^2 >= max_squared_norm``."""
    del gradient_step, params
    norm_sq = jnp.sum(jnp.array([jnp.sum(x ** 2) for x in jax.tree.leaves(updates)]))
    skip = jnp.logical_not(norm_sq < max_squared_norm)  # also skips a NaN norm
    return skip, {"should_skip": skip, "norm_squared": norm_sq}


class MultiSteps:
    """Gradient accumulation: one step of ``opt`` every ``k`` calls (optax's ``MultiSteps``).

        k = every_k_schedule(gradient_step)
        a_n = a_{n-1} + (g_n - a_{n-1}) / (n + 1)     (use_grad_mean; n = mini_step)
        a_n = a_{n-1} + g_n                           (otherwise)
        u = opt(a_n), gradient_step += 1, a = 0       when n == k - 1
        u = 0, opt's state kept                       otherwise

    The mean is Welford's running mean, so ``a_{k-1}`` is the mean of the ``k``
    gradients: k mini-batches of size b give the update of one batch of size k*b.
    The accumulator is stored in ``accumulator_dtype`` (float32 by default, also for
    float64 params, as in optax); the gradient handed to ``opt`` is cast back to
    the gradients' dtype. ``opt`` is evaluated at every call and its result kept
    only on the emitting call. Use it as ``MultiSteps(opt, k)`` (it has ``init`` and
    ``update``) or as a `Transform` via ``.gradient_transformation()``.

    Args:
        opt: the optimizer applied to the accumulated gradient.
        every_k_schedule: k as an int >= 1, or a function ``gradient_step -> k``.
        use_grad_mean: average the k gradients (True) or sum them.
        should_skip_update_fn: ``(grads, gradient_step, params) -> (skip, info)``;
            a skipped call changes nothing but ``skip_state = info``.
        accumulator_dtype: dtype of ``acc_grads``.
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
        return self._opt

    def init(self, params: Any) -> MultiStepsState:
        step = jnp.zeros([], jnp.int32)
        skip_state = () if self._should_skip is None else self._should_skip(
            tree_zeros_like(params), step, params)[1]
        return MultiStepsState(mini_step=step, gradient_step=step, inner_opt_state=self._opt.init(params),
                               acc_grads=tree_zeros_like(params, self._acc_dtype), skip_state=skip_state)

    def _accumulate(self, grads, state, params, extra, skip_state):
        k = self._every_k(state.gradient_step)
        n = state.mini_step
        if self._use_grad_mean:
            acc = jax.tree.map(lambda g, a: a + (g - a) / (n + 1), grads, state.acc_grads)
        else:
            acc = jax.tree.map(lambda g, a: g + a, grads, state.acc_grads)
        acc_like_grads = jax.tree.map(lambda a, g: a.astype(g.dtype), acc, grads)
        updates, inner = self._opt.update(acc_like_grads, state.inner_opt_state, params, **extra)
        emit = n == k - 1
        new_state = MultiStepsState(
            mini_step=safe_increment(n) % k,
            gradient_step=emit * safe_increment(state.gradient_step) + (1 - emit) * state.gradient_step,
            inner_opt_state=jax.tree.map(lambda old, new: jnp.where(emit, new, old).astype(old.dtype),
                                         state.inner_opt_state, inner),
            acc_grads=tree_cast(jax.tree.map(lambda a: (1 - emit) * a, acc), self._acc_dtype),
            skip_state=skip_state,
        )
        return jax.tree.map(lambda u: emit * u, updates), new_state

    def update(self, grads, state: MultiStepsState, params=None, **extra):
        """Accumulate ``grads``; every k-th call return ``opt``'s update, else zeros."""
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
        """True right after a call that applied ``opt``."""
        return jnp.logical_and(state.mini_step == 0, state.gradient_step > 0)

    def gradient_transformation(self) -> Transform:
        return Transform(self.init, self.update)


# ------------------------------------------------------------ hyperparameters in the state


class WrappedScheduleState(NamedTuple):
    count: jax.Array  # int32 scalar: the step at which the schedule is evaluated next


class InjectHyperparamsState(NamedTuple):
    """Same fields as optax's ``InjectStatefulHyperparamsState``."""

    count: jax.Array  # int32 scalar: updates so far
    hyperparams: dict  # name -> 0-d array: numeric hyperparameters (edit to change the next update)
    hyperparams_states: dict  # name -> schedule state, for the scheduled ones
    inner_state: Any  # the inner transform's state


class _WrappedSchedule:
    """A step-count schedule in the stateful-schedule form: ``init``, ``update``, ``__call__``."""

    def __init__(self, fn):
        self.fn = fn

    def init(self):
        return WrappedScheduleState(count=jnp.zeros([], jnp.int32))

    def update(self, state, **extra):
        del extra
        return WrappedScheduleState(count=safe_increment(state.count))

    def __call__(self, state, **extra):
        del extra
        return self.fn(state.count)


def _is_stateful_schedule(value: Any) -> bool:
    return callable(value) and all(callable(getattr(value, a, None)) for a in ("init", "update"))


def _convert_floats(x, dtype):
    """Floats (Python or weakly typed) to ``dtype``; strongly typed arrays and ints unchanged."""
    if isinstance(x, jax.Array) and not getattr(x, "weak_type", False):
        return x
    if jnp.issubdtype(getattr(x, "dtype", type(x)), jnp.floating):
        return jnp.asarray(x, dtype)
    return x


def _highest_dtype(tree):
    dtypes = [jnp.asarray(x).dtype for x in jax.tree.leaves(tree)]
    return functools.reduce(jnp.promote_types, dtypes) if dtypes else jnp.asarray([]).dtype


def inject_hyperparams(inner_factory: Callable[..., Transform], static_args: str | Iterable[str] = (),
                       hyperparam_dtype: Any = None) -> Callable[..., Transform]:
    """Carry an optimizer's numeric hyperparameters in its state, so a run can read and change them.

        h_t = schedule_h(t)  for a scheduled h,  else  state.hyperparams[h]
        (u_t, s_t) = inner_factory(**h_t).update(g_t, s_{t-1})

    ``tx = inject_hyperparams(sgd)(learning_rate=0.1)`` behaves as ``sgd(0.1)``;
    ``state.hyperparams["learning_rate"]`` holds the value, and replacing it
    changes the next update. A hyperparameter given as a schedule (any callable
    not named in ``static_args``) is evaluated at the step count and written to
    ``hyperparams`` each step; editing it there has no effect. Bools and
    non-numeric arguments stay fixed. Floats are stored in ``hyperparam_dtype``,
    else the params' widest dtype (optax's rule).

    The arguments are checked once, when the transform is built; the inner
    factory is then rebuilt at every step inside ``jax.jit``, so per-step values
    (a schedule reaching 0, say) are not re-checked.

    Args:
        inner_factory: a factory such as `sgd` or `adam`.
        static_args: names of callable arguments that are not schedules.
        hyperparam_dtype: dtype for float hyperparameters (None: the params').

    Returns:
        A factory with ``inner_factory``'s arguments that returns a `Transform`.
    """
    static_args = {static_args} if isinstance(static_args, str) else set(static_args)
    signature = inspect.signature(inner_factory)
    if not static_args <= set(signature.parameters):
        raise ConfigError(f"static_args={sorted(static_args)!r} names arguments that {inner_factory!r} "
                          f"does not take; accepted: a subset of {sorted(signature.parameters)}.")

    @functools.wraps(inner_factory)
    def factory(*args, **kwargs) -> Transform:
        inner_factory(*args, **kwargs)  # checks the arguments once
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        scheduled, numeric, fixed = {}, {}, {}
        for name, value in bound.arguments.items():
            if name in static_args or isinstance(value, bool):
                fixed[name] = value
            elif _is_stateful_schedule(value):
                scheduled[name] = value
            elif callable(value):
                scheduled[name] = _WrappedSchedule(value)
            elif isinstance(value, int | float | jax.Array | np.ndarray):
                numeric[name] = value
            else:
                fixed[name] = value

        run_init = jax.jit(lambda hyper, params: inner_factory(**fixed, **hyper).init(params))
        run_update = jax.jit(lambda hyper, grads, inner_state, params, extra:
                             inner_factory(**fixed, **hyper).update(grads, inner_state, params, **extra))

        def init(params):
            dtype = _highest_dtype(params) if hyperparam_dtype is None else hyperparam_dtype
            hyper = {k: jnp.asarray(_convert_floats(v, dtype)) for k, v in numeric.items()}
            sched_states = {k: f.init() for k, f in scheduled.items()}
            hyper.update({k: _convert_floats(f(sched_states[k]), dtype) for k, f in scheduled.items()})
            return InjectHyperparamsState(jnp.zeros([], jnp.int32), hyper, sched_states,
                                          run_init(hyper, params))

        def update(grads, state, params=None, **extra):
            dtype = _highest_dtype(params) if hyperparam_dtype is None else hyperparam_dtype
            hyper = {k: _convert_floats(v, dtype) for k, v in state.hyperparams.items()}
            hyper.update({k: _convert_floats(f(state.hyperparams_states[k], **extra), dtype)
                          for k, f in scheduled.items()})
            sched_states = {k: f.update(state.hyperparams_states[k], **extra) for k, f in scheduled.items()}
            updates, inner_state = run_update(hyper, grads, state.inner_state, params, extra)
            return updates, InjectHyperparamsState(safe_increment(state.count), hyper, sched_states,
                                                   inner_state)

        return Transform(init, update)

    return factory
