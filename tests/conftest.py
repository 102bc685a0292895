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
# compiled programs go to one fresh folder per test run, never to the user's cache folder:
# the first process of a run makes it, pytest-xdist's workers (and the processes tests start)
# inherit it, and it is removed at the end. Many tests compile the same programs (the default
# XOR run, the table's rules): later ones load them instead (about a quarter of the CLI tests' time)
os.environ.pop("JAXGD_NO_COMPILE_CACHE", None)
_OWN_CACHE = "JAXGD_TEST_RUN_CACHE" not in os.environ
if _OWN_CACHE:
    os.environ["JAXGD_TEST_RUN_CACHE"] = tempfile.mkdtemp(prefix="jaxgd-tests-")
os.environ["JAXGD_CACHE_DIR"] = os.environ["JAXGD_TEST_RUN_CACHE"]

import jax  # noqa: E402
import pytest  # noqa: E402

from jaxgd.core.cache import cache_dir, use_compile_cache  # noqa: E402

use_compile_cache(cache_dir("xla"))


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
