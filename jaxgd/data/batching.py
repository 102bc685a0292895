"""Minibatches: one shuffled epoch of indices, as the compiled engine gathers them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgd.core.errors import ConfigError, is_concrete


def epoch_indices(key, n: int, batch: int) -> jax.Array:
    """One epoch of shuffled minibatch indices, int32 (n // batch, batch).

    A permutation of range(n) cut into rows of ``batch``. The last n % batch
    examples of the permutation are dropped, so every step has the same shape;
    a fresh key per epoch drops different ones. ``batch == n`` is full-batch
    gradient descent, ``batch == 1`` online SGD. ``n`` and ``batch`` must be static
    Python ints (under jit: ``static_argnums=(1, 2)``).
    """
    if not (isinstance(n, int | np.integer) and is_concrete(n)) or isinstance(n, bool) or n < 1:
        raise ConfigError(f"epoch_indices: n={n!r} must be a static positive int (the number "
                          "of training examples); under jit mark it static.")
    if isinstance(batch, bool) or not isinstance(batch, int | np.integer) or not 1 <= batch <= n:
        raise ConfigError(f"batch_size={batch!r} is not accepted for n={n} examples; accepted: "
                          f"an int in [1, {n}]. Use 1 for online SGD, {n} for full batch, or "
                          "a size in between.")
    steps = n // batch
    perm = jax.random.permutation(key, n)
    return perm[: steps * batch].reshape(steps, batch).astype(jnp.int32)


def iterate_minibatches(key, x, y, batch: int) -> Iterator[tuple[Any, Any]]:
    """Yield (x_batch, y_batch) for one shuffled epoch: the tutorial's ``data_loader``.

    A Python loop for reading and teaching; the training engine gathers the
    same `epoch_indices` inside a compiled scan instead.
    """
    for rows in np.asarray(epoch_indices(key, int(x.shape[0]), batch)):
        yield x[rows], y[rows]
