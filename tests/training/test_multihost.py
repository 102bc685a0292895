"""Two processes over 127.0.0.1 (jax.distributed, gloo on CPU) train like one process:
with the data replicated, like one device; with it sharded (the default), like one
process over four devices, each process holding half of the rows."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from jaxgd.cli import build_parser
from jaxgd.cli.train_cmd import config_from_args
from jaxgd.experiments.records import read_metrics_csv
from jaxgd.experiments.run import train

ROOT = Path(__file__).resolve().parents[2]
ARGS = ["--dataset", "sine", "--n-samples", "64", "--hidden", "8", "--batch-size", "16",
        "--optimizer", "adam", "--lr", "0.01", "--epochs", "6", "--impl", "hand", "--quiet", "--json"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def two_processes(tmp_path, args, meanwhile):
    """Run ``jaxgd train ARGS`` as 2 processes x 2 CPU devices, calling ``meanwhile()`` while
    they run; ``(its result, the two JSON summaries)``."""
    port = free_port()
    env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS="--xla_force_host_platform_device_count=2")
    t0 = time.perf_counter()
    procs = [subprocess.Popen(
        [sys.executable, "-m", "jaxgd", "train", *args, "--out", str(tmp_path / f"p{i}"),
         "--coordinator", f"127.0.0.1:{port}", "--num-processes", "2", "--process-id", str(i)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(2)]
    try:
        result = meanwhile()
        outs = [p.communicate(timeout=180) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-2000:]
    print(f"two-process run: {time.perf_counter() - t0:.1f} s wall")
    return result, [json.loads([line for line in out.splitlines() if line.startswith("{")][-1])
                    for out, _ in outs]


def train_here(args):
    return train(config_from_args(build_parser().parse_args(["train", *args])))


@pytest.mark.slow  # 25-40 s: fresh processes or many devices; run with pytest -m slow
def test_two_processes_with_two_devices_each_match_one_process(tmp_path):
    args = [*ARGS, "--data-sharding", "replicated"]
    single, summaries = two_processes(tmp_path, args, lambda: train_here(ARGS))
    assert all((s["processes"], s["devices"]) == (2, 4) for s in summaries)
    assert all((s["data_sharding"], s["rows_this_process"]) == ("replicated", 64) for s in summaries)
    assert summaries[0]["final_loss"] == summaries[1]["final_loss"]  # one global computation
    assert (tmp_path / "p0" / "summary.json").is_file() and not (tmp_path / "p1").exists()

    res = single.results["hand"]
    loss = read_metrics_csv(tmp_path / "p0" / "metrics.csv")["loss"]
    np.testing.assert_allclose(loss, res.history["loss"], rtol=1e-5)
    with np.load(tmp_path / "p0" / "params.npz") as z:
        for path, leaf in jax.tree_util.tree_flatten_with_path(res.state.params)[0]:
            np.testing.assert_allclose(z[jax.tree_util.keystr(path)], np.asarray(leaf),
                                       rtol=1e-5, atol=1e-6)


@pytest.mark.slow  # 25-40 s: fresh processes or many devices; run with pytest -m slow
def test_two_processes_holding_half_the_rows_each_match_one_process_over_four_devices(tmp_path):
    # 64 of 80 moons train, 16 test: each device 16 rows, each process 32; batches of 4 per device
    args = ["--dataset", "moons", "--n-samples", "80", "--test-fraction", "0.2", "--hidden", "8",
            "--activation", "tanh", "--batch-size", "16", "--optimizer", "adam", "--lr", "0.05",
            "--epochs", "4", "--impl", "hand", "--quiet", "--json"]
    four, summaries = two_processes(tmp_path, args,  # the default of a multi-process run: sharded
                                    lambda: train_here([*args, "--devices", "4", "--data-sharding",
                                                        "sharded"]))
    for s in summaries:
        assert (s["processes"], s["devices"], s["data_sharding"]) == (2, 4, "sharded")
        assert (s["train_rows"], s["rows_per_device"], s["rows_this_process"]) == (64, 16, 32)
    assert four.summary["rows_this_process"] == 64 and four.summary["data_sharding"] == "sharded"
    assert summaries[0]["final_loss"] == summaries[1]["final_loss"]
    metrics = read_metrics_csv(tmp_path / "p0" / "metrics.csv")
    history = four.results["hand"].history
    for name in ("loss", "train_accuracy", "test_loss", "test_accuracy"):
        np.testing.assert_allclose(metrics[name], history[name], rtol=1e-5, err_msg=name)
    assert 0.5 < history["train_accuracy"][-1] < 1 and len(history["loss"]) == 4
