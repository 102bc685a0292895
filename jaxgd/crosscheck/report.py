"""What a cross-check found: per-step differences leaf by leaf, a verdict, a table, JSON.

The numbers are computed by `jaxgd.crosscheck`; this module only holds them (as
NumPy arrays on the host) and reads them out. The per-leaf math (difference,
magnitude, tolerance, non-finite flags) is in `jaxgd.crosscheck.traces`. The
verdict, worst first:

    "non-finite"  a side (or the oracle) holds a NaN or inf: the first step and leaf
    "depart"      with an oracle: a side is farther from it than the eps-scaled tolerance
    "differ"      the two sides are farther apart than the tolerance
    "agree"       none of these

A table row may document why a verdict other than "agree" is expected for a dtype
(``known``, with the sides it concerns); such a report is `documented`, and `ok`.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import numpy as np

from jaxgd.crosscheck.traces import (
    Divergence,
    LeafTrace,
    NonFinite,
    Unmatched,
    divergence_dict,
    first_divergence,
    first_non_finite,
    json_number,
    json_numbers,
    leaf_from_dict,
    leaf_to_dict,
    ratio,
)

__all__ = ["CrosscheckReport", "Divergence", "LeafTrace", "NonFinite", "Unmatched"]

KINDS = ("updates", "state", "params", "schedule")


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
    oracle: str = ""  # "float64": both sides were also compared with the rule run in float64
    oracle_leaves: tuple[LeafTrace, ...] = ()  # updates and params, each side vs the oracle
    known: str = ""  # why a verdict other than "agree" is expected here (from the table)
    known_sides: tuple[str, ...] = ()  # the sides ``known`` concerns

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
        return first_divergence(leaf for leaf in self.leaves if kind in (None, leaf.kind))

    @property
    def non_finite(self) -> NonFinite | None:
        """The first step a side (or the oracle) holds a NaN or inf, the sides and the leaf."""
        found = [first_non_finite(self.leaves, self.names)]
        found += [first_non_finite(self.against(side), (side, f"{self.oracle} oracle"))
                  for side in self.names]
        found = [f for f in found if f is not None]
        return min(found, key=lambda f: f.step) if found else None

    def against(self, side: str) -> tuple[LeafTrace, ...]:
        """The traces of ``side`` against the oracle (empty without one)."""
        return tuple(leaf for leaf in self.oracle_leaves if leaf.side == side)

    @property
    def departures(self) -> dict[str, Divergence]:
        """Side name -> where it first departs from the oracle (sides within it are left out)."""
        found = {side: first_divergence(self.against(side)) for side in self.names}
        return {side: d for side, d in found.items() if d is not None}

    @property
    def verdict(self) -> str:
        """"non-finite", "depart" (from the oracle), "differ" (from each other) or "agree"."""
        if self.non_finite is not None:
            return "non-finite"
        if self.departures:
            return "depart"
        return "agree" if self.first_divergence is None else "differ"

    @property
    def agree(self) -> bool:
        return self.verdict == "agree"

    @property
    def documented(self) -> bool:
        """True when the verdict is not "agree" for a reason the table gives (``known``) and its
        NaNs or departures concern only the sides it names (a difference: any side)."""
        verdict = self.verdict
        if verdict == "agree" or not self.known:
            return False
        if verdict == "non-finite":
            culprits = set(self.non_finite.sides)
        elif verdict == "depart":
            culprits = set(self.departures)
        else:  # the two differ, neither departs: the reason explains the difference
            culprits = set(self.known_sides)
        return culprits <= set(self.known_sides)

    @property
    def ok(self) -> bool:
        """"agree", or a departure the table documents (`documented`)."""
        return self.agree or self.documented

    def summary(self) -> str:
        """The verdict in one line: where, which side, and against what."""
        verdict, (a, b) = self.verdict, self.names
        if verdict == "non-finite":
            f = self.non_finite
            who = " and ".join(f.sides)
            text = f"non-finite: {who} {'hold' if len(f.sides) > 1 else 'holds'} a NaN or inf " \
                   f"at step {f.step}, leaf {f.path} ({f.kind})"
        elif verdict == "depart":
            gone = self.departures
            side, d = min(gone.items(), key=lambda item: item[1].step)
            who = "both" if len(gone) == 2 else side
            text = f"{who} {'depart' if len(gone) == 2 else 'departs'} from the {self.oracle} oracle " \
                   f"at step {d.step}, leaf {d.path} ({d.kind})" + (
                       "" if len(gone) == 2 else f"; {b if side == a else a} stays within it")
        elif verdict == "differ":
            d = self.first_divergence
            text = f"differ: first at step {d.step} {d.kind} {d.path}"
        else:
            text = "agree" + (f" (both within the {self.oracle} oracle's tolerance)" if self.oracle else "")
        return text + (f" [documented: {self.known}]" if self.documented else "")

    # ------------------------------------------------------------ text
    def table(self, per_step: bool = False) -> str:
        """Summary, first divergence, unmatched leaves; ``per_step`` adds the steps where
        something changes: a leaf starts to differ, or the worst ``|d| / tol`` enters a new
        power of ten (each row shows the worst leaf at that step)."""
        a, b = self.names
        head = f"crosscheck {self.label + ': ' if self.label else ''}{a} vs {b}, " \
               f"{self.steps} steps, {self.mode} mode"
        first, verdict, summary = self.first_divergence, self.verdict, self.summary()
        where = "" if first is None else f"first at step {first.step}, {first.kind} {first.path}: " \
            f"|d| {_fmt(first.abs)} > tol {_fmt(first.tol)} (rel {_fmt(first.rel)})"
        said = summary if summary.startswith(verdict) else f"{verdict} - {summary}"
        lines = [head, f"verdict: differ - {where}" if verdict == "differ" else f"verdict: {said}"]
        if first is not None and verdict != "differ":
            lines.append(f"{a} vs {b}: {where}")
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
        for side in self.names if self.oracle else ():
            d, worst = self.departures.get(side), max((lf.max_scaled for lf in self.against(side)), default=0)
            lines.append(f"{side} vs the {self.oracle} oracle: max d/S {_fmt(worst)}, " + (
                "within the tolerance" if d is None else
                f"departs at step {d.step}, {d.kind} {d.path}: |d| {_fmt(d.abs)} > tol {_fmt(d.tol)}"))
        lines += [f"unmatched (not compared): {u.side} {u.path} ({u.reason})" for u in self.unmatched]
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
            ratios = [(ratio(leaf, t), leaf) for leaf in self.leaves]
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
                            f"{leaf.path}" + ("  <- differs" if ratio(leaf, t) > 1 else ""))
        return rows

    # ------------------------------------------------------------ serialisation
    def to_dict(self, per_step: bool = True) -> dict[str, Any]:
        """A JSON-ready dict; with ``per_step`` it holds every leaf's per-step numbers and
        `from_dict` rebuilds the report from it."""
        first, bad = self.first_divergence, self.non_finite
        out: dict[str, Any] = {
            "label": self.label, "names": list(self.names), "mode": self.mode,
            "steps": self.steps, "verdict": self.verdict, "summary": self.summary(),
            "ok": self.ok, "documented": self.documented,
            "first_divergence": None if first is None else divergence_dict(first),
            "non_finite": None if bad is None else bad._asdict(),
            "departures": {side: divergence_dict(d) for side, d in self.departures.items()},
            "max": {kind: {"abs": json_number(self.max_abs(kind)), "rel": json_number(self.max_rel(kind)),
                           "scaled": json_number(self.max_scaled(kind))} for kind in self.kinds()},
            "unmatched": [u._asdict() for u in self.unmatched],
            "notes": list(self.notes), "meta": self.meta, "oracle": self.oracle,
            "known": self.known, "known_sides": list(self.known_sides),
            "leaves": [leaf_to_dict(leaf, per_step) for leaf in self.leaves],
            "oracle_leaves": [leaf_to_dict(leaf, per_step) for leaf in self.oracle_leaves],
        }
        if per_step and self.losses is not None:
            out["losses"] = [json_numbers(row) for row in self.losses]
        if self.schedule is not None:
            out["schedule"] = self.schedule.to_dict(per_step)
        return out

    def to_json(self, per_step: bool = True, **dumps_kwargs: Any) -> str:
        return json.dumps(self.to_dict(per_step), default=str, **dumps_kwargs)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CrosscheckReport:
        """Rebuild a report from ``to_dict(per_step=True)``."""
        losses = data.get("losses")
        return cls(
            names=tuple(data["names"]), mode=data["mode"], steps=int(data["steps"]),
            leaves=tuple(leaf_from_dict(e) for e in data["leaves"]),
            unmatched=tuple(Unmatched(**u) for u in data["unmatched"]),
            losses=None if losses is None else np.array(
                [[float(x) for x in row] for row in losses], np.float64).reshape(-1, 2),
            schedule=None if data.get("schedule") is None else cls.from_dict(data["schedule"]),
            notes=tuple(data.get("notes", ())), label=data.get("label", ""),
            meta=dict(data.get("meta", {})), oracle=data.get("oracle", ""),
            oracle_leaves=tuple(leaf_from_dict(e) for e in data.get("oracle_leaves", ())),
            known=data.get("known", ""), known_sides=tuple(data.get("known_sides", ())))

    @classmethod
    def from_json(cls, text: str) -> CrosscheckReport:
        return cls.from_dict(json.loads(text))
