"""`--help` of every subcommand: each flag has help text, shows its default exactly once (what
leaving it out means, where the default is resolved per optimizer or dataset), and its choices."""

from __future__ import annotations

import argparse

import pytest

from jaxgd.cli import build_parser
from jaxgd.experiments.config import FIELDS
from jaxgd.experiments.fields import choices_of

PARSER = build_parser()
SUB = next(a for a in PARSER._actions if isinstance(a, argparse._SubParsersAction)).choices
SKIP = (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)


def shown_help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """The help text as --help prints it (the formatter's additions, %-expansion)."""
    return parser._get_formatter()._expand_help(action)


def flags(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if not isinstance(action, SKIP):
            yield action, shown_help(parser, action)


@pytest.mark.parametrize("command", [None, *SUB])
def test_every_flag_has_help_its_default_once_and_its_choices(command):
    parser = PARSER if command is None else SUB[command]
    for action, text in flags(parser):
        name = "/".join(action.option_strings) or action.dest
        assert text.strip(), f"{command} {name}: no help"
        if action.required or not action.option_strings:  # a required flag or a positional
            assert "default:" not in text, f"{command} {name}"
            continue
        assert text.count("default:") == 1, f"{command} {name}: {text!r}"
        if action.choices:
            assert all(str(c) in text for c in action.choices), f"{command} {name}"
        field = FIELDS.get(action.dest) if action.default is argparse.SUPPRESS else None
        if field is not None and choices_of(field[1]) and own_flag(action):
            assert text.count("choices: ") == 1, f"{command} {name}: choices not listed"


def own_flag(action: argparse.Action) -> bool:
    """The flag is the field's own (not a shortcut such as --momentum, which sets one key)."""
    from jaxgd.experiments.fields import flags_of

    return action.option_strings[0] in flags_of(action.dest, FIELDS[action.dest][1])


@pytest.mark.parametrize("flag", ["--lr", "--init", "--hidden", "--activation", "--batch-size"])
def test_resolved_defaults_say_what_they_depend_on(flag):
    train = {s: a for a in SUB["train"]._actions for s in a.option_strings}
    text = shown_help(SUB["train"], train[flag])
    assert {"--lr": "the optimizer's", "--init": "he for relu", "--hidden": "the dataset's",
            "--activation": "the dataset's", "--batch-size": "the dataset's"}[flag] in text
    assert "default: none" not in text

