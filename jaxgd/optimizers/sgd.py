"""Plain and momentum gradient descent: optax's form and the tutorial's form."""

from __future__ import annotations

from typing import Any

from jaxgd.core.deprecation import deprecated_alias
from jaxgd.core.errors import ConfigError, check_decay, check_learning_rate, check_nonnegative
from jaxgd.core.transform import ScalarOrSchedule, Transform, identity
from jaxgd.optimizers.combine import chain
from jaxgd.optimizers.transforms import add_decayed_weights, scale_by_learning_rate, trace

__all__ = ["sgd", "tutorial_momentum", "sgd_l2", "weights_mask"]


def sgd(
    learning_rate: ScalarOrSchedule,
    momentum: float | None = None,
    nesterov: bool = False,
    accumulator_dtype: Any = None,
) -> Transform:
    """Stochastic gradient descent, optionally with heavy-ball or Nesterov momentum.

        m_t = g_t + momentum * m_{t-1}                  (if momentum is given)
        d_t = g_t + momentum * m_t    (nesterov)  |  m_t  (heavy ball)  |  g_t  (plain)
        u_t = -lr_t * d_t

    This is optax's form: the learning rate multiplies the whole buffer at every
    step. PyTorch's SGD is the same rule (with dampening 0). The tutorial's form, where
    the lr is baked into the buffer, is `tutorial_momentum`; the two agree for a
    constant lr and part under a decaying schedule.

    Args:
        learning_rate: lr, a float > 0 or a schedule of the int32 update count
            (evaluated before the count grows, so the first step uses ``lr(0)``).
        momentum: the momentum factor in [0, 1); None for plain SGD (no buffer).
        nesterov: use Nesterov's look-ahead ``g_t + momentum * m_t``; needs a momentum.
        accumulator_dtype: dtype in which ``m`` is stored (None: each param's dtype).

    Returns:
        A `Transform` whose state is ``(TraceState(trace=m) or EmptyState(),
        EmptyState() or ScaleByScheduleState(count))``: the buffer ``m`` is like
        params; the int32 count is kept only when ``learning_rate`` is a schedule.

    Raises:
        ConfigError: ``learning_rate`` is not a finite number > 0 or a callable;
            ``momentum`` is outside [0, 1); ``nesterov=True`` with ``momentum=None``.

    References:
        Robbins & Monro (1951), "A stochastic approximation method", Ann. Math. Statist.
        Polyak (1964), "Some methods of speeding up the convergence of iteration
        methods", USSR Comput. Math. Math. Phys. (heavy ball).
        Nesterov (1983), "A method for solving the convex programming problem with
        convergence rate O(1/k^2)", Soviet Math. Dokl.
        Sutskever et al. (2013), "On the importance of initialization and momentum in
        deep learning", ICML (Nesterov momentum in this form).

    See Also:
        ``optax.sgd``; ``torch.optim.SGD(lr, momentum, dampening=0, nesterov=...)``.
    """
    check_learning_rate(learning_rate)
    if nesterov and momentum is None:
        raise ConfigError("nesterov=True needs a momentum, e.g. sgd(0.1, momentum=0.9, nesterov=True).")
    first = identity() if momentum is None else trace(
        check_decay("momentum", momentum), nesterov=nesterov, accumulator_dtype=accumulator_dtype)
    return chain(first, scale_by_learning_rate(learning_rate))


def tutorial_momentum(learning_rate: ScalarOrSchedule, momentum: float = 0.9) -> Transform:
    """The tutorial's momentum (slide 11): the learning rate is inside the velocity.

        v_t = momentum * v_{t-1} + lr_t * g_t
        u_t = -v_t

    Built as ``chain(scale_by_learning_rate(lr), trace(momentum))``: the trace then
    holds ``-v``. Equal to ``sgd(lr, momentum)`` for a constant lr; under a decaying
    schedule old gradients keep the lr they were taken with, so the two part. This
    is the form of Sutskever et al. (2013) that PyTorch's SGD documents as differing
    from its own.

    Args:
        learning_rate: lr, a float > 0 or a schedule of the int32 update count.
        momentum: the momentum factor in [0, 1).

    Returns:
        A `Transform` whose state is ``(EmptyState() or ScaleByScheduleState(count),
        TraceState(trace=-v))``; ``-v`` is like params.

    Raises:
        ConfigError: ``learning_rate`` is not a finite number > 0 or a callable;
            ``momentum`` is outside [0, 1).

    References:
        Polyak (1964), heavy ball; Sutskever et al. (2013), ICML, eq. (1).

    See Also:
        ``optax.chain(optax.scale_by_learning_rate(lr), optax.trace(momentum))``;
        `sgd` for optax's and PyTorch's form.
    """
    check_learning_rate(learning_rate)
    return chain(scale_by_learning_rate(learning_rate), trace(check_decay("momentum", momentum)))


def weights_mask(params: Any) -> Any:
    """True for weight matrices (ndim >= 2), False for biases: the tutorial's L2 covers W only.

    Args:
        params: a pytree of arrays.

    Returns:
        A pytree of Python bools with the structure of ``params``, usable as the
        ``mask`` of `add_decayed_weights`, `lion` or `masked` (the same mask form
        as ``optax.add_decayed_weights(..., mask=)`` and ``optax.masked``).
    """
    import jax

    return jax.tree.map(lambda x: x.ndim >= 2, params)


def sgd_l2(learning_rate: ScalarOrSchedule, l2: float = 0.0, momentum: float | None = None) -> Transform:
    """The tutorial's L2 regularisation (slide 13) as an update rule.

        d_t = g_t + 2 * l2 * W        (weights only, decay first in the chain)
        u_t = sgd(lr, momentum)(d_t)

    The tutorial adds ``l2 * sum(W**2)`` to the cost, whose gradient is ``2*l2*W``;
    biases (ndim < 2, see `weights_mask`) are not decayed. Because the decay enters
    before the momentum it is coupled L2, not AdamW-style decoupled decay.

    Args:
        learning_rate: lr, a float > 0 or a schedule of the int32 update count.
        l2: the penalty factor lambda >= 0 of ``lambda * sum(W**2)`` (the tutorial's 0.01).
        momentum: as in `sgd`; None for plain SGD.

    Returns:
        A `Transform` whose state is ``(MaskedState(EmptyState()), sgd's state)``.

    Raises:
        ConfigError: ``l2`` is negative or not finite; ``learning_rate`` or
            ``momentum`` as in `sgd`.

    References:
        Krogh & Hertz (1992), "A simple weight decay can improve generalization", NeurIPS 4.

    See Also:
        ``optax.chain(optax.add_decayed_weights(2 * l2, mask), optax.sgd(lr, momentum))``;
        ``torch.optim.SGD(weight_decay=2 * l2)`` with the biases in a group with
        ``weight_decay=0``.
    """
    check_nonnegative("l2", l2, fix="Use 0 for no regularisation; the tutorial uses 0.01.")
    return chain(add_decayed_weights(2 * l2, mask=weights_mask), sgd(learning_rate, momentum))


seed_momentum = deprecated_alias(tutorial_momentum, "jaxgd.optimizers.seed_momentum",
                                 "jaxgd.optimizers.tutorial_momentum")
