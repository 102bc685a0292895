"""`jaxgd train` as a user runs it: wall time and peak memory of a fresh process.

The main job is the tutorial's: the 2-3-1 network on XOR, 10,000 full-batch epochs of
gradient descent, ``jaxgd train --impl hand``; the reference is a bare JAX script
doing that one training, also in a fresh process. The default ``jaxgd train`` (both
rules side by side, and the per-step check of the two) is held against a bare script
doing both trainings.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_MEASURE = """
import json, sys, time
t0 = time.perf_counter()
{body}
# VmHWM: this process's own peak resident set (ru_maxrss would carry the parent's over exec)
hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM")][0]
print(json.dumps({{"maxrss_mb": int(hwm.split()[1]) / 1024, "inner_s": time.perf_counter() - t0}}))
"""

JAXGD_BODY = """
from jaxgd.cli import main
rc = main(["train", "--quiet", "--out", sys.argv[1]])
assert rc == 0
"""

JAXGD_HAND_BODY = JAXGD_BODY.replace('"--quiet"', '"--impl", "hand", "--quiet"')

_BARE_SETUP = """
import jax, jax.numpy as jnp, numpy as np
x = jnp.array([[0, 0], [0, 1], [1, 0], [1, 1]], jnp.float32)
y = jnp.array([[0], [1], [1], [0]], jnp.float32)
k1, k2 = jax.random.split(jax.random.key(0))
p = (jax.random.normal(k1, (2, 3)), jnp.zeros(3), jax.random.normal(k2, (3, 1)), jnp.zeros(1))
def loss(p):
    h = jax.nn.sigmoid(x @ p[0] + p[1])
    return jnp.mean((jax.nn.sigmoid(h @ p[2] + p[3]) - y) ** 2)
@jax.jit
def by_hand(p):
    return jax.lax.scan(lambda p, _: (jax.tree.map(lambda a, g: a - 0.5 * g, p, jax.grad(loss)(p)),
                                       loss(p)), p, None, length=10000)
"""

# the main job: one training with the update written inline
BARE_HAND_BODY = _BARE_SETUP + """
a, la = by_hand(p)
print(float(la[-1]), file=sys.stderr)
np.savez(sys.argv[1] + ".npz", *[np.asarray(t) for t in a])
"""

# what the default `jaxgd train` does: the same training by hand and with optax
BARE_BODY = "import optax" + _BARE_SETUP + """
tx = optax.sgd(0.5)
@jax.jit
def with_optax(p):
    def body(c, _):
        p, s = c
        u, s = tx.update(jax.grad(loss)(p), s, p)
        return (optax.apply_updates(p, u), s), loss(p)
    return jax.lax.scan(body, (p, tx.init(p)), None, length=10000)
a, la = by_hand(p)
(b, _), lb = with_optax(p)
print(float(la[-1]), float(lb[-1]), file=sys.stderr)
np.savez(sys.argv[1] + ".npz", *[np.asarray(t) for t in a])
"""


def _run(body: str, arg: str, cache: str | None = None) -> dict:
    """One fresh process; ``cache``: its compilation-cache folder (None: no cache)."""
    env = dict(os.environ)
    if cache is None:
        env["JAXGD_NO_COMPILE_CACHE"] = "1"
    else:
        env.pop("JAXGD_NO_COMPILE_CACHE", None)
        env["JAXGD_CACHE_DIR"] = cache
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _MEASURE.format(body=body), arg],
                          capture_output=True, text=True, timeout=600, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark subprocess failed:\n{proc.stderr[-2000:]}")
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    info["wall_s"] = wall
    return info


MAIN_FIRST = "jaxgd train --impl hand (first run)"
MAIN_REPEAT = "jaxgd train --impl hand (repeat)"
BARE = "bare JAX script"
DEFAULT_FIRST = "jaxgd train, default: both rules + per-step check (first run)"
BARE_BOTH = "bare JAX script, both trainings"


def train_end_to_end(repeats: int = 3) -> dict:
    """Median wall time and peak RSS of `jaxgd train` and of the bare scripts.

    The main job (``--impl hand``) is measured on a first run (an empty compilation
    cache, as after installing) and on a repeat (the cache filled by an earlier
    identical run) against the bare script of one training; the default ``train``
    (both rules) on a first run against the bare script of both. The bare scripts
    compile every time, as a script does.
    """
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        warm = str(Path(tmp) / "warm-cache")
        _run(JAXGD_HAND_BODY, str(Path(tmp) / "fill"), cache=warm)
        sides = {MAIN_FIRST: (JAXGD_HAND_BODY, lambda i: str(Path(tmp) / f"cold{i}")),
                 MAIN_REPEAT: (JAXGD_HAND_BODY, lambda i: warm),
                 BARE: (BARE_HAND_BODY, lambda i: None),
                 DEFAULT_FIRST: (JAXGD_BODY, lambda i: str(Path(tmp) / f"cold-both{i}")),
                 BARE_BOTH: (BARE_BODY, lambda i: None)}
        runs: dict[str, list[dict]] = {name: [] for name in sides}
        for i in range(repeats):  # in turn, so the machine's load hits every side alike
            for j, (name, (body, cache)) in enumerate(sides.items()):
                runs[name].append(_run(body, str(Path(tmp) / f"out{j}-{i}"), cache(i)))
        for name, rs in runs.items():
            out[name] = {"wall_s_median": statistics.median(r["wall_s"] for r in rs),
                         "maxrss_mb_median": statistics.median(r["maxrss_mb"] for r in rs)}
    for name, base in ((MAIN_FIRST, BARE), (MAIN_REPEAT, BARE), (DEFAULT_FIRST, BARE_BOTH)):
        out[name]["ratio_to_bare"] = out[name]["wall_s_median"] / out[base]["wall_s_median"]
    out["rss_ratio"] = out[MAIN_FIRST]["maxrss_mb_median"] / out[BARE]["maxrss_mb_median"]
    return out
