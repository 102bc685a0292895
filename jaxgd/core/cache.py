"""Where jaxgd keeps what it can reuse between runs: compiled programs, generated datasets.

    $JAXGD_CACHE_DIR                    if set
    $XDG_CACHE_HOME/jaxgd               else, if XDG_CACHE_HOME is set
    ~/.cache/jaxgd                      else

Both caches can be deleted at any time; a missing or damaged entry is rebuilt.
`use_compile_cache` points JAX's persistent compilation cache at the first.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def cache_dir(kind: str) -> Path:
    """The folder of one cache (``"xla"`` for compiled programs, ``"datasets"``); not created."""
    root = os.environ.get("JAXGD_CACHE_DIR")
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(base, "jaxgd")
    return Path(root) / kind


def cache_key(**parts: Any) -> str:
    """A short stable hash of JSON-serialisable arguments (the name of a cache entry)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def use_compile_cache(folder: str | os.PathLike | None = None) -> Path:
    """Turn on JAX's persistent compilation cache in ``folder`` (default: ``cache_dir("xla")``).

    Every program compiled after this call is written there, however small or quick to
    compile; a later process that compiles the same program with the same JAX version,
    device and flags loads it instead of compiling it again. The command line calls this
    for train, sweep, compare, crosscheck and bench (``--no-compile-cache`` or
    ``JAXGD_NO_COMPILE_CACHE=1`` turn it off); a library program opts in with
    ``jaxgd.core.cache.use_compile_cache()`` before its first compile. JAX creates the
    folder when it first writes to it.

    Returns:
        The folder.
    """
    import jax  # here: the command line imports this module before it decides to start JAX

    path = Path(folder) if folder is not None else cache_dir("xla")
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)  # cache every program
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)  # however small
    return path


def compile_cache_off(environ: Mapping[str, str] | None = None) -> bool:
    """True when ``JAXGD_NO_COMPILE_CACHE`` asks for no compilation cache (set, and not 0)."""
    value = (os.environ if environ is None else environ).get("JAXGD_NO_COMPILE_CACHE", "")
    return value.strip() not in ("", "0")
