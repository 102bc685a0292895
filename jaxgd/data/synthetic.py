"""Synthetic datasets: XOR, two moons, circles, spirals, a noisy sine.

Every generator takes an explicit PRNG key (no global RNG) and returns a `Dataset`;
the random ones are compiled once per (size, dtype).
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgd.core.errors import ConfigError, check_nonnegative, check_positive_int, check_range
from jaxgd.data.dataset import Dataset


def _shuffle(key, x, y):
    """x and y with their rows in one random order drawn from ``key``."""
    perm = jax.random.permutation(key, x.shape[0])
    return x[perm], y[perm]


def _two_class_labels(n0: int, n1: int, dtype) -> jax.Array:
    """n0 zeros then n1 ones, shape (n0 + n1, 1)."""
    return jnp.concatenate([jnp.zeros(n0, dtype), jnp.ones(n1, dtype)])[:, None]


def _static(fn):
    """jit ``fn`` with its keyword-only arguments (sizes, dtype) static: one compile per shape."""
    names = [p.name for p in inspect.signature(fn).parameters.values() if p.kind == p.KEYWORD_ONLY]
    return jax.jit(fn, static_argnames=names)


def xor(key: Any = None, *, dtype=jnp.float32) -> Dataset:
    """The tutorial's XOR problem: the 4 corners of the unit square, y = x1 XOR x2.

    Args:
      key: unused (the data are fixed); accepted so every generator is called alike.
      dtype: float dtype of x and y.
    """
    del key
    x = jnp.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=dtype)  # (4, 2)
    y = jnp.array([[0], [1], [1], [0]], dtype=dtype)  # (4, 1)
    return Dataset(x, y, None, None, "binary", 2, "xor")


@_static
def _moons(key, noise, *, n, dtype):
    n0, n1 = n // 2, n - n // 2
    t0 = jnp.linspace(0.0, math.pi, n0, dtype=dtype)
    t1 = jnp.linspace(0.0, math.pi, n1, dtype=dtype)
    upper = jnp.stack([jnp.cos(t0), jnp.sin(t0)], axis=1)
    lower = jnp.stack([1 - jnp.cos(t1), 0.5 - jnp.sin(t1)], axis=1)
    k_noise, k_perm = jax.random.split(key)
    x = jnp.concatenate([upper, lower]) + noise * jax.random.normal(k_noise, (n, 2), dtype)
    return _shuffle(k_perm, x, _two_class_labels(n0, n1, dtype))


def moons(key, n: int = 200, noise: float = 0.1, *, dtype=jnp.float32) -> Dataset:
    """Two interleaving half circles (binary), as scikit-learn's ``make_moons``.

    class 0 (n // 2 points):      (cos t, sin t),           t evenly spaced in [0, pi]
    class 1 (n - n // 2 points):  (1 - cos t, 1/2 - sin t)
    x += noise * N(0, I), then the rows are shuffled.
    """
    n = check_positive_int("n", n, fix="Use n >= 2 so both classes get points.")
    check_nonnegative("noise", noise)
    x, y = _moons(key, jnp.asarray(noise, dtype), n=n, dtype=dtype)
    return Dataset(x, y, None, None, "binary", 2, "moons")


@_static
def _circles(key, noise, factor, *, n, dtype):
    n0, n1 = n // 2, n - n // 2
    t0 = jnp.arange(n0, dtype=dtype) * (2 * math.pi / max(n0, 1))
    t1 = jnp.arange(n1, dtype=dtype) * (2 * math.pi / n1)
    outer = jnp.stack([jnp.cos(t0), jnp.sin(t0)], axis=1)
    inner = factor * jnp.stack([jnp.cos(t1), jnp.sin(t1)], axis=1)
    k_noise, k_perm = jax.random.split(key)
    x = jnp.concatenate([outer, inner]) + noise * jax.random.normal(k_noise, (n, 2), dtype)
    return _shuffle(k_perm, x, _two_class_labels(n0, n1, dtype))


def circles(key, n: int = 200, noise: float = 0.05, factor: float = 0.5, *,
            dtype=jnp.float32) -> Dataset:
    """A small circle inside a large one (binary), as scikit-learn's ``make_circles``.

    class 0 (n // 2 points):      (cos t, sin t),            t evenly spaced in [0, 2 pi)
    class 1 (n - n // 2 points):  factor * (cos t, sin t)
    x += noise * N(0, I), then the rows are shuffled.
    """
    n = check_positive_int("n", n, fix="Use n >= 2 so both classes get points.")
    check_nonnegative("noise", noise)
    check_range("factor", factor, low=0.0, high=1.0, low_open=True, high_open=True,
                fix="The inner radius as a fraction of the outer one, e.g. factor=0.5.")
    x, y = _circles(key, jnp.asarray(noise, dtype), jnp.asarray(factor, dtype), n=n, dtype=dtype)
    return Dataset(x, y, None, None, "binary", 2, "circles")


@_static
def _spirals(key, noise, *, n, classes, dtype):
    i = np.arange(n)
    label = i % classes
    arm_len = np.bincount(label, minlength=classes)[label]  # points on this point's arm
    r = jnp.asarray((i // classes) / np.maximum(arm_len - 1, 1), dtype)  # (n,)
    k_noise, k_perm = jax.random.split(key)
    t = (jnp.asarray(2 * math.pi * label / classes, dtype) + 4 * r
         + noise * jax.random.normal(k_noise, (n,), dtype))
    x = r[:, None] * jnp.stack([jnp.sin(t), jnp.cos(t)], axis=1)
    return _shuffle(k_perm, x, jnp.asarray(label, jnp.int32))


def spirals(key, n: int = 300, classes: int = 3, noise: float = 0.2, *,
            dtype=jnp.float32) -> Dataset:
    """Interleaved spiral arms, one per class (multiclass; the CS231n toy problem).

    Point i belongs to class c = i mod classes; r runs evenly over [0, 1] along the arm:
    t = 2 pi c / classes + 4 r + noise * N(0, 1)
    x = r * (sin t, cos t)
    Class sizes differ by at most one; the rows are shuffled.
    """
    n = check_positive_int("n", n)
    classes = check_positive_int("classes", classes, fix="Use classes >= 2, e.g. classes=3.")
    check_nonnegative("noise", noise)
    if classes < 2 or n < classes:
        raise ConfigError(f"spirals(n={n}, classes={classes}): need classes >= 2 and "
                          f"n >= classes so every arm gets a point. Try n=300, classes=3.")
    x, y = _spirals(key, jnp.asarray(noise, dtype), n=n, classes=classes, dtype=dtype)
    return Dataset(x, y, None, None, "multiclass", classes, "spirals")


@_static
def _sine(key, noise, *, n, dtype):
    k_x, k_noise = jax.random.split(key)
    x = jax.random.uniform(k_x, (n, 1), dtype, minval=-math.pi, maxval=math.pi)
    return x, jnp.sin(x) + noise * jax.random.normal(k_noise, (n, 1), dtype)


def sine(key, n: int = 200, noise: float = 0.1, *, dtype=jnp.float32) -> Dataset:
    """Noisy sine regression: x ~ U[-pi, pi], y = sin(x) + noise * N(0, 1), both (n, 1)."""
    n = check_positive_int("n", n)
    check_nonnegative("noise", noise)
    x, y = _sine(key, jnp.asarray(noise, dtype), n=n, dtype=dtype)
    return Dataset(x, y, None, None, "regression", 0, "sine")
