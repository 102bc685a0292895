"""Test settings shared by the whole suite.

Eight host CPU devices are made available so sharding tests run on any machine
(this must happen before JAX initialises its backend), and the command line's
compilation cache is off. Tests run in float32 by default; exact checks ask for the
`x64` fixture.
"""

import os
import re

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
# the command line keeps compiled programs in the user's cache folder; tests that call it
# (and the processes they start) do not, except where a test asks for it
os.environ["JAXGD_NO_COMPILE_CACHE"] = "1"

import jax  # noqa: E402
import pytest  # noqa: E402


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
