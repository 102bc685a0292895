"""Momentum in optax's form: the heavy-ball (or Nesterov) buffer, before the learning rate."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax

from jaxgd.core.errors import check_decay
from jaxgd.core.precision import tree_cast_like, tree_upcast
from jaxgd.core.transform import Transform
from jaxgd.core.tree import tree_zeros_like

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
        accumulator_dtype: dtype in which ``m`` is stored (None: the params' dtype;
            its complex counterpart for complex params). ``m`` is computed in at
            least float32 and rounded to it.

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
        g, m = tree_upcast((grads, state.trace))  # computed in at least float32
        m = jax.tree.map(lambda g, t: g + decay * t, g, m)
        u = jax.tree.map(lambda g, t: g + decay * t, g, m) if nesterov else m
        return tree_cast_like(u, grads), TraceState(trace=tree_cast_like(m, state.trace))

    return Transform(init, update)
