"""Output folders that jaxgd owns: claimed before the work, replaced only after it.

Every folder jaxgd creates carries a marker file, ``.jaxgd-run.json``, that lists
the files jaxgd wrote into it. The rules that follow from it:

    claim      before any work: the target is refused when it is the current
               folder, one of its parents, the home folder or a filesystem root;
               when it holds files and no marker (jaxgd did not create it); or when
               it holds a jaxgd result and ``overwrite`` was not asked for. A lock
               file next to it keeps a second run out; a staging folder next to it
               proves the place is writable; the disk must have room.
    stage      the run writes into the hidden staging folder.
    publish    only when everything is written: the staging folder is swapped in
               (an atomic exchange where the OS offers one). Files of the old
               folder that jaxgd did not write are moved into the new one; the rest
               of the old folder is removed.
    fail       the staging folder is removed; the target is untouched.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from jaxgd._version import __version__
from jaxgd.core.errors import OutputExistsError, ResourceError
from jaxgd.core.io import write_text, writing
from jaxgd.experiments.lock import RunLock

MARKER = ".jaxgd-run.json"
STAGING = ".jaxgd-staging"  # inside a staging folder: it is jaxgd's and may be cleaned up


# ----------------------------------------------------------------------------- the marker


def read_marker(folder: str | os.PathLike) -> dict[str, Any] | None:
    """The marker of a folder jaxgd created, or None when it has none (or it is unreadable)."""
    try:
        data = json.loads((Path(folder) / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("files"), list) else None


def record_files(folder: str | os.PathLike, names, kind: str | None = None) -> None:
    """Add ``names`` (relative to ``folder``) to its marker, creating the marker if needed."""
    folder = Path(folder)
    marker = read_marker(folder) or {"jaxgd": _version(), "kind": kind or "run",
                                     "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "files": []}
    if kind:
        marker["kind"] = kind
    marker["files"] = sorted(set(marker["files"]) | {str(n) for n in names})
    write_text(folder / MARKER, json.dumps(marker, indent=1) + "\n")


def foreign_entries(folder: Path) -> list[str]:
    """Entries of ``folder`` that its marker does not list: files jaxgd did not write."""
    marker = read_marker(folder)
    owned = set(marker["files"]) if marker else set()
    return sorted(p.name for p in folder.iterdir() if p.name != MARKER and p.name not in owned)


def _version() -> str:
    return __version__


# ----------------------------------------------------------------------------- the claim rules


def _protected(path: Path) -> str | None:
    """Why ``path`` may never be an output folder, or None."""
    real = path.resolve()
    cwd = Path.cwd().resolve()
    home = Path.home().resolve()
    if real == Path(real.anchor):
        return "it is the root of the filesystem"
    if real == cwd:
        return "it is the current folder"
    if real in cwd.parents:
        return "it is a parent of the current folder"
    if real == home:
        return "it is your home folder"
    if real in home.parents:
        return "it holds your home folder"
    if os.path.ismount(real):
        return "it is a mount point"
    return None


def check_output_dir(path: str | os.PathLike, overwrite: bool) -> Path:
    """Refuse a place jaxgd may not write its results to; return the path.

    Accepted: a path that does not exist, an empty folder, and, with ``overwrite``,
    a folder that jaxgd created (it carries the marker).

    Raises:
        OutputExistsError: the path is a file, a protected folder (the current
            folder or a parent, home, a root or mount point), a folder with files
            jaxgd did not write, or an earlier result without ``overwrite``.
    """
    path = Path(path)
    why = _protected(path)
    if why:
        raise OutputExistsError(f"output folder {str(path)!r} is refused: {why}, and jaxgd never "
                                "writes its results there. Choose a new folder, e.g. --out runs/my-run.")
    if path.exists() and not path.is_dir():
        raise OutputExistsError(f"output folder {str(path)!r} exists and is a file; choose another --out.")
    if not path.is_dir() or not any(path.iterdir()):
        return path
    marker = read_marker(path)
    if marker is None:
        shown = ", ".join(sorted(p.name for p in path.iterdir())[:5])
        raise OutputExistsError(
            f"output folder {str(path)!r} holds files that jaxgd did not write ({shown}"
            f"{', ...' if len(list(path.iterdir())) > 5 else ''}); jaxgd replaces only folders it "
            f"created (they carry {MARKER}), with or without --overwrite. Choose a new folder, "
            "e.g. --out runs/my-run.")
    if not overwrite:
        raise OutputExistsError(
            f"output folder {str(path)!r} already holds a jaxgd {marker.get('kind', 'run')} result; "
            "pass --overwrite to replace it once the new run has finished, or choose another --out.")
    return path



# ----------------------------------------------------------------------------- the swap


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths atomically (Linux renameat2 RENAME_EXCHANGE); False if unsupported."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    fn = getattr(libc, "renameat2", None)
    if fn is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(a))


def publish(staging: Path, target: Path, kind: str) -> None:
    """Put the finished ``staging`` folder at ``target``; see the module docstring."""
    with writing(target):
        (staging / STAGING).unlink(missing_ok=True)
        record_files(staging, [p.name for p in staging.iterdir() if p.name != MARKER], kind)
        if target.is_dir() and not any(target.iterdir()):
            target.rmdir()
        if not target.exists():
            staging.rename(target)
            return
        if not _exchange(staging, target):
            old = staging.with_name(staging.name + ".old")
            target.rename(old)
            staging.rename(target)
            staging = old
        # `staging` now holds the previous result: keep what jaxgd did not write
        kept = foreign_entries(staging)
        for name in kept:
            if not (target / name).exists():
                (staging / name).rename(target / name)
        shutil.rmtree(staging, ignore_errors=True)


# ----------------------------------------------------------------------------- the claim


class OutputDir:
    """A claimed output folder: checked, locked and staged before any work.

    Use as a context manager; write into ``staging`` and call `publish` when
    everything is there. Leaving the block without `publish` removes the staging
    folder and leaves ``path`` as it was; the lock is released either way.

    Args:
        path: the target folder.
        overwrite: allow replacing a folder that jaxgd created.
        kind: what the folder holds ("train", "sweep", "compare"), for the marker.
        need_bytes: an estimate of what will be written; refused when the disk has
            less free space than that.
        made: ``path`` is an empty folder made for this work (a default name, see
            `jaxgd.experiments.foldername`): it is removed again unless published.

    Raises:
        OutputExistsError, RunLockedError: see `check_output_dir` and `RunLock`.
        WriteError: the place is not writable.
        ResourceError: the disk has less free space than ``need_bytes``.
    """

    def __init__(self, path: str | os.PathLike, overwrite: bool = False, kind: str = "run",
                 need_bytes: int = 0, made: bool = False):
        self.made = made
        self.path = check_output_dir(path, overwrite)
        self.kind = kind
        with writing(self.path.parent):
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = RunLock(self.path)
        self.staging: Path | None = None
        try:
            check_output_dir(self.path, overwrite)  # again, now that no other run can change it
            _remove_stale_staging(self.path)
            with writing(self.path.parent):
                self.staging = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.jaxgd-tmp-",
                                                     dir=self.path.parent))
                umask = os.umask(0)
                os.umask(umask)
                self.staging.chmod(0o777 & ~umask)  # as a plain mkdir would make it
                (self.staging / STAGING).write_text(f"{os.getpid()}\n")
            self.check_space(need_bytes)
        except BaseException:
            self.close()
            raise

    def check_space(self, need_bytes: int) -> None:
        """Refuse to start when the disk has less free space than ``need_bytes``."""
        check_disk_space(self.path.parent, need_bytes, self.path)

    def publish(self) -> Path:
        """Swap the staging folder in as ``path``; return ``path``."""
        assert self.staging is not None, "publish after close"
        publish(self.staging, self.path, self.kind)
        self.staging = None
        self.made = False  # it holds the results now
        return self.path

    def close(self) -> None:
        """Remove an unpublished staging folder and release the lock."""
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None
        if self.made:  # the empty folder made for a default name goes too
            self.made = False
            with contextlib.suppress(OSError):
                self.path.rmdir()  # only while it is empty
        self.lock.release() if hasattr(self, "lock") else None

    def __enter__(self) -> OutputDir:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_result_folder(out: str | os.PathLike | OutputDir, kind: str,
                        files: Mapping[str, Callable[[Path], None]], overwrite: bool = False,
                        figures: Callable[[Path], list[Path]] | None = None) -> list[Path]:
    """Write a finished result folder (sweep, compare, ...) in one go; return its PNG paths.

    Args:
        out: the target, or an `OutputDir` claimed before the work (it is closed here).
        kind: what the folder holds, for the marker.
        files: file name -> ``write(path)``, called in order inside the staging folder.
        overwrite: replace an earlier jaxgd result (only with a path ``out``).
        figures: draws the folder's figures into it and returns their paths (e.g.
            `jaxgd.experiments.plots.plot_run`); None: no figures.
    """
    claim = out if isinstance(out, OutputDir) else OutputDir(out, overwrite, kind)
    with claim:
        for name, write in files.items():
            with writing(claim.staging / name):
                write(claim.staging / name)
        pngs = []
        if figures is not None:
            pngs = [claim.path / p.name for p in figures(claim.staging)]
        claim.publish()
    return pngs


def check_disk_space(where: Path, need_bytes: int, target: Path) -> None:
    """Raise ResourceError when the disk holding ``where`` has less than ``need_bytes`` free."""
    if need_bytes <= 0:
        return
    free = shutil.disk_usage(where).free
    if free < need_bytes:
        raise ResourceError(
            f"not enough disk space for the output folder {str(target)!r}: the run will write "
            f"about {_mb(need_bytes)}, the disk has {_mb(free)} free. Free some space or choose "
            "an --out on another disk.")


def _remove_stale_staging(path: Path) -> None:
    """Staging folders of ``path`` left by killed runs (we hold the lock: none is live)."""
    for p in path.parent.glob(f".{path.name}.jaxgd-tmp-*"):
        if (p / STAGING).is_file() or p.name.endswith(".old"):
            shutil.rmtree(p, ignore_errors=True)


def _mb(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"

