"""The names the command line reads without JAX are the key sets of the tables they stand for."""

from __future__ import annotations

import pathlib

import pytest

from jaxgd.core import names
from jaxgd.data import DATASETS, SYNTHETIC
from jaxgd.experiments.config import optimizer_names
from jaxgd.nn.losses import LOSSES
from jaxgd.nn.models import ACTIVATIONS, INITS
from jaxgd.schedules.table import SCHEDULES


@pytest.mark.parametrize("light, table", [
    (names.DATASETS, DATASETS), (names.SYNTHETIC, SYNTHETIC), (names.ACTIVATIONS, ACTIVATIONS),
    (names.INITS, INITS), (names.LOSSES, LOSSES), (names.SCHEDULES, SCHEDULES),
    (names.OPTIMIZERS, optimizer_names()),
], ids=["datasets", "synthetic", "activations", "inits", "losses", "schedules", "optimizers"])
def test_each_name_tuple_is_its_tables_keys_in_order(light, table):
    assert light == tuple(table)  # help lists them in this order


def test_old_schedule_names_point_at_schedules():
    assert set(names.RENAMED_SCHEDULES.values()) <= set(names.SCHEDULES)
    assert not set(names.RENAMED_SCHEDULES) & set(names.SCHEDULES)


@pytest.mark.parametrize("name, is_file", [
    ("data.csv", True), ("DATA.NPZ", True), (pathlib.Path("a/b.npz"), True), ("moons", False),
    ("data.txt", False), ("csv", False), (3, False), (None, False)])
def test_is_file_name_by_suffix(name, is_file):
    assert names.is_file_name(name) is is_file
