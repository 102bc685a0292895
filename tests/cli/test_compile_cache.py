"""JAX's persistent compilation cache: on for CLI runs, in jaxgd's cache folder; off on request."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import jax
import pytest

from jaxgd.core.cache import cache_dir, compile_cache_off, use_compile_cache

# runs `jaxgd ARGS` in this process and prints its exit code and the cache hits and misses
DRIVER = """
import collections, json, sys
import jax.monitoring
events = collections.Counter()
jax.monitoring.register_event_listener(lambda name, **kw: events.update([name]))
from jaxgd.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "hits": events["/jax/compilation_cache/cache_hits"],
                  "misses": events["/jax/compilation_cache/cache_misses"]}))
"""
TRAIN = ["train", "--quiet", "--epochs", "50", "--impl", "hand"]


def run_cli(args: list[str], cache: os.PathLike, **env: str) -> dict:
    environ = {k: v for k, v in os.environ.items() if k != "JAXGD_NO_COMPILE_CACHE"}  # conftest's
    environ.update(PYTHONPATH=os.pathsep.join(sys.path), JAXGD_CACHE_DIR=str(cache), **env)
    proc = subprocess.run([sys.executable, "-c", DRIVER, *args], capture_output=True, text=True,
                          env=environ, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


def test_a_repeated_train_loads_every_program_from_the_cache(tmp_path):
    folder = tmp_path / "cache" / "xla"
    first = run_cli([*TRAIN, "--out", str(tmp_path / "a")], tmp_path / "cache")
    entries = sorted(p.name for p in folder.iterdir())
    assert first["code"] == 0 and first["hits"] == 0 and first["misses"] > 0
    assert len(entries) >= first["misses"]  # every program written, however small
    second = run_cli([*TRAIN, "--out", str(tmp_path / "b")], tmp_path / "cache")
    assert second["code"] == 0 and second["misses"] == 0 and second["hits"] >= first["misses"]
    assert sorted(p.name for p in folder.iterdir()) == entries  # nothing new was needed


@pytest.mark.parametrize("switch", [["--no-compile-cache"], []], ids=["flag", "environment"])
def test_turned_off_no_cache_folder_is_made(tmp_path, switch):
    env = {} if switch else {"JAXGD_NO_COMPILE_CACHE": "1"}
    result = run_cli([*TRAIN, *switch, "--out", str(tmp_path / "a")], tmp_path / "cache", **env)
    assert (result["code"], result["hits"], result["misses"]) == (0, 0, 0)
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("value, off", [("1", True), ("yes", True), ("0", False), ("", False),
                                        (None, False)])
def test_environment_switch(value, off):
    assert compile_cache_off({} if value is None else {"JAXGD_NO_COMPILE_CACHE": value}) is off


@pytest.mark.parametrize("env, expected", [
    ({"JAXGD_CACHE_DIR": "/c/jx", "XDG_CACHE_HOME": "/x"}, "/c/jx/xla"),
    ({"XDG_CACHE_HOME": "/x"}, "/x/jaxgd/xla"),
    ({"HOME": "/h"}, "/h/.cache/jaxgd/xla"),
])
def test_cache_folder_by_environment(monkeypatch, env, expected):
    for name in ("JAXGD_CACHE_DIR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert str(cache_dir("xla")) == expected


def test_use_compile_cache_caches_every_program(tmp_path):
    names = ("jax_compilation_cache_dir", "jax_persistent_cache_min_compile_time_secs",
             "jax_persistent_cache_min_entry_size_bytes")
    before = {n: getattr(jax.config, n) for n in names}
    try:
        assert use_compile_cache(tmp_path / "xla") == tmp_path / "xla"
        assert [getattr(jax.config, n) for n in names] == [str(tmp_path / "xla"), 0.0, -1]
    finally:
        for n, v in before.items():
            jax.config.update(n, v)
