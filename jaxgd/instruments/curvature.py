"""Curvature of the loss: Hessian-vector products, sharpness, Hessian trace.

Every function takes ``loss_fn(params, *args) -> scalar`` and never forms the Hessian:
each only needs products ``H v``, computed by forward-over-reverse differentiation in
the cost of about two gradients. All are pure, and jit- and vmap-able (``iters`` and
``probes`` are static Python ints; ``key`` and the arrays may be traced).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jaxgd.core.errors import ConfigError, check_positive_int

__all__ = ["hvp", "top_hessian_eigenvalue", "hessian_trace", "preconditioned_sharpness"]

LossFn = Callable[..., jax.Array]


def hvp(loss_fn: LossFn, params: Any, v: Any, *args: Any) -> Any:
    """The Hessian-vector product ``H v`` of ``loss_fn`` at ``params``.

        H v = d/dt grad L(params + t v) at t = 0

    computed as ``jax.jvp`` of ``jax.grad`` (forward over reverse): no Hessian is formed.

    Args:
        loss_fn: ``loss_fn(params, *args) -> scalar``, twice differentiable in params.
        params: a pytree of float arrays, the point where H is taken.
        v: a pytree with the structure, shapes and dtypes of ``params``.
        *args: passed to ``loss_fn`` after params (e.g. ``x``, ``y``).

    Returns:
        ``H v``, a pytree like ``params`` (same dtypes).

    Raises:
        ConfigError: ``v`` does not have the tree structure of ``params``.

    References:
        Pearlmutter, "Fast Exact Multiplication by the Hessian", Neural Computation, 1994.
    """
    if jax.tree.structure(v) != jax.tree.structure(params):
        raise ConfigError(f"v has tree structure {jax.tree.structure(v)}, params has "
                          f"{jax.tree.structure(params)}; pass a v shaped like params "
                          "(e.g. jax.tree.map(jnp.ones_like, params)).")
    grad_fn = lambda p: jax.grad(loss_fn)(p, *args)
    return jax.jvp(grad_fn, (params,), (v,))[1]


def _vdot(a: Any, b: Any) -> jax.Array:
    """Sum over leaves of the inner products <a, b> (real part), a float scalar."""
    parts = jax.tree.leaves(jax.tree.map(lambda x, y: jnp.real(jnp.vdot(x, y)), a, b))
    return sum(parts, jnp.zeros([], parts[0].dtype if parts else jnp.float32))


def _normalize(v: Any) -> Any:
    """``v / ||v||`` (``v`` unchanged if it is zero)."""
    norm = jnp.sqrt(_vdot(v, v))
    safe = jnp.where(norm > 0, norm, 1)
    return jax.tree.map(lambda x: x / safe.astype(x.dtype), v)


def _random_like(key: jax.Array, params: Any, rademacher: bool = False) -> Any:
    """A pytree like params with i.i.d. N(0, 1) (or Rademacher +-1) entries."""
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(key, max(len(leaves), 1))
    draw = jax.random.rademacher if rademacher else jax.random.normal
    out = [draw(k, x.shape, x.dtype) for k, x in zip(keys, leaves, strict=False)]
    return jax.tree.unflatten(treedef, out)


def _power_iteration(matvec: Callable[[Any], Any], v0: Any, iters: int) -> tuple[jax.Array, Any]:
    """``iters`` steps of v <- A v / ||A v||; returns (Rayleigh quotient v.A v, v)."""
    v = jax.lax.fori_loop(0, iters, lambda _, v: _normalize(matvec(v)), _normalize(v0))
    return _vdot(v, matvec(v)), v


def top_hessian_eigenvalue(
    loss_fn: LossFn, params: Any, *args: Any, key: jax.Array, iters: int = 20
) -> tuple[jax.Array, Any]:
    """The sharpness: the Hessian's eigenvalue of largest magnitude, by power iteration.

        v_0 ~ N(0, I),   v_{k+1} = H v_k / ||H v_k||,   lambda = v_K . H v_K

    Power iteration converges to the eigenvalue of largest |lambda| (at a rate set by
    the ratio of the two largest |lambda|); during training that is the top, positive
    one the edge-of-stability literature calls the sharpness (stable gradient descent
    needs it below ``2 / lr``). Raise ``iters`` where the spectrum has no gap.

    Args:
        loss_fn: ``loss_fn(params, *args) -> scalar``.
        params: a pytree of float arrays.
        *args: passed to ``loss_fn`` after params.
        key: a PRNG key for the starting vector (keyword only).
        iters: the number of power steps, a Python int >= 1 (one HVP each, plus one).

    Returns:
        ``(eigenvalue, eigenvector)``: a scalar of the params' (promoted) float dtype
        and a unit-norm pytree like ``params``.

    Raises:
        ConfigError: ``iters`` is not a positive int.

    References:
        Cohen, Kaur, Li, Kolter & Talwalkar, "Gradient Descent on Neural Networks
        Typically Occurs at the Edge of Stability", ICLR 2021, arXiv:2103.00065.
        Power iteration: von Mises & Pollaczek-Geiringer, 1929.
    """
    iters = check_positive_int("iters", iters, fix="20 is usually enough; 100 for a small gap.")
    return _power_iteration(lambda v: hvp(loss_fn, params, v, *args), _random_like(key, params), iters)


def hessian_trace(loss_fn: LossFn, params: Any, *args: Any, key: jax.Array, probes: int = 100) -> jax.Array:
    """Hutchinson's estimate of ``tr(H)`` from Rademacher probes.

        tr(H) ~ (1 / m) sum_i z_i . H z_i,    z_i with i.i.d. +-1 entries,  m = probes

    Unbiased; its variance is ``2 (||H||_F^2 - sum_j H_jj^2) / m``, so the error falls
    as ``1 / sqrt(m)``. The probes are mapped with ``vmap`` (m HVPs in one program).

    Args:
        loss_fn: ``loss_fn(params, *args) -> scalar``.
        params: a pytree of float arrays.
        *args: passed to ``loss_fn`` after params.
        key: a PRNG key for the probes (keyword only).
        probes: the number m of probe vectors, a Python int >= 1.

    Returns:
        The estimate, a float scalar.

    Raises:
        ConfigError: ``probes`` is not a positive int.

    References:
        Hutchinson, "A Stochastic Estimator of the Trace of the Influence Matrix for
        Laplacian Smoothing Splines", Communications in Statistics, 1989.
    """
    probes = check_positive_int("probes", probes, fix="Use 100 or more for a few percent accuracy.")

    def one(k):
        z = _random_like(k, params, rademacher=True)
        return _vdot(z, hvp(loss_fn, params, z, *args))

    return jnp.mean(jax.vmap(one)(jax.random.split(key, probes)))


def preconditioned_sharpness(
    loss_fn: LossFn, params: Any, *args: Any, precond: Any, key: jax.Array, iters: int = 20
) -> tuple[jax.Array, Any]:
    """The top eigenvalue of ``P^-1 H`` for a diagonal preconditioner ``P``.

    ``P^-1 H`` is similar to the symmetric ``P^-1/2 H P^-1/2``; power iteration runs on
    the latter and the eigenvector is mapped back:

        w_{k+1} = P^-1/2 H P^-1/2 w_k / ||.||,   lambda = w_K . P^-1/2 H P^-1/2 w_K,
        v = P^-1/2 w_K / ||P^-1/2 w_K||   (P^-1 H v = lambda v)

    For a preconditioned method ``p <- p - lr P^-1 g`` (RMSprop, Adam) this is the
    quantity that hovers at the method's stability threshold (Cohen et al. 2022):
    ``2 / lr`` for RMSprop with `rmsprop_preconditioner`, ``(2 + 2 b1) / ((1 - b1) lr)``
    (38 / lr for b1 = 0.9) for Adam with `adam_preconditioner`.

    Args:
        loss_fn: ``loss_fn(params, *args) -> scalar``.
        params: a pytree of float arrays.
        *args: passed to ``loss_fn`` after params.
        precond: the diagonal of ``P``, a pytree like params with entries > 0 (keyword
            only); see `adam_preconditioner`, `rmsprop_preconditioner`.
        key: a PRNG key for the starting vector (keyword only).
        iters: the number of power steps, a Python int >= 1.

    Returns:
        ``(eigenvalue, eigenvector)``: a float scalar and a unit-norm pytree like params.

    Raises:
        ConfigError: ``iters`` is not a positive int, or ``precond`` is not shaped like
            params.

    References:
        Cohen, Ghorbani, Krishnan, Agarwal, Medapati, Badura, Suo, Cardoze, Nado, Dahl &
        Gilmer, "Adaptive Gradient Methods at the Edge of Stability", 2022,
        arXiv:2207.14484.
    """
    iters = check_positive_int("iters", iters, fix="20 is usually enough; 100 for a small gap.")
    if jax.tree.structure(precond) != jax.tree.structure(params):
        raise ConfigError(f"precond has tree structure {jax.tree.structure(precond)}, params has "
                          f"{jax.tree.structure(params)}; pass the diagonal of P shaped like params "
                          "(e.g. adam_preconditioner(opt_state)).")
    inv_sqrt = jax.tree.map(lambda d, p: jax.lax.rsqrt(d).astype(p.dtype), precond, params)
    scale = lambda v: jax.tree.map(jnp.multiply, inv_sqrt, v)
    matvec = lambda w: scale(hvp(loss_fn, params, scale(w), *args))
    eig, w = _power_iteration(matvec, _random_like(key, params), iters)
    return eig, _normalize(scale(w))
