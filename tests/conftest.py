"""Test settings shared by the whole suite.

Eight host CPU devices are made available so sharding tests run on any machine
(this must happen before JAX initialises its backend), and compiled programs are
kept in a folder of the run's own (removed at its end), never in the user's cache.
Tests run in float32 by default; exact checks ask for the `x64` fixture.
"""

import os
import re
import shutil
import tempfile

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
# compiled programs of the test processes go to a fresh folder per test run, one subfolder per
# pytest-xdist worker (JAX's cache files are not safe to write from two processes at once: a
# reader saw a half-written entry), never to the user's cache folder; the first process of a run
# makes it and removes it at the end. Many tests compile the same programs (the default XOR run,
# the table's rules): later ones load them (the suite: 906 s -> 699 s on 2 cores). The processes
# tests start (the command line in a subprocess, multi-process runs) compile for themselves.
os.environ["JAXGD_NO_COMPILE_CACHE"] = "1"
_OWN_CACHE = "JAXGD_TEST_RUN_CACHE" not in os.environ
if _OWN_CACHE:
    os.environ["JAXGD_TEST_RUN_CACHE"] = tempfile.mkdtemp(prefix="jaxgd-tests-")
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
_PROCESS_CACHE = os.path.join(os.environ["JAXGD_TEST_RUN_CACHE"], _WORKER)

import jax  # noqa: E402
import pytest  # noqa: E402

from jaxgd.core.cache import use_compile_cache  # noqa: E402

use_compile_cache(_PROCESS_CACHE)


def pytest_unconfigure(config):
    if _OWN_CACHE and not hasattr(config, "workerinput"):
        shutil.rmtree(os.environ["JAXGD_TEST_RUN_CACHE"], ignore_errors=True)


@pytest.fixture
def x64():
    """Run the test body with 64-bit floats enabled."""
    with jax.enable_x64(True):
        yield


_ADDRESS = re.compile(r" at 0x[0-9a-f]+")


def pytest_collection_modifyitems(config, items):
    """Refuse a test id holding an object's address (``<function f at 0x7f...>``): it differs
    between processes, so pytest-xdist's workers collect different tests and the run stops."""
    bad = [item.nodeid for item in items if _ADDRESS.search(item.nodeid)]
    if bad:
        raise pytest.UsageError(f"{len(bad)} test id(s) hold an object's address, e.g. {bad[0]}; "
                                "give the parametrisation ids= that name the object instead.")
