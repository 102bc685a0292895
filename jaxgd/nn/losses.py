"""Losses: per-example values, averaged over the batch only.

Every loss in `LOSSES` returns one number per example, shape (batch,); a training
objective is their mean over the batch (`make_loss_fn`). Nothing is averaged over
classes. The one exception is stated by the tutorial itself: `mse` averages the
squared error over the outputs of an example, so that its batch mean equals the
seed's ``np.mean((y_pred - y) ** 2)`` (slide 6) exactly.

The cross-entropies take logits (pre-activations) and are written in a stable
form: exact for logits of any size, including +-inf where the loss has a limit.
Every loss computes in at least float32 (see `jaxgd.core.precision`), so a
bfloat16 or float16 network gets a float32 loss.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgd.core.errors import ConfigError, DataError, check_choice, check_nonnegative, is_concrete
from jaxgd.core.precision import upcast
from jaxgd.nn.models import get_activation, mlp


def match_targets(y_pred: jax.Array, y: jax.Array, loss: str) -> jax.Array:
    """``y`` with the shape of ``y_pred``; a (batch,) target is taken for (batch, 1)."""
    y = jnp.asarray(y)
    if y.shape == y_pred.shape:
        return y
    if y_pred.ndim == 2 and y_pred.shape[1] == 1 and y.shape == y_pred.shape[:1]:
        return y[:, None]
    raise DataError(
        f"{loss}: targets y have shape {y.shape} but the predictions have shape "
        f"{y_pred.shape}; accepted: the same shape, or (batch,) for (batch, 1). "
        "Reshape y (e.g. y.reshape(-1, 1)) or change the output size of the network."
    )


def check_labels(labels: jax.Array, n_classes: int) -> None:
    """Raise DataError unless concrete ``labels`` are integers in [0, n_classes)."""
    if not is_concrete(labels):
        return
    lab = np.asarray(labels)
    if lab.dtype.kind not in "iu":
        raise DataError(
            f"labels have dtype {lab.dtype}; softmax cross-entropy takes integer class "
            "indices. Convert them with labels.astype(jnp.int32)."
        )
    bad = lab[(lab < 0) | (lab >= n_classes)]
    if bad.size:
        raise DataError(
            f"labels contain {bad[:5].tolist()} outside [0, {n_classes}) for logits with "
            f"{n_classes} classes. Use labels 0..{n_classes - 1}, or give the network "
            f"{int(lab.max()) + 1} outputs."
        )


def check_targets(loss: str, y: Any, n_outputs: int | None = None, where: str = "") -> None:
    """Raise DataError unless concrete targets ``y`` suit ``loss`` (before anything compiles).

    ``bce`` needs targets in {0, 1}; ``softmax_ce`` integer class indices in
    ``[0, n_outputs)``; ``mse`` any finite numbers. Tracers pass unchecked.
    """
    if not is_concrete(y):
        return
    at = f"{where}: " if where else ""
    y = np.asarray(y)
    if loss == "bce":
        bad = (y != 0) & (y != 1)
        if bad.any():
            lo, hi = float(np.min(y)), float(np.max(y))
            raise DataError(f"{at}binary cross-entropy (loss 'bce') needs targets 0 or 1, but they "
                            f"range over [{lo:g}, {hi:g}] (the first other value is {y[bad][0]!r}). "
                            "For real-valued targets use loss 'mse'; for classes, 'softmax_ce'.")
    elif loss == "softmax_ce":
        if y.dtype.kind not in "iu" or y.ndim != 1:
            raise DataError(f"{at}softmax cross-entropy (loss 'softmax_ce') needs integer class "
                            f"labels of shape (n,); the targets have dtype {y.dtype} and shape "
                            f"{y.shape}. For 0/1 targets of shape (n, 1) use loss 'bce'; for "
                            "real-valued targets, 'mse'.")
        if n_outputs is not None:
            check_labels(y, n_outputs)


def data_error_of(loss_fn: Callable[..., Any] | None, *args: Any) -> DataError | None:
    """The DataError ``loss_fn(*args)`` raises outside `jit`, where concrete targets are checked
    (a label >= the number of classes gives NaN once compiled), else None. `fit` asks it."""
    try:
        loss_fn is None or loss_fn(*args)
    except DataError as err:
        return err
    except Exception:  # only a data error is worth reporting instead of the divergence
        pass
    return None


def mse(y_pred: jax.Array, y: jax.Array) -> jax.Array:
    """Squared error, averaged over the outputs of each example.

    ``loss_n = (1/K) sum_k (y_pred[n, k] - y[n, k])^2``, so
    ``mean_n(loss_n) = np.mean((y_pred - y)**2)`` (the tutorial's cost, slide 6).

    Args:
      y_pred: predictions, (batch, K) or (batch,).
      y: targets with the same shape ((batch,) is accepted for (batch, 1)).

    Returns:
      per-example losses, (batch,).
    """
    y_pred = jnp.asarray(y_pred)
    sq = jnp.square(upcast(y_pred) - upcast(match_targets(y_pred, y, "mse")))  # (batch, K), >= float32
    return sq if sq.ndim == 1 else jnp.mean(sq.reshape(sq.shape[0], -1), axis=1)


def binary_cross_entropy(logits: jax.Array, y: jax.Array) -> jax.Array:
    """Binary cross-entropy on logits, exact for any logit, +-inf included.

    With p = sigmoid(z), ``log p = -softplus(-z)`` and ``log(1 - p) = -softplus(z)``:

        loss = y * softplus(-z) + (1 - y) * softplus(z)      (a term whose weight is 0 is left out)

    ``softplus(z) = max(z, 0) + log1p(exp(-|z|))`` never overflows, and neither
    term cancels: at z = 20, y = 1 the loss is 2.06e-9 (``softplus(z) - y*z`` gives
    0), and at z = +-inf with the matching label it is 0 (not ``0 * inf``).
    Several outputs are independent binary labels, summed per example.

    Args:
      logits: (batch, 1), (batch, K) or (batch,).
      y: targets in {0, 1} (floats), same shape ((batch,) accepted for (batch, 1)).

    Returns:
      per-example losses, (batch,).
    """
    z = upcast(jnp.asarray(logits))  # >= float32
    y = match_targets(z, y, "binary_cross_entropy").astype(z.dtype)
    per_output = (jnp.where(y > 0, y * jax.nn.softplus(-z), 0)
                  + jnp.where(y < 1, (1 - y) * jax.nn.softplus(z), 0))  # (batch, K)
    return per_output if per_output.ndim == 1 else jnp.sum(per_output, axis=1)


def softmax_cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Softmax cross-entropy with integer labels, as a log-sum-exp relative to the label's logit.

        s_c = z_c - z_y                    (y = labels[n]; s_y = 0, and 0 where z_c = z_y = +-inf)
        loss_n = log sum_c exp(s_c) = logsumexp_c(z_c) - z_y

    Nothing large is subtracted after the sum, so logits [1e9, 1e9] give log 2
    (``logsumexp(z) - z_y`` rounds 1e9 + log 2 to 1e9 and gives 0), and infinite
    logits give the limit: [inf, 0] with label 0 gives 0, with label 1 inf.

    Labels outside [0, C) raise DataError when they are concrete. Under `jit`
    (traced labels) such an example's loss is NaN, never a silent wrap-around.

    Args:
      logits: (batch, C).
      labels: integer class indices, (batch,).

    Returns:
      per-example losses, (batch,).
    """
    logits, labels = jnp.asarray(logits), jnp.asarray(labels)
    if logits.ndim != 2 or labels.shape != logits.shape[:1]:
        raise DataError(
            f"softmax_cross_entropy takes logits (batch, C) and integer labels (batch,); got "
            f"logits {logits.shape} and labels {labels.shape}. For one-hot targets use "
            "labels = targets.argmax(-1)."
        )
    n_classes = logits.shape[1]
    check_labels(labels, n_classes)
    z = upcast(logits)  # (batch, C), >= float32
    one_hot = labels[:, None] == jnp.arange(n_classes)  # (batch, C), bool
    z_y = jnp.sum(jnp.where(one_hot, z, 0), axis=1, keepdims=True)  # (batch, 1)
    same_inf = jnp.isinf(z) & (z == z_y)  # inf - inf: equal infinite logits tie
    s = jnp.where(one_hot | same_inf, 0, z - z_y)  # (batch, C)
    valid = (labels >= 0) & (labels < n_classes)
    return jnp.where(valid, jax.nn.logsumexp(s, axis=1), jnp.nan)


LOSSES: dict[str, Callable[[jax.Array, jax.Array], jax.Array]] = {
    "mse": mse,
    "bce": binary_cross_entropy,
    "softmax_ce": softmax_cross_entropy,
}
LOGIT_LOSSES = ("bce", "softmax_ce")  # losses that take logits: output_activation "identity"


def get_loss(name: str) -> Callable[[jax.Array, jax.Array], jax.Array]:
    """The per-example loss called ``name`` (one of `LOSSES`)."""
    return LOSSES[check_choice("loss", name, LOSSES)]


def is_static_zero(value: Any) -> bool:
    """True when ``value`` is a concrete 0 (not a tracer): a term it scales can be left out.

    XLA does not fold ``x * 0.0`` for floats (it would change NaN and inf), so a
    penalty with a coefficient of 0 still costs a pass over the weights unless the
    code leaves it out. A swept coefficient is a tracer and keeps the term.
    """
    if not is_concrete(value) or callable(value):
        return False
    try:
        return bool(np.ndim(value) == 0 and np.asarray(value) == 0)
    except (TypeError, ValueError):
        return False


def l2_penalty(params: Any, lam: Any) -> jax.Array:
    """The tutorial's L2 term (slide 13): ``lam * sum_W sum(W**2)`` over the WEIGHTS only.

    Weights are the leaves with ``ndim >= 2`` (matrices); biases (vectors) and
    scalars are not penalised. Its gradient is ``2 * lam * W``.

    Args:
      params: any pytree of arrays, e.g. a list of `Dense`.
      lam: the coefficient (>= 0; a tracer passes unchecked).

    Returns:
      a scalar.
    """
    check_nonnegative("l2", lam, fix="Use l2=0.0 for no penalty or a small value such as 1e-2.")
    weights = [w for w in jax.tree.leaves(params) if jnp.ndim(w) >= 2]
    return lam * sum((jnp.sum(jnp.square(upcast(w))) for w in weights), jnp.zeros(()))  # >= float32


def accuracy(outputs: jax.Array, y: jax.Array, task: str = "binary",
             from_logits: bool = False) -> jax.Array:
    """Fraction of correct predictions in the batch.

    ``"binary"``: predict 1 where ``outputs > 0.5`` (probabilities) or
    ``outputs > 0`` (``from_logits=True``); targets count as 1 where ``y > 0.5``.
    ``"multiclass"``: ``argmax(outputs, -1) == y`` with integer labels y (batch,).

    Returns:
      a float32 scalar in [0, 1].
    """
    check_choice("task", task, ("binary", "multiclass"))
    outputs = jnp.asarray(outputs)
    if task == "binary":
        y = match_targets(outputs, y, "accuracy")
        correct = (outputs > (0.0 if from_logits else 0.5)) == (y > 0.5)
    else:
        if outputs.ndim != 2 or jnp.shape(y) != outputs.shape[:1]:
            raise DataError(f"multiclass accuracy takes outputs (batch, C) and labels (batch,); "
                            f"got {outputs.shape} and {jnp.shape(y)}.")
        correct = jnp.argmax(outputs, axis=-1) == y
    return jnp.mean(correct.astype(jnp.float32))


def check_loss_config(loss: str, activation: Any, output_activation: Any, l2: Any) -> None:
    """Validate the names and the loss / output-activation pairing."""
    check_choice("loss", loss, LOSSES)
    get_activation(activation)
    get_activation(output_activation)
    check_nonnegative("l2", l2, fix="Use l2=0.0 for no penalty or a small value such as 1e-2.")
    if loss in LOGIT_LOSSES and get_activation(output_activation) is not get_activation("identity"):
        squash = "sigmoid" if loss == "bce" else "softmax"
        raise ConfigError(
            f"loss={loss!r} takes logits and applies the {squash} itself, but "
            f"output_activation={output_activation!r}. Use output_activation='identity' "
            f"(apply jax.nn.{squash} to the outputs for probabilities), or use loss='mse'."
        )


def make_loss_fn(loss: str = "mse", activation: str = "sigmoid",
                 output_activation: str = "identity",
                 l2: Any = 0.0) -> Callable[[Any, jax.Array, jax.Array], jax.Array]:
    """The training objective of an MLP.

    ``L(params) = mean_n loss(mlp(params, x)_n, y_n) + l2 * sum_W sum(W**2)``

    Args:
      loss: a name in `LOSSES`; "bce" and "softmax_ce" need ``output_activation="identity"``.
      activation: hidden nonlinearity (see `jaxgd.nn.models.ACTIVATIONS`).
      output_activation: nonlinearity of the last layer.
      l2: L2 coefficient on the weights (biases excluded), >= 0.

    Returns:
      ``loss_fn(params, x, y) -> scalar``, with ``loss_fn.check_data(params, x, y)``, which
      raises DataError unless the targets suit the loss and the network's output size
      (every label below the number of classes); `jaxgd.fit` calls it before compiling.
    """
    check_loss_config(loss, activation, output_activation, l2)
    per_example = LOSSES[loss]
    skip_l2 = is_static_zero(l2)

    def loss_fn(params, x, y):
        outputs = mlp(params, x, activation, output_activation)  # (batch, K)
        value = jnp.mean(per_example(outputs, y))
        return value if skip_l2 else value + l2_penalty(params, l2)

    def check_data(params, x, y):
        out = jax.eval_shape(lambda p, x: mlp(p, x, activation, output_activation), params, x)
        check_targets(loss, y, out.shape[-1] if len(out.shape) > 1 else 1, where="training data")

    loss_fn.check_data = check_data
    return loss_fn
