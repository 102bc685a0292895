"""Adafactor (Shazeer & Stern, 2018): second moments stored as a row and a column vector."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxgd.core.errors import (
    check_decay,
    check_learning_rate,
    check_nonnegative,
    check_positive,
    check_positive_int,
    check_range,
)
from jaxgd.core.precision import abs_sq, upcast
from jaxgd.core.transform import ScalarOrSchedule, Transform, safe_increment, stateless
from jaxgd.optimizers.clipping import clip_by_block_rms
from jaxgd.optimizers.combine import chain
from jaxgd.optimizers.transforms import (
    add_decayed_weights,
    check_weight_decay,
    ema,
    scale,
    scale_by_learning_rate,
)

__all__ = ["scale_by_factored_rms", "scale_by_param_block_rms", "adafactor", "FactoredState"]


class FactoredState(NamedTuple):
    """State of `scale_by_factored_rms` (the fields of ``optax.FactoredState``).

    Attributes:
        count: int32 scalar, the updates applied so far.
        v_row: like params, the row statistics (a leaf's shape minus its largest axis), or a
            (1,) placeholder where the leaf is not factored.
        v_col: like params, the column statistics (minus its second-largest axis), or a
            (1,) placeholder.
        v: like params, the full second moment where a leaf is not factored, else a (1,)
            placeholder.
    """

    count: jax.Array  # int32 scalar: updates applied so far
    v_row: Any  # like params: row statistics (leaf shape minus its largest axis), or a (1,) placeholder
    v_col: Any  # like params: column statistics (minus its 2nd-largest axis), or a (1,) placeholder
    v: Any  # like params: full second moment where a leaf is not factored, else a (1,) placeholder


def _factored_dims(shape: tuple, factored: bool, min_dim_size_to_factor: int) -> tuple[int, int] | None:
    """``(d1, d0)``: the axes of the 2nd-largest and largest size, or None to keep v whole."""
    if not factored or len(shape) < 2:
        return None
    order = np.argsort(shape)
    if shape[order[-2]] < min_dim_size_to_factor:
        return None
    return int(order[-2]), int(order[-1])


def _decay_rate(step: jax.Array, exponent: Any) -> jax.Array:
    """``beta2_t = 1 - (step + 1)**(-exponent)``, computed in float32 as optax does (step >= 0)."""
    t = jnp.array(step + 1, jnp.float32)
    return 1.0 - t ** (-exponent)


def scale_by_factored_rms(
    factored: bool = True,
    decay_rate: float = 0.8,
    step_offset: int = 0,
    min_dim_size_to_factor: int = 128,
    epsilon: float = 1e-30,
    decay_rate_fn: Callable[[jax.Array, Any], jax.Array] = _decay_rate,
) -> Transform:
    """Adafactor's scaling: divide by a root-mean-square whose matrix leaves are factored.

        beta_t = 1 - max(t - step_offset, 1)**(-decay_rate)   (t = count + 1; decay_rate_fn)
        G = |g|**2 + epsilon
        factored leaf (two axes of size >= min_dim_size_to_factor; d0 largest, d1 next):
            R_t = beta_t * R_{t-1} + (1 - beta_t) * mean(G, axis=d0)     (v_row)
            C_t = beta_t * C_{t-1} + (1 - beta_t) * mean(G, axis=d1)     (v_col)
            u = g / sqrt(R_t / mean(R_t along d1)) / sqrt(C_t)           (rank-1 estimate of v)
        other leaves:
            v_t = beta_t * v_{t-1} + (1 - beta_t) * G
            u = g / sqrt(v_t)

    beta_1 = 0 (with step_offset 0), so the first step uses the first gradient alone.
    A positive ``step_offset`` (meant for a restored count) holds beta at 0 for
    the first ``step_offset + 1`` updates of a fresh state: each uses its own
    gradient alone, as the first step does. optax 0.2.8 evaluates ``(t -
    step_offset)**(-decay_rate)`` there as is: a non-positive base gives inf or
    NaN, and the NaN stays in ``v`` for good. Computed in at least float32
    (``epsilon = 1e-30`` is 0 in float16); ``v`` is kept in the params' dtype.

    Args:
        factored: factor the leaves that qualify (False keeps every ``v`` whole).
        decay_rate: the exponent of ``beta_t``, > 0 (0.8 in the paper).
        step_offset: subtracted from the step count in ``beta_t``.
        min_dim_size_to_factor: a leaf is factored when its two largest axes are
            at least this long, an int >= 1.
        epsilon: added to ``g**2``, >= 0 (1e-30).
        decay_rate_fn: ``(step, decay_rate) -> beta`` (default ``1 - (step + 1)**(-decay_rate)``,
            in float32).

    Returns:
        A Transform with a `FactoredState`: ``count`` (int32 scalar) and per leaf
        ``v_row`` (the leaf's shape without axis d0), ``v_col`` (without d1) and ``v``
        (the full shape), in the params' dtype; the parts a leaf does not use are
        (1,) placeholders. Its update needs ``params`` (ValueError without them).

    Raises:
        ConfigError: ``decay_rate`` not > 0, ``step_offset`` not finite,
            ``min_dim_size_to_factor`` not a positive int, or ``epsilon`` negative.

    References:
        Shazeer & Stern, "Adafactor: Adaptive Learning Rates with Sublinear Memory
        Cost", 2018, arXiv:1804.04235. Mirrors ``optax.scale_by_factored_rms``.
    """
    check_positive("decay_rate", decay_rate, fix="The paper uses decay_rate=0.8.")
    check_range("step_offset", step_offset, fix="Use 0 (the default).")
    check_positive_int("min_dim_size_to_factor", min_dim_size_to_factor,
                       fix="Leaves with two axes at least this long are factored (default 128).")
    check_nonnegative("epsilon", epsilon, fix="Use 1e-30 (the default).")

    def init(params):
        def leaf(p):
            shape, dtype = jnp.shape(p), jnp.result_type(p)
            placeholder = jnp.zeros((1,), dtype)
            dims = _factored_dims(shape, factored, min_dim_size_to_factor)
            if dims is None:
                return placeholder, placeholder, jnp.zeros(shape, dtype)
            d1, d0 = dims
            row = tuple(n for a, n in enumerate(shape) if a != d0)
            col = tuple(n for a, n in enumerate(shape) if a != d1)
            return jnp.zeros(row, dtype), jnp.zeros(col, dtype), placeholder

        out = jax.tree.map(leaf, params)
        pick = lambda i: jax.tree.map(lambda _, o: o[i], params, out)
        return FactoredState(count=jnp.zeros([], jnp.int32), v_row=pick(0), v_col=pick(1), v=pick(2))

    def leaf_update(g, v_row, v_col, v, p, beta):
        dtype, out_dtype = p.dtype, g.dtype
        placeholder = jnp.zeros((1,), dtype)
        g, v_row, v_col, v = (upcast(x) for x in (g, v_row, v_col, v))  # in at least float32
        G = abs_sq(g) + epsilon
        dims = _factored_dims(p.shape, factored, min_dim_size_to_factor)
        if dims is None:
            v = beta * jnp.real(v) + (1.0 - beta) * G
            return (g * v ** -0.5).astype(out_dtype), placeholder, placeholder, v.astype(dtype)
        d1, d0 = dims
        R = beta * jnp.real(v_row) + (1.0 - beta) * jnp.mean(G, axis=d0)
        C = beta * jnp.real(v_col) + (1.0 - beta) * jnp.mean(G, axis=d1)
        d1_in_R = d1 - 1 if d1 > d0 else d1  # R has lost axis d0
        row_factor = (R / jnp.mean(R, axis=d1_in_R, keepdims=True)) ** -0.5
        col_factor = C ** -0.5
        u = g * jnp.expand_dims(row_factor, axis=d0) * jnp.expand_dims(col_factor, axis=d1)
        return u.astype(out_dtype), R.astype(dtype), C.astype(dtype), placeholder

    def update(grads, state, params=None, **extra):
        del extra
        if params is None:
            raise ValueError("scale_by_factored_rms needs params: call update(grads, state, params).")
        beta = decay_rate_fn(jnp.maximum(state.count - step_offset, 0), decay_rate)
        out = jax.tree.map(lambda g, r, c, v, p: leaf_update(g, r, c, v, p, beta),
                           grads, state.v_row, state.v_col, state.v, params)
        pick = lambda i: jax.tree.map(lambda _, o: o[i], grads, out)
        new = FactoredState(count=safe_increment(state.count), v_row=pick(1), v_col=pick(2), v=pick(3))
        return pick(0), new

    return Transform(init, update)


def _param_rms(p: jax.Array, min_scale: Any) -> jax.Array:
    """``max(rms(p), min_scale)`` in optax's form: ``min_scale`` wherever rms(p) <= min_scale.

    ``rms(p) = sqrt(mean(|p|**2))``, in at least float32."""
    rms = jnp.sqrt(jnp.mean(abs_sq(upcast(p))))
    return jnp.where(rms <= min_scale, min_scale, rms)


def scale_by_param_block_rms(min_scale: float = 1e-3) -> Transform:
    """Scale each leaf's update by the leaf's root-mean-square: steps relative to its size.

        u = g * max(rms(p), min_scale)          (rms(p) = sqrt(mean(p**2)), per leaf)

    Args:
        min_scale: the floor of ``rms(p)``, >= 0 (1e-3, the paper's eps2).

    Returns:
        A stateless Transform; its update needs ``params`` (ValueError without them).

    Raises:
        ConfigError: ``min_scale`` negative or not finite.

    References:
        Shazeer & Stern, 2018, arXiv:1804.04235 (its relative step size).
        Mirrors ``optax.scale_by_param_block_rms``.
    """
    check_nonnegative("min_scale", min_scale, fix="Use 1e-3 (the default).")

    def fn(grads, params):
        if params is None:
            raise ValueError("scale_by_param_block_rms needs params: call update(grads, state, params).")
        scaled = lambda g, p: (upcast(g) * _param_rms(p, min_scale)).astype(g.dtype)
        return jax.tree.map(scaled, grads, params)

    return stateless(fn)


def adafactor(
    learning_rate: ScalarOrSchedule | None = None,
    min_dim_size_to_factor: int = 128,
    decay_rate: float = 0.8,
    decay_offset: int = 0,
    multiply_by_parameter_scale: bool = True,
    clipping_threshold: float | None = 1.0,
    momentum: float | None = None,
    dtype_momentum: Any = jnp.float32,
    weight_decay_rate: ScalarOrSchedule | None = None,
    eps: float = 1e-30,
    factored: bool = True,
    weight_decay_mask: Any = None,
) -> Transform:
    """Adafactor: Adam-like steps with a factored second moment, relative to each leaf's size.

        d = g / rms-estimate                         (scale_by_factored_rms)
        d = d / max(1, rms(d) / clipping_threshold)  (per leaf, if a threshold is given)
        d = lr_t * d                                 (if a learning rate is given)
        d = d * max(rms(p), 1e-3)                    (multiply_by_parameter_scale)
        d = (1 - momentum) * d + momentum * m        (if momentum; m kept in dtype_momentum)
        d = d + wd_t * p                             (if weight_decay_rate)
        u = -d

    In optax's order of steps. Without a learning rate the step is relative to each
    leaf's rms (the paper's "relative step size" with a constant lr of 1). The
    weight decay is added after the lr, so it is NOT multiplied by it (as in optax).
    Memory: a (n, k) leaf with n, k >= min_dim_size_to_factor keeps n + k numbers.

    Args:
        learning_rate: the step size ``lr > 0``, a schedule of the int32 step count,
            or None (no lr step).
        min_dim_size_to_factor, decay_rate, factored: as in `scale_by_factored_rms`.
        decay_offset: the ``step_offset`` of `scale_by_factored_rms`.
        multiply_by_parameter_scale: scale by ``max(rms(p), 1e-3)`` per leaf.
        clipping_threshold: per-leaf rms clip of ``d``, > 0; None for none.
        momentum: decay of an EMA of ``d``, in [0, 1); None for none.
        dtype_momentum: dtype in which the momentum is stored (float32 by default,
            also for bfloat16 params; complex64 for complex params, where optax
            0.2.8 drops the imaginary part).
        weight_decay_rate: the factor ``wd >= 0`` (or a schedule); None for none.
        eps: the ``epsilon`` added to ``g**2``, >= 0.
        weight_decay_mask: a pytree of bools like params, or a function params ->
            such a tree; only True leaves decay (None: all).

    Returns:
        The chain of the steps above; its update needs ``params``.

    Raises:
        ConfigError: ``learning_rate`` or ``clipping_threshold`` not > 0,
            ``momentum`` outside [0, 1), ``weight_decay_rate`` or ``eps`` negative,
            or a bad hyperparameter of `scale_by_factored_rms`.

    References:
        Shazeer & Stern, 2018, arXiv:1804.04235. Mirrors ``optax.adafactor``;
        PyTorch: ``torch.optim.Adafactor`` (2.5+; another form: no momentum, its own
        eps and decay conventions).
    """
    if learning_rate is not None:
        check_learning_rate(learning_rate)
    if clipping_threshold is not None:
        check_positive("clipping_threshold", clipping_threshold, fix="The paper uses 1.0.")
    if momentum is not None:
        check_decay("momentum", momentum)
    if weight_decay_rate is not None:
        check_weight_decay(weight_decay_rate, "weight_decay_rate")
    check_range("decay_offset", decay_offset, fix="Use 0 (the default).")
    check_nonnegative("eps", eps, fix="Use 1e-30 (the default).")
    txs = [scale_by_factored_rms(factored, decay_rate, decay_offset, min_dim_size_to_factor, eps)]
    if clipping_threshold is not None:
        txs.append(clip_by_block_rms(clipping_threshold))
    if learning_rate is not None:
        txs.append(scale_by_learning_rate(learning_rate, flip_sign=False))
    if multiply_by_parameter_scale:
        txs.append(scale_by_param_block_rms())
    if momentum is not None:
        txs.append(ema(momentum, debias=False, accumulator_dtype=dtype_momentum))
    if weight_decay_rate is not None:
        txs.append(add_decayed_weights(weight_decay_rate, mask=weight_decay_mask))
    txs.append(scale(-1))
    return chain(*txs)

