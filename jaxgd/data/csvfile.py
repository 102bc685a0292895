"""A table of examples in a ``.csv`` file: one label column, every other column a number.

    read_rows       the non-blank lines of the file, as (line number, fields)
    has_header      whether the first line names the columns
    label_position  the label column: by name, by position, or the one named label/target/y/class
    load_csv        all of it, into a validated `Dataset`

A place in the file is ``line L, column C``: L counts the lines of the file and C the
fields of that line, both from 1, as editors and spreadsheets count. A position given
for the label column counts the same way (1 = the first column, -1 = the last).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from jaxgd.core.errors import ConfigError, DataError
from jaxgd.data.dataset import Dataset
from jaxgd.data.filedata import existing_file, from_arrays

__all__ = ["LABEL_NAMES", "has_header", "label_position", "load_csv", "read_rows"]

LABEL_NAMES = ("label", "target", "y", "class")  # a column named so (any case) holds the labels
FLAG = "--label-column"
POSITIONS = "a position (1 = the first column, -1 = the last)"


def _is_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def read_rows(path: Path, delimiter: str = ",") -> list[tuple[int, list[str]]]:
    """The non-blank lines of a UTF-8 table as (line number from 1, stripped fields)."""
    source = repr(str(path))
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise DataError(f"cannot read {source} ({err.strerror}); check the path and its "
                        "permissions.") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[:err.start].count(b"\n") + 1
        raise DataError(f"{source}, line {line}: the byte {raw[err.start]:#04x} is not UTF-8 "
                        "text, so this is not a text table. Save the table as a UTF-8 .csv "
                        "file, one example per line.") from None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = []
    try:
        for fields in reader:
            fields = [f.strip() for f in fields]
            if any(fields):
                rows.append((reader.line_num, fields))
    except csv.Error as err:
        raise DataError(f"{source}, line {reader.line_num}: {err}. Fix the quoting of that "
                        "line.") from None
    return rows


def has_header(rows: list[tuple[int, list[str]]]) -> bool:
    """True when the first line names the columns: it holds text in a column where the
    second line holds a number (a lone line of text counts as a header too)."""
    if not rows or all(_is_number(f) for f in rows[0][1]):
        return False
    if len(rows) == 1:
        return True
    return any(not _is_number(a) and _is_number(b) for a, b in zip(rows[0][1], rows[1][1], strict=False))


def _describe(names: list[str] | None, width: int) -> str:
    return f"the columns are {names}" if names else f"the file has no header row and {width} columns"


def label_position(source: str, label_column: int | str | None, names: list[str] | None,
                   width: int) -> tuple[int, bool]:
    """The label column's index (from 0), and whether ``label_column`` chose it.

    None: the one column named like a label (`LABEL_NAMES`, any case). A str: a name of
    the header row, else a position written as an integer. An int: a position.
    """
    if label_column is None:
        found = [i for i, n in enumerate(names or ()) if n.lower() in LABEL_NAMES]
        if len(found) == 1:
            return found[0], False
        if found:
            both = " and ".join(f"{names[i]!r} (column {i + 1})" for i in found)
            raise DataError(f"{source}: the columns {both} could each hold the labels; choose "
                            f"one with {FLAG} (label_column=), e.g. {FLAG} {names[found[0]]}.")
        raise DataError(f"{source}: which column holds the labels? No column is named "
                        f"{', '.join(LABEL_NAMES[:-1])} or {LABEL_NAMES[-1]} ({_describe(names, width)}). "
                        f"Give {FLAG} (label_column=) a column name or {POSITIONS}.")
    if isinstance(label_column, str):
        text = label_column.strip()
        same = [i for i, n in enumerate(names or ()) if n == text] or [
            i for i, n in enumerate(names or ()) if n.lower() == text.lower()]
        if len(same) == 1:
            return same[0], True
        try:
            position = int(text)
        except ValueError:
            raise DataError(f"{source}: label_column={text!r} ({FLAG}) names no "
                            f"column: {_describe(names, width)}. Give a column name or "
                            f"{POSITIONS}.") from None
    elif isinstance(label_column, bool) or not isinstance(label_column, int | np.integer):
        raise ConfigError(f"label_column={label_column!r}: expected a column name (str) or "
                          f"{POSITIONS}, e.g. label_column='label' or label_column=-1.")
    else:
        position = int(label_column)
    if position == 0 or abs(position) > width:
        why = "positions count from 1" if position == 0 else f"the table has {width} columns"
        raise DataError(f"{source}: label_column={position} ({FLAG}) is not a column: "
                        f"{why}. Accepted: 1..{width} or -1..-{width} (-1 = the last), or a "
                        "column name.")
    return (position - 1 if position > 0 else width + position), True


def _first_bad_cell(source: str, body, cols: list[int], names: list[str] | None) -> DataError:
    """The error for the first feature cell of ``body`` that is not a finite number."""
    for line, fields in body:
        for c in cols:
            field = fields[c]
            if _is_number(field) and np.isfinite(float(field)):
                continue
            what = ("the cell is empty" if field == "" else f"{field!r} is not a number"
                    if not _is_number(field) else f"{field!r} is not a finite number")
            named = f" ({names[c]!r})" if names else ""
            return DataError(f"{source}, line {line}, column {c + 1}{named}: {what}; every column "
                             "but the label column must hold finite numbers. Fix that cell or "
                             "drop the line.")
    raise AssertionError("no bad cell")  # only called when a conversion failed


def _labels(source: str, body, col: int) -> np.ndarray:
    """The label column: floats when every label is a number, else text (all names)."""
    cells = [fields[col] for _, fields in body]
    numeric = [_is_number(f) for f in cells]
    if all(numeric):
        return np.array([float(f) for f in cells])
    if any(numeric):
        i, j = numeric.index(False), numeric.index(True)
        raise DataError(f"{source}, line {body[i][0]}, column {col + 1}: the label "
                        f"{cells[i]!r} is text, but line {body[j][0]} holds the number "
                        f"{cells[j]}; the labels must be all numbers or all names. Fix that "
                        "cell or drop the line.")
    if "" in cells:
        i = cells.index("")
        raise DataError(f"{source}, line {body[i][0]}, column {col + 1}: the label is empty. "
                        "Fill it or drop the line.")
    return np.array(cells, dtype=str)


def load_csv(path, key=None, *, label_column: int | str | None = None,
             header: bool | None = None, delimiter: str = ",", task: str | None = None,
             n_classes: int | None = None, test_fraction: float = 0.0,
             dtype=jnp.float32) -> Dataset:
    """A dataset from a table: one label column, every other column a feature.

    Args:
      label_column: the header name of the labels, or their position (1 = the first
        column, -1 = the last). None: the one column named label, target, y or class
        (any case); a file without one must say.
      header: whether the first line names the columns; None detects it.
      delimiter: the field separator.
      task, n_classes: as in `jaxgd.data.files.load_npz`; labels may be numbers or names.
      test_fraction: share of rows held out (stratified by class), drawn from ``key``.

    The dataset's ``notes`` say which column was used and what the task is.
    """
    path = existing_file(path)
    source = repr(str(path))
    rows = read_rows(path, delimiter)
    header = has_header(rows) if header is None else bool(header)
    names = rows[0][1] if header and rows else None
    body = rows[1:] if header else rows
    if not body:
        raise DataError(f"{source} has no data rows{' below its header' if names else ''}; "
                        "expected one example per line.")
    width = len(names) if names else len(body[0][1])
    if width < 2:
        raise DataError(f"{source} has {width} column; a table needs feature columns and a "
                        f"label column, separated by {delimiter!r}.")
    for line, fields in body:
        if len(fields) != width:
            model = f"the header (line {rows[0][0]})" if names else f"line {body[0][0]}"
            raise DataError(f"{source}, line {line}: {len(fields)} fields, but {model} has "
                            f"{width}; every line needs the same columns. Check the delimiter "
                            f"{delimiter!r} and the quoting of that line.")
    col, given = label_position(source, label_column, names, width)
    cols = [c for c in range(width) if c != col]
    cells = np.array([fields for _, fields in body], dtype=str)[:, cols]
    try:
        x = cells.astype(np.float64)
    except ValueError:
        x = None
    if x is None or not np.isfinite(x).all():
        raise _first_bad_cell(source, body, cols, names)
    y = _labels(source, body, col)
    how = FLAG if given else f"found by its name; {FLAG} chooses another"
    note = (f"labels in column {col + 1} of {width}" + (f", {names[col]!r}" if names else "")
            + f" ({how})")
    place = lambda i: f"line {body[i][0]}, column {col + 1}"  # noqa: E731
    return from_arrays(source, path.name, x, y, None, None, key=key, task=task,
                       n_classes=n_classes, test_fraction=test_fraction, dtype=dtype,
                       where=(place, place), notes=(note,))
