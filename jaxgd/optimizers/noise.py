"""Gradient noise: Gaussian noise with annealed variance added to the gradients."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxgd.core.errors import ConfigError, check_learning_rate, check_nonnegative
from jaxgd.core.transform import ScalarOrSchedule, Transform, safe_increment
from jaxgd.optimizers.combine import chain
from jaxgd.optimizers.scaling import scale_by_learning_rate

__all__ = ["add_noise", "noisy_sgd", "AddNoiseState"]


class AddNoiseState(NamedTuple):
    """State of `add_noise` (the fields of ``optax.AddNoiseState``).

    Attributes:
        count: int32 scalar, the updates applied so far (t - 1 before a step).
        rng_key: typed PRNG key scalar, the key the next step splits.
    """

    count: jax.Array  # int32 scalar: updates applied so far
    rng_key: jax.Array  # typed PRNG key scalar: the key of the next step


def _as_key(key: Any) -> jax.Array:
    """A typed PRNG key from an int seed or a typed key (optax's canonicalisation)."""
    if isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return key
    if isinstance(key, bool) or not (isinstance(key, int | np.integer) or isinstance(key, jax.Array)
                                     and key.ndim == 0 and jnp.issubdtype(key.dtype, jnp.integer)):
        raise ConfigError(
            f"key={key!r} must be an int seed or a typed key; accepted: key=0 or "
            "key=jax.random.key(0) (a raw uint32 jax.random.PRNGKey is not accepted)."
        )
    return jax.random.key(key)


def add_noise(eta: float, gamma: float, key: Any = None, *, seed: int | None = None) -> Transform:
    """Gaussian gradient noise with annealed variance (Neelakantan et al., 2015).

        t = count + 1
        sigma_t = sqrt(eta / t**gamma)
        key, k = split(key)                  (the state keeps the first half)
        k_1..k_L = split(k, L)               (one key per leaf, in tree order)
        u_t = g_t + sigma_t * normal(k_l)    (leaf l)

    This is exactly optax's key handling, so the two draw the same noise. The noise
    is drawn in each gradient's dtype and the update keeps that dtype.

    Args:
        eta: base variance (>= 0), e.g. 0.01.
        gamma: decay exponent of the variance (>= 0); 0.55 in the paper.
        key: an int seed or a typed key (``jax.random.key``); None means 0, as in optax.
        seed: old name of ``key`` (give one of them).

    Returns:
        A `Transform` whose state is ``AddNoiseState(count, rng_key)``: an int32
        count and a typed key scalar.

    Raises:
        ConfigError: ``eta`` or ``gamma`` is negative or not finite; both ``key``
            and ``seed`` are given; ``key`` is neither an int (a bool is refused)
            nor a typed key (a raw uint32 ``PRNGKey`` is refused).

    References:
        Neelakantan et al. (2015), "Adding gradient noise improves learning for very
        deep networks", arXiv:1511.06807.

    See Also:
        ``optax.add_noise(eta, gamma, key)``.
    """
    check_nonnegative("eta", eta, fix="Use a small value such as 0.01.")
    check_nonnegative("gamma", gamma, fix="The paper uses gamma=0.55.")
    if seed is not None:
        if key is not None:
            raise ConfigError(f"key={key!r} and seed={seed!r}: give only one; accepted: key=0.")
        key = seed
    key = _as_key(0 if key is None else key)

    def init(params):
        del params
        return AddNoiseState(count=jnp.zeros([], jnp.int32), rng_key=key)

    def update(grads, state, params=None, **extra):
        del params, extra
        t = safe_increment(state.count)
        sigma = jnp.sqrt(eta / t**gamma)
        rng_key, sample_key = jax.random.split(state.rng_key)
        leaves, treedef = jax.tree.flatten(grads)
        leaf_keys = jax.random.split(sample_key, len(leaves))
        noisy = [(g + sigma * jax.random.normal(k, g.shape, g.dtype)).astype(g.dtype)
                 for g, k in zip(leaves, leaf_keys, strict=True)]
        return treedef.unflatten(noisy), AddNoiseState(count=t, rng_key=rng_key)

    return Transform(init, update)


def noisy_sgd(
    learning_rate: ScalarOrSchedule,
    eta: float = 0.01,
    gamma: float = 0.55,
    key: Any = None,
    *,
    seed: int | None = None,
) -> Transform:
    """SGD on gradients with annealed Gaussian noise (Neelakantan et al., 2015).

        sigma_t = sqrt(eta / t**gamma)
        u_t = -lr_t * (g_t + sigma_t * xi_t)

    ``xi_t`` is standard normal noise drawn as in `add_noise` (same stream as optax).
    Parameters move even when the gradient is zero.

    Args:
        learning_rate: lr, a float > 0 or a schedule of the int32 update count.
        eta: base variance (>= 0).
        gamma: decay exponent of the variance (>= 0).
        key: an int seed or a typed key; None means 0, as in optax.
        seed: old name of ``key`` (give one of them).

    Returns:
        A `Transform` whose state is ``(AddNoiseState(count, rng_key),
        EmptyState() or ScaleByScheduleState(count))``.

    Raises:
        ConfigError: ``learning_rate`` is not a finite number > 0 or a callable;
            the arguments of `add_noise` as there.

    References:
        Neelakantan et al. (2015), arXiv:1511.06807.

    See Also:
        ``optax.noisy_sgd``; PyTorch has no built-in equivalent.
    """
    check_learning_rate(learning_rate)
    return chain(add_noise(eta, gamma, key, seed=seed), scale_by_learning_rate(learning_rate))
