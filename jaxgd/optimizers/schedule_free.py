"""Schedule-Free learning (Defazio et al., 2024): no learning-rate decay, an average to evaluate.

Three sequences from one start ``x_1 = y_1 = z_1``: the gradient is taken at ``y``, the
base rule steps ``z``, and ``x`` (the point to evaluate, test and save) is a weighted
average of the ``z``:

    y_t     = (1 - b1) z_t + b1 x_t
    z_{t+1} = z_t + base(g(y_t))                 (SGD: - lr_t g; AdamW: - lr_t (adam dir + wd y_t))
    x_{t+1} = (1 - c_{t+1}) x_t + c_{t+1} z_{t+1},  c_{t+1} = w_t / sum_{i<=t} w_i,
    w_t     = (max_{i<=t} lr_i) ** weight_lr_power

The params a schedule-free rule is given and returns are ``y``; ``x`` is recomputed from
``y`` and ``z`` when needed (``x = (y - (1 - b1) z) / b1``), so the state holds ``z`` only,
as optax's does. `schedule_free_eval_params` (and `jaxgd.core.transform.eval_params`,
which the training engine calls) gives ``x``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxgd.core.errors import ConfigError, check_decay, check_learning_rate, check_nonnegative, check_range
from jaxgd.core.precision import compute_dtype, hyper, refuse_complex, tree_upcast, upcast
from jaxgd.core.transform import ScalarOrSchedule, Transform, register_eval_params, safe_increment
from jaxgd.optimizers.combine import chain
from jaxgd.optimizers.rms import scale_by_rms
from jaxgd.optimizers.sgd import sgd
from jaxgd.optimizers.transforms import add_decayed_weights, check_weight_decay, scale_by_learning_rate

__all__ = ["ScheduleFreeState", "schedule_free", "schedule_free_adamw", "schedule_free_eval_params",
           "schedule_free_sgd"]


class ScheduleFreeState(NamedTuple):
    """State of `schedule_free` (the fields of ``optax.contrib.ScheduleFreeState``).

    The scalars are kept in at least float32 (optax: in the params' lowest dtype, where
    ``lr**2`` of a small lr underflows in float16).

    Attributes:
        b1: scalar, the interpolation ``b1`` (read by `schedule_free_eval_params`).
        weight_sum: scalar, ``sum_{i<=t} w_i``.
        step_count: int32 scalar, the number ``t`` of the next step, from 1.
        max_lr: scalar, ``max_{i<=t} lr_i``.
        base_optimizer_state: the base rule's state.
        z: like params (in ``state_dtype``), the base rule's iterate.
    """

    b1: jax.Array
    weight_sum: jax.Array
    step_count: jax.Array
    max_lr: jax.Array
    base_optimizer_state: Any
    z: Any


def _scalar_dtype(params: Any):
    """At least float32, else the lowest float dtype among the params."""
    dtypes = [jnp.result_type(x) for x in jax.tree.leaves(params)]
    return compute_dtype(min(dtypes, key=lambda d: d.itemsize) if dtypes else jnp.float32)


def _x_from(y: Any, z: Any, b1: Any) -> Any:
    """``x = (y - (1 - b1) z) / b1``, computed as ``z + (y - z) / b1`` (exactly ``z`` when ``y = z``),
    per leaf in at least float32."""
    return jax.tree.map(lambda y, z: z + (y - z) / hyper(b1, y), *tree_upcast((y, z)))


def schedule_free_eval_params(state: ScheduleFreeState, params: Any) -> Any:
    """The point to evaluate a schedule-free run at: ``x = (y - (1 - b1) z) / b1``.

    Args:
        state: a `ScheduleFreeState` (``b1`` and ``z``).
        params: ``y``, the params the rule steps at.

    Returns:
        ``x``, like ``params`` (same structure and dtypes).

    See Also:
        ``optax.contrib.schedule_free_eval_params``; `jaxgd.core.transform.eval_params`
        finds the state inside any optimizer state.
    """
    x = _x_from(params, state.z, state.b1)
    return jax.tree.map(lambda x, p: x.astype(jnp.result_type(p)), x, params)


register_eval_params(ScheduleFreeState, schedule_free_eval_params)


def _check(learning_rate, b1, weight_lr_power, state_dtype) -> None:
    check_learning_rate(learning_rate)
    check_range("b1", b1, low=0.0, high=1.0, low_open=True, high_open=True,
                fix="b1 = 0 leaves no average to recover (x = (y - (1 - b1) z) / b1); "
                    "the paper's and optax's default is 0.9 (0.95 or 0.98 also work).")
    check_nonnegative("weight_lr_power", weight_lr_power,
                      fix="Use 2 (the paper's lr**2 weights) or 0 (a plain average).")
    if state_dtype is not None:
        try:
            ok = jnp.issubdtype(jnp.dtype(state_dtype), jnp.floating)
        except TypeError:
            ok = False
        if not ok:
            raise ConfigError(f"state_dtype={state_dtype!r} is not a real float dtype; accepted: None "
                              "(the params' dtype) or one of float16, bfloat16, float32, float64.")


def _warmup(learning_rate: Any, warmup_steps: Any) -> Any:
    """``learning_rate`` behind optax's linear warmup from 0 over ``warmup_steps`` steps."""
    if warmup_steps is None:
        return learning_rate
    if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, int) or warmup_steps < 1:
        raise ConfigError(f"warmup_steps={warmup_steps!r} must be a positive integer or None; accepted: "
                          "1, 2, 3, ... (warmup_steps=0 holds lr at 0 in optax). Use None for no warmup.")
    if callable(learning_rate):
        raise ConfigError(f"learning_rate={learning_rate!r} is a schedule and warmup_steps={warmup_steps} "
                          "is given; accepted: a float with warmup_steps. Put the warmup in your "
                          "schedule (warmup_constant_schedule) and leave warmup_steps=None.")
    return lambda count: learning_rate * (jnp.minimum(count, warmup_steps) / warmup_steps)


def schedule_free(
    base_optimizer: Transform,
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    weight_lr_power: float = 2.0,
    state_dtype: Any = None,
) -> Transform:
    """Make ``base_optimizer`` (without momentum) schedule-free: step ``z``, average into ``x``.

    Per step ``t`` (``t = 1, 2, ...``; params ``y_t``, state ``z_t``):

        x_t     = (y_t - (1 - b1) z_t) / b1
        z_{t+1} = z_t + base(g_t, y_t)
        w_t     = (max_{i<=t} lr(i)) ** weight_lr_power
        c_{t+1} = w_t / sum_{i<=t} w_i                  (0 while the sum is 0)
        x_{t+1} = (1 - c_{t+1}) x_t + c_{t+1} z_{t+1}
        y_{t+1} = b1 x_{t+1} + (1 - b1) z_{t+1}
        u_t     = y_{t+1} - y_t

    As in optax the weights read a schedule at ``t`` (the step's number from 1) while
    the base rule reads its own count, ``t - 1``: with a warmup from 0 the first step
    of ``z`` is 0 and the weights run one step ahead (the paper: ``lr_t`` for both).
    Neither ``x`` nor ``y_{t+1}`` is formed: substituting ``y_t - z_t = b1 (x_t - z_t)``,
    the lines give ``u_t = (1 - b1 (1 - c_{t+1})) (z_{t+1} - z_t) - c_{t+1} (y_t - z_t)``,
    a combination of two small differences (optax forms ``x`` and ``y_{t+1}`` and
    subtracts ``y_t``, which rounds at the scale of the params, not of the update).

    Args:
        base_optimizer: the rule that steps ``z`` (its update carries the learning rate
            and the minus sign); its momentum should be off.
        learning_rate: lr of the weights, a float > 0 or a schedule of the step count.
        b1: interpolation between ``x`` and ``z``, in (0, 1) (the paper's beta, 0.9).
        weight_lr_power: ``r >= 0`` in ``w_t = lr_max**r`` (2: the paper's; 0: a plain average).
        state_dtype: dtype ``z`` is kept in (None: the params').

    Returns:
        A Transform with a `ScheduleFreeState`; its update() needs ``params`` (``y``).

    Raises:
        ConfigError: ``learning_rate`` not > 0, ``b1`` outside (0, 1), ``weight_lr_power``
            negative, ``state_dtype`` not a real float dtype.
        UnsupportedDtypeError: from init()/update(), complex params.
        ValueError: from update(), when ``params`` is not given.

    References:
        Defazio, Yang, Mehta, Mishchenko, Khaled & Cutkosky, "The Road Less Scheduled",
        NeurIPS 2024, arXiv:2405.15682, eq. (1)-(3) and Section 3's lr-weighted average.
        Mirrors ``optax.contrib.schedule_free``.
    """
    _check(learning_rate, b1, weight_lr_power, state_dtype)

    def refuse(tree):
        refuse_complex("schedule_free", tree, "its weights compare learning rates with max(.)",
                       "Use sgd or adam.")

    def init(params):
        refuse(params)
        dt = _scalar_dtype(params)
        z = jax.tree.map(lambda p: jnp.array(p, dtype=state_dtype, copy=True), params)
        return ScheduleFreeState(b1=jnp.asarray(b1, dt), weight_sum=jnp.zeros([], dt),
                                 step_count=jnp.ones([], jnp.int32), max_lr=jnp.zeros([], dt),
                                 base_optimizer_state=base_optimizer.init(params), z=z)

    def update(grads, state, params=None, **extra):
        if params is None:
            raise ValueError("schedule_free: update() needs params (y, from which x is recovered).")
        refuse(grads)
        t = state.step_count
        lr = learning_rate(t) if callable(learning_rate) else learning_rate
        max_lr = jnp.maximum(state.max_lr, jnp.asarray(lr, state.max_lr.dtype))
        weight = max_lr ** weight_lr_power
        weight_sum = state.weight_sum + weight
        c = jnp.where(weight_sum == 0, jnp.zeros_like(weight), weight / weight_sum)
        base_u, base_state = base_optimizer.update(grads, state.base_optimizer_state, params, **extra)
        z_new = jax.tree.map(lambda z, u: (upcast(z) + upcast(u)).astype(jnp.result_type(z)), state.z, base_u)
        # the lines above, with y_t - z_t = b1 (x_t - z_t), in one well-conditioned line:
        # u_t = (1 - b1 (1 - c)) (z_{t+1} - z_t) - c (y_t - z_t)
        y, z, z_next = tree_upcast((params, state.z, z_new))
        u = jax.tree.map(lambda y, z, zn, p: ((1 - hyper(b1, y) * (1 - hyper(c, y))) * (zn - z)
                                              - hyper(c, y) * (y - z)).astype(jnp.result_type(p)),
                         y, z, z_next, params)
        return u, ScheduleFreeState(b1=state.b1, weight_sum=weight_sum, step_count=safe_increment(t),
                                    max_lr=max_lr, base_optimizer_state=base_state, z=z_new)

    return Transform(init, update)


def schedule_free_sgd(
    learning_rate: float = 1.0,
    warmup_steps: int | None = None,
    b1: float = 0.9,
    weight_decay: float | None = None,
    weight_lr_power: float = 2.0,
    state_dtype: Any = None,
) -> Transform:
    """Schedule-Free SGD: ``z`` takes plain SGD steps at ``y``, ``x`` averages them.

        lr_t    = lr min(1, (t - 1) / warmup_steps)     (warmup_steps given; lr otherwise)
        z_{t+1} = z_t - lr_t (g_t + wd y_t)
        x, y as in `schedule_free`

    Args:
        learning_rate: lr > 0 (optax's default 1.0), or a schedule when ``warmup_steps`` is None.
        warmup_steps: None, or the length W >= 1 of a linear warmup from 0 (optax's
            ``warmup_constant_schedule(0, lr, W)``, read at the count from 0).
        b1: in (0, 1), default 0.9.
        weight_decay: None (no decay) or ``wd >= 0``, added to the gradient at ``y`` (coupled).
        weight_lr_power, state_dtype: as in `schedule_free`.

    Returns:
        ``schedule_free(chain(add_decayed_weights(wd), sgd(lr_t)), lr_t, ...)``.

    Raises:
        ConfigError: a bad argument (see `schedule_free`), ``warmup_steps`` not an int >= 1,
            a schedule together with ``warmup_steps``, ``weight_decay`` negative.

    References:
        Defazio et al., "The Road Less Scheduled", arXiv:2405.15682, 2024.
        Mirrors ``optax.contrib.schedule_free_sgd``.
    """
    _check(learning_rate, b1, weight_lr_power, state_dtype)
    lr = _warmup(learning_rate, warmup_steps)
    base = sgd(lr)
    if weight_decay is not None:
        base = chain(add_decayed_weights(check_weight_decay(weight_decay)), base)
    return schedule_free(base, lr, b1, weight_lr_power, state_dtype)


def schedule_free_adamw(
    learning_rate: float = 0.0025,
    warmup_steps: int | None = None,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    weight_lr_power: float = 2.0,
    state_dtype: Any = None,
) -> Transform:
    """Schedule-Free AdamW: ``z`` takes AdamW steps without momentum at ``y``, ``x`` averages them.

        v_t     = b2 v_{t-1} + (1 - b2) g_t**2,     v_hat = v_t / (1 - b2**t)
        z_{t+1} = z_t - lr_t (g_t / (sqrt(v_hat) + eps) + wd y_t)
        x, y as in `schedule_free` (lr_t as in `schedule_free_sgd`)

    The paper's Algorithm 1 puts Adam's bias correction into the learning rate,
    ``lr_t = lr sqrt(1 - b2**t)`` with ``g / (sqrt(v_t) + eps)``, so its averaging
    weights ``lr_t**2`` grow with ``1 - b2**t``; optax (and jaxgd) correct ``v`` and
    weight by ``lr`` alone: with no warmup, ``x`` is the plain average of the ``z``.

    Args:
        learning_rate: lr > 0 (optax's default 0.0025), or a schedule when ``warmup_steps`` is None.
        warmup_steps: as in `schedule_free_sgd`.
        b1: in (0, 1), default 0.9 (the interpolation; Adam's first moment is off).
        b2: decay of ``v`` in [0, 1), default 0.999.
        eps: ``>= 0``, added to ``sqrt(v_hat)``.
        weight_decay: decoupled decay ``wd >= 0`` on ``y`` (times lr_t).
        weight_lr_power, state_dtype: as in `schedule_free`.

    Returns:
        ``schedule_free(chain(scale_by_rms(b2, eps, eps_in_sqrt=False,
        bias_correction=True), add_decayed_weights(wd), scale_by_learning_rate(lr_t)), lr_t, ...)``.

    Raises:
        ConfigError: a bad argument (see `schedule_free` and `schedule_free_sgd`), ``b2``
            outside [0, 1), ``eps`` or ``weight_decay`` negative.

    References:
        Defazio et al., "The Road Less Scheduled", arXiv:2405.15682, 2024, Algorithm 1.
        Mirrors ``optax.contrib.schedule_free_adamw``.
    """
    _check(learning_rate, b1, weight_lr_power, state_dtype)
    check_decay("b2", b2)
    check_nonnegative("eps", eps, fix="Use a small value such as 1e-8 (optax's).")
    lr = _warmup(learning_rate, warmup_steps)
    base = chain(scale_by_rms(b2, eps, eps_in_sqrt=False, bias_correction=True),
                 add_decayed_weights(check_weight_decay(weight_decay)), scale_by_learning_rate(lr))
    return schedule_free(base, lr, b1, weight_lr_power, state_dtype)
