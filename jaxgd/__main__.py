"""``python -m jaxgd`` runs the command line."""

import os
import signal
import sys


def _stopped_early(signum, frame):  # until `jaxgd.cli.main` takes over, nothing has started
    name = "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
    print(f"jaxgd: {name}; nothing was written", file=sys.stderr, flush=True)
    os._exit(128 + signum)


for _sig in (signal.SIGINT, signal.SIGTERM):
    if signal.getsignal(_sig) is not signal.SIG_IGN:
        signal.signal(_sig, _stopped_early)

from jaxgd.cli import main  # noqa: E402 - after the handlers: a stop during this import is one line

sys.exit(main())
