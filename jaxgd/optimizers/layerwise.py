"""Layer-wise rules: LARS and Fromage scale each leaf by the ratio of norms ||p|| / ||g||.

A "layer" is one leaf of the params pytree (a weight matrix, a bias vector).
"""

from __future__ import annotations

from typing import Any

from jaxgd.core.errors import check_learning_rate, check_nonnegative, check_positive
from jaxgd.core.transform import ScalarOrSchedule, Transform
from jaxgd.optimizers.adam_layerwise import scale_by_trust_ratio
from jaxgd.optimizers.combine import chain, masked
from jaxgd.optimizers.transforms import (
    add_decayed_weights,
    check_weight_decay,  # noqa: F401 - sign_methods still imports it from here
    decayed_weights,
    scale_by_learning_rate,
    trace,
)

__all__ = ["lars", "fromage"]


def lars(
    learning_rate: ScalarOrSchedule,
    weight_decay: ScalarOrSchedule = 0.0,
    weight_decay_mask: Any = True,
    trust_coefficient: float = 0.001,
    eps: float = 0.0,
    trust_ratio_mask: Any = True,
    momentum: float = 0.9,
    nesterov: bool = False,
) -> Transform:
    """LARS: SGD with momentum on a gradient rescaled per layer by the trust ratio ``||p|| / ||d||``.

        d = g + wd_t * p                                     (leaves in weight_decay_mask)
        d = trust_coefficient * ||p|| / (||d|| + eps) * d    (leaves in trust_ratio_mask;
                                                              ratio 1 if ||p|| or ||d|| is 0)
        m_t = -lr_t * d + momentum * m_{t-1}
        u_t = m_t                     (heavy ball)
        u_t = -lr_t * d + momentum * m_t   (nesterov)

    As in optax the learning rate sits inside the momentum buffer (it scales the
    new term only), so a decaying schedule weighs old steps with their old lr.
    Defaults follow optax: trust coefficient 1e-3, momentum 0.9, no decay.

    Args:
        learning_rate: step size (> 0) or a schedule of the step count.
        weight_decay: coupled decay ``wd >= 0`` (or a schedule), added before the ratio.
        weight_decay_mask: which leaves are decayed (True: all).
        trust_coefficient: the factor ``eta`` of the trust ratio (> 0).
        eps: added to ``||d||`` in the ratio (>= 0).
        trust_ratio_mask: which leaves get the trust ratio (True: all).
        momentum: momentum factor in [0, 1).
        nesterov: Nesterov's form of the momentum.

    Returns:
        ``chain(add_decayed_weights(...), masked(scale_by_trust_ratio(...)),
        scale_by_learning_rate(learning_rate), trace(momentum, nesterov))``; its update
        needs ``params``.

    Raises:
        ConfigError: ``learning_rate`` or ``trust_coefficient`` not > 0,
            ``weight_decay`` or ``eps`` negative, or ``momentum`` outside [0, 1)
            (any of them not finite).

    References:
        You, Gitman & Ginsburg, "Large Batch Training of Convolutional Networks",
        2017, arXiv:1708.03888. Mirrors ``optax.lars``; PyTorch has none built in.
    """
    check_learning_rate(learning_rate)
    check_positive("trust_coefficient", trust_coefficient, fix="LARS uses 1e-3 (the default).")
    check_nonnegative("eps", eps, fix="Use 0 (the default) or a small positive value.")
    return chain(
        add_decayed_weights(weight_decay, mask=weight_decay_mask),
        masked(scale_by_trust_ratio(trust_coefficient=trust_coefficient, eps=eps), trust_ratio_mask),
        scale_by_learning_rate(learning_rate),
        trace(momentum, nesterov=nesterov),
    )


def fromage(learning_rate: ScalarOrSchedule, min_norm: float = 1e-6) -> Transform:
    """Fromage: a step of relative size lr in every layer, then a shrink that keeps ||p|| bounded.

        c_t = 1 / sqrt(1 + lr_t**2)
        u_t = -lr_t * c_t * ||p_t|| / ||g_t|| * g_t + (c_t - 1) * p_t      (norms floored at min_norm)

    that is ``p_{t+1} = c_t * (p_t - lr_t * ||p_t|| / ||g_t|| * g_t)`` per leaf. The
    shrink ``c_t`` keeps ||p|| from growing. Parameters move even with zero
    gradients (the shrink alone), and a leaf whose norm is 0 stays at 0.

    Args:
        learning_rate: relative step size (> 0) or a schedule of the step count.
        min_norm: floor for both norms (>= 0).

    Returns:
        ``chain(scale_by_trust_ratio(min_norm), scale_by_learning_rate(lr * c),
        decayed_weights(c - 1))``; its update needs ``params``.

    Raises:
        ConfigError: ``learning_rate`` not > 0, or ``min_norm`` negative (either not
            finite).

    References:
        Bernstein, Vahdat, Yue & Liu, "On the distance between two neural networks and
        the stability of learning", 2020 (NeurIPS 2020), arXiv:2002.03432. Mirrors
        ``optax.fromage``; PyTorch has none built in.
    """
    check_learning_rate(learning_rate)
    check_nonnegative("min_norm", min_norm, fix="Use a small value such as 1e-6 (the default).")
    if callable(learning_rate):
        def shrink(count):
            return 1 / (1 + learning_rate(count) ** 2) ** 0.5

        step = lambda count: shrink(count) * learning_rate(count)
        decay = lambda count: shrink(count) - 1
    else:
        shrink = 1 / (1 + learning_rate**2) ** 0.5
        step, decay = learning_rate * shrink, shrink - 1
    return chain(
        scale_by_trust_ratio(min_norm),
        scale_by_learning_rate(step),
        decayed_weights(decay),
    )

