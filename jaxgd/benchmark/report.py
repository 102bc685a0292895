"""Render benchmark results as markdown tables."""

from __future__ import annotations

from typing import Any


def _fmt_s(s: float) -> str:
    return f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s"


def markdown(res: dict[str, Any]) -> str:
    m = res["machine"]
    lines = [f"Machine: {m['processor']}, {m['cpu_count']} cores, {m['device']}, jax {m['jax']}, "
             f"Python {m['python']}, {m['date']}. Medians of {res['repeats']} interleaved runs "
             "after warm-up; compile time measured apart (`.lower().compile()`).", ""]
    if "matmul_gflops" in res:
        lines += [f"float32 matmul peak (best of 2048 and 4096 square products, jit): "
                  f"{res['matmul_gflops']:.1f} GFLOP/s", ""]
    for wl in res["workloads"]:
        lines += [f"**{wl['name']}** {wl['title']}", ""]
        if "rows" not in wl:
            lines += [wl.get("markdown", ""), ""]
            continue
        flops = any("gflops" in r for r in wl["rows"])
        head = "| implementation | median | min | max | compile | ratio to jaxgd (hand) |"
        sep = "|---|---|---|---|---|---|"
        if flops:
            head += " GFLOP/s | of matmul peak |"
            sep += "---|---|"
        lines += [head, sep]
        for r in wl["rows"]:
            row = (f"| {r['name']} | {_fmt_s(r['median_s'])} | {_fmt_s(r['min_s'])} | "
                   f"{_fmt_s(r['max_s'])} | {_fmt_s(r['compile_s'])} | {r['ratio_to_jaxgd']:.2f}x |")
            if flops:
                frac = r.get("fraction_of_matmul_peak")
                row += f" {r['gflops']:.1f} | {'' if frac is None else f'{frac:.0%}'} |"
            lines.append(row)
        lines.append("")
    if "end_to_end" in res:
        e = res["end_to_end"]
        lines += ["**End to end** (fresh process, the tutorial's job, 10,000 epochs: the main job "
                  "`jaxgd train --impl hand` against a bare script of one training, the default "
                  "`jaxgd train` against one of both; first run: empty compilation cache; repeat: the "
                  "cache filled by an earlier run)",
                  "", "| program | wall time (median) | peak RSS | ratio to bare |", "|---|---|---|---|"]
        for name, side in e.items():
            if isinstance(side, dict):
                ratio = f"{side['ratio_to_bare']:.2f}x" if "ratio_to_bare" in side else "1.00x"
                lines.append(f"| {name} | {side['wall_s_median']:.2f} s | "
                             f"{side['maxrss_mb_median']:.0f} MB | {ratio} |")
        lines += ["", f"RSS ratio jaxgd / bare: {e['rss_ratio']:.2f}", ""]
    return "\n".join(lines)
