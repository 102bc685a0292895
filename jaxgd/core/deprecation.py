"""Old names kept for one release, each with a `DeprecationWarning` that names the new one."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Mapping
from typing import Any


def warn_renamed(old: str, new: str, stacklevel: int = 3) -> None:
    """Warn that ``old`` is now called ``new``."""
    warnings.warn(f"{old} is renamed {new}; the old name is kept for this release only.",
                  DeprecationWarning, stacklevel=stacklevel)


def deprecated_alias(fn: Callable, old: str, new: str) -> Callable:
    """``fn`` under its old name ``old``: the same call, with a warning naming ``new``."""

    @functools.wraps(fn)
    def alias(*args: Any, **kwargs: Any) -> Any:
        warn_renamed(old, new)
        return fn(*args, **kwargs)

    alias.__name__ = alias.__qualname__ = old.rsplit(".", 1)[-1]
    alias.__doc__ = f"Deprecated: the old name of `{new}`."
    return alias


def renamed_value(kind: str, value: Any, renames: Mapping[str, str]) -> Any:
    """``value``, or its new spelling (with a warning) when it is an old one of ``renames``."""
    if isinstance(value, str) and value in renames:
        warn_renamed(f"{kind} {value!r}", repr(renames[value]), stacklevel=4)
        return renames[value]
    return value
