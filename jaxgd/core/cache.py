"""Where jaxgd keeps what it can reuse between runs: compiled programs, generated datasets.

    $JAXGD_CACHE_DIR                    if set
    $XDG_CACHE_HOME/jaxgd               else, if XDG_CACHE_HOME is set
    ~/.cache/jaxgd                      else

Both caches can be deleted at any time; a missing or damaged entry is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
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
