"""One compared leaf, step by step, and what its numbers say: the first divergence, the first
non-finite value.

For leaf ``l`` at step ``t``, with ``a`` and ``b`` the two sides' values of that leaf:

    d[t]   = max_i |a_i - b_i|               absolute difference (NaN or inf on one side: inf)
    m[t]   = max_i max(|a_i|, |b_i|)         magnitude (finite entries only)
    S      = max_t m[t]                      the leaf's scale over the run
    rel[t] = d[t] / m[t]                     relative difference (0 if d = 0, inf if m = 0 < d)
    tol[t] = (atol + rtol * m[t]) * g[t]     atol = rtol * S unless given as an absolute number;
                                             g[t] = 1, or sqrt(t + 1) for an eps-scaled tolerance
    differs at t  <=>  d[t] > tol[t]   (rounding near zero is judged at the leaf's scale)
    bad[t] = 1 (a non-finite), 2 (b non-finite), 3 (both): two NaNs never "agree"

Complex leaves are compared by modulus: ``|a - b|`` counts a lost imaginary part.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from typing import Any, NamedTuple

import numpy as np

__all__ = ["Divergence", "LeafTrace", "NonFinite", "Unmatched", "first_divergence", "first_non_finite",
           "leaf_from_dict", "leaf_to_dict"]


class Divergence(NamedTuple):
    """Where a cross-check first passed its tolerance."""

    step: int  # 0-based update index (params: the params after that update)
    kind: str  # "updates", "state", "params" or "schedule"
    path: str  # key path of the leaf, e.g. "['nested'][0]['b']" or "[0].mu['w']"
    abs: float  # |a - b| there
    rel: float  # |a - b| / magnitude there
    tol: float  # the tolerance it passed


class NonFinite(NamedTuple):
    """Where a side first held a NaN or an infinity."""

    step: int  # 0-based update index
    sides: tuple[str, ...]  # the names of the sides holding one at that step and leaf
    kind: str  # "updates", "state" or "params"
    path: str  # key path of the leaf


class Unmatched(NamedTuple):
    """A state leaf with no counterpart on the other side (listed, not compared)."""

    side: str  # name of the side that has it
    path: str
    reason: str


@dataclasses.dataclass(frozen=True, eq=False)
class LeafTrace:
    """Per-step differences of one matched leaf (see the module docstring for the math)."""

    kind: str
    path: str  # key path on side a
    dtype: str  # dtype the tolerance was chosen for
    shape: tuple[int, ...]
    rtol: float
    atol: float  # the absolute tolerance used (already scaled by the leaf's magnitude)
    abs: np.ndarray  # (steps,) d[t]
    mag: np.ndarray  # (steps,) m[t]
    path_b: str = ""  # key path on side b where it differs from ``path``
    bad: np.ndarray | None = None  # (steps,) 0, or 1 / 2 / 3: side a / b / both non-finite
    growth: np.ndarray | None = None  # (steps,) factor of the tolerance (None: 1)
    side: str = ""  # against an oracle: the side compared with it ("": side a against side b)

    @property
    def scale(self) -> float:
        return float(np.max(self.mag, initial=0.0))

    @property
    def max_scaled(self) -> float:
        """Largest ``d[t] / S`` (0 for a leaf that is 0 throughout)."""
        return float(np.max(self.abs, initial=0.0) / self.scale) if self.scale else 0.0

    @property
    def tol(self) -> np.ndarray:
        tol = self.atol + self.rtol * self.mag
        return tol if self.growth is None else tol * self.growth

    @property
    def rel(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.abs == 0, 0.0, self.abs / self.mag)

    @property
    def exceeds(self) -> np.ndarray:
        return ~(self.abs <= self.tol)  # NaN counts as exceeding

    @property
    def first_step(self) -> int | None:
        hits = np.flatnonzero(self.exceeds)
        return int(hits[0]) if hits.size else None

    @property
    def first_bad(self) -> int | None:
        """The first step a side holds a NaN or inf in this leaf (None: never)."""
        hits = np.flatnonzero(self.bad) if self.bad is not None else np.zeros(0, int)
        return int(hits[0]) if hits.size else None


def ratio(leaf: LeafTrace, t: int) -> float:
    """``d / tol`` of a leaf at step t (inf for NaN, or for d > 0 with tol 0)."""
    d, tol = float(leaf.abs[t]), float(leaf.tol[t])
    if math.isnan(d) or (tol == 0 and d > 0):
        return math.inf
    return d / tol if tol else 0.0


def first_divergence(leaves: Iterable[LeafTrace]) -> Divergence | None:
    """The earliest step any of ``leaves`` passes its tolerance; at that step, the worst leaf."""
    firsts = [(leaf.first_step, leaf) for leaf in leaves if leaf.first_step is not None]
    if not firsts:
        return None
    step = min(s for s, _ in firsts)
    leaf = max((lf for s, lf in firsts if s == step), key=lambda lf: ratio(lf, step))
    return Divergence(step, leaf.kind, leaf.path, float(leaf.abs[step]), float(leaf.rel[step]),
                      float(leaf.tol[step]))


def first_non_finite(leaves: Iterable[LeafTrace], names: tuple[str, str]) -> NonFinite | None:
    """The earliest step a side holds a NaN or inf in any of ``leaves`` (the first such leaf)."""
    firsts = [(leaf.first_bad, leaf) for leaf in leaves if leaf.first_bad is not None]
    if not firsts:
        return None
    step, leaf = min(firsts, key=lambda pair: pair[0])
    code = int(leaf.bad[step])
    sides = tuple(name for bit, name in ((1, names[0]), (2, names[1])) if code & bit)
    return NonFinite(step, sides, leaf.kind, leaf.path)


def json_number(x: float) -> float | str:
    """A JSON-safe float: non-finite values as the strings "nan", "inf", "-inf"."""
    x = float(x)
    return x if math.isfinite(x) else str(x)


def json_numbers(a: np.ndarray) -> list:
    return [json_number(x) for x in np.asarray(a, np.float64).ravel()]


def divergence_dict(d: Divergence) -> dict[str, Any]:
    """A JSON-ready dict of a `Divergence` (non-finite numbers as strings)."""
    return {**d._asdict(), **{k: json_number(getattr(d, k)) for k in ("abs", "rel", "tol")}}


def _array(values: list | None) -> np.ndarray | None:
    return None if values is None else np.array([float(x) for x in values], np.float64)


def leaf_to_dict(leaf: LeafTrace, per_step: bool) -> dict[str, Any]:
    """A JSON-ready dict of a trace (with ``per_step``, its per-step numbers too)."""
    entry = {"kind": leaf.kind, "path": leaf.path, "path_b": leaf.path_b, "side": leaf.side,
             "dtype": leaf.dtype, "shape": list(leaf.shape), "rtol": leaf.rtol,
             "atol": json_number(leaf.atol), "first_step": leaf.first_step, "first_bad": leaf.first_bad}
    if per_step:
        entry.update(abs=json_numbers(leaf.abs), mag=json_numbers(leaf.mag),
                     bad=None if leaf.bad is None else json_numbers(leaf.bad),
                     growth=None if leaf.growth is None else json_numbers(leaf.growth))
    return entry


def leaf_from_dict(e: dict[str, Any]) -> LeafTrace:
    """The trace back from ``leaf_to_dict(leaf, per_step=True)``."""
    return LeafTrace(kind=e["kind"], path=e["path"], dtype=e["dtype"], shape=tuple(e["shape"]),
                     rtol=float(e["rtol"]), atol=float(e["atol"]), abs=_array(e["abs"]),
                     mag=_array(e["mag"]), path_b=e.get("path_b", ""), bad=_array(e.get("bad")),
                     growth=_array(e.get("growth")), side=e.get("side", ""))
