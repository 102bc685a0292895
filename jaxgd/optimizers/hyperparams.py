"""Hyperparameters in the state: a run can read and change an optimizer's numbers."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxgd.core.errors import ConfigError
from jaxgd.core.precision import compute_dtype, real_dtype, upcast
from jaxgd.core.transform import Transform, safe_increment

__all__ = ["inject_hyperparams", "InjectHyperparamsState", "WrappedScheduleState"]


class WrappedScheduleState(NamedTuple):
    """State of a plain schedule in `inject_hyperparams`, as ``optax.schedules.WrappedSchedule`` keeps it.

    Attributes:
        count: int32 scalar, the step at which the schedule is evaluated next.
    """

    count: jax.Array  # int32 scalar: the step at which the schedule is evaluated next


class InjectHyperparamsState(NamedTuple):
    """State of `inject_hyperparams` (the fields of ``optax.InjectStatefulHyperparamsState``).

    Attributes:
        count: int32 scalar, the updates so far.
        hyperparams: name -> 0-d array, every numeric hyperparameter as used by the
            last update (edit a constant one to change the next update).
        hyperparams_states: name -> schedule state (``WrappedScheduleState`` for a
            plain schedule), for the scheduled ones.
        inner_state: the inner transform's state.
    """

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
    """Floats (Python or weakly typed) to ``dtype``; strongly typed float arrays to at least
    float32 (a bfloat16 value is kept exactly); ints unchanged."""
    if isinstance(x, jax.Array) and not getattr(x, "weak_type", False):
        return upcast(x)
    if jnp.issubdtype(getattr(x, "dtype", type(x)), jnp.floating):
        return jnp.asarray(x, dtype)
    return x


def _hyperparam_dtype(tree):
    """The real compute dtype of the params' widest dtype: float32 for float16, bfloat16,
    float32 and complex64 params; float64 for float64 and complex128 ones."""
    dtypes = [jnp.asarray(x).dtype for x in jax.tree.leaves(tree)]
    widest = functools.reduce(jnp.promote_types, dtypes) if dtypes else jnp.asarray([]).dtype
    return real_dtype(compute_dtype(widest))


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
    else in the params' widest dtype made real and at least float32: float32 for
    bfloat16, float16 and complex64 params. optax 0.2.8 stores them in the
    params' widest dtype itself, where ``b2 = 0.999`` is 1.0 in bfloat16 (Adam's
    ``1 - b2**t`` is then 0) and a learning rate becomes complex.

    The arguments are checked once, when the transform is built; the inner
    factory is then rebuilt at every step inside ``jax.jit``, so per-step values
    (a schedule reaching 0, say) are not re-checked.

    Args:
        inner_factory: a factory such as `sgd` or `adam`.
        static_args: names of callable arguments that are not schedules.
        hyperparam_dtype: dtype for float hyperparameters (None: the params' widest
            dtype, real and at least float32).

    Returns:
        A factory with ``inner_factory``'s arguments that returns a `Transform`
        whose state is ``InjectHyperparamsState(count, hyperparams,
        hyperparams_states, inner_state)``.

    Raises:
        ConfigError: ``static_args`` names an argument ``inner_factory`` does not
            take; the factory raises what ``inner_factory`` raises for its arguments
            (ConfigError, or TypeError for an unknown keyword).

    See Also:
        ``optax.inject_hyperparams`` (``optax.inject_stateful_hyperparams`` for
        stateful schedules, whose state layout this one has); in PyTorch,
        ``optimizer.param_groups[i]["lr"]`` edited between steps.
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
            dtype = _hyperparam_dtype(params) if hyperparam_dtype is None else hyperparam_dtype
            hyper = {k: jnp.asarray(_convert_floats(v, dtype)) for k, v in numeric.items()}
            sched_states = {k: f.init() for k, f in scheduled.items()}
            hyper.update({k: _convert_floats(f(sched_states[k]), dtype) for k, f in scheduled.items()})
            return InjectHyperparamsState(jnp.zeros([], jnp.int32), hyper, sched_states,
                                          run_init(hyper, params))

        def update(grads, state, params=None, **extra):
            dtype = _hyperparam_dtype(params) if hyperparam_dtype is None else hyperparam_dtype
            hyper = {k: _convert_floats(v, dtype) for k, v in state.hyperparams.items()}
            hyper.update({k: _convert_floats(f(state.hyperparams_states[k], **extra), dtype)
                          for k, f in scheduled.items()})
            sched_states = {k: f.update(state.hyperparams_states[k], **extra) for k, f in scheduled.items()}
            updates, inner_state = run_update(hyper, grads, state.inner_state, params, extra)
            return updates, InjectHyperparamsState(safe_increment(state.count), hyper, sched_states,
                                                   inner_state)

        return Transform(init, update)

    return factory
