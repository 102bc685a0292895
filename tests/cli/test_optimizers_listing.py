"""`jaxgd optimizers [NAME]`: every rule of the table listed; one rule's hyperparameters from its factory."""

from __future__ import annotations

import inspect

import pytest

from jaxgd import optimizers
from jaxgd.cli import main
from jaxgd.core import names
from jaxgd.experiments.config import optimizer_names
from jaxgd.reference import OPTIMIZERS
from jaxgd.reference.catalog import factory_name
from jaxgd.reference.defaults import DEFAULT_LEARNING_RATES


def test_optimizers_listing(capsys):
    assert main(["optimizers"]) == 0
    lines = capsys.readouterr().out.splitlines()
    listed = [line.split()[0] for line in lines[1:] if line and not line.startswith(("default", "`"))]
    assert listed == sorted(optimizer_names()) == sorted(names.OPTIMIZERS)  # every rule, once
    adam = next(line for line in lines if line.startswith("adam "))
    assert inspect.getdoc(optimizers.adam).splitlines()[0] in adam


@pytest.mark.parametrize("name", ["adam", "sgd", "rmsprop"])
def test_optimizers_name_shows_factory_signature(capsys, name):
    assert main(["optimizers", name]) == 0
    out = capsys.readouterr().out
    block = out.split("(default):\n")[1].split("\n\n")[0].splitlines()
    shown = dict(line.split(None, 1) for line in block)
    sig = inspect.signature(getattr(optimizers, name)).parameters
    assert list(shown) == list(sig)
    for k, p in sig.items():
        if k == "learning_rate":  # required by the factory; a run without --lr takes the table's
            want = f"{DEFAULT_LEARNING_RATES[name].value:g} when a run does not give --lr"
            assert shown[k].startswith(want)
            continue
        assert shown[k] == ("required" if p.default is p.empty else repr(p.default))
    rows = [r.id for r in OPTIMIZERS if r.hand is getattr(optimizers, name)]
    assert f"optax twin      optax.{name}" in out and ", ".join(rows) in out


def test_optimizers_twin_named_optax_schedule_free_adamw_which_optax_lacks(capsys):
    """optax's contrib rules live at optax.contrib.NAME; the listing named optax.NAME, which fails."""
    import functools

    import optax
    import optax.contrib

    assert main(["optimizers", "schedule_free_adamw"]) == 0
    assert "optax twin      optax.contrib.schedule_free_adamw\n" in capsys.readouterr().out
    for r in OPTIMIZERS:  # every optax path the table names is where optax keeps that function
        name = factory_name(r.ref).split("(")[0]
        if not name.startswith("optax."):
            continue
        found = functools.reduce(getattr, name.split(".")[1:], optax)
        ref = r.ref
        while hasattr(ref, "__wrapped__"):
            ref = ref.__wrapped__
        assert found is (ref.func if isinstance(ref, functools.partial) else ref), r.id


def test_optimizers_name_shows_source_year(capsys):
    assert main(["optimizers", "adam"]) == 0
    source = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("source"))
    assert "Kingma & Ba" in source and "2014" in source and "Mirrors" not in source


def test_optimizers_unknown_name_exits_2_with_close_match(capsys):
    assert main(["optimizers", "adamm"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Did you mean 'adam'?" in err
    assert "adam-nesterov" not in err  # row ids are taken but not listed


def test_finding_hint_points_to_listing(capsys, tmp_path):
    assert main(["train", "--optimizer", "adam", "--set", "foo=1", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "See `jaxgd optimizers adam` for its arguments" in err
    assert main(["optimizers", "adam"]) == 0  # and that command does list them
    assert "b1              0.9" in capsys.readouterr().out
