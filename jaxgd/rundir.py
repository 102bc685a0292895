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
import csv
import ctypes
import ctypes.util
import errno
import json
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from jaxgd.errors import OutputExistsError, ResourceError, RunLockedError, WriteError

MARKER = ".jaxgd-run.json"
STAGING = ".jaxgd-staging"  # inside a staging folder: it is jaxgd's and may be cleaned up


# ----------------------------------------------------------------------------- writing files


@contextlib.contextmanager
def writing(path: str | os.PathLike) -> Iterator[None]:
    """Turn an `OSError` raised while writing ``path`` into a `WriteError` naming it."""
    try:
        yield
    except WriteError:
        raise
    except OSError as err:
        reason = err.strerror or str(err)
        raise WriteError(f"could not write {str(err.filename or path)!r}: {reason}.",
                         path=str(err.filename or path)) from err


def replace_file(path: str | os.PathLike, write: Callable[[Path], None]) -> None:
    """Write a file atomically: ``write(tmp)`` into a temp file beside ``path``, fsync, rename.

    A crash at any moment leaves either the old file or the new one, never a torn one.

    Raises:
        WriteError: the file could not be written (disk full, read-only, ...).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with writing(path):
        try:
            write(tmp)
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def write_text(path: str | os.PathLike, text: str) -> None:
    """`replace_file` for a text file."""
    replace_file(path, lambda tmp: tmp.write_text(text))


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
    from jaxgd import __version__

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


# ----------------------------------------------------------------------------- the lock


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

    Raises:
        OutputExistsError, RunLockedError: see `check_output_dir` and `RunLock`.
        WriteError: the place is not writable.
        ResourceError: the disk has less free space than ``need_bytes``.
    """

    def __init__(self, path: str | os.PathLike, overwrite: bool = False, kind: str = "run",
                 need_bytes: int = 0):
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
        return self.path

    def close(self) -> None:
        """Remove an unpublished staging folder and release the lock."""
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None
        self.lock.release() if hasattr(self, "lock") else None

    def __enter__(self) -> OutputDir:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_result_folder(out: str | os.PathLike | OutputDir, kind: str,
                        files: Mapping[str, Callable[[Path], None]], overwrite: bool = False,
                        plot: bool = False) -> list[Path]:
    """Write a finished result folder (sweep, compare, ...) in one go; return its PNG paths.

    Args:
        out: the target, or an `OutputDir` claimed before the work (it is closed here).
        kind: what the folder holds, for the marker.
        files: file name -> ``write(path)``, called in order inside the staging folder.
        overwrite: replace an earlier jaxgd result (only with a path ``out``).
        plot: also draw the folder's figures (`jaxgd.plots.plot_run`).
    """
    claim = out if isinstance(out, OutputDir) else OutputDir(out, overwrite, kind)
    with claim:
        for name, write in files.items():
            with writing(claim.staging / name):
                write(claim.staging / name)
        pngs = []
        if plot:
            from jaxgd.plots import plot_run

            pngs = [claim.path / p.name for p in plot_run(claim.staging)]
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


# ----------------------------------------------------------------------------- tables and params


def write_metrics_csv(path: Path, columns: Mapping[str, np.ndarray]) -> None:
    """One row per epoch: ``epoch`` (1-based) then each column."""
    names = list(columns)
    n = max((len(v) for v in columns.values()), default=0)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["epoch", *names])
        for i in range(n):
            w.writerow([i + 1, *(repr(float(columns[k][i])) if i < len(columns[k]) else ""
                                 for k in names)])


def read_metrics_csv(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The columns of a metrics.csv as float arrays.

    Raises:
        DataError: the file is missing, empty, ragged or holds a cell that is not a number.
    """
    from jaxgd.errors import DataError

    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"could not read {str(path)!r}: {err}.") from None
    if not rows or not rows[0]:
        raise DataError(f"{str(path)!r} is empty; expected a header row (epoch, loss, ...) and one "
                        "row per epoch. Re-run the training to write it again.")
    header, body = rows[0], rows[1:]
    out = {}
    for i, h in enumerate(header):
        col = []
        for line, r in enumerate(body, start=2):
            try:
                col.append(float(r[i]) if r[i] else np.nan)
            except (IndexError, ValueError):
                cell = r[i] if i < len(r) else "(missing)"
                raise DataError(f"{str(path)!r} line {line}, column {i + 1} ({h}): {cell!r} is not a "
                                "number; the file is damaged. Re-run the training to write it "
                                "again.") from None
        out[h] = np.array(col)
    return out


def key_path_name(path: tuple) -> str:
    """A stable string for a pytree key path, e.g. ``[0].w``."""
    import jax

    return jax.tree_util.keystr(path)


def save_params(path, params: Any) -> None:
    """Leaves of ``params`` in an .npz, one array per key path."""
    import jax

    flat = jax.tree_util.tree_flatten_with_path(params)[0]
    np.savez(path, **{key_path_name(p): np.asarray(x) for p, x in flat})


def load_params(path: str | os.PathLike, like: Any) -> Any:
    """Params saved by `save_params`, into the structure of ``like``.

    Raises:
        CheckpointError: the file is missing, not an .npz, damaged, or lacks a leaf of ``like``.
    """
    import zipfile

    import jax

    from jaxgd.errors import CheckpointError

    try:
        with np.load(path, allow_pickle=False) as z:
            flat, treedef = jax.tree_util.tree_flatten_with_path(like)
            leaves = []
            for p, ref in flat:
                arr = z[key_path_name(p)]
                if arr.shape != np.shape(ref):
                    raise CheckpointError(f"{str(path)!r}: leaf {key_path_name(p)} has shape "
                                          f"{arr.shape}, the model needs {np.shape(ref)}.")
                leaves.append(arr)
            return treedef.unflatten(leaves)
    except CheckpointError:
        raise
    except KeyError as err:
        raise CheckpointError(f"{str(path)!r} lacks the parameter {err}; it was written for "
                              "another model.") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise CheckpointError(f"could not read the parameters in {str(path)!r}: {err}. The file is "
                              "damaged or not written by jaxgd; re-run the training.") from None
