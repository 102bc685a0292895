"""Gradient noise: per-example gradients and the simple noise scale."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxgd.core.errors import DataError
from jaxgd.core.tree import tree_sum_of_squares

__all__ = ["per_example_grads", "gradient_noise_scale", "NoiseScale"]


class NoiseScale(NamedTuple):
    """What `gradient_noise_scale` measured (float scalars).

    Attributes:
        b_simple: ``tr(Sigma) / |G|^2``, the simple noise scale (a batch size).
        trace_cov: ``tr(Sigma)``, the unbiased estimate of the per-example covariance's trace.
        grad_sq_norm: ``|G|^2`` as used in ``b_simple``.
    """

    b_simple: jax.Array  # float scalar
    trace_cov: jax.Array  # float scalar
    grad_sq_norm: jax.Array  # float scalar


def _check_batch(x: Any, y: Any) -> int:
    n = jnp.shape(x)[0] if jnp.ndim(x) else 0
    if jnp.ndim(x) == 0 or jnp.ndim(y) == 0 or jnp.shape(y)[0] != n:
        raise DataError(f"x has shape {jnp.shape(x)} and y {jnp.shape(y)}; both need the same leading "
                        "(example) axis, e.g. x (n, d) and y (n,) or (n, k).")
    return n


def per_example_grads(loss_fn: Callable[..., jax.Array], params: Any, x: jax.Array, y: jax.Array) -> Any:
    """The gradient of the loss of each example on its own, by ``vmap`` of ``jax.grad``.

        g_i = grad_params loss_fn(params, x[i:i+1], y[i:i+1]),   i = 0 .. n-1

    ``loss_fn`` is a batch loss (mean over its batch, as `jaxgd.nn.make_loss_fn` gives);
    it is called on batches of one example, so ``mean_i g_i`` is the batch gradient.

    Args:
        loss_fn: ``loss_fn(params, x, y) -> scalar``.
        params: a pytree of float arrays.
        x: inputs, shape ``(n, ...)``.
        y: targets, shape ``(n, ...)``.

    Returns:
        A pytree like params whose leaves have a leading axis of size n: leaf shape
        ``(n, *leaf.shape)``, the params' dtypes.

    Raises:
        DataError: ``x`` and ``y`` are scalars or their leading axes differ.

    References:
        Goodfellow, "Efficient Per-Example Gradient Computations", 2015, arXiv:1510.01799
        (the same quantity; here by vectorising autodiff instead).
    """
    _check_batch(x, y)
    one = lambda xi, yi: jax.grad(loss_fn)(params, xi[None], yi[None])
    return jax.vmap(one)(x, y)


def gradient_noise_scale(
    loss_fn: Callable[..., jax.Array], params: Any, x: jax.Array, y: jax.Array, *, debias: bool = False
) -> NoiseScale:
    """The simple gradient noise scale ``B_simple = tr(Sigma) / |G|^2`` from per-example gradients.

        G_hat = (1/n) sum_i g_i                         (the batch gradient)
        tr(Sigma) = (1/(n-1)) sum_i ||g_i - G_hat||^2    (unbiased: Bessel's n-1)
        |G|^2 = ||G_hat||^2                              (plug-in, the default)
        |G|^2 = ||G_hat||^2 - tr(Sigma)/n                (debias=True: unbiased)
        B_simple = tr(Sigma) / |G|^2

    ``Sigma`` is the covariance of one example's gradient. With ``debias=True`` both
    numbers are exactly McCandlish et al.'s two-batch-size estimators (appendix A) with
    the small batch of size 1 and the big batch of size n; the plug-in ``|G|^2`` is
    biased up by ``tr(Sigma)/n``, so it gives a smaller, never negative ``B_simple``.
    The critical batch size is about ``B_simple``: batches well above it waste compute.

    Args:
        loss_fn: ``loss_fn(params, x, y) -> scalar``, a mean over the batch.
        params: a pytree of float arrays.
        x: inputs, shape ``(n, ...)``, n >= 2.
        y: targets, shape ``(n, ...)``.
        debias: subtract ``tr(Sigma)/n`` from ``||G_hat||^2`` (may make it <= 0 when the
            noise dominates; B_simple is then inf or negative).

    Returns:
        A `NoiseScale` of float scalars (``b_simple``, ``trace_cov``, ``grad_sq_norm``).

    Raises:
        DataError: fewer than 2 examples, or x and y with different leading axes.

    References:
        McCandlish, Kaplan, Amodei & OpenAI Dota Team, "An Empirical Model of
        Large-Batch Training", 2018, arXiv:1812.06162 (section 2.2, appendix A).
    """
    n = _check_batch(x, y)
    if n < 2:
        raise DataError(f"x has {n} example(s); the gradient noise scale needs n >= 2 to estimate a "
                        "covariance. Pass a larger batch (a few hundred examples is typical).")
    grads = per_example_grads(loss_fn, params, x, y)
    mean = jax.tree.map(lambda g: jnp.mean(g, axis=0), grads)
    trace_cov = tree_sum_of_squares(jax.tree.map(lambda g, m: g - m[None], grads, mean)) / (n - 1)
    grad_sq = tree_sum_of_squares(mean) - trace_cov / n if debias else tree_sum_of_squares(mean)
    return NoiseScale(b_simple=trace_cov / grad_sq, trace_cov=trace_cov, grad_sq_norm=grad_sq)
