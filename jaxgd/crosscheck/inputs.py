"""The checked inputs of a cross-check: params, the per-step stream, tolerances, the step bound.

Each check raises one `ConfigError` naming the argument, the value, what is accepted
and the fix; `check_steps_fit` raises `ResourceError` when the per-step records of
a run cannot fit in memory, before anything of that size is allocated.
"""

from __future__ import annotations

import numbers
from typing import Any

import jax
import jax.numpy as jnp

from jaxgd.core.errors import ConfigError, ResourceError, check_nonnegative, check_positive_int
from jaxgd.core.limits import MAX_INT32
from jaxgd.training.resources import array_bytes, available_memory

DEFAULT_STEPS = 200
PARAMS_EXAMPLE = "params={'w': jnp.zeros((3, 4)), 'b': jnp.zeros(4)}"


def _leading(name: str, tree: Any, steps: int | None) -> tuple[Any, int]:
    """``tree`` cut to its first ``steps`` entries along the stacked axis 0."""
    leaves = jax.tree.leaves(tree)
    lengths = {jnp.shape(x)[0] if jnp.ndim(x) else None for x in leaves}
    if not leaves or len(lengths) != 1 or None in lengths:
        raise ConfigError(f"{name} must be a pytree of arrays stacked along a leading steps axis "
                          f"(one length for all leaves); got lengths {sorted(map(str, lengths))}.")
    n = lengths.pop()
    if steps is None:
        return tree, n
    if steps > n:
        raise ConfigError(f"steps={steps} but {name} holds only {n} steps. "
                          f"Pass steps<={n} or a longer {name}.")
    return jax.tree.map(lambda x: x[:steps], tree), steps


def check_params(params: Any) -> Any:
    """``params`` as a pytree of JAX arrays: at least one leaf, every leaf a float or complex
    array (or a number). Raises ConfigError naming the argument and the fix."""
    leaves = jax.tree.leaves(params)
    if not leaves:
        raise ConfigError(f"params={params!r} holds no arrays; accepted: a pytree of float arrays "
                          f"(dicts, lists, tuples of them), e.g. {PARAMS_EXAMPLE}.")
    try:
        params = jax.tree.map(jnp.asarray, params)
    except TypeError as err:
        raise ConfigError(f"params has a leaf that is not an array ({err}); accepted: a pytree of "
                          f"float arrays, e.g. {PARAMS_EXAMPLE}.") from None
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        if not jnp.issubdtype(leaf.dtype, jnp.inexact):
            raise ConfigError(f"params leaf {jax.tree_util.keystr(path)} has dtype {leaf.dtype}; "
                              "params must be float or complex arrays (cast them, e.g. "
                              "x.astype(jnp.float32)).")
    return params


def check_tolerances(rtol: Any, atol: Any) -> None:
    """rtol: None, a finite float >= 0, or a dict {dtype name: such a float}; atol: None or a
    finite float >= 0. (rtol=0 with atol=0 asks for bitwise equality.)"""
    fix = "e.g. rtol=1e-5 (float32) or 1e-12 (float64), or None for the default by dtype."
    if isinstance(rtol, dict):
        for name, value in rtol.items():
            if not isinstance(name, str):
                raise ConfigError(f"rtol has the key {name!r}; accepted: dtype names such as "
                                  "'float32' mapped to tolerances.")
            check_nonnegative(f"rtol[{name!r}]", value, fix=fix)
    elif rtol is not None:
        check_nonnegative("rtol", rtol, fix=fix)
    if atol is not None:
        check_nonnegative("atol", atol, fix="e.g. atol=1e-8, or None for rtol times the leaf's scale.")


def check_call(names: Any, extra_args: Any, loss_fn: Any, key: Any) -> None:
    """The other arguments of `jaxgd.crosscheck.crosscheck`, by type."""
    if not (isinstance(names, tuple | list) and len(names) == 2 and all(isinstance(n, str) for n in names)):
        raise ConfigError(f"names={names!r}: accepted: two strings, e.g. names=('hand', 'optax').")
    if extra_args is not None and not isinstance(extra_args, dict):
        raise ConfigError(f"extra_args={extra_args!r}: accepted: None or a dict of update() "
                          "keyword arguments, e.g. extra_args={'value': 0.5}.")
    if loss_fn is not None and not callable(loss_fn):
        raise ConfigError(f"loss_fn={loss_fn!r} is not callable; pass loss_fn=(params) -> scalar.")
    ok_key = key is None or isinstance(key, jax.Array) or (
        isinstance(key, numbers.Integral) and not isinstance(key, bool))
    if not ok_key:
        raise ConfigError(f"key={key!r}: accepted: None, an int seed or a jax.random.key(...).")


def inputs(params, steps, grads, loss_fn, batches) -> tuple[Any, Any, int]:
    """Checked params, the per-step scan inputs (grads or batches; None for the random
    stream, whose step indices `step_indices` makes once the run is known to fit), steps."""
    if grads is not None and loss_fn is not None:
        raise ConfigError("pass either grads= (stream mode) or loss_fn= (loss mode), not both.")
    if batches is not None and loss_fn is None:
        raise ConfigError("batches= needs loss_fn=(params, batch) -> scalar.")
    if steps is not None:
        steps = check_positive_int("steps", steps, fix="e.g. steps=200.")
        if steps > MAX_INT32:
            raise ConfigError(f"steps={steps:,} is more than the int32 step counter holds; accepted: "
                              f"1..{MAX_INT32:,}. A few hundred steps show where two rules part.")
    params = check_params(params)
    if grads is not None:
        grads, steps = _leading("grads", grads, steps)
        if jax.tree.structure(grads) != jax.tree.structure(params):
            raise ConfigError(f"grads has structure {jax.tree.structure(grads)} but params have "
                              f"{jax.tree.structure(params)}; stack one gradient per step.")
        return params, grads, steps
    if batches is not None:
        return (params, *_leading("batches", batches, steps))
    return params, None, steps or DEFAULT_STEPS


def step_indices(steps: int) -> jax.Array:
    """The scan input of the random stream: the step index, int32."""
    return jnp.arange(steps, dtype=jnp.int32)


def check_steps_fit(steps: int, n_leaves: int, params: Any, *, oracle: bool, loss: bool,
                    indices: bool) -> int:
    """Refuse ``steps`` whose per-step records cannot fit in memory; return the estimate.

    Per step the run keeps, per compared leaf, three float64 statistics on the device
    and twice on the host; the step index; the two losses in loss mode; and with an
    oracle the recorded gradients, updates and params of both sides (5x the params).
    """
    per_step = 3 * n_leaves * 8 * 3 + 4 * indices + 16 * loss
    if oracle:
        per_step += 5 * array_bytes(params) + 2 * 3 * 2 * n_leaves * 8
    need = steps * per_step
    have = available_memory()
    if have is not None and need > have:
        limit = max(have // per_step, 1)
        raise ResourceError(f"steps={steps:,} needs about {need / 2**30:,.1f} GiB for the per-step "
                            f"records ({per_step:,} bytes a step for {n_leaves} compared leaves"
                            f"{' and the oracle' if oracle else ''}), but only {have / 2**30:,.1f} "
                            f"GiB is available; accepted here: steps <= {limit:,}. Use fewer steps "
                            "(e.g. --steps 200).")
    return need
