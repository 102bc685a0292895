"""What every figure of jaxgd shares: matplotlib on demand, log axes, NaN-free lines."""

from __future__ import annotations

import numpy as np

from jaxgd.core.errors import MissingDependencyError

__all__ = ["evaluated", "require_matplotlib", "spans_decades"]


def require_matplotlib():
    """Import matplotlib's Figure class, or explain how to install it."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingDependencyError(
            'plots need matplotlib, which is not installed; install the extra with '
            '`pip install -e ".[plot]"` (or `pip install matplotlib`), or leave out --plot.') from None
    return Figure


def spans_decades(values, decades: float = 2.0) -> bool:
    """True when the positive finite values span more than ``decades`` powers of ten."""
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v) & (v > 0)]
    return bool(v.size) and np.log10(v.max() / v.min()) > decades


def evaluated(epoch: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The epochs where ``values`` is defined: with ``--eval-every N`` test metrics are NaN
    in between, and a line through NaN draws nothing."""
    keep = ~np.isnan(values)
    return epoch[keep], values[keep]
