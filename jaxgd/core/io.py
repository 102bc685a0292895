"""Writing files so that nothing is ever half written.

    writing       turn an OSError while writing into a WriteError that names the file
    replace_file  write a temp file beside the target, fsync, rename over it
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from jaxgd.core.errors import WriteError


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
