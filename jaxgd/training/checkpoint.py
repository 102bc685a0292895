"""Checkpoints: a pytree saved whole and restored into a `like` tree, or refused.

Format (version 1): one uncompressed ``.npz`` holding

    <key path>           one array per leaf of the tree, e.g. ``['hand'].params[0].w``;
                         a typed PRNG key is stored as its raw ``key_data`` (uint32)
    extra/<name>         free-form arrays that are not part of the tree (histories)
    __manifest__         UTF-8 JSON as uint8: format, version, one entry per array
                         (path, shape, dtype, PRNG impl for keys), free-form metadata,
                         and the SHA-256 over every array's path, dtype, shape and bytes

Writing goes to a temporary file in the same folder, flushed to disk, then
`os.replace`d over the old checkpoint: a reader sees the old file or the new one,
never half of one. Loading checks, in order: the file opens, the manifest is
ours, the tree's structure (every key path, shape, dtype) equals ``like``'s, the
stored arrays match the manifest and the checksum; only then is a tree built.
Any failure raises `CheckpointError` naming the file and, for a mismatch, the key
path with the expected and the found shape/dtype.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np

from jaxgd.core.errors import CheckpointError
from jaxgd.core.io import replace_file

FORMAT = "jaxgd-checkpoint"
VERSION = 1
MANIFEST = "__manifest__"
EXTRA = "extra/"


class Loaded(NamedTuple):
    """A checkpoint restored into the structure of ``like``."""

    tree: Any  # like's structure, values from the file
    extras: dict[str, np.ndarray]  # name -> array, the arrays outside the tree
    meta: dict[str, Any]  # the metadata saved with it


def _is_key(leaf: Any) -> bool:
    return hasattr(leaf, "dtype") and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key)


def _leaf_spec(path: str, leaf: Any) -> dict[str, Any]:
    """What the manifest records for one leaf: path, shape, dtype (and PRNG impl)."""
    if _is_key(leaf):
        data = jax.random.key_data(leaf)
        return {"path": path, "shape": list(data.shape), "dtype": str(data.dtype),
                "key_impl": str(jax.random.key_impl(leaf))}
    leaf = np.asarray(leaf) if not hasattr(leaf, "dtype") else leaf
    return {"path": path, "shape": list(np.shape(leaf)), "dtype": str(np.dtype(leaf.dtype))}


def _flatten(tree: Any) -> tuple[list[str], list[Any], Any]:
    flat, treedef = jax.tree_util.tree_flatten_with_path(tree)
    return [jax.tree_util.keystr(p) for p, _ in flat], [leaf for _, leaf in flat], treedef


def _digest(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def save_checkpoint(path: str | os.PathLike, tree: Any, meta: dict[str, Any] | None = None,
                    extras: dict[str, Any] | None = None) -> None:
    """Write ``tree`` (and ``extras``, ``meta``) to ``path`` atomically (`jaxgd.rundir.replace_file`).

    Args:
        path: the ``.npz`` file; its folder must exist.
        tree: any pytree of arrays (params, optimizer state, typed PRNG keys, ...).
        meta: JSON-serialisable metadata (config, epoch counts, ...).
        extras: name -> array saved outside the tree's structure check.
    """
    path = Path(path)
    names, leaves, _ = _flatten(tree)
    specs = [_leaf_spec(n, leaf) for n, leaf in zip(names, leaves, strict=True)]
    arrays = {n: np.asarray(jax.random.key_data(leaf) if _is_key(leaf) else leaf)
              for n, leaf in zip(names, leaves, strict=True)}
    for name, value in (extras or {}).items():
        arrays[EXTRA + name] = np.asarray(value)
        specs.append(_leaf_spec(EXTRA + name, arrays[EXTRA + name]))
    manifest = {"format": FORMAT, "version": VERSION, "leaves": specs, "meta": meta or {},
                "sha256": _digest(arrays)}
    blob = np.frombuffer(json.dumps(manifest).encode(), np.uint8)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # an open file, so numpy does not append ".npz" to the name
            np.savez(f, **arrays, **{MANIFEST: blob})

    replace_file(path, write)


def read_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """The manifest of a checkpoint (format, version, leaves, meta), checked to be ours."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {str(path)!r}; a run folder written by "
                              "`jaxgd train` holds checkpoint.npz. Check the path.")
    try:
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as z:  # we close f, even on error
            raw = bytes(z[MANIFEST]) if MANIFEST in z.files else None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise CheckpointError(f"checkpoint {str(path)!r} is truncated or corrupt ({err}); resume "
                              "from an earlier copy or start the run again.") from None
    if raw is None:
        raise CheckpointError(f"{str(path)!r} has no {MANIFEST}: not a jaxgd checkpoint.")
    try:
        manifest = json.loads(raw.decode())
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CheckpointError(f"checkpoint {str(path)!r}: its manifest is corrupt.") from None
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise CheckpointError(
            f"checkpoint {str(path)!r} is format {manifest.get('format')!r} version "
            f"{manifest.get('version')!r}; this jaxgd reads {FORMAT!r} version {VERSION}.")
    return manifest


def compare_structure(expected: list[dict], found: list[dict], where: str) -> None:
    """Refuse ``found`` leaves unless they have the same paths, shapes and dtypes as ``expected``."""
    want = {s["path"]: s for s in expected}
    have = {s["path"]: s for s in found if not s["path"].startswith(EXTRA)}
    for path, spec in want.items():
        if path not in have:
            raise CheckpointError(
                f"checkpoint {where} has no {path} (expected shape {tuple(spec['shape'])} "
                f"{spec['dtype']}): it was written by another model or optimizer. Found paths: "
                f"{sorted(have)[:6]}{' ...' if len(have) > 6 else ''}.")
        got = have[path]
        same = (got["shape"], got["dtype"], got.get("key_impl")) == (
            spec["shape"], spec["dtype"], spec.get("key_impl"))
        if not same:
            kind = lambda s: f"{tuple(s['shape'])} {s.get('key_impl') or s['dtype']}"  # noqa: E731
            raise CheckpointError(
                f"checkpoint {where}: {path} expected {kind(spec)}, found {kind(got)}; it was "
                "written by another model, optimizer or dtype setting.")
    extra = sorted(set(have) - set(want))
    if extra:
        raise CheckpointError(f"checkpoint {where} holds {extra[0]}, which this run does not "
                              "have: it was written by another model or optimizer.")


def load_checkpoint(path: str | os.PathLike, like: Any) -> Loaded:
    """Restore the checkpoint at ``path`` into the structure of ``like``.

    Args:
        path: a file written by `save_checkpoint`.
        like: a pytree with the expected structure, shapes and dtypes (e.g. a fresh
            TrainState built from the same config); its values are not used.

    Returns:
        Loaded(tree, extras, meta); nothing is built unless every check passes.

    Raises:
        CheckpointError: missing, truncated or corrupt file, another format version,
            a structure mismatch (naming the key path), or a wrong checksum.
    """
    path = Path(path)
    where = repr(str(path))
    manifest = read_manifest(path)
    names, leaves, treedef = _flatten(like)
    expected = [_leaf_spec(n, leaf) for n, leaf in zip(names, leaves, strict=True)]
    compare_structure(expected, manifest["leaves"], where)
    arrays: dict[str, np.ndarray] = {}
    try:
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as z:
            for spec in manifest["leaves"]:
                arrays[spec["path"]] = z[spec["path"]]
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as err:
        raise CheckpointError(f"checkpoint {where} is truncated or corrupt ({err}).") from None
    for spec in manifest["leaves"]:
        a = arrays[spec["path"]]
        if list(a.shape) != spec["shape"] or str(a.dtype) != spec["dtype"]:
            raise CheckpointError(f"checkpoint {where}: {spec['path']} is stored as {a.shape} "
                                  f"{a.dtype} but its manifest says {tuple(spec['shape'])} "
                                  f"{spec['dtype']}: the file is corrupt.")
    if _digest(arrays) != manifest["sha256"]:
        raise CheckpointError(f"checkpoint {where} fails its SHA-256 checksum: the arrays were "
                              "changed or corrupted after writing. Resume from an earlier copy.")
    values = []
    for spec, leaf in zip(expected, leaves, strict=True):
        a = arrays[spec["path"]]
        values.append(jax.random.wrap_key_data(a, impl=jax.random.key_impl(leaf)) if _is_key(leaf) else a)
    extras = {p[len(EXTRA):]: a for p, a in arrays.items() if p.startswith(EXTRA)}
    return Loaded(treedef.unflatten(values), extras, manifest["meta"])
