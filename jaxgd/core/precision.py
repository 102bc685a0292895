"""The dtype arithmetic runs in, and the few numeric forms every rule shares.

jaxgd's rules keep each array in the dtype it is given (params, gradients, state),
but compute in at least float32:

    compute_dtype(float16) = compute_dtype(bfloat16) = float32
    compute_dtype(float32) = float32, compute_dtype(float64) = float64
    compute_dtype(complex64) = complex64, compute_dtype(complex128) = complex128

A rule upcasts its inputs (`tree_upcast`), runs its equations there, and rounds
once at the end to the dtype each output is stored in (`tree_cast_like`). For
float32 and wider the two casts are no-ops, so nothing changes there; for float16
and bfloat16 an ``eps`` of 1e-8 stays 1e-8 (not 0), ``b2 = 0.999`` stays 0.999
(not 1.0), and a sum of squares does not overflow at 256.

For complex parameters, ``|x|**2`` is ``x * conj(x)`` (real) and ``|x|`` the modulus:
second moments and norms are real, first moments and updates complex.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgd.core.errors import JaxgdError

__all__ = ["UnsupportedDtypeError", "abs_sq", "compute_dtype", "hyper", "is_complex", "real_dtype",
           "refuse_complex", "scalar_dtype", "storage_dtype", "tree_cast_like", "tree_upcast", "upcast"]


class UnsupportedDtypeError(JaxgdError, TypeError):
    """A rule given leaves of a dtype it cannot handle (e.g. complex values for `clip`)."""


def compute_dtype(dtype: Any) -> np.dtype:
    """The dtype arithmetic on a leaf of ``dtype`` runs in: at least float32, same kind."""
    return jnp.promote_types(dtype, jnp.float32)


def real_dtype(dtype: Any) -> np.dtype:
    """The real counterpart of a float dtype: float32 for complex64, float64 for complex128."""
    return jnp.finfo(dtype).dtype


def scalar_dtype(tree: Any) -> np.dtype:
    """The real compute dtype of a tree's widest leaf (float32 for an empty tree): the dtype of
    a rule's scalar statistics of the whole tree (DoG's distance, Prodigy's d)."""
    leaves = jax.tree.leaves(tree)
    if not leaves:
        return np.dtype(np.float32)
    return real_dtype(compute_dtype(jnp.result_type(*leaves)))


def storage_dtype(leaf_dtype: Any, dtype: Any = None) -> np.dtype:
    """The dtype a state leaf is kept in: ``dtype`` (None: the leaf's own), made complex for a
    complex leaf, so a float32 accumulator of complex64 params is complex64, not real."""
    if dtype is None:
        return jnp.dtype(leaf_dtype)
    if is_complex(leaf_dtype) and not is_complex(dtype):
        return jnp.promote_types(dtype, jnp.complex64)
    return jnp.dtype(dtype)


def is_complex(x: Any) -> bool:
    """True for an array (or dtype) with complex values."""
    return jnp.issubdtype(getattr(x, "dtype", x), jnp.complexfloating)


def upcast(x: Any) -> Any:
    """``x`` in its compute dtype (float16/bfloat16 -> float32); integers, bools and Python
    numbers (weakly typed: they take the dtype of what they meet) unchanged."""
    if isinstance(x, int | float | complex):
        return x
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        return x
    return x.astype(compute_dtype(x.dtype))


def hyper(value: Any, like: jax.Array) -> Any:
    """A real hyperparameter for arithmetic with ``like``: a Python number as it is (weakly
    typed, it takes the array's dtype); an array cast to ``like``'s real compute dtype."""
    if isinstance(value, int | float):
        return value
    return jnp.asarray(value).astype(real_dtype(compute_dtype(jnp.result_type(like))))


def abs_sq(x: jax.Array) -> jax.Array:
    """``|x|**2``, real: ``x * x`` for real ``x``, ``x * conj(x)`` for complex ``x``."""
    return jnp.real(x * jnp.conj(x)) if is_complex(x) else x * x


def tree_upcast(tree: Any) -> Any:
    """Every float and complex leaf in its compute dtype (see `compute_dtype`)."""
    return jax.tree.map(upcast, tree)


def tree_cast_like(tree: Any, like: Any) -> Any:
    """Every leaf of ``tree`` cast to the dtype of the matching leaf of ``like``."""
    return jax.tree.map(lambda x, y: jnp.asarray(x).astype(jnp.result_type(y)), tree, like)


def refuse_complex(rule: str, tree: Any, why: str, instead: str) -> None:
    """Raise `UnsupportedDtypeError` naming ``rule`` and the first complex leaf of ``tree``.

    Args:
        rule: the rule's name, e.g. "clip".
        tree: the params or gradients (arrays or ShapeDtypeStructs).
        why: why the rule has no complex form, e.g. "it compares the gradient's sign".
        instead: what to use instead.
    """
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        if is_complex(leaf):
            raise UnsupportedDtypeError(
                f"{rule}: leaf {jax.tree_util.keystr(path)} has dtype {jnp.result_type(leaf)}; "
                f"{rule} takes real parameters only, because {why}. {instead}")
