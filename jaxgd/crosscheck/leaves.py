"""Pair the leaves of two pytrees by key path, and measure how far each pair is apart.

A hand-written state and optax's differ in their Python classes but not in their
field names: ``(ScaleByAdamState(count, mu, nu), EmptyState())`` on both sides
flattens to the key paths ``[0].count``, ``[0].mu['w']``, ... A path is normalised
to tokens before matching:

    attribute .name  and  dict key ['name']   ->  ("name", name)
    sequence index [i] and flattened index    ->  ("index", i)

Leaves are paired in passes, each among the leaves still unpaired and only where
the key is unique on both sides: (1) equal normalised paths; (2) equal paths once
every index token is dropped (a chain with one more stateless link shifts the
indices, not the names); (3) the longest equal path ending (a wrapper such as
``.inner_state`` in front of the same state). What is left, or pairs whose shapes
differ, is listed as unmatched and not compared.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxgd.crosscheck.traces import Unmatched

Token = tuple[str, Any]


def _is_float(dtype: Any) -> bool:
    return (not jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)
            and jax.dtypes.issubdtype(dtype, jnp.inexact))


def is_exact(*dtypes: Any) -> bool:
    """True when any of the dtypes is not a float (counts, flags, PRNG keys): compared exactly."""
    return any(not _is_float(d) for d in dtypes)


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


def _named_tail(tokens: tuple[Token, ...], n: int) -> tuple[Token, ...] | None:
    """The last ``n`` tokens when they hold a name (an index alone is no evidence)."""
    tail = tokens[-n:] if len(tokens) >= n else ()
    return tail if any(t[0] == "name" for t in tail) else None


def looser(da: Any, db: Any) -> str:
    """The less precise of two float dtypes (its tolerance applies); otherwise the exact one."""
    if is_exact(da) or is_exact(db):
        return str(da if is_exact(da) else db)
    da, db = jnp.dtype(da), jnp.dtype(db)
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

    longest = max((len(e[0]) for side in keyed for e in side), default=0)
    passes = [lambda tokens: tokens, lambda tokens: tuple(t for t in tokens if t[0] != "index")]
    passes += [lambda tokens, n=n: _named_tail(tokens, n) for n in range(longest - 1, 0, -1)]
    for cut in passes:
        def key(entry, cut=cut):
            return cut(entry[0])

        counts = [Counter(key(e) for e in side.values()) for side in left]
        index_b = {key(e): j for j, e in left[1].items() if counts[1][key(e)] == 1}
        for i, e in list(left[0].items()):
            k = key(e)
            if k is not None and counts[0][k] == 1 and k in index_b:
                pairs.append((i, index_b[k]))
                del left[0][i], left[1][index_b[k]]

    out, unmatched = [], []
    for i, j in sorted(pairs):
        (_, pa, la), (_, pb, lb) = keyed[0][i], keyed[1][j]
        if jnp.shape(la) != jnp.shape(lb):
            reason = f"shape {jnp.shape(la)} vs {jnp.shape(lb)}"
            unmatched += [Unmatched(names[0], pa, reason), Unmatched(names[1], pb, reason)]
            continue
        da, db = la.dtype, lb.dtype
        out.append(Plan.Pair(i, j, pa, pb, looser(da, db), tuple(jnp.shape(la)), is_exact(da, db)))
    for side, name, other in ((0, names[0], names[1]), (1, names[1], names[0])):
        unmatched += [Unmatched(name, e[1], f"no counterpart in {other}")
                      for e in left[side].values()]
    return Plan(tuple(out), tuple(unmatched))


def exact_stats(a: jax.Array, b: jax.Array, acc: Any) -> tuple[jax.Array, jax.Array]:
    """``(max|a - b|, max(|a|, |b|))`` of an integer/bool/key leaf; any inequality counts >= 1."""
    a, b = (jax.random.key_data(x) if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) else x
            for x in (jnp.asarray(a), jnp.asarray(b)))
    x, y = a.astype(acc), b.astype(acc)
    diff = jnp.where(a != b, jnp.maximum(jnp.abs(x - y), 1), 0)
    mag = jnp.maximum(jnp.abs(x), jnp.abs(y))
    return jnp.max(diff, initial=0).astype(acc), jnp.max(mag, initial=0).astype(acc)


def plan_stats(tree_a: Any, tree_b: Any, plan: Plan) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Per matched leaf ``(max|a - b|, max(|a|, |b|), non-finite)``, each stacked to shape (n,).

    Float leaves are raveled into one vector and reduced per leaf with a segment max
    (far quicker to compile than one reduction per leaf); complex leaves are compared
    in a complex dtype, so a lost imaginary part counts. Magnitudes count finite
    entries only. ``non-finite`` is 1 where side a holds a NaN or inf, 2 where side
    b does, 3 where both do: two NaNs never "agree", they are reported as such.
    """
    acc = jnp.result_type(float)
    la, lb = jax.tree.leaves(tree_a), jax.tree.leaves(tree_b)
    floats = [p for p in plan.pairs if not p.exact]
    exact = [p for p in plan.pairs if p.exact]
    d, m, bad = [jnp.zeros((len(floats),), acc)] * 3
    if floats:
        kind = jnp.result_type(complex) if any(
            jnp.issubdtype(x.dtype, jnp.complexfloating) for p in floats
            for x in (la[p.index_a], lb[p.index_b])) else acc
        x = jnp.concatenate([jnp.ravel(la[p.index_a]).astype(kind) for p in floats])
        y = jnp.concatenate([jnp.ravel(lb[p.index_b]).astype(kind) for p in floats])
        seg = np.repeat(np.arange(len(floats)), [int(np.prod(p.shape)) for p in floats])
        fx, fy = jnp.isfinite(x), jnp.isfinite(y)
        diff = jnp.where(fx & fy, jnp.abs(x - y), jnp.where(x == y, 0, jnp.inf)).astype(acc)
        mag = jnp.maximum(jnp.where(fx, jnp.abs(x), 0), jnp.where(fy, jnp.abs(y), 0)).astype(acc)
        bad_a, bad_b = (bad.at[seg].max(jnp.where(f, 0, 1).astype(acc)) for f in (fx, fy))
        d, m, bad = d.at[seg].max(diff), m.at[seg].max(mag), bad_a + 2 * bad_b
    if exact:
        de, me = zip(*(exact_stats(la[p.index_a], lb[p.index_b], acc) for p in exact), strict=True)
        d, m = jnp.concatenate([d, jnp.stack(de)]), jnp.concatenate([m, jnp.stack(me)])
        bad = jnp.concatenate([bad, jnp.zeros((len(exact),), acc)])
    order = np.argsort([plan.pairs.index(p) for p in floats + exact], kind="stable")
    return d[order], m[order], bad[order]
