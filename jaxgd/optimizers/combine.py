"""Combinators: build one transform out of others."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax

from jaxgd.base import Transform

__all__ = ["chain", "masked", "MaskedNode", "MaskedState"]


def chain(*transforms: Transform) -> Transform:
    """Apply ``transforms`` in order; the state is the tuple of their states."""

    def init(params):
        return tuple(tx.init(params) for tx in transforms)

    def update(grads, state, params=None, **extra):
        if len(state) != len(transforms):
            raise ValueError(
                f"chain: state has {len(state)} parts but there are {len(transforms)} transforms; "
                "was the state made by this chain's init?"
            )
        new_state = []
        for tx, s in zip(transforms, state, strict=True):
            grads, s = tx.update(grads, s, params, **extra)
            new_state.append(s)
        return grads, tuple(new_state)

    return Transform(init, update)


class MaskedState(NamedTuple):
    inner_state: Any  # the inner transform's state over the selected leaves only


class MaskedNode(NamedTuple):
    """Stands in for a leaf that a mask leaves out (a node with no children)."""


def _resolve_mask(mask, tree):
    return mask(tree) if callable(mask) else mask


def _select(tree, mask_tree):
    return jax.tree.map(lambda m, x: x if m else MaskedNode(), mask_tree, tree)


def masked(inner: Transform, mask: Any) -> Transform:
    """Apply ``inner`` to the leaves where ``mask`` is True; pass the others through.

    ``mask`` is a pytree of bools with the structure of (a prefix of) the params, or
    a function of the params returning one. It must be static (Python bools).
    """

    def init(params):
        return MaskedState(inner_state=inner.init(_select(params, _resolve_mask(mask, params))))

    def update(grads, state, params=None, **extra):
        mask_tree = _resolve_mask(mask, grads)
        sel_params = None if params is None else _select(params, mask_tree)
        new, inner_state = inner.update(_select(grads, mask_tree), state.inner_state,
                                        sel_params, **extra)
        out = jax.tree.map(lambda m, n, g: n if m else g, mask_tree, new, grads)
        return out, MaskedState(inner_state=inner_state)

    return Transform(init, update)
