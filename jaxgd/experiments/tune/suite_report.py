"""What the suite reports: per problem the table of `jaxgd tune`, across problems the
performance profile, each with its budget; summary.json, suite.md and profile.png.

An objective's summary (`jaxgd.experiments.tune.objective.objective_summary`) has the
form of `jaxgd.experiments.tune.report.summarize`'s, so `format_tables` prints it the same way.

The profile's time of an optimizer on a problem is the median over seeds of the
updates to target (epochs x steps per epoch for a dataset, steps for an objective),
a seed that never gets there counting as infinite (Dolan & Moré 2002).
"""

from __future__ import annotations

import json
import math
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jaxgd.experiments.outdir import write_result_folder
from jaxgd.experiments.stats import performance_profile
from jaxgd.experiments.tune.report import TAUS, format_profile, format_tables
from jaxgd.experiments.tune.suite import SuiteProblem


def suite_summary(problems: Sequence[SuiteProblem], summaries: Sequence[dict], contenders: Sequence[str],
                  trials: int, seeds: Sequence[int], taus: Sequence[float] = TAUS) -> dict[str, Any]:
    """Every problem's summary and the performance profile across them; JSON-ready."""
    times = {c: [] for c in contenders}
    for s in summaries:
        for row in s["datasets"][0]["optimizers"]:
            t = row["target"]["median_steps"]
            times[row["optimizer"]].append(math.inf if t is None else t)
    profile = performance_profile(times, taus)
    return {"kind": "suite", "optimizers": list(contenders), "trials": trials,
            "seeds": [int(s) for s in seeds],
            "problems": [{"name": p.name, "source": p.source, "target": p.reached, "length": p.length,
                          "unit": p.unit, "summary": s} for p, s in zip(problems, summaries, strict=True)],
            "profile": {"taus": list(map(float, taus)), "time": "median updates to target",
                        "fractions": {k: v.tolist() for k, v in profile.items()}}}


def budget_text(suite: dict) -> str:
    """The budget of the profile: the same trials and seeds everywhere, each problem's length."""
    lengths = ", ".join(f"{p['name']} {p['length']} {p['unit']}" for p in suite["problems"])
    return (f"budget per optimizer on each problem: {suite['trials']} trials + {len(suite['seeds'])} "
            f"seeds ({lengths})")


def format_suite(suite: dict) -> str:
    """Per problem its target and tune's tables; then the profile across problems."""
    blocks = [f"== {p['name']}: target {p['target']}\n{format_tables(p['summary'])}"
              for p in suite["problems"]]
    blocks.append(format_profile(suite["profile"], f"{len(suite['problems'])} problems",
                                 budget_text(suite)))
    return "\n\n".join(blocks)


def machine() -> dict[str, Any]:
    """Where the suite ran: platform, CPU cores, jax version, device."""
    import os

    import jax

    return {"platform": platform.platform(), "cpu_cores": os.cpu_count(), "python": platform.python_version(),
            "jax": jax.__version__, "device": jax.devices()[0].device_kind}


def markdown(suite: dict, command: str) -> str:
    """The suite as a markdown page: the command, the machine, the wall time, the tables."""
    m = suite["machine"]
    lines = ["# jaxgd suite: reference results", "", "Produced by one command:", "", "```bash",
             command, "```", "",
             f"Machine: `{m['platform']}`, {m['cpu_cores']} CPU cores ({m['device']}), jax {m['jax']}, "
             f"Python {m['python']}. Wall time: {suite['seconds']:.0f} s, compilation included.", "",
             "Each problem is tuned with the protocol of `jaxgd tune` (README, \"Comparing optimizers "
             "fairly\"); the quadratic and Rosenbrock have no data, so their metric is the objective "
             "value f itself, trials start at the standard start and seeds at random starts around it.",
             "Values are mean [95% bootstrap interval] over seeds; a value without an interval is "
             "the same on every seed.", ""]
    for p in suite["problems"]:
        lines += [f"## {p['name']}: target {p['target']}", "", "```", format_tables(p["summary"]),
                  "```", ""]
    lines += ["## Across problems", "", "```", format_profile(suite["profile"],
              f"{len(suite['problems'])} problems", budget_text(suite)), "```", ""]
    return "\n".join(lines)


def write_suite(out_dir, suite: dict, command: str, overwrite: bool = False,
                plot: bool = False) -> list[Path]:
    """The run folder: summary.json, suite.md, and profile.png with ``plot``."""

    def figures(folder: Path) -> list[Path]:
        from jaxgd.experiments.tune.figures import profile_figure

        path = folder / "profile.png"
        profile_figure(suite, what="problems").savefig(path, dpi=120)
        return [path]

    return write_result_folder(out_dir, "suite", {
        "summary.json": lambda p: p.write_text(json.dumps(suite, indent=2) + "\n"),
        "suite.md": lambda p: p.write_text(markdown(suite, command)),
    }, overwrite, figures=figures if plot else None)
