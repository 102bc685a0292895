"""Default names of run folders: readable, sorted by time, never shared by two runs.

    runs/<stem>-<YYYYmmdd-HHMMSS>-<4 hex digits>      e.g. runs/digits-adam-20250131-142501-3fa9

The folder is made by `new_run_folder` with an exclusive ``mkdir``: of two runs that
start in the same second and draw the same suffix, one gets the folder and the other
draws again, so no two runs ever write into one folder. Names sort by their time
(the suffix only orders runs of the same second).
"""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path

from jaxgd.core.errors import OutputExistsError
from jaxgd.core.io import writing

ATTEMPTS = 1000


def _suffix() -> str:
    return secrets.token_hex(2)


def _clock() -> float:
    return time.time()


def run_folder_name(stem: str, parent: str | os.PathLike = "runs",
                    clock: Callable[[], float] | None = None,
                    suffix: Callable[[], str] | None = None) -> Path:
    """A default name ``parent/stem-YYYYmmdd-HHMMSS-xxxx``, without making the folder (for a
    process that never writes, e.g. process 1.. of a multi-process run). Characters other
    than letters, digits, ``.``, ``_`` and ``-`` in ``stem`` (a user's rule ``pkg.mod:f``)
    become ``-``, so the name needs no quoting in a shell and is valid on every OS."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime((clock or _clock)()))
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-.") or "run"
    return Path(parent) / f"{safe}-{stamp}-{(suffix or _suffix)()}"


def new_run_folder(stem: str, parent: str | os.PathLike = "runs",
                   clock: Callable[[], float] | None = None,
                   suffix: Callable[[], str] | None = None) -> Path:
    """Make a new empty folder ``parent/stem-YYYYmmdd-HHMMSS-xxxx`` and return its path.

    Args:
        stem: what the run is, e.g. ``"digits-adam"`` or ``"sweep-moons"``.
        parent: the folder that holds the runs (made if missing).
        clock: seconds since the epoch (the time in the name, local time); default `time.time`.
        suffix: draws the short token after the time (default: 4 random hex digits); drawn
            again on a collision.

    Raises:
        OutputExistsError: no free name after `ATTEMPTS` draws (a suffix that never changes).
        WriteError: ``parent`` cannot be written.
    """
    parent = Path(parent)
    with writing(parent):
        parent.mkdir(parents=True, exist_ok=True)
    now = (clock or _clock)()
    for _ in range(ATTEMPTS):
        path = run_folder_name(stem, parent, lambda: now, suffix)
        with writing(path):
            try:
                path.mkdir()  # exclusive: fails when another run holds the name
            except FileExistsError:
                continue
        return path
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    raise OutputExistsError(f"no free run folder name {str(parent / stem)}-{stamp}-XXXX after "
                            f"{ATTEMPTS} tries; choose a folder with --out.")
