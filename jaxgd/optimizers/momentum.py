"""Momentum in optax's form: the heavy-ball (or Nesterov) buffer, before the learning rate."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax

from jaxgd.core.errors import check_decay
from jaxgd.core.transform import Transform
from jaxgd.core.tree import tree_cast, tree_zeros_like

__all__ = ["trace", "TraceState"]


class TraceState(NamedTuple):
    """State of `trace` (the fields of ``optax.TraceState``).

    Attributes:
        trace: like params (``accumulator_dtype`` if given), the momentum buffer m.
    """

    trace: Any  # like params: the momentum buffer m


def trace(decay: float, nesterov: bool = False, accumulator_dtype: Any = None) -> Transform:
    """Momentum in optax's form (heavy ball; lr is applied later in the chain).

        m_t = g_t + decay * m_{t-1}
        u_t = g_t + decay * m_t      (nesterov)
        u_t = m_t                    (otherwise)

    ``m_0 = 0``, so the first update is ``g_1`` (``(1 + decay) * g_1`` with nesterov).
    Unlike `ema`, the new gradient enters with weight 1, not ``1 - decay``.

    Args:
        decay: the momentum factor in [0, 1).
        nesterov: return the Nesterov look-ahead ``g_t + decay * m_t``.
        accumulator_dtype: dtype in which ``m`` is stored (None: as computed, the
            params' dtype for gradients of that dtype).

    Returns:
        A `Transform` whose state is ``TraceState(trace=m)``, ``m`` like params.

    Raises:
        ConfigError: ``decay`` is outside [0, 1) (the message calls it ``momentum``).

    References:
        Polyak (1964), heavy ball; Sutskever et al. (2013), ICML (Nesterov form).

    See Also:
        ``optax.trace``; the momentum buffer of ``torch.optim.SGD`` (dampening 0).
    """
    check_decay("momentum", decay)

    def init(params):
        return TraceState(trace=tree_zeros_like(params, accumulator_dtype))

    def update(grads, state, params=None, **extra):
        del params, extra
        m = jax.tree.map(lambda g, t: g + decay * t, grads, state.trace)
        u = jax.tree.map(lambda g, t: g + decay * t, grads, m) if nesterov else m
        return u, TraceState(trace=tree_cast(m, accumulator_dtype))

    return Transform(init, update)
