"""W4: W2 with 32 learning rates, one vmapped sweep against 32 runs one after another.

Both sides use jaxgd's own compiled training program, so the comparison isolates
what the sweep adds: the 32 runs batched into one program (vmap) whose run axis is
split over all CPU cores (one host device per core). The sequential side compiles
its single-run program once and calls it 32 times (the best a loop of runs can do;
`fit` in a loop would also recompile). The measurement runs in a fresh process,
because the number of CPU devices is fixed when JAX starts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

_CHILD = r"""
import json, statistics, sys, time
import jax
from jaxgd.experiments.config import TrainConfig
from jaxgd.experiments.sweep.engine import sweep
from jaxgd.experiments.sweep.grid import make_grid, parse_spec

epochs, repeats = int(sys.argv[1]), int(sys.argv[2])
cfg = TrainConfig(dataset="digits", hidden=(128, 128), activation="relu", init="he",
                  optimizer="adam", learning_rate=1e-3, batch_size=32, epochs=epochs,
                  test_fraction=0.2, impl="hand")
grid = make_grid({"learning_rate": parse_spec("--lr", "1e-4:1e-1:32:log")}, [0])
devices = jax.devices()
out = {"devices": len(devices)}
for name, kw in (("sweep (vmap, all cores)", {"devices": devices}),
                 ("32 sequential runs", {"devices": devices[:1], "max_runs_per_chunk": 1})):
    res = [sweep(cfg, grid, raise_if_all_diverged=False, **kw) for _ in range(repeats + 1)][1:]
    out[name] = {"run_s": statistics.median(r.run_seconds for r in res),
                 "compile_s": statistics.median(r.compile_seconds for r in res),
                 "total_s": statistics.median(r.seconds for r in res),
                 "chunks": res[0].chunks, "final_loss_lr_1e-3": float(
                     res[0].history["loss"][12, -1])}
print(json.dumps(out))
"""


def w4(quick: bool = False, repeats: int = 2) -> dict:
    """Run W4 in a fresh process with one CPU device per core; a workload result dict."""
    cores = os.cpu_count() or 1
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={cores}")
    epochs = 1 if quick else 20
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(epochs), str(repeats)],
                          capture_output=True, text=True, env=env, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"W4 subprocess failed:\n{proc.stderr[-3000:]}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    sw, seq = r["sweep (vmap, all cores)"], r["32 sequential runs"]
    speedup = seq["run_s"] / sw["run_s"]
    md = "\n".join([
        "| program | run (median) | compile | chunks |",
        "|---|---|---|---|",
        *(f"| {k} | {v['run_s']:.2f} s | {v['compile_s']:.2f} s | {v['chunks']} |"
          for k, v in (("sweep (vmap, all cores)", sw), ("32 sequential runs", seq))),
        "",
        f"Speed-up of the sweep: {speedup:.2f}x on {r['devices']} CPU devices "
        f"(wall time with compilation: {seq['total_s'] / sw['total_s']:.2f}x).",
    ])
    return {"name": "W4", "title": f"sweep: W2 with 32 learning rates (log 1e-4..1e-1), {epochs} epochs",
            "result": r, "speedup": speedup, "markdown": md}
