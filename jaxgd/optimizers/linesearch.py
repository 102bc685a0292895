"""A line search that meets the strong Wolfe conditions (Nocedal & Wright 2006, Algorithms 3.5, 3.6).

`scale_by_zoom_linesearch` scales the direction it is given by a step ``eta`` along it,
found by evaluating the objective on the line ``phi(eta) = f(w + eta u)``: first an
interval that brackets an acceptable step (Algorithm 3.5, the step growing by
``increase_factor``), then zooming into it by cubic, quadratic or bisection
interpolation (Algorithm 3.6). It needs the objective: update() takes ``value``
(``f(w)``), ``grad`` (``grad f(w)``) and ``value_fn`` (``w -> f(w)``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxgd.core.errors import (
    ConfigError,
    check_choice,
    check_nonnegative,
    check_positive,
    check_positive_int,
    check_range,
)
from jaxgd.core.precision import refuse_complex, scalar_dtype, tree_cast_like, upcast
from jaxgd.core.transform import Transform

__all__ = ["ScaleByZoomLinesearchState", "ZoomLinesearchInfo", "scale_by_zoom_linesearch"]

GUESSES = ("one", "keep")


def tree_vdot(a: Any, b: Any) -> jax.Array:
    """``sum over leaves of <a, b>`` (real leaves), each dot in at least float32 (a float16 dot
    of small differences would underflow, and its reciprocal overflow)."""
    dots = [jnp.vdot(upcast(x), upcast(y), precision=jax.lax.Precision.HIGHEST)
            for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)]
    total = 0
    for d in dots:  # left to right, as optax sums its leaves
        total = total + d
    return jnp.asarray(total)


class ZoomLinesearchInfo(NamedTuple):
    """What the last line search did (as ``optax.ZoomLinesearchInfo``).

    Attributes:
        num_linesearch_steps: evaluations of the objective, int32 scalar.
        decrease_error: how far the step misses sufficient decrease, real scalar (0: met).
        curvature_error: how far it misses the curvature condition, real scalar (0: met).
    """

    num_linesearch_steps: jax.Array
    decrease_error: jax.Array
    curvature_error: jax.Array


class ScaleByZoomLinesearchState(NamedTuple):
    """State of `scale_by_zoom_linesearch` (as ``optax.ScaleByZoomLinesearchState``).

    Attributes:
        learning_rate: the step eta of the last search, real scalar (1 before any).
        value: f(w + eta u) there, real scalar (inf before any).
        grad: grad f(w + eta u) there, like params.
        info: a `ZoomLinesearchInfo`.
    """

    learning_rate: jax.Array
    value: jax.Array
    grad: Any
    info: ZoomLinesearchInfo


class _Search(NamedTuple):
    """The state of one search along ``phi(eta) = f(w + eta u)``; scalars are real."""

    count: jax.Array  # evaluations so far
    stepsize: jax.Array  # the last eta tried, with phi, grad f and phi' there
    value: jax.Array
    grad: Any
    slope: jax.Array
    decrease_error: jax.Array
    curvature_error: jax.Array
    interval_found: jax.Array  # bool: zooming (Algorithm 3.6) rather than bracketing (3.5)
    done: jax.Array  # bool: both conditions met
    failed: jax.Array  # bool: out of evaluations, or the interval is below stepsize_precision
    low: jax.Array  # the bracket [low, high] (phi(low) <= phi(high), not low < high)
    value_low: jax.Array
    slope_low: jax.Array
    high: jax.Array
    value_high: jax.Array
    slope_high: jax.Array
    cubic_ref: jax.Array  # the third point of the cubic fit
    value_cubic_ref: jax.Array
    safe_stepsize: jax.Array  # the best eta met with sufficient decrease (0: none yet)
    safe_value: jax.Array
    safe_grad: Any


def _cubic_min(a, fa, fpa, b, fb, c, fc):
    """Where ``p'(x) = 0`` for the cubic ``p`` with ``p(a) = fa, p'(a) = fpa, p(b) = fb,
    p(c) = fc`` (NaN when it has no minimum: then the caller does not use it)."""
    db, dc = b - a, c - a
    rb, rc = fb - fa - fpa * db, fc - fa - fpa * dc
    denom = (db * dc) ** 2 * (db - dc)
    big_a = (dc**2 * rb - db**2 * rc) / denom  # p(x) = A (x-a)^3 + B (x-a)^2 + fpa (x-a) + fa
    big_b = (-(dc**3) * rb + db**3 * rc) / denom
    return a + (-big_b + jnp.sqrt(big_b * big_b - 3.0 * big_a * fpa)) / (3.0 * big_a)


def _quad_min(a, fa, fpa, b, fb):
    """Where ``p'(x) = 0`` for the parabola with ``p(a) = fa, p'(a) = fpa, p(b) = fb``."""
    db = b - a
    curv = (fb - fa - fpa * db) / db**2
    return a - fpa / (2.0 * curv)


def scale_by_zoom_linesearch(
    max_linesearch_steps: int,
    max_learning_rate: float | None = None,
    tol: float = 0.0,
    increase_factor: float = 2.0,
    slope_rtol: float = 1e-4,
    curv_rtol: float = 0.9,
    approx_dec_rtol: float | None = 1e-6,
    stepsize_precision: float = 1e-5,
    initial_guess_strategy: str = "keep",
) -> Transform:
    """Scale the direction ``u`` by a step ``eta`` that meets the strong Wolfe conditions.

        sufficient decrease   f(w + eta u) <= f(w) + c1 eta <grad f(w), u> + tol
        curvature             |<grad f(w + eta u), u>| <= c2 |<grad f(w), u>| + tol
        u_out = eta u

    with ``c1 = slope_rtol``, ``c2 = curv_rtol``. Near a minimum, where the decrease of
    ``f`` is below its rounding, the first condition may instead be Hager & Zhang's
    approximate one, ``<grad f(w + eta u), u> <= (2 c1 - 1) <grad f(w), u>``, taken while
    ``f(w + eta u) <= f(w) + approx_dec_rtol |f(w)|`` (None: never). The search starts
    from ``eta = 1`` ("one") or the last step found ("keep") and grows it by
    ``increase_factor`` until an interval holds an acceptable step (Algorithm 3.5), then
    zooms into it (Algorithm 3.6: the minimiser of a cubic through three points, else of
    a parabola through two, else the midpoint). After ``max_linesearch_steps``
    evaluations, or once the interval is below ``stepsize_precision`` with a step of
    sufficient decrease in hand, it takes the best step of sufficient decrease found
    (else the last one tried).

    Args:
        max_linesearch_steps: evaluations of the objective per search, an int >= 1.
        max_learning_rate: the largest step, > 0; None: no bound.
        tol: slack on both conditions, >= 0.
        increase_factor: > 1, how fast the bracketing phase grows the step.
        slope_rtol: ``c1`` in (0, 1).
        curv_rtol: ``c2`` in (c1, inf]; ``inf`` drops the curvature condition.
        approx_dec_rtol: >= 0, or None for the plain sufficient-decrease condition.
        stepsize_precision: > 0, the interval length at which the zoom gives up.
        initial_guess_strategy: "one" or "keep".

    Returns:
        A Transform with a `ScaleByZoomLinesearchState`. update(updates, state, params,
        *, value, grad, value_fn) needs all three: ``value = f(params)``, ``grad =
        grad f(params)`` and ``value_fn(params) -> scalar`` (differentiated with
        `jax.value_and_grad`).

    Raises:
        ConfigError: an argument outside the ranges above.
        UnsupportedDtypeError: complex params (from init/update).
        ValueError: from update(), when params, value, grad or value_fn is missing.

    References:
        Nocedal & Wright, Numerical Optimization, 2nd ed., Springer 2006, Algorithms 3.5
        and 3.6; Hager & Zhang, "Algorithm 851: CG_DESCENT", ACM TOMS 2006, eq. (23).
        Mirrors ``optax.scale_by_zoom_linesearch``.
    """
    max_steps = check_positive_int("max_linesearch_steps", max_linesearch_steps,
                                   fix="e.g. max_linesearch_steps=20 (optax.lbfgs's).")
    if max_learning_rate is not None:
        check_positive("max_learning_rate", max_learning_rate, fix="Or None for no bound.")
    check_nonnegative("tol", tol, fix="e.g. tol=0.0.")
    if check_positive("increase_factor", increase_factor) <= 1:
        raise ConfigError(f"increase_factor={increase_factor!r} must be > 1; accepted: (1, inf), "
                          "e.g. increase_factor=2.0.")
    check_range("slope_rtol", slope_rtol, low=0.0, high=1.0, low_open=True, high_open=True,
                fix="The usual c1 is 1e-4.")
    if not (isinstance(curv_rtol, int | float) and curv_rtol == float("inf")):
        check_range("curv_rtol", curv_rtol, low=slope_rtol, low_open=True,
                    fix="The usual c2 is 0.9 (inf: no curvature condition).")
    if approx_dec_rtol is not None:
        check_nonnegative("approx_dec_rtol", approx_dec_rtol, fix="Or None for the plain condition.")
    check_positive("stepsize_precision", stepsize_precision, fix="e.g. 1e-5.")
    initial_guess_strategy = check_choice("initial_guess_strategy", initial_guess_strategy, GUESSES)

    def decrease_error(eta, value, slope, value0, slope0):
        err = value - value0 - slope_rtol * eta * slope0  # Armijo (N&W 3.7a)
        if approx_dec_rtol is not None:  # Hager & Zhang's approximate decrease, near a minimum
            approx = jnp.maximum(slope - (2 * slope_rtol - 1.0) * slope0,
                                 value - value0 - approx_dec_rtol * jnp.abs(value0))
            err = jnp.minimum(approx, err)
        err = jnp.maximum(err, 0.0)
        return jnp.where(jnp.isnan(err), jnp.inf, err)

    def curvature_error(slope, slope0):
        err = jnp.maximum(jnp.abs(slope) - curv_rtol * jnp.abs(slope0), 0.0)  # N&W 3.7b
        return jnp.where(jnp.isnan(err), jnp.inf, err)

    def init(params):
        refuse_complex("scale_by_zoom_linesearch", params, "it compares values along a real line",
                       "Use a rule without a line search.")
        dt = scalar_dtype(params)
        return ScaleByZoomLinesearchState(
            learning_rate=jnp.ones((), dt), value=jnp.full((), jnp.inf, dt),
            grad=jax.tree.map(jnp.zeros_like, params),
            info=ZoomLinesearchInfo(jnp.zeros((), jnp.int32), jnp.full((), jnp.inf, dt),
                                    jnp.full((), jnp.inf, dt)))

    def update(updates, state, params=None, *, value=None, grad=None, value_fn=None, **extra):
        del extra
        if params is None or value is None or grad is None or value_fn is None:
            given = {"params": params, "value": value, "grad": grad, "value_fn": value_fn}
            missing = [k for k, v in given.items() if v is None]
            raise ValueError(f"scale_by_zoom_linesearch (lbfgs): update() needs params and value=f(params), "
                             f"grad=grad f(params), value_fn=f; missing: {missing}. Pass extras=('value', "
                             "'grad', 'value_fn') to jaxgd.fit, jaxgd.minimize or "
                             "jaxgd.training.make_step, which then give them on each step's batch.")
        refuse_complex("scale_by_zoom_linesearch", updates, "it compares values along a real line",
                       "Use a rule without a line search.")
        dt = scalar_dtype(params)
        value_and_grad = jax.value_and_grad(value_fn)
        value0 = jnp.asarray(value).astype(dt)
        slope0 = tree_vdot(updates, grad).astype(dt)  # phi'(0)
        guess = jnp.ones((), dt) if initial_guess_strategy == "one" else state.learning_rate.astype(dt)
        zero = jnp.zeros((), dt)

        def on_line(eta):
            """phi(eta), grad f and phi'(eta) at w + eta u."""
            point = jax.tree.map(lambda w, u: (w + eta * u).astype(w.dtype), params, updates)
            v, g = value_and_grad(point)
            return jnp.asarray(v).astype(dt), g, tree_vdot(g, updates).astype(dt)

        def bracket(s):  # Algorithm 3.5
            eta = jnp.where(s.count == 0, guess, increase_factor * s.stepsize)
            capped = jnp.asarray(False)
            if max_learning_rate is not None:
                capped = eta >= max_learning_rate
                eta = jnp.minimum(eta, max_learning_rate)
            v, g, slope = on_line(eta)
            dec, curv = decrease_error(eta, v, slope, value0, slope0), curvature_error(slope, slope0)
            good = jnp.maximum(dec, curv) <= tol
            keep = dec <= tol
            safe = jax.tree.map(lambda new, old: jnp.where(keep, new, old),
                                (eta, v, g), (s.safe_stepsize, s.safe_value, s.safe_grad))
            high_is_new = (dec > 0.0) | ((v >= s.value) & (s.count > 0))
            low_is_new = (slope >= 0.0) & ~high_is_new  # phi' >= 0: zoom(new, previous)
            prev, new = (s.stepsize, s.value, s.slope), (eta, v, slope)
            low, high = jax.tree.map(lambda a, b: jnp.where(low_is_new, a, b), (new, prev), (prev, new))
            found = high_is_new | low_is_new | good
            done = good | (capped & ~found)
            return _Search(s.count + 1, eta, v, g, slope, dec, curv, found, done,
                           (s.count + 1 >= max_steps) & ~done, *low, *high, low[0], low[1], *safe)

        def zoom(s):  # Algorithm 3.6
            width = jnp.abs(s.high - s.low)
            left, right = jnp.minimum(s.high, s.low), jnp.maximum(s.high, s.low)
            cubic = _cubic_min(s.low, s.value_low, s.slope_low, s.high, s.value_high, s.cubic_ref,
                               s.value_cubic_ref)
            quad = _quad_min(s.low, s.value_low, s.slope_low, s.high, s.value_high)
            use_cubic = (cubic > left + 0.2 * width) & (cubic < right - 0.2 * width)
            use_quad = ~use_cubic & (quad > left + 0.1 * width) & (quad < right - 0.1 * width)
            eta = jnp.where(use_cubic, cubic, jnp.where(use_quad, quad, (s.low + s.high) / 2.0))
            v, g, slope = on_line(eta)
            dec, curv = decrease_error(eta, v, slope, value0, slope0), curvature_error(slope, slope0)
            better = (dec <= tol) & (v < s.safe_value)
            safe = jax.tree.map(lambda new, old: jnp.where(better, new, old),
                                (eta, v, g), (s.safe_stepsize, s.safe_value, s.safe_grad))
            done = jnp.maximum(dec, curv) <= tol
            high_is_new = (dec > 0.0) | (v >= s.value_low)
            high_is_low = (slope * (s.high - s.low) >= 0.0) & ~high_is_new
            new, low, high = (eta, v, slope), (s.low, s.value_low, s.slope_low), \
                (s.high, s.value_high, s.slope_high)
            pick = lambda c, a, b: jax.tree.map(lambda x, y: jnp.where(c, x, y), a, b)
            new_high = pick(high_is_new, new, pick(high_is_low, low, high))
            new_low = pick(~high_is_new, new, low)
            ref = pick(high_is_new | high_is_low, high[:2], low[:2])
            stuck = (s.count + 1 >= max_steps) | ((width <= stepsize_precision) & (safe[0] > 0.0))
            return _Search(s.count + 1, eta, v, g, slope, dec, curv, s.interval_found, done,
                           stuck & ~done, *new_low, *new_high, *ref, *safe)

        def fall_back(s):
            """Out of evaluations: the best step of sufficient decrease (or 0 when every step
            tried was non-finite), else the last one tried."""
            use_safe = (s.safe_stepsize > 0.0) | jnp.isinf(s.decrease_error)
            eta, v, g = jax.tree.map(lambda a, b: jnp.where(use_safe, a, b),
                                     (s.safe_stepsize, s.safe_value, s.safe_grad),
                                     (s.stepsize, s.value, s.grad))
            return s._replace(stepsize=eta, value=v, grad=g)

        def body(s):
            s = jax.lax.cond(s.interval_found, zoom, bracket, s)
            return jax.lax.cond(s.failed, fall_back, lambda s: s, s)

        inf = jnp.full((), jnp.inf, dt)
        start = _Search(jnp.zeros((), jnp.int32), zero, value0, grad, slope0, inf, inf,
                        jnp.asarray(False), jnp.asarray(False), jnp.asarray(False),
                        zero, value0, slope0, zero, value0, slope0, zero, value0, zero, value0, grad)
        start = start._replace(grad=tree_cast_like(grad, params), safe_grad=tree_cast_like(grad, params))
        s = jax.lax.while_loop(lambda s: ~(s.done | s.failed), body, start)
        scaled = jax.tree.map(lambda u: (s.stepsize * u).astype(u.dtype), updates)
        return scaled, ScaleByZoomLinesearchState(
            learning_rate=s.stepsize, value=s.value, grad=tree_cast_like(s.grad, state.grad),
            info=ZoomLinesearchInfo(s.count, s.decrease_error, s.curvature_error))

    return Transform(init, update)
