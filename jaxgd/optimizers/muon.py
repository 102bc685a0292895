"""Muon (Jordan et al., 2024): momentum orthogonalised by Newton-Schulz for matrices, AdamW elsewhere."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxgd.core.errors import (
    ConfigError,
    check_decay,
    check_learning_rate,
    check_nonnegative,
    check_positive,
    check_positive_int,
)
from jaxgd.core.precision import tree_cast_like, tree_upcast
from jaxgd.core.transform import ScalarOrSchedule, Transform, safe_increment, stateless
from jaxgd.core.tree import tree_bias_correction, tree_nesterov_bias_correction, tree_zeros_like
from jaxgd.optimizers.adam import adamw
from jaxgd.optimizers.combine import chain, multi_transform
from jaxgd.optimizers.transforms import add_decayed_weights, check_weight_decay, scale_by_learning_rate

__all__ = ["MuonState", "is_muon_leaf", "muon", "newton_schulz", "scale_by_muon", "scale_by_muon_shape"]

NS_COEFFS = (3.4445, -4.7750, 2.0315)  # Jordan's quintic: slope 3.4 at 0, singular values -> ~[0.7, 1.2]


class MuonState(NamedTuple):
    """State of `scale_by_muon` (``optax.contrib.MuonState`` less its ``ns_coeffs``).

    Attributes:
        count: int32 scalar, t - 1 before the update.
        mu: like params (the matrices), the momentum m.
    """

    count: jax.Array  # int32 scalar
    mu: Any  # like params: momentum m


def newton_schulz(x: jax.Array, ns_coeffs: tuple = NS_COEFFS, ns_steps: int = 5,
                  eps: float = 1e-8) -> jax.Array:
    """An approximately orthogonal matrix with the singular vectors of ``x`` (its polar factor).

        X_0 = X / (||X||_F + eps)          (singular values into [0, 1])
        A_k = X_k X_k^H
        X_{k+1} = a X_k + (b A_k + c A_k A_k) X_k     (k < ns_steps)

    Each step maps a singular value s to ``a s + b s**3 + c s**5``; Jordan's
    coefficients push every s in (0, 1] towards 1 in 5 steps, roughly (to ~[0.7,
    1.2], not exactly 1). Done on the wide orientation (``X^T`` when rows > columns),
    so ``A`` is the smaller Gram matrix.

    Args:
        x: a matrix ``(m, n)``, float or complex.
        ns_coeffs: ``(a, b, c)``.
        ns_steps: the number of iterations.
        eps: added to the Frobenius norm.

    Returns:
        The orthogonalised ``(m, n)`` matrix, in ``x``'s dtype.

    References:
        Jordan et al. (2024), kellerjordan.github.io/posts/muon. Mirrors
        ``optax.contrib.orthogonalize_via_newton_schulz`` (frobenius).
    """
    tall = x.shape[0] > x.shape[1]
    x_mn = x.T if tall else x  # (m, n), m <= n
    x_mn = x_mn / (jnp.linalg.norm(x_mn) + eps)
    a, b, c = (jnp.asarray(k, x_mn.dtype) for k in ns_coeffs)
    for _ in range(ns_steps):
        a_mm = x_mn @ x_mn.T.conj()
        x_mn = a * x_mn + (b * a_mm + c * a_mm @ a_mm) @ x_mn
    return x_mn.T if tall else x_mn


def scale_by_muon(ns_coeffs: tuple = NS_COEFFS, ns_steps: int = 5, beta: float = 0.95,
                  eps: float = 1e-8, mu_dtype: Any = None, *, nesterov: bool = True) -> Transform:
    """Muon's direction for matrices: the debiased momentum, orthogonalised.

        m_t = beta * m_{t-1} + (1 - beta) * g_t
        m_hat = m_t / (1 - beta**t)                                          (plain)
        m_hat = beta * m_t / (1 - beta**(t+1)) + (1 - beta) * g_t / (1 - beta**t)   (nesterov)
        u_t = newton_schulz(m_hat)

    Every leaf must be a matrix (`muon` routes the others to AdamW). The step of a
    matrix has all singular values near 1 whatever the gradient's scale: a
    steepest-descent step in the spectral norm.

    Args:
        ns_coeffs: the three Newton-Schulz coefficients ``(a, b, c)``.
        ns_steps: Newton-Schulz iterations, >= 1.
        beta: decay of the momentum, in [0, 1).
        eps: added to the Frobenius norm before the iteration, >= 0.
        mu_dtype: dtype in which ``m`` is stored (None: the params' dtype).
        nesterov: Nesterov's look-ahead on the momentum (the default, as in optax).

    Returns:
        A Transform with a `MuonState`.

    Raises:
        ConfigError: a bad ``ns_coeffs``, ``ns_steps``, ``beta`` or ``eps``.

    References:
        Jordan, Jin, Boza, You, Cesista, Newhouse & Bernstein, "Muon: An optimizer
        for hidden layers in neural networks", 2024, kellerjordan.github.io/posts/muon.
        Mirrors ``optax.contrib.scale_by_muon`` (frobenius preconditioning).
    """
    _check_coeffs(ns_coeffs)
    check_positive_int("ns_steps", ns_steps, fix="Jordan uses 5.")
    check_decay("beta", beta)
    check_nonnegative("eps", eps, fix="Use a small positive value such as 1e-8.")

    def init(params):
        return MuonState(count=jnp.zeros([], jnp.int32), mu=tree_zeros_like(params, mu_dtype))

    def update(grads, state, params=None, **extra):
        del params, extra
        g, mu = tree_upcast((grads, state.mu))  # computed in at least float32
        m = jax.tree.map(lambda g, m: beta * m + (1 - beta) * g, g, mu)
        t = safe_increment(state.count)
        m_hat = tree_nesterov_bias_correction(m, g, beta, t) if nesterov else tree_bias_correction(m, beta, t)
        u = jax.tree.map(lambda x: newton_schulz(x, ns_coeffs, ns_steps, eps), m_hat)
        return tree_cast_like(u, grads), MuonState(count=t, mu=tree_cast_like(m, state.mu))

    return Transform(init, update)


def scale_by_muon_shape(consistent_rms: float | None = None) -> Transform:
    """Rescale each matrix's update ``(fan_in, fan_out)`` by a factor of its shape.

        s = sqrt(max(1, fan_out / fan_in))              (consistent_rms None: Jordan's width scaling)
        s = consistent_rms * sqrt(max(fan_in, fan_out))  (Liu et al. 2025: AdamW-like RMS)

    ``fan_in`` is the matrix's first axis, ``fan_out`` its second (``x @ W``).

    Args:
        consistent_rms: None for the width scaling, else the target RMS (> 0) of
            the update, e.g. 0.2.

    Returns:
        A stateless Transform (every leaf must be a matrix).

    Raises:
        ConfigError: ``consistent_rms`` not None and not > 0.

    References:
        Jordan et al. (2024), kellerjordan.github.io/posts/muon; Liu et al. (2025),
        "Muon is Scalable for LLM Training", arXiv:2502.16982. Mirrors
        ``optax.contrib.scale_by_shape`` for matrices.
    """
    if consistent_rms is not None:
        check_positive("consistent_rms", consistent_rms, fix="Liu et al. recommend 0.2, or None.")

    def factor(fan_in: int, fan_out: int) -> float:
        if consistent_rms is None:
            return math.sqrt(max(1.0, fan_out / fan_in)) if fan_in else 1.0
        return consistent_rms * math.sqrt(max(fan_in, fan_out))

    return stateless(lambda u, p: jax.tree.map(lambda x: factor(*x.shape) * x, u))


def _check_coeffs(ns_coeffs: Any) -> None:
    try:
        ok = len(ns_coeffs) == 3 and all(math.isfinite(float(k)) for k in ns_coeffs)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ConfigError(f"ns_coeffs={ns_coeffs!r} is not three finite numbers; accepted: a tuple "
                          f"(a, b, c) of Newton-Schulz coefficients, e.g. {NS_COEFFS} (Jordan's).")


def is_muon_leaf(x: Any) -> bool:
    """True for a leaf `muon` orthogonalises: a non-empty matrix (ndim == 2, size > 0).

    Args:
        x: an array or ShapeDtypeStruct.

    Returns:
        A Python bool (from the shape alone, so it is static under jit).

    See Also:
        ``optax.contrib.muon``'s default split: ndim == 2, zero-size matrices included.
    """
    return jnp.ndim(x) == 2 and math.prod(jnp.shape(x)) > 0


def _labels(params: Any) -> Any:
    return jax.tree.map(lambda x: "muon" if is_muon_leaf(x) else "adam", params)


def muon(
    learning_rate: ScalarOrSchedule,
    ns_coeffs: tuple = NS_COEFFS,
    ns_steps: int = 5,
    beta: float = 0.95,
    eps: float = 1e-8,
    weight_decay: ScalarOrSchedule = 0.0,
    weight_decay_mask: Any = None,
    mu_dtype: Any = None,
    *,
    nesterov: bool = True,
    adam_b1: float = 0.9,
    adam_b2: float = 0.999,
    adam_eps_root: float = 0.0,
    adam_weight_decay: ScalarOrSchedule = 0.0,
    adam_learning_rate: ScalarOrSchedule | None = None,
    consistent_rms: float | None = None,
) -> Transform:
    """Muon: orthogonalised momentum for every 2-D leaf, AdamW for every other leaf.

        matrices (ndim == 2):  d_t = s * scale_by_muon(g_t) + wd * p_t,    u_t = -lr_t * d_t
        other leaves:          u_t = adamw(adam_learning_rate, adam_b1, adam_b2, eps,
                                           adam_eps_root, adam_weight_decay, nesterov)

    ``s`` is `scale_by_muon_shape`'s factor. The split follows optax: a leaf is a
    matrix by its number of axes alone, so biases, gains and 0-d leaves go to
    AdamW, and a 2-D embedding or output layer goes to Muon (Jordan advises AdamW
    for those: pass the params through `multi_transform` yourself for that). A
    zero-size matrix has no update either way and goes to AdamW (optax's default
    split sends it to Muon, whose width scaling divides by its zero ``fan_in``).

    Args:
        learning_rate: the step size ``lr > 0`` of the matrices, or a schedule.
        ns_coeffs, ns_steps, beta, eps, mu_dtype, nesterov: as in `scale_by_muon`
            (``eps`` is AdamW's too).
        weight_decay, weight_decay_mask: decoupled decay of the matrices, as in `adamw`.
        adam_b1, adam_b2, adam_eps_root, adam_weight_decay: AdamW's ``b1``, ``b2``,
            ``eps_root`` and ``weight_decay`` for the other leaves.
        adam_learning_rate: AdamW's learning rate; None: ``learning_rate``.
        consistent_rms: see `scale_by_muon_shape`.

    Returns:
        ``multi_transform({"muon": chain(scale_by_muon(...), scale_by_muon_shape(...),
        add_decayed_weights(...), scale_by_learning_rate(...)), "adam": adamw(...)},
        labels by ndim)``; its update needs ``params`` when a decay is on.

    Raises:
        ConfigError: ``learning_rate`` or ``adam_learning_rate`` not > 0, or any
            other hyperparameter out of range.

    References:
        Jordan et al., 2024, kellerjordan.github.io/posts/muon (and modded-nanogpt).
        Mirrors ``optax.contrib.muon`` without its ``adaptive``,
        ``preconditioning`` and ``muon_weight_dimension_numbers`` options.
    """
    check_learning_rate(learning_rate)
    if adam_learning_rate is not None:
        check_learning_rate(adam_learning_rate, "adam_learning_rate")
    check_decay("adam_b1", adam_b1)
    check_decay("adam_b2", adam_b2)
    check_nonnegative("adam_eps_root", adam_eps_root, fix="Use 0 (the default) or a small positive value.")
    check_weight_decay(weight_decay)
    check_weight_decay(adam_weight_decay, "adam_weight_decay")
    matrices = chain(scale_by_muon(ns_coeffs, ns_steps, beta, eps, mu_dtype, nesterov=nesterov),
                     scale_by_muon_shape(consistent_rms),
                     add_decayed_weights(weight_decay, weight_decay_mask),
                     scale_by_learning_rate(learning_rate))
    others = adamw(learning_rate if adam_learning_rate is None else adam_learning_rate,
                   adam_b1, adam_b2, eps, adam_eps_root, mu_dtype, adam_weight_decay, nesterov=nesterov)
    return multi_transform({"muon": matrices, "adam": others}, _labels)
