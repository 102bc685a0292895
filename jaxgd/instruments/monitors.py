"""Cheap per-step monitors of an update: its size, and its size next to the parameters."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxgd.core.errors import ConfigError
from jaxgd.core.tree import tree_l2_norm

__all__ = ["update_monitors"]


def update_monitors(params: Any, updates: Any, learning_rate: Any) -> dict[str, Any]:
    """Norms of one update and its ratio to the parameters, leaf by leaf.

        update_norm = ||u||                                 (over all leaves)
        param_norm = ||p||
        update_ratio[leaf] = ||u_leaf|| / ||p_leaf||         (0 where ||p_leaf|| = 0)

    The update-to-parameter ratio is a scale-free health check: around 1e-3 per step is
    the usual rule of thumb; far above it the layer is being rewritten each step, far
    below it the layer is frozen. A leaf whose parameters are all zero (a bias at
    initialisation) has no scale to compare with: its ratio is reported as 0, never NaN.

    Args:
        params: the parameters the update is applied to, a pytree of float arrays.
        updates: the update ``u`` (as added by `apply_updates`), a pytree like params.
        learning_rate: the learning rate of this step, a float or float scalar array
            (reported as given, so schedules can be logged next to the norms).

    Returns:
        ``{"update_norm": float scalar, "param_norm": float scalar, "update_ratio":
        pytree like params of float scalars, "learning_rate": float32 scalar}``.

    Raises:
        ConfigError: ``updates`` does not have the tree structure of ``params``.

    References:
        The ratio as a diagnostic: Karpathy, CS231n notes "Neural Networks Part 3"
        (ratio of updates to weights), 2015; layer-wise ratios also drive LARS (You,
        Gitman & Ginsburg, "Large Batch Training of Convolutional Networks", 2017).
    """
    if jax.tree.structure(updates) != jax.tree.structure(params):
        raise ConfigError(f"updates has tree structure {jax.tree.structure(updates)}, params has "
                          f"{jax.tree.structure(params)}; pass the updates returned by tx.update "
                          "for these params.")

    def ratio(u, p):
        u_norm, p_norm = tree_l2_norm(u), tree_l2_norm(p)
        return jnp.where(p_norm > 0, u_norm / jnp.where(p_norm > 0, p_norm, 1), 0)

    return {
        "update_norm": tree_l2_norm(updates),
        "param_norm": tree_l2_norm(params),
        "update_ratio": jax.tree.map(ratio, updates, params),
        "learning_rate": jnp.asarray(learning_rate, jnp.float32),
    }
