"""Pair the leaves of two pytrees by key path, so states of different authors line up.

A hand-written state and optax's differ in their Python classes but not in their
field names: ``(ScaleByAdamState(count, mu, nu), EmptyState())`` on both sides
flattens to the key paths ``[0].count``, ``[0].mu['w']``, ... A path is normalised
to tokens before matching:

    attribute .name  and  dict key ['name']   ->  ("name", name)
    sequence index [i] and flattened index    ->  ("index", i)

Leaves are paired in two passes: (1) equal normalised paths; (2) among the rest,
equal paths once every index token is dropped, when that is unique on both sides
(a chain with one more stateless link shifts the indices but not the names). What
is left, or pairs whose shapes differ, is listed as unmatched and not compared.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxgd.crosscheck_report import Unmatched

Token = tuple[str, Any]


def is_exact(*dtypes: Any) -> bool:
    """True when any of the dtypes is not a float (counts, flags): compared exactly."""
    return any(not jnp.issubdtype(jnp.dtype(d), jnp.inexact) for d in dtypes)


def _token(k: Any) -> Token:
    tu = jax.tree_util
    if isinstance(k, tu.GetAttrKey):
        return ("name", k.name)
    if isinstance(k, tu.DictKey):
        return ("name", k.key) if isinstance(k.key, str) else ("key", repr(k.key))
    if isinstance(k, tu.SequenceKey):
        return ("index", k.idx)
    if isinstance(k, tu.FlattenedIndexKey):
        return ("index", k.key)
    return ("other", str(k))


def normalise(path: tuple) -> tuple[Token, ...]:
    """The matching form of a key path from `jax.tree_util.tree_flatten_with_path`."""
    return tuple(_token(k) for k in path)


def _looser(da: Any, db: Any) -> str:
    """The less precise of two float dtypes (its tolerance applies); ints: the int."""
    da, db = jnp.dtype(da), jnp.dtype(db)
    if is_exact(da):
        return da.name
    if is_exact(db):
        return db.name
    return (da if jnp.finfo(da).eps >= jnp.finfo(db).eps else db).name


class Plan(NamedTuple):
    """Which leaf of side a is compared with which leaf of side b."""

    class Pair(NamedTuple):
        index_a: int  # position in jax.tree.leaves(tree_a)
        index_b: int
        path_a: str  # jax.tree_util.keystr of the path on each side
        path_b: str
        dtype: str  # dtype whose tolerance applies
        shape: tuple[int, ...]
        exact: bool  # integer/bool leaves: must be equal

    pairs: tuple[Pair, ...]
    unmatched: tuple[Unmatched, ...]


def match_leaves(tree_a: Any, tree_b: Any, names: tuple[str, str] = ("a", "b")) -> Plan:
    """Pair the leaves of two pytrees (arrays or ShapeDtypeStructs) by key path."""
    flat = [jax.tree_util.tree_flatten_with_path(t)[0] for t in (tree_a, tree_b)]
    keyed = [[(normalise(p), jax.tree_util.keystr(p), leaf) for p, leaf in side] for side in flat]
    left = [dict(enumerate(side)) for side in keyed]
    pairs: list[tuple[int, int]] = []

    for strip in (False, True):
        def key(entry, strip=strip):
            tokens = entry[0]
            return tuple(t for t in tokens if t[0] != "index") if strip else tokens

        counts = [Counter(key(e) for e in side.values()) for side in left]
        index_b = {key(e): j for j, e in left[1].items() if counts[1][key(e)] == 1}
        for i, e in list(left[0].items()):
            k = key(e)
            if counts[0][k] == 1 and k in index_b:
                pairs.append((i, index_b[k]))
                del left[0][i], left[1][index_b[k]]

    out, unmatched = [], []
    for i, j in sorted(pairs):
        (_, pa, la), (_, pb, lb) = keyed[0][i], keyed[1][j]
        if jnp.shape(la) != jnp.shape(lb):
            reason = f"shape {jnp.shape(la)} vs {jnp.shape(lb)}"
            unmatched += [Unmatched(names[0], pa, reason), Unmatched(names[1], pb, reason)]
            continue
        da, db = jnp.result_type(la), jnp.result_type(lb)
        out.append(Plan.Pair(i, j, pa, pb, _looser(da, db), tuple(jnp.shape(la)), is_exact(da, db)))
    for side, name, other in ((0, names[0], names[1]), (1, names[1], names[0])):
        unmatched += [Unmatched(name, e[1], f"no counterpart in {other}")
                      for e in left[side].values()]
    return Plan(tuple(out), tuple(unmatched))
