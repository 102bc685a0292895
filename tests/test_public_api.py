"""The public API of jaxgd 0.1 keeps working: every exported name, every CLI command and flag.

The two JSON files next to this test were written from jaxgd 0.1's package and parser.
Module names exported then (``jaxgd.rundir``, ``jaxgd.backprop``, ...) now live in
packages; importing the old path still works and warns, naming the new one.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pathlib
import types
import warnings

import pytest

from jaxgd.cli import build_parser

HERE = pathlib.Path(__file__).parent
API = json.loads((HERE / "public_api_0_1.json").read_text())
FLAGS = json.loads((HERE / "cli_flags_0_1.json").read_text())
NAMES = [(package, name) for package, names in API.items() for name in names]


def _resolve(package: str, name: str) -> object:
    module = importlib.import_module(package)
    if hasattr(module, name):
        return getattr(module, name)
    return importlib.import_module(f"{package}.{name}")


@pytest.mark.parametrize("package, name", NAMES, ids=[f"{p}.{n}" for p, n in NAMES])
def test_public_name_still_resolves(package, name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        obj = _resolve(package, name)
    assert obj is not None
    if not isinstance(obj, types.ModuleType):
        assert callable(obj) or isinstance(obj, (tuple, dict, frozenset, str, int, float)), (package, name)


def test_every_name_in_all_of_the_packages_resolves():
    """The other direction: what the packages export today exists (no stale __all__ entry)."""
    for package in API:
        module = importlib.import_module(package)
        for name in getattr(module, "__all__", ()):
            assert hasattr(module, name), f"{package}.__all__ lists {name!r}, which is missing"


@pytest.mark.parametrize("old", ["rundir", "datafiles", "crosscheck_rows", "sweep"])
def test_old_module_path_warns_and_names_the_new_one(old):
    import sys

    for key in [k for k in sys.modules if k == f"jaxgd.{old}"]:
        del sys.modules[key]
    with pytest.warns(DeprecationWarning, match=r"jaxgd\.\w+"):
        module = importlib.import_module(f"jaxgd.{old}")
    assert isinstance(module, types.ModuleType)


def _current_flags() -> dict[str, set[str]]:
    out = {}
    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out[name] = {o for a in sub._actions for o in a.option_strings}
    return out


def test_every_cli_command_and_flag_of_0_1_is_accepted():
    now = _current_flags()
    missing = {cmd: sorted(set(flags) - now.get(cmd, set())) for cmd, flags in FLAGS.items()}
    assert not {cmd: m for cmd, m in missing.items() if m} and set(FLAGS) <= set(now), missing
