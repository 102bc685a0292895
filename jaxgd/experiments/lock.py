"""One run per output folder: an exclusive lock file beside it."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import time
from pathlib import Path

from jaxgd.core.errors import RunLockedError
from jaxgd.core.io import writing


class RunLock:
    """An exclusive lock on an output folder: a file ``.NAME.jaxgd-lock`` beside it.

    Taken with `fcntl.flock`, which the OS releases when the process dies, so a
    lock left by a killed run is never in the way. The file holds the owner's
    pid, host and start time, shown to a run that is refused.
    """

    def __init__(self, path: Path):
        import fcntl

        self.file = path.parent / f".{path.name}.jaxgd-lock"
        while True:
            with writing(self.file):
                fd = os.open(self.file, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as err:
                os.close(fd)
                if err.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                raise RunLockedError(
                    f"output folder {str(path)!r} is in use by another jaxgd run "
                    f"({self._owner()}); wait for it to finish or choose another --out.") from None
            try:  # the holder before us may have removed the file: lock the one on disk
                same = os.fstat(fd).st_ino == os.stat(self.file).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        self.fd = fd
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "started": time.strftime("%Y-%m-%d %H:%M:%S")}).encode())

    def _owner(self) -> str:
        try:
            info = json.loads(self.file.read_text())
            return f"pid {info['pid']} on {info['host']}, since {info['started']}"
        except (OSError, ValueError, KeyError, TypeError):
            return "owner unknown"

    def release(self) -> None:
        if self.fd is None:
            return
        with contextlib.suppress(OSError):
            self.file.unlink()
        os.close(self.fd)
        self.fd = None
