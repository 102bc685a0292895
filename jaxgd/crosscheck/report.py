"""What a cross-check found: per-step differences leaf by leaf, a verdict, a table, JSON.

The numbers are computed by `jaxgd.crosscheck`; this module only holds them (as
NumPy arrays on the host) and reads them out. For leaf ``l`` at step ``t``, with
``a`` and ``b`` the two sides' values of that leaf:

    d[t]   = max_i |a_i - b_i|               absolute difference (NaN on one side only: inf)
    m[t]   = max_i max(|a_i|, |b_i|)         magnitude (finite entries only)
    S      = max_t m[t]                      the leaf's scale over the run
    rel[t] = d[t] / m[t]                     relative difference (0 if d = 0, inf if m = 0 < d)
    tol[t] = atol + rtol * m[t]              atol = rtol * S unless given as an absolute number
    differs at t  <=>  d[t] > tol[t]   (rounding near zero is judged at the leaf's scale)
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, NamedTuple

import numpy as np

KINDS = ("updates", "state", "params", "schedule")


class Divergence(NamedTuple):
    """Where a cross-check first passed its tolerance."""

    step: int  # 0-based update index (params: the params after that update)
    kind: str  # "updates", "state", "params" or "schedule"
    path: str  # key path of the leaf, e.g. "['nested'][0]['b']" or "[0].mu['w']"
    abs: float  # |a - b| there
    rel: float  # |a - b| / magnitude there
    tol: float  # the tolerance it passed


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

    @property
    def scale(self) -> float:
        return float(np.max(self.mag, initial=0.0))

    @property
    def tol(self) -> np.ndarray:
        return self.atol + self.rtol * self.mag

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


def _num(x: float) -> float | str:
    """A JSON-safe float: non-finite values as the strings "nan", "inf", "-inf"."""
    x = float(x)
    return x if math.isfinite(x) else str(x)


def _unnum(x: float | str) -> float:
    return float(x)


def _nums(a: np.ndarray) -> list:
    return [_num(x) for x in np.asarray(a, np.float64).ravel()]


def _ratio(leaf: LeafTrace, t: int) -> float:
    """``d / tol`` of a leaf at step t (inf for NaN, or for d > 0 with tol 0)."""
    d, tol = float(leaf.abs[t]), float(leaf.tol[t])
    if math.isnan(d) or (tol == 0 and d > 0):
        return math.inf
    return d / tol if tol else 0.0


def _fmt(x: float) -> str:
    return f"{x:.2e}" if math.isfinite(x) else str(x)


@dataclasses.dataclass(frozen=True, eq=False)
class CrosscheckReport:
    """Two transforms (or schedules) run in lockstep: how far apart, where first, verdict."""

    names: tuple[str, str]
    mode: str  # "stream", "loss" or "schedule"
    steps: int
    leaves: tuple[LeafTrace, ...]
    unmatched: tuple[Unmatched, ...] = ()
    losses: np.ndarray | None = None  # (steps, 2) each side's loss before its update
    schedule: CrosscheckReport | None = None  # the schedule check behind an optimizer run
    notes: tuple[str, ...] = ()
    label: str = ""
    meta: dict = dataclasses.field(default_factory=dict)

    # ------------------------------------------------------------ summaries
    def kinds(self) -> tuple[str, ...]:
        present = {leaf.kind for leaf in self.leaves}
        return tuple(k for k in KINDS if k in present)

    def of(self, kind: str) -> tuple[LeafTrace, ...]:
        return tuple(leaf for leaf in self.leaves if leaf.kind == kind)

    def per_step(self, kind: str) -> dict[str, np.ndarray]:
        """Per-step maxima over the leaves of ``kind``: ``abs``, ``rel``, ``scaled`` (d / S)."""
        leaves = [leaf for leaf in self.of(kind) if leaf.abs.size]
        if not leaves:
            zero = np.zeros(self.steps)
            return {"abs": zero, "rel": zero, "scaled": zero}
        with np.errstate(divide="ignore", invalid="ignore"):
            scaled = [np.where(leaf.abs == 0, 0.0, leaf.abs / leaf.scale) for leaf in leaves]
        return {"abs": np.max([leaf.abs for leaf in leaves], axis=0),
                "rel": np.max([leaf.rel for leaf in leaves], axis=0),
                "scaled": np.max(scaled, axis=0)}

    def max_abs(self, kind: str) -> float:
        return float(np.max(self.per_step(kind)["abs"], initial=0.0))

    def max_rel(self, kind: str) -> float:
        return float(np.max(self.per_step(kind)["rel"], initial=0.0))

    def max_scaled(self, kind: str) -> float:
        """Largest ``d[t] / S`` of ``kind``: the difference relative to the leaf's scale."""
        return float(np.max(self.per_step(kind)["scaled"], initial=0.0))

    @property
    def first_divergence(self) -> Divergence | None:
        """The earliest step any leaf passes its tolerance; at that step, the worst leaf."""
        return self.first()

    def first(self, kind: str | None = None) -> Divergence | None:
        """Like `first_divergence`, over the leaves of one ``kind`` only (None: all)."""
        firsts = [(leaf.first_step, leaf) for leaf in self.leaves
                  if leaf.first_step is not None and kind in (None, leaf.kind)]
        if not firsts:
            return None
        step = min(s for s, _ in firsts)

        leaf = max((lf for s, lf in firsts if s == step), key=lambda lf: _ratio(lf, step))
        return Divergence(step, leaf.kind, leaf.path, float(leaf.abs[step]),
                          float(leaf.rel[step]), float(leaf.tol[step]))

    @property
    def verdict(self) -> str:
        """"agree" when no compared leaf passes its tolerance at any step, else "differ"."""
        return "agree" if self.first_divergence is None else "differ"

    @property
    def agree(self) -> bool:
        return self.verdict == "agree"

    # ------------------------------------------------------------ text
    def table(self, per_step: bool = False) -> str:
        """Summary, first divergence, unmatched leaves; ``per_step`` adds the steps where
        something changes: a leaf starts to differ, or the worst ``|d| / tol`` enters a new
        power of ten (each row shows the worst leaf at that step)."""
        a, b = self.names
        head = f"crosscheck {self.label + ': ' if self.label else ''}{a} vs {b}, " \
               f"{self.steps} steps, {self.mode} mode"
        first = self.first_divergence
        lines = [head, f"verdict: {self.verdict}" + (
            "" if first is None else
            f" - first at step {first.step}, {first.kind} {first.path}: |d| {_fmt(first.abs)}"
            f" > tol {_fmt(first.tol)} (rel {_fmt(first.rel)})")]
        lines.append(f"{'':10}{'max |d|':>10}{'max rel':>10}{'max d/S':>10}  {'leaves':>6}"
                     f"  first divergence")
        for kind in self.kinds():
            leaves, f = self.of(kind), self.first(kind)
            where = "-" if f is None else f"step {f.step} {f.path}"
            lines.append(f"{kind:10}{_fmt(self.max_abs(kind)):>10}{_fmt(self.max_rel(kind)):>10}"
                         f"{_fmt(self.max_scaled(kind)):>10}  {len(leaves):>6}  {where}")
        floats = [leaf for leaf in self.leaves if leaf.rtol]
        if floats:
            scaled = all(math.isclose(lf.atol, lf.rtol * lf.scale) for lf in floats)
            atol = "rtol * leaf scale" if scaled else f"{max(lf.atol for lf in floats):g}"
            lines.append(f"tolerance: |d| > atol + rtol*|x|, atol = {atol}; rtol " + ", ".join(
                f"{dt} {r:g}" for dt, r in sorted({(lf.dtype, lf.rtol) for lf in floats})))
        for u in self.unmatched:
            lines.append(f"unmatched (not compared): {u.side} {u.path} ({u.reason})")
        lines.extend(self.notes)
        if self.losses is not None and len(self.losses):
            la, lb = self.losses[-1]
            lines.append(f"final loss: {a} {float(la):.6g}, {b} {float(lb):.6g}")
        if self.schedule is not None:
            s = self.schedule
            lines.append(f"schedule {s.names[0]} vs {s.names[1]}: max d/S "
                         f"{_fmt(s.max_scaled('schedule'))}, max rel {_fmt(s.max_rel('schedule'))}, "
                         f"{s.verdict}")
            lines.extend("  " + note for note in s.notes)
        if per_step:
            lines.extend(self._step_rows())
        return "\n".join(lines)

    def _step_rows(self) -> list[str]:
        rows = [f"{'step':>6}  {'kind':8} {'|d|':>9} {'rel':>9} {'tol':>9}  leaf"]
        seen: set[tuple[str, str]] = set()
        decade = -math.inf
        for t in range(self.steps):
            ratios = [(_ratio(leaf, t), leaf) for leaf in self.leaves]
            if not ratios:
                break
            worst_ratio, worst = max(ratios, key=lambda pair: pair[0])
            new = [leaf for r, leaf in ratios if r > 1 and (leaf.kind, leaf.path) not in seen]
            seen.update((leaf.kind, leaf.path) for leaf in new)
            r = worst_ratio
            dec = math.floor(math.log10(r)) if 0 < r < math.inf else (-math.inf if r == 0 else math.inf)
            if not (t in (0, self.steps - 1) or new or dec > decade):
                continue
            decade = max(decade, dec)
            for leaf in new or [worst]:  # the leaves that start to differ, else the worst one
                rows.append(f"{t:>6}  {leaf.kind:8} {_fmt(float(leaf.abs[t])):>9} "
                            f"{_fmt(float(leaf.rel[t])):>9} {_fmt(float(leaf.tol[t])):>9}  "
                            f"{leaf.path}" + ("  <- differs" if _ratio(leaf, t) > 1 else ""))
        return rows

    # ------------------------------------------------------------ serialisation
    def to_dict(self, per_step: bool = True) -> dict[str, Any]:
        """A JSON-ready dict; with ``per_step`` it holds every leaf's per-step numbers and
        `from_dict` rebuilds the report from it."""
        first = self.first_divergence
        out: dict[str, Any] = {
            "label": self.label, "names": list(self.names), "mode": self.mode,
            "steps": self.steps, "verdict": self.verdict,
            "first_divergence": None if first is None else
            {**first._asdict(), **{k: _num(getattr(first, k)) for k in ("abs", "rel", "tol")}},
            "max": {kind: {"abs": _num(self.max_abs(kind)), "rel": _num(self.max_rel(kind)),
                           "scaled": _num(self.max_scaled(kind))} for kind in self.kinds()},
            "unmatched": [u._asdict() for u in self.unmatched],
            "notes": list(self.notes),
            "meta": self.meta,
            "leaves": [],
        }
        for leaf in self.leaves:
            entry = {"kind": leaf.kind, "path": leaf.path, "path_b": leaf.path_b,
                     "dtype": leaf.dtype, "shape": list(leaf.shape), "rtol": leaf.rtol,
                     "atol": _num(leaf.atol), "first_step": leaf.first_step}
            if per_step:
                entry.update(abs=_nums(leaf.abs), mag=_nums(leaf.mag))
            out["leaves"].append(entry)
        if per_step and self.losses is not None:
            out["losses"] = [_nums(row) for row in self.losses]
        if self.schedule is not None:
            out["schedule"] = self.schedule.to_dict(per_step)
        return out

    def to_json(self, per_step: bool = True, **dumps_kwargs: Any) -> str:
        return json.dumps(self.to_dict(per_step), default=str, **dumps_kwargs)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CrosscheckReport:
        """Rebuild a report from ``to_dict(per_step=True)``."""
        leaves = tuple(
            LeafTrace(kind=e["kind"], path=e["path"], dtype=e["dtype"], shape=tuple(e["shape"]),
                      rtol=float(e["rtol"]), atol=_unnum(e["atol"]),
                      abs=np.array([_unnum(x) for x in e["abs"]], np.float64),
                      mag=np.array([_unnum(x) for x in e["mag"]], np.float64),
                      path_b=e.get("path_b", ""))
            for e in data["leaves"])
        losses = data.get("losses")
        return cls(
            names=tuple(data["names"]), mode=data["mode"], steps=int(data["steps"]), leaves=leaves,
            unmatched=tuple(Unmatched(**u) for u in data["unmatched"]),
            losses=None if losses is None else np.array(
                [[_unnum(x) for x in row] for row in losses], np.float64).reshape(-1, 2),
            schedule=None if data.get("schedule") is None else cls.from_dict(data["schedule"]),
            notes=tuple(data.get("notes", ())), label=data.get("label", ""),
            meta=dict(data.get("meta", {})))

    @classmethod
    def from_json(cls, text: str) -> CrosscheckReport:
        return cls.from_dict(json.loads(text))
