"""Backpropagation for MLPs, derived by hand (no automatic differentiation here).

Notation for a batch of N examples, layers l = 1..L, ``a_0 = x``::

    z_l = a_{l-1} @ W_l + b_l          forward, keeping z_l and a_l
    a_l = f_l(z_l)
    delta_L = dL/dz_L                  from the loss (see `output_delta`)
    dW_l = a_{l-1}^T @ delta_l + 2 l2 W_l
    db_l = sum_n delta_l[n]
    delta_{l-1} = (delta_l @ W_l^T) * f'_{l-1}(z_{l-1})

Shapes are in the names: B = batch, D = fan-in of a layer, H = its fan-out.
The result has the same pytree as `jaxgd.nn.models.init_mlp` (a list of `Dense`),
and equals ``jax.value_and_grad(make_loss_fn(...))`` to rounding.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxgd.core.deprecation import deprecated_alias
from jaxgd.core.errors import ConfigError, DataError
from jaxgd.nn.losses import (
    check_labels,
    check_loss_config,
    get_loss,
    is_static_zero,
    l2_penalty,
    match_targets,
)
from jaxgd.nn.models import Activation, Dense, get_activation


def forward(params: list[Dense], x_BxD: jax.Array, activation: str | Activation,
            output_activation: str | Activation) -> tuple[list, list]:
    """Forward pass over a batch, keeping every layer's z and a.

    Returns:
      ``(zs, activations)``: ``zs[l]`` is z_{l+1} (B, H); ``activations[l]`` is a_l,
      with ``activations[0] = x`` and ``activations[-1]`` the network's output.
    """
    hidden, last = get_activation(activation), get_activation(output_activation)
    zs, acts = [], [x_BxD]
    for i, layer in enumerate(params):
        z_BxH = acts[-1] @ layer.w + layer.b
        f = last if i == len(params) - 1 else hidden
        zs.append(z_BxH)
        acts.append(f.fn(z_BxH))
    return zs, acts


def output_delta(loss: str, z_BxK: jax.Array, a_BxK: jax.Array, y: jax.Array,
                 out: Activation) -> jax.Array:
    """dL/dz_L of the batch-mean loss, for N examples and K outputs.

    ``mse``:        delta = 2 (a - y) / (N K) * f'_L(z)
    ``bce``:        delta = (sigmoid(z) - y) / N           (z are logits)
    ``softmax_ce``: delta = (softmax(z) - onehot(y)) / N   (z are logits)
    """
    n, k = z_BxK.shape
    if loss == "mse":
        y_BxK = match_targets(a_BxK, y, "mse")
        return 2 * (a_BxK - y_BxK) / (n * k) * out.grad(z_BxK, a_BxK)
    if loss == "bce":
        y_BxK = match_targets(z_BxK, y, "binary_cross_entropy").astype(z_BxK.dtype)
        return (jax.nn.sigmoid(z_BxK) - y_BxK) / n
    onehot_BxK = (y[:, None] == jnp.arange(k)).astype(z_BxK.dtype)
    return (jax.nn.softmax(z_BxK, axis=1) - onehot_BxK) / n


def mlp_value_and_grad(params: list[Dense], x: jax.Array, y: jax.Array, *,
                       activation: str | Activation = "sigmoid",
                       output_activation: str | Activation = "identity",
                       loss: str = "mse", l2: Any = 0.0) -> tuple[jax.Array, list[Dense]]:
    """Loss and gradient of ``make_loss_fn(loss, activation, output_activation, l2)``, by hand.

    ``L = mean_n loss_n + l2 * sum_l sum(W_l**2)``; see the module docstring for
    the equations.

    Args:
      params: list of `Dense`, as from `init_mlp`.
      x: inputs, (batch, d).
      y: targets: (batch, K) floats for "mse"/"bce" ((batch,) for K = 1), or
        integer labels (batch,) for "softmax_ce".
      activation, output_activation, loss, l2: as in `make_loss_fn`.

    Returns:
      ``(loss value (scalar), grads (list of Dense, same shapes as params))``.
    """
    check_loss_config(loss, activation, output_activation, l2)
    if not params:
        raise ConfigError("params is an empty list; build it with init_mlp(key, sizes).")
    x_BxD, y = jnp.asarray(x), jnp.asarray(y)
    if x_BxD.ndim != 2 or x_BxD.shape[1] != params[0].w.shape[0]:
        raise DataError(f"x has shape {x_BxD.shape}; expected a batch (batch, "
                        f"{params[0].w.shape[0]}). Use x[None] for a single example.")
    out = get_activation(output_activation)
    zs, acts = forward(params, x_BxD, activation, output_activation)
    if loss == "softmax_ce":
        check_labels(y, zs[-1].shape[1])
    logits_or_outputs = zs[-1] if loss in ("bce", "softmax_ce") else acts[-1]
    value = jnp.mean(get_loss(loss)(logits_or_outputs, y))
    use_l2 = not is_static_zero(l2)  # no pass over the weights for a penalty of 0
    if use_l2:
        value = value + l2_penalty(params, l2)

    hidden = get_activation(activation)
    delta_BxH = output_delta(loss, zs[-1], acts[-1], y, out)
    grads = [None] * len(params)
    for i in reversed(range(len(params))):
        w_DxH = params[i].w
        a_prev_BxD = acts[i]
        dw_DxH = a_prev_BxD.T @ delta_BxH
        if use_l2:
            dw_DxH = dw_DxH + 2 * l2 * w_DxH
        db_H = jnp.sum(delta_BxH, axis=0)
        grads[i] = Dense(dw_DxH, db_H)
        if i > 0:  # the layer below: its fan-out H is this layer's fan-in D
            delta_BxD = (delta_BxH @ w_DxH.T) * hidden.grad(zs[i - 1], acts[i])
            delta_BxH = delta_BxD
    return value, grads


def tutorial_backprop(params: list[Dense], x: jax.Array, y: jax.Array) -> list[Dense]:
    """The tutorial's slide 7, line by line, for its 2-layer sigmoid network.

    ::

        h = sigmoid(x @ W1 + b1)
        o = sigmoid(h @ W2 + b2)
        delta_o = (o - y) * o * (1 - o)
        delta_h = (delta_o @ W2^T) * h * (1 - h)
        dW2 = h^T @ delta_o;  db2 = sum_n delta_o
        dW1 = x^T @ delta_h;  db1 = sum_n delta_h

    This is the gradient of ``0.5 * sum((o - y)**2)`` (summed over examples and
    outputs), NOT of the MSE ``mean((o - y)**2)`` the tutorial reports as its cost:
    the two gradients differ by the factor ``2 / (N * K)``. With a fixed learning
    rate the tutorial's steps are therefore N*K/2 times larger than steps on its MSE.

    Args:
      params: ``[Dense(W1, b1), Dense(W2, b2)]``.
      x: inputs, (N, d).
      y: targets, (N, K) ((N,) accepted for K = 1).

    Returns:
      ``[Dense(dW1, db1), Dense(dW2, db2)]``.
    """
    if len(params) != 2:
        raise ConfigError(
            f"tutorial_backprop is the tutorial's 2-layer network; got {len(params)} layers. "
            "Use mlp_value_and_grad(params, x, y, activation='sigmoid', "
            "output_activation='sigmoid', loss='mse') for other depths."
        )
    (w1_DxH, b1_H), (w2_HxK, b2_K) = params
    x_NxD = jnp.asarray(x)
    h_NxH = jax.nn.sigmoid(x_NxD @ w1_DxH + b1_H)
    o_NxK = jax.nn.sigmoid(h_NxH @ w2_HxK + b2_K)
    y_NxK = match_targets(o_NxK, y, "tutorial_backprop")
    delta_o_NxK = (o_NxK - y_NxK) * o_NxK * (1 - o_NxK)
    delta_h_NxH = (delta_o_NxK @ w2_HxK.T) * h_NxH * (1 - h_NxH)
    dw2_HxK, db2_K = h_NxH.T @ delta_o_NxK, jnp.sum(delta_o_NxK, axis=0)
    dw1_DxH, db1_H = x_NxD.T @ delta_h_NxH, jnp.sum(delta_h_NxH, axis=0)
    return [Dense(dw1_DxH, db1_H), Dense(dw2_HxK, db2_K)]


seed_backprop = deprecated_alias(tutorial_backprop, "jaxgd.seed_backprop", "jaxgd.tutorial_backprop")
