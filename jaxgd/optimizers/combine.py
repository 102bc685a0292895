"""Combinators: build one transform out of others (chain, masks, per-group rules, freezing)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any, NamedTuple

import jax
import numpy as np

from jaxgd.core.errors import ConfigError, is_concrete
from jaxgd.core.transform import Transform, set_to_zero

__all__ = [
    "chain", "masked", "multi_transform", "partition", "freeze", "selective_transform",
    "MaskedNode", "MaskedState", "MultiTransformState",
]


def chain(*transforms: Transform) -> Transform:
    """Apply transforms one after another, each to the updates of the one before.

        u^(0) = g
        u^(k) = transforms[k-1].update(u^(k-1), s_k, params)      (k = 1..n)
        u = u^(n)

    ``params`` and the extra update() keywords reach every transform unchanged.

    Args:
        *transforms: the transforms, in the order they apply.

    Returns:
        A `Transform` whose state is the tuple of the transforms' states, in order.
        Its update() raises ValueError when the state has the wrong number of parts.

    See Also:
        ``optax.chain``.
    """

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
    """State of `masked` (the fields of ``optax.MaskedState``).

    Attributes:
        inner_state: the inner transform's state, with ``MaskedNode()`` where the
            mask is False.
    """

    inner_state: Any  # the inner transform's state, MaskedNode() where the mask is False


class MaskedNode(NamedTuple):
    """Stands in for a leaf that a mask leaves out: a node with no children (``optax.MaskedNode``)."""


def _is_static_bool(m: Any) -> bool:
    if isinstance(m, bool | np.bool_):
        return True
    return is_concrete(m) and np.shape(m) == () and np.asarray(m).dtype == np.bool_


def is_function(mask: Any) -> bool:
    """True when a mask (or label tree) is a function of the params, False for a tree: optax's
    rule, where a callable pytree with leaves (a model object with ``__call__``, an equinox
    Module) is a tree. Unlike optax's ``multi_transform``, labels follow it too."""
    return callable(mask) and jax.tree_util.treedef_is_leaf(jax.tree.structure(mask))


def _resolve_mask(mask: Any, tree: Any, what: str = "mask") -> Any:
    """The mask tree for ``tree``: calls a mask function; checks leaves and structure."""
    mask_tree = mask(tree) if is_function(mask) else mask
    bad = [m for m in jax.tree.leaves(mask_tree) if not _is_static_bool(m)]
    if bad:
        raise ConfigError(
            f"{what} has a leaf {bad[0]!r} that is not a Python bool; accepted: a pytree of True/False "
            f"(a prefix of the params tree) or a function of the params returning one. The {what} "
            "must be static: build it from shapes or names, e.g. lambda p: jax.tree.map(lambda x: "
            "x.ndim >= 2, p)."
        )
    try:
        jax.tree.map(lambda m, x: None, mask_tree, tree)
    except ValueError as err:
        raise ConfigError(
            f"{what} structure {jax.tree.structure(mask_tree)} is not a prefix of the params "
            f"structure {jax.tree.structure(tree)}; accepted: the params tree with bools at its "
            "leaves, or a prefix of it (one bool covers a whole subtree)."
        ) from err
    return mask_tree


def _select(tree, mask_tree):
    """``tree`` with every subtree whose mask is False replaced by ``MaskedNode()``."""
    return jax.tree.map(lambda m, x: x if m else MaskedNode(), mask_tree, tree)


def masked(inner: Transform, mask: Any, *, mask_compatible_extra_args: bool = False) -> Transform:
    """Apply ``inner`` where ``mask`` is True; pass the other updates through unchanged.

        u_i = inner(g)_i    where mask_i
        u_i = g_i           elsewhere

    ``inner`` sees (and keeps state for) only the selected leaves: the others are
    replaced by ``MaskedNode()``, a node with no children, in its grads, params and
    state, exactly as optax's ``masked`` does, so the two states have the same
    key paths.

    Args:
        inner: the transform to apply on the selected leaves.
        mask: a pytree of Python bools with the structure of the params or a prefix
            of it (``{"w": True, "b": False}`` covers whole subtrees), or a function
            ``params -> such a tree``. It must be static: built from shapes or
            names, never from values. A callable that is itself a pytree with
            leaves (a dataclass or model object with ``__call__``) is a tree, as
            in optax (see `is_function`).
        mask_compatible_extra_args: also mask extra update() arguments that have
            the params' tree structure.

    Returns:
        A `Transform` whose state is ``MaskedState(inner_state)``.

    Raises:
        ConfigError: from init()/update(), when a mask leaf is not a static Python
            bool or the mask's structure is not a prefix of the params'.

    See Also:
        ``optax.masked``; PyTorch's per-parameter-group options.
    """

    def mask_extra(extra, grads, mask_tree):
        if not mask_compatible_extra_args:
            return extra
        structure = jax.tree.structure(grads)
        return {k: _select(v, mask_tree) if jax.tree.structure(v) == structure else v
                for k, v in extra.items()}

    def init(params):
        return MaskedState(inner_state=inner.init(_select(params, _resolve_mask(mask, params))))

    def update(grads, state, params=None, **extra):
        mask_tree = _resolve_mask(mask, grads)
        sel_params = None if params is None else _select(params, mask_tree)
        new, inner_state = inner.update(_select(grads, mask_tree), state.inner_state, sel_params,
                                        **mask_extra(extra, grads, mask_tree))
        out = jax.tree.map(lambda m, n, g: n if m else g, mask_tree, new, grads)
        return out, MaskedState(inner_state=inner_state)

    return Transform(init, update)


class MultiTransformState(NamedTuple):
    """State of `multi_transform` (the field of ``optax.MultiTransformState``).

    Attributes:
        inner_states: label -> ``MaskedState`` of that label's transform.
    """

    inner_states: dict  # label -> MaskedState of that label's transform (optax: PartitionState)


def multi_transform(
    transforms: Mapping[Hashable, Transform],
    param_labels: Any,
    *,
    mask_compatible_extra_args: bool = False,
) -> Transform:
    """A different transform per group of parameters, groups given by labels.

        u_i = transforms[label_i](g restricted to the leaves labelled label_i)_i

    Each transform is `masked` to the leaves with its label and the masked
    transforms run one after the other (the groups are disjoint, so the order does
    not matter). Every key of ``transforms`` keeps a state, even one no leaf uses.

    Args:
        transforms: label -> transform, e.g. ``{"w": adam(1e-3), "b": sgd(1e-2)}``.
        param_labels: a pytree of labels with the params' structure or a prefix of
            it, or a function ``params -> such a tree``. Every label must be a key
            of ``transforms``.
        mask_compatible_extra_args: passed on to `masked`.

    Returns:
        A `Transform` whose state is ``MultiTransformState({label: MaskedState})``.

    Raises:
        ConfigError: from init()/update(), when a label has no transform, or a
            label group's mask is not a prefix of the params (see `masked`).

    See Also:
        ``optax.multi_transform`` (``optax.partition`` in newer releases, also
        `partition` here); PyTorch's parameter groups, one rule per group.
    """
    transforms = dict(transforms)

    def resolve(tree):
        labels = param_labels(tree) if is_function(param_labels) else param_labels
        unknown = set(jax.tree.leaves(labels)) - set(transforms)
        if unknown:
            raise ConfigError(
                f"param_labels has labels {sorted(unknown, key=repr)} with no transform; accepted: "
                f"the keys of transforms {sorted(transforms, key=repr)}. Add a transform for each "
                "label (set_to_zero() to freeze a group)."
            )
        return labels

    def group(labels, label, tx):
        mask = jax.tree.map(lambda leaf: leaf == label, labels)
        return masked(tx, mask, mask_compatible_extra_args=mask_compatible_extra_args)

    def init(params):
        labels = resolve(params)
        return MultiTransformState({k: group(labels, k, tx).init(params) for k, tx in transforms.items()})

    def update(grads, state, params=None, **extra):
        labels = resolve(grads)
        new_states = {}
        for k, tx in transforms.items():
            grads, new_states[k] = group(labels, k, tx).update(grads, state.inner_states[k], params,
                                                               **extra)
        return grads, MultiTransformState(new_states)

    return Transform(init, update)


partition = multi_transform  # optax's newer name for the same combinator


def freeze(mask: Any) -> Transform:
    """Hold the parameters where ``mask`` is True fixed: their updates become zero.

        u_i = 0      where mask_i (frozen)
        u_i = g_i    elsewhere

    ``masked(set_to_zero(), mask)``; chain it before (or after) an optimizer:
    ``chain(freeze({"encoder": True, "head": False}), adam(1e-3))``. The optimizer
    still keeps state for the frozen leaves (fed zeros); `selective_transform`
    gives it no state there.

    Args:
        mask: a bool, or a pytree of bools that is (a prefix of) the params tree,
            or a function of the params returning one; True freezes.

    Returns:
        A `Transform` whose state is ``MaskedState(EmptyState())``.

    Raises:
        ConfigError: from init()/update(), when ``mask`` is not a static bool tree
            that is a prefix of the params.

    See Also:
        ``optax.transforms.freeze``; in PyTorch, ``requires_grad_(False)``.
    """
    return masked(set_to_zero(), mask)


def selective_transform(optimizer: Transform, *, freeze_mask: Any) -> Transform:
    """``optimizer`` on the leaves where ``freeze_mask`` is False, zero updates elsewhere.

    Built as ``multi_transform({"train": optimizer, "freeze": set_to_zero()}, labels)``,
    so the optimizer keeps no state for the frozen leaves.

    Args:
        optimizer: the rule for the trainable leaves.
        freeze_mask: a bool or a pytree of bools (a prefix of the params); True freezes.

    Returns:
        A `Transform` whose state is ``MultiTransformState({"train": MaskedState,
        "freeze": MaskedState(EmptyState())})``.

    Raises:
        ConfigError: from init()/update(), when ``freeze_mask`` is not a prefix of
            the params.

    See Also:
        ``optax.transforms.selective_transform``; in PyTorch, passing only the
        trainable parameters to the optimizer.
    """

    def labels(params):
        del params
        return jax.tree.map(lambda frozen: "freeze" if frozen else "train", freeze_mask)

    return multi_transform({"train": optimizer, "freeze": set_to_zero()}, labels)
