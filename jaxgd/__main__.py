"""``python -m jaxgd`` runs the command line."""

import os
import signal
import sys


def _stopped_early(signum, frame):  # while `jaxgd.cli` imports, nothing has started
    name = "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
    print(f"jaxgd: {name}; nothing was written", file=sys.stderr, flush=True)
    os._exit(128 + signum)


_previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
for _sig, _handler in _previous.items():
    if _handler is not signal.SIG_IGN:
        signal.signal(_sig, _stopped_early)

from jaxgd.cli import main  # noqa: E402 - after the handlers: a stop during this import is one line

for _sig, _handler in _previous.items():  # `main` installs its own while a command runs
    signal.signal(_sig, _handler)
sys.exit(main())
