"""The `jaxgd` command: argparse -> validated config -> library calls.

Each subcommand lives in its own module exposing ``register(subparsers)``, which
adds a parser and sets ``func=run`` where ``run(args) -> int`` is the exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from jaxgd.errors import JaxgdError

COMMANDS = ("train", "crosscheck", "sweep", "compare", "plot", "bench")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jaxgd",
        description="Gradient descent for neural networks in JAX, every rule by hand and with optax.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"jaxgd.cli.{name}_cmd").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script and of ``python -m jaxgd``."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        argv = ["train", *argv]  # `jaxgd` alone (or with train flags) runs the default job
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except JaxgdError as err:
        print(f"jaxgd {args.command}: error: {err}", file=sys.stderr)
        return 2
