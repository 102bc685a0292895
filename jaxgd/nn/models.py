"""Multi-layer perceptrons as plain pytrees: a list of `Dense(w, b)` layers.

The network of the tutorial (slides 4-5) is ``sizes=(2, 3, 1)`` with
``activation="sigmoid"`` and ``output_activation="sigmoid"``::

    h = sigmoid(x @ W1 + b1)
    y = sigmoid(h @ W2 + b2)

The forward pass is written for ONE example ``x (d,)`` (`mlp_single`) and
batched with `jax.vmap` (`mlp`). Every activation carries its own hand-written
derivative, which `jaxgd.nn.backprop` uses instead of automatic differentiation.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxgd.core.errors import ConfigError, DataError, check_choice, check_positive_int


class Dense(NamedTuple):
    """One fully connected layer: ``z = a_prev @ w + b``."""

    w: jax.Array  # (fan_in, fan_out), float
    b: jax.Array  # (fan_out,), float


class Activation(NamedTuple):
    """An elementwise nonlinearity and its derivative, written by hand.

    ``grad(z, a)`` returns ``f'(z)`` given the pre-activation ``z`` and the output
    ``a = f(z)``; each derivative uses whichever of the two is cheaper (the
    sigmoid's is ``a * (1 - a)``, as on the tutorial's slide 7).
    """

    fn: Callable[[jax.Array], jax.Array]  # z -> a, same shape and dtype
    grad: Callable[[jax.Array, jax.Array], jax.Array]  # (z, a) -> f'(z), same shape and dtype


_LEAKY_SLOPE = 0.01  # negative slope of "leaky_relu"
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _step(z: jax.Array) -> jax.Array:
    """1 where z > 0, else 0, in z's dtype."""
    return (z > 0).astype(z.dtype)


def _gelu_grad(z: jax.Array, a: jax.Array) -> jax.Array:
    """d/dz [z * Phi(z)] = Phi(z) + z * phi(z) (exact, erf-based GELU)."""
    del a
    phi_cdf = 0.5 * jax.lax.erfc(-z / math.sqrt(2.0))  # erfc: accurate for z << 0
    phi_pdf = _INV_SQRT_2PI * jnp.exp(-0.5 * z * z)
    return phi_cdf + z * phi_pdf


ACTIVATIONS: dict[str, Activation] = {
    # f(z) = 1 / (1 + exp(-z));           f' = a * (1 - a)
    "sigmoid": Activation(jax.nn.sigmoid, lambda z, a: a * (1 - a)),
    # f(z) = tanh(z);                      f' = 1 - a^2
    "tanh": Activation(jnp.tanh, lambda z, a: 1 - a * a),
    # f(z) = max(z, 0);                    f' = [z > 0]
    "relu": Activation(jax.nn.relu, lambda z, a: _step(z)),
    # f(z) = z;                            f' = 1
    "identity": Activation(lambda z: z, lambda z, a: jnp.ones_like(z)),
    # f(z) = z if z >= 0 else 0.01 z;      f' = 1 or 0.01
    "leaky_relu": Activation(
        lambda z: jnp.where(z >= 0, z, _LEAKY_SLOPE * z),
        lambda z, a: jnp.where(z >= 0, 1.0, _LEAKY_SLOPE).astype(z.dtype),
    ),
    # f(z) = z * Phi(z) (exact erf form);  f' = Phi(z) + z * phi(z)
    "gelu": Activation(lambda z: jax.nn.gelu(z, approximate=False), _gelu_grad),
    # f(z) = log(1 + exp(z));              f' = sigmoid(z)
    "softplus": Activation(jax.nn.softplus, lambda z, a: jax.nn.sigmoid(z)),
    # f(z) = z if z > 0 else exp(z) - 1;   f' = 1 or exp(z)
    "elu": Activation(jax.nn.elu, lambda z, a: jnp.where(z > 0, 1.0, jnp.exp(jnp.minimum(z, 0))
                                                         ).astype(z.dtype)),
}


def get_activation(name: str | Activation) -> Activation:
    """The `Activation` called ``name`` (an `Activation` is returned unchanged)."""
    if isinstance(name, Activation):
        return name
    return ACTIVATIONS[check_choice("activation", name, ACTIVATIONS)]


# ---------------------------------------------------------------- initialisation


def _init_normal(key, fan_in, fan_out, dtype):
    """w ~ N(0, 1): the tutorial's ``np.random.randn(fan_in, fan_out)``."""
    return jax.random.normal(key, (fan_in, fan_out), dtype)


def _init_glorot(key, fan_in, fan_out, dtype):
    """w ~ U(-l, l), l = sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010)."""
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return jax.random.uniform(key, (fan_in, fan_out), dtype, minval=-limit, maxval=limit)


def _init_he(key, fan_in, fan_out, dtype):
    """w ~ N(0, 2 / fan_in) (He et al., 2015), for ReLU networks."""
    return math.sqrt(2.0 / fan_in) * jax.random.normal(key, (fan_in, fan_out), dtype)


def _init_lecun(key, fan_in, fan_out, dtype):
    """w ~ N(0, 1 / fan_in) (LeCun et al., 1998)."""
    return math.sqrt(1.0 / fan_in) * jax.random.normal(key, (fan_in, fan_out), dtype)


INITS: dict[str, Callable[..., jax.Array]] = {
    "normal": _init_normal,
    "glorot": _init_glorot,
    "he": _init_he,
    "lecun": _init_lecun,
}


def _check_sizes(sizes: Any) -> tuple[int, ...]:
    """``sizes`` as a tuple of positive ints, at least (inputs, outputs)."""
    if isinstance(sizes, str | bytes) or not isinstance(sizes, Sequence | np.ndarray):
        raise ConfigError(
            f"sizes={sizes!r} must be a sequence of layer widths such as (2, 3, 1) "
            "(inputs, hidden sizes..., outputs)."
        )
    sizes = tuple(sizes)
    if len(sizes) < 2:
        raise ConfigError(
            f"sizes={sizes!r} needs at least 2 entries (inputs and outputs); "
            "e.g. sizes=(2, 3, 1) for the tutorial's 2-3-1 network."
        )
    for i, s in enumerate(sizes):
        role = "input size" if i == 0 else "output size" if i == len(sizes) - 1 else "hidden size"
        check_positive_int(f"sizes[{i}] ({role})", s,
                           fix=f"Every entry of sizes={sizes!r} is a layer width >= 1.")
    return tuple(int(s) for s in sizes)


def init_mlp(key: jax.Array, sizes: Sequence[int], init: str = "normal",
             dtype: Any = jnp.float32) -> list[Dense]:
    """Random parameters of an MLP with layer widths ``sizes``; biases start at zero.

    Args:
      key: a JAX PRNG key (``jax.random.key(0)``); one subkey per layer.
      sizes: ``(inputs, hidden..., outputs)``, e.g. ``(2, 3, 1)`` for the tutorial.
      init: weight initialiser, one of `INITS`: ``"normal"`` (N(0, 1), the tutorial's
        ``np.random.randn``), ``"glorot"`` (uniform), ``"he"``, ``"lecun"``.
      dtype: a floating dtype for every leaf.

    Returns:
      ``[Dense(w (sizes[i], sizes[i+1]), b (sizes[i+1],)) for each layer]``.
    """
    sizes = _check_sizes(sizes)
    check_choice("init", init, INITS)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise ConfigError(f"dtype={dtype!r} is not a floating dtype; use jnp.float32 or "
                          "jnp.float64.")
    if not isinstance(key, jax.Array) or not (
        jnp.issubdtype(key.dtype, jax.dtypes.prng_key) or key.shape == (2,)
    ):
        raise ConfigError(f"key={key!r} is not a JAX PRNG key; pass jax.random.key(seed).")
    scale = _SCALED.get(init)
    params = _draw(key, sizes, "normal" if scale else init, jnp.dtype(dtype))
    if scale is None:
        return params
    # the scale outside the compiled draw: XLA fuses a multiply into the sampler with other
    # rounding, and the bits of an initialisation are part of a run's reproducibility
    return [Dense(scale(layer.w.shape[0]) * layer.w, layer.b) for layer in params]


_SCALED = {"he": lambda fan_in: math.sqrt(2.0 / fan_in),  # as `_init_he`
           "lecun": lambda fan_in: math.sqrt(1.0 / fan_in)}  # as `_init_lecun`


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _draw(key: jax.Array, sizes: tuple[int, ...], init: str, dtype: Any) -> list[Dense]:
    """The draws of `init_mlp` as one compiled program: drawn op by op, every layer's
    split, draw, scale and zeros compiled on its own (a dozen programs before the
    first epoch); the same bits either way."""
    keys = jax.random.split(key, len(sizes) - 1)
    return [
        Dense(INITS[init](k, fan_in, fan_out, dtype), jnp.zeros((fan_out,), dtype))
        for k, fan_in, fan_out in zip(keys, sizes[:-1], sizes[1:], strict=True)
    ]


# ---------------------------------------------------------------- forward pass


def mlp_single(params: list[Dense], x: jax.Array, activation: str | Activation = "sigmoid",
               output_activation: str | Activation = "identity") -> jax.Array:
    """Forward pass for ONE example.

    For layers l = 1..L (f = ``activation`` for l < L, ``output_activation`` for l = L)::

        z_l = a_{l-1} @ W_l + b_l
        a_l = f(z_l)

    with ``a_0 = x``.

    Args:
      params: list of `Dense` layers, as from `init_mlp`.
      x: one input, shape (d,).
      activation: hidden nonlinearity, a name in `ACTIVATIONS`.
      output_activation: nonlinearity of the last layer.

    Returns:
      ``a_L``, shape (outputs,).
    """
    hidden, last = get_activation(activation), get_activation(output_activation)
    a = x  # (d,)
    for i, layer in enumerate(params):
        z = a @ layer.w + layer.b  # (fan_out,)
        a = (last if i == len(params) - 1 else hidden).fn(z)
    return a


def mlp(params: list[Dense], x: jax.Array, activation: str | Activation = "sigmoid",
        output_activation: str | Activation = "identity") -> jax.Array:
    """`mlp_single` for one example ``x (d,)`` or, via `jax.vmap`, a batch ``x (batch, d)``.

    Returns:
      shape (outputs,) for one example, (batch, outputs) for a batch.
    """
    hidden, last = get_activation(activation), get_activation(output_activation)
    x = jnp.asarray(x)
    if not params:
        raise ConfigError("params is an empty list; build it with init_mlp(key, sizes).")
    d = params[0].w.shape[0]
    if x.ndim not in (1, 2) or x.shape[-1] != d:
        raise DataError(
            f"x has shape {x.shape}; the network takes one example (d,) or a batch "
            f"(batch, d) with d={d}. Reshape x, or build the network with sizes[0]={x.shape[-1]}."
        )
    if x.ndim == 1:
        return mlp_single(params, x, hidden, last)
    return jax.vmap(lambda x_i: mlp_single(params, x_i, hidden, last))(x)


def count_params(params: Any) -> int:
    """Number of scalars in all leaves of ``params``."""
    return int(sum(np.size(leaf) for leaf in jax.tree.leaves(params)))
