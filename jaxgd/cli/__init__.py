"""The `jaxgd` command: argparse -> validated config -> library calls.

Each subcommand lives in its own module exposing ``register(subparsers)``, which
adds a parser and sets ``func=run`` where ``run(args) -> int`` is the exit code.

Compiled programs are kept in JAX's persistent compilation cache (`jaxgd.core.cache`),
so a repeated run skips compilation; ``--no-compile-cache`` or ``JAXGD_NO_COMPILE_CACHE=1``
turn it off. Like ``--debug``, the switch may stand anywhere on the line.

Every failure ends in one line on stderr, never a traceback (``--debug`` shows it):

    exit 1    the rules disagree (crosscheck, train --impl both), a file could not be written, or an
              internal error (please report it)
    exit 2    bad input: a flag, a file, a configuration jaxgd refuses
    exit 130  interrupted (Ctrl-C); a training run names its last checkpoint
    exit 143  stopped by SIGTERM (as schedulers and `timeout` stop jobs), cleaned up as for Ctrl-C
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import re
import sys
import traceback
import warnings

from jaxgd._version import __version__
from jaxgd.cli.signals import StopSignals, exit_code, exit_now, stopped_text
from jaxgd.core.cache import cache_dir, compile_cache_off
from jaxgd.core.errors import JaxgdError, TrainingInterrupted, WriteError

COMMANDS = ("train", "crosscheck", "sweep", "compare", "tune", "suite", "plot", "bench", "optimizers")
SWITCHES = ("--debug", "--no-compile-cache")  # global, at any position on the line
NUMBER_LIKE = re.compile(r"^-(\.?\d|inf|nan)", re.IGNORECASE)  # -1e-8, -.5, -1:1:4:log, -inf
RENAMED = re.compile(r".* is renamed .*; the old name is kept")  # jaxgd.core.deprecation's words


class Parser(argparse.ArgumentParser):
    """argparse, where a value that starts like a negative number is a value, not a flag:
    ``--eps -1e-8``, ``--lr -1:1:4:log``, ``--tol -inf`` reach the flag's own check.

    (argparse reads only ``-1`` and ``-0.5`` so; its subcommand parsers are of this class too.)
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = NUMBER_LIKE


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="jaxgd",
        description="Gradient descent for neural networks in JAX, every rule by hand and with optax.",
    )
    parser.add_argument("--version", action="version", version=f"jaxgd {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the Python traceback of a failure (any position on the line; "
                        "default: off)")
    parser.add_argument("--no-compile-cache", action="store_true",
                        help="compile every program afresh, and keep nothing in the compilation cache "
                        f"(default: kept in {cache_dir('xla')}; the same as JAXGD_NO_COMPILE_CACHE=1; "
                        "any position on the line)".replace("%", "%%"))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"jaxgd.cli.{name}_cmd").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script and of ``python -m jaxgd``; the exit status.

    Without ``argv`` (the command line of this process), a command stopped by a
    signal ends the process at once (`jaxgd.cli.signals.exit_now`) instead of returning.
    """
    with StopSignals() as stop:
        code = _main(sys.argv[1:] if argv is None else list(argv), stop)
    if argv is None and stop.signum is not None:
        exit_now(code)
    return code


def _main(argv: list[str], stop: StopSignals) -> int:
    debug, no_cache = (flag in argv for flag in SWITCHES)
    argv = [x for x in argv if x not in SWITCHES]
    command = next((x for x in argv if x in COMMANDS), "train")
    try:
        parser = build_parser()
        if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
            argv = ["train", *argv]  # `jaxgd` alone (or with train flags) runs the default job
        args = parser.parse_args(argv)
        command = args.command
        if no_cache:
            os.environ["JAXGD_NO_COMPILE_CACHE"] = "1"  # and in the processes a command starts (bench)
        args.compile_cache = not compile_cache_off()  # the commands turn it on: common.start_compile_cache
        with renamed_once_on_stderr(command):
            return int(args.func(args) or 0)
    except BaseException as err:  # noqa: BLE001 - every failure becomes one clear line
        if isinstance(err, SystemExit):
            raise
        return report(command, err, debug, stop.signum)


@contextlib.contextmanager
def renamed_once_on_stderr(command: str):
    """An old name or value (e.g. ``--grad seed``) works; its `DeprecationWarning`, naming the
    new one, is printed once as one line on stderr (Python hides those by default)."""
    seen: set[str] = set()
    show = warnings.showwarning

    def show_once(message, category, filename, lineno, file=None, line=None):
        text = str(message)
        if not (issubclass(category, DeprecationWarning) and RENAMED.match(text)):
            return show(message, category, filename, lineno, file, line)
        if text not in seen:
            seen.add(text)
            print(f"jaxgd {command}: warning: {text}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.filterwarnings("always", message=RENAMED.pattern, category=DeprecationWarning)
        warnings.showwarning = show_once
        yield


def report(command: str, err: BaseException, debug: bool = False, signum: int | None = None) -> int:
    """Print ``err`` as one line for the user (its traceback too with ``debug``); the exit code.

    ``signum``: the signal that stopped the command, for a `KeyboardInterrupt` (None: Ctrl-C).
    """
    if debug:
        traceback.print_exception(err)
    if signum is not None and not isinstance(err, KeyboardInterrupt):
        err = KeyboardInterrupt()  # what a library made of the stop (e.g. a failed import)
    if isinstance(err, KeyboardInterrupt):
        text = str(err) if isinstance(err, TrainingInterrupted) else "interrupted; nothing was written"
        print(f"jaxgd {command}: {stopped_text(text, signum)}", file=sys.stderr)
        return exit_code(signum)
    if isinstance(err, WriteError):
        print(f"jaxgd {command}: error: {err}", file=sys.stderr)
        return 1
    if isinstance(err, JaxgdError):
        print(f"jaxgd {command}: error: {err}", file=sys.stderr)
        return 2
    if isinstance(err, OSError):
        name = f" {err.filename!r}" if err.filename else ""
        print(f"jaxgd {command}: error: could not access{name}: {err.strerror or err}.", file=sys.stderr)
        return 1
    if isinstance(err, MemoryError) or "RESOURCE_EXHAUSTED" in str(err):
        print(f"jaxgd {command}: error: out of memory ({str(err).splitlines()[0][:200]}); use a "
              "smaller network, batch or sweep.", file=sys.stderr)
        return 1
    hint = "" if debug else " Run again with --debug for the traceback;"
    first = str(err).splitlines()[0][:300] if str(err) else ""
    print(f"jaxgd {command}: internal error: {type(err).__name__}: {first}.{hint} please report it.",
          file=sys.stderr)
    return 1
