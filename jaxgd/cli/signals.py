"""Ctrl-C (SIGINT) and SIGTERM end a command the same way, whenever they come.

Each raises `KeyboardInterrupt` in the main thread, so the command cleans up (the
lock, the staging folder) and `jaxgd.cli.report` prints its one line; the exit
status is 128 + the signal (130, 143). Two places where Python's own handler goes
wrong are handled here:

- An exception raised inside a gc callback (JAX registers one) or a ``__del__``
  is printed as "Exception ignored" and dropped, and the command runs on; one
  raised while a C extension initialises (numpy's, jaxlib's) becomes an ImportError
  with a printed traceback. There the handler raises nothing and sends the signal
  again a moment later.
- A `KeyboardInterrupt` inside XLA's compiler returns to Python while compiler
  threads still run, and interpreter shutdown then crashes them (SIGSEGV). So a
  process that was stopped ends with `exit_now`: streams flushed, no shutdown.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading
from importlib.machinery import ExtensionFileLoader
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)
RETRY_S = 0.02  # how long after a delivery put off the signal is sent again


class StopSignals:
    """A context manager: while active, SIGINT and SIGTERM raise `KeyboardInterrupt`.

    A signal the process ignores (``SIG_IGN``, e.g. a background job's SIGINT) stays
    ignored. Outside the main thread, where signals cannot be handled, it does nothing.

    Attributes:
        signum: the signal that stopped the command (None: none came).
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self.previous: dict[int, object] = {}
        self.active = False

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is not threading.main_thread():
            return self
        for sig in SIGNALS:
            old = signal.getsignal(sig)
            if old is signal.SIG_IGN:
                continue
            self.previous[sig] = old
            signal.signal(sig, self._handle)
        self.active = True
        return self

    def __exit__(self, *exc) -> None:
        self.active = False
        for sig, old in self.previous.items():
            signal.signal(sig, old)
        self.previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if not self.active:  # the command has ended: its exit status stands
            return
        if unsafe_to_raise_in(frame):
            timer = threading.Timer(RETRY_S, os.kill, (os.getpid(), signum))
            timer.daemon = True
            timer.start()
            return
        self.signum = signum
        raise KeyboardInterrupt


def unsafe_to_raise_in(frame: FrameType | None) -> bool:
    """True when an exception raised in ``frame`` would be lost or garbled: the frame or one
    of its callers is a gc callback or a ``__del__`` method (Python prints the exception and
    drops it), or the import of a C extension (which, half initialised, turns it into an
    ImportError and prints a traceback)."""
    callbacks = {getattr(cb, "__code__", None) for cb in gc.callbacks}
    while frame is not None:
        code = frame.f_code
        if code in callbacks or code.co_name == "__del__" or (
                code.co_name in ("create_module", "exec_module")
                and isinstance(frame.f_locals.get("self"), ExtensionFileLoader)):
            return True
        frame = frame.f_back
    return False


def exit_code(signum: int | None) -> int:
    """The exit status of a command stopped by ``signum`` (None: Ctrl-C)."""
    return 128 + (signum or signal.SIGINT)


def stopped_text(text: str, signum: int | None) -> str:
    """A message that starts with "interrupted" (Ctrl-C), reworded for another signal."""
    if signum in (None, signal.SIGINT) or not text.startswith("interrupted"):
        return text
    return f"stopped by {signal.Signals(signum).name}" + text[len("interrupted"):]


def exit_now(code: int) -> None:
    """End the process with ``code`` after flushing stdout and stderr, without interpreter
    shutdown (which crashes on compiler threads a stop left running)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    os._exit(code)
