"""The loss landscape along lines: interpolation between two points, the learning-rate range test."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxgd.core.errors import ConfigError, DataError, check_positive, check_positive_int, check_transform
from jaxgd.core.transform import apply_updates

__all__ = ["interpolate_loss", "lr_range_test", "LRRangeResult"]


def interpolate_loss(
    loss_fn: Callable[..., jax.Array], params_a: Any, params_b: Any, *args: Any, num: int = 25
) -> tuple[jax.Array, jax.Array]:
    """The loss along the segment from ``params_a`` to ``params_b``.

        theta(alpha) = (1 - alpha) a + alpha b,    alpha = 0, 1/(num-1), ..., 1

    All ``num`` points are evaluated in one ``vmap``. A monotone, bump-free curve from an
    initialisation to a trained solution is Goodfellow et al.'s observation; a bump
    between two solutions is a barrier between their basins.

    Args:
        loss_fn: ``loss_fn(params, *args) -> scalar``.
        params_a: a pytree of float arrays (alpha = 0).
        params_b: a pytree like ``params_a`` (alpha = 1).
        *args: passed to ``loss_fn`` after params.
        num: the number of points, a Python int >= 2.

    Returns:
        ``(alphas, losses)``, both shape ``(num,)``; alphas float32 (float64 under x64),
        losses in the loss's dtype.

    Raises:
        ConfigError: ``num`` < 2, or the two trees differ in structure.

    References:
        Goodfellow, Vinyals & Saxe, "Qualitatively Characterizing Neural Network
        Optimization Problems", ICLR 2015, arXiv:1412.6544.
    """
    num = check_positive_int("num", num)
    if num < 2:
        raise ConfigError(f"num={num} gives no segment; pass num >= 2 (25 is the default).")
    if jax.tree.structure(params_a) != jax.tree.structure(params_b):
        raise ConfigError(f"params_a has tree structure {jax.tree.structure(params_a)}, params_b has "
                          f"{jax.tree.structure(params_b)}; pass two points of the same model.")
    alphas = jnp.linspace(0.0, 1.0, num)

    def at(alpha):
        point = jax.tree.map(lambda a, b: ((1 - alpha) * a + alpha * b).astype(a.dtype), params_a, params_b)
        return loss_fn(point, *args)

    return alphas, jax.vmap(at)(alphas)


class LRRangeResult(NamedTuple):
    """What `lr_range_test` returns.

    Attributes:
        lrs: ``(steps,)`` float32, the learning rate of each step.
        losses: ``(steps,)`` float, the batch loss before each step's update.
        smoothed: ``(steps,)`` float, the debiased moving average of the losses.
        suggested_lr: float32 scalar, in ``[min_lr, max_lr]`` (see `lr_range_test`).
    """

    lrs: jax.Array
    losses: jax.Array
    smoothed: jax.Array
    suggested_lr: jax.Array


def _suggest(lrs: jax.Array, smoothed: jax.Array) -> jax.Array:
    """A tenth of the lr where the smoothed loss is least, before it first exceeds 4x its running minimum."""
    finite = jnp.isfinite(smoothed)
    running_min = jax.lax.cummin(jnp.where(finite, smoothed, jnp.inf))
    diverged = jnp.cumsum(~finite | (smoothed > 4 * running_min)) > 0
    best = jnp.argmin(jnp.where(diverged, jnp.inf, smoothed))
    return jnp.maximum(lrs[best] / 10, lrs[0])


def lr_range_test(
    loss_fn: Callable[..., jax.Array],
    params: Any,
    tx_factory: Callable[..., Any],
    x: jax.Array,
    y: jax.Array,
    batch_size: int,
    min_lr: float,
    max_lr: float,
    steps: int,
    key: jax.Array,
    smoothing: float = 0.9,
) -> LRRangeResult:
    """One short run whose learning rate grows exponentially from ``min_lr`` to ``max_lr``.

        lr_t = min_lr * (max_lr / min_lr) ** (t / (steps - 1)),     t = 0 .. steps-1
        s_t = (beta s_{t-1} + (1 - beta) loss_t) / (1 - beta**(t+1))    (beta = smoothing)

    Each step draws a batch of ``batch_size`` examples without replacement (a fresh
    draw each step) and applies ``tx_factory(schedule)``, the learning rate given as a
    schedule of the step count, so the optimizer's own state (momentum, moments) is
    carried along the ramp. The whole run is one ``lax.scan``.

    Suggestion rule: the run counts as diverged from the first step where ``s_t`` is not
    finite or exceeds 4x its minimum so far; among the steps before that, take the
    ``lr_t`` where ``s`` is least and suggest a tenth of it, but at least ``min_lr``.
    So it lies in ``[min_lr, max_lr / 10]``. (The lr of the steepest fall of ``s`` is
    the other common rule; on short, noisy runs it tracks batch noise, so it is not
    used.) Either is a rule of thumb to start a search from, not a tuned rate.

    Args:
        loss_fn: ``loss_fn(params, x, y) -> scalar``, the batch loss.
        params: the starting parameters, a pytree of float arrays.
        tx_factory: ``learning_rate -> Transform`` accepting a schedule, e.g.
            ``jaxgd.optimizers.sgd`` or ``lambda lr: jaxgd.optimizers.adam(lr, b1=0.8)``.
        x: inputs, shape ``(n, ...)``; y: targets, shape ``(n, ...)``.
        batch_size: a Python int in [1, n].
        min_lr, max_lr: the ends of the ramp, 0 < min_lr < max_lr.
        steps: the number of steps, a Python int >= 2.
        key: a PRNG key for the batches.
        smoothing: the moving-average factor beta in [0, 1) (its memory, about
            ``1 / (1 - beta)`` steps, should be well below ``steps``).

    Returns:
        An `LRRangeResult` (lrs, losses, smoothed: ``(steps,)``; suggested_lr: scalar).

    Raises:
        ConfigError: a bad ``batch_size``, ``steps``, ``min_lr``, ``max_lr``, ``smoothing``
            or ``tx_factory``. DataError: x and y with different leading axes.

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
        arXiv:1506.01186 (the range test, there with a linear ramp); the exponential
        ramp and smoothed-loss rule follow Smith's later practice and the fastai library.
    """
    steps = check_positive_int("steps", steps, fix="100 to 300 is typical.")
    if steps < 2:
        raise ConfigError(f"steps={steps} is too few for a ramp; pass steps >= 2 (100 is typical).")
    check_positive("min_lr", min_lr)
    check_positive("max_lr", max_lr)
    if not (isinstance(min_lr, int | float) and isinstance(max_lr, int | float)) or min_lr >= max_lr:
        raise ConfigError(f"min_lr={min_lr!r}, max_lr={max_lr!r}: pass two Python floats with "
                          "0 < min_lr < max_lr, e.g. min_lr=1e-5, max_lr=10.0.")
    if not (isinstance(smoothing, int | float) and 0 <= smoothing < 1):
        raise ConfigError(f"smoothing={smoothing!r} is outside [0, 1); 0.9 is the default, 0 turns it off.")
    n = jnp.shape(x)[0] if jnp.ndim(x) else 0
    if jnp.ndim(y) == 0 or jnp.shape(y)[0] != n:
        raise DataError(f"x has shape {jnp.shape(x)} and y {jnp.shape(y)}; both need the same leading "
                        "(example) axis.")
    batch_size = check_positive_int("batch_size", batch_size)
    if batch_size > n:
        raise ConfigError(f"batch_size={batch_size} exceeds the {n} examples; pass at most {n}.")

    log_ratio = math.log(max_lr / min_lr)
    schedule = lambda count: min_lr * jnp.exp(log_ratio * jnp.asarray(count, jnp.float32) / (steps - 1))
    tx = check_transform("tx_factory(schedule)", tx_factory(schedule))

    def step(carry, k):
        p, state = carry
        idx = jax.random.permutation(k, n)[:batch_size]
        loss, grads = jax.value_and_grad(loss_fn)(p, x[idx], y[idx])
        updates, state = tx.update(grads, state, p)
        return (apply_updates(p, updates), state), loss

    _, losses = jax.lax.scan(step, (params, tx.init(params)), jax.random.split(key, steps))
    lrs = schedule(jnp.arange(steps))

    def ema(avg, loss):
        avg = smoothing * avg + (1 - smoothing) * loss
        return avg, avg

    _, raw = jax.lax.scan(ema, jnp.zeros([], losses.dtype), losses)
    smoothed = raw / (1 - smoothing ** jnp.arange(1, steps + 1, dtype=losses.dtype))
    return LRRangeResult(lrs=lrs, losses=losses, smoothed=smoothed, suggested_lr=_suggest(lrs, smoothed))
