"""The cross-check cannot be fooled: non-finite values, a fault both sides share, complex leaves.

Each planted fault is computed here by hand (its size and step), never read back from
the tool.
"""

from __future__ import annotations

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgd import optimizers as hand
from jaxgd.cli import main
from jaxgd.core.precision import UnsupportedDtypeError
from jaxgd.core.transform import Transform, stateless
from jaxgd.crosscheck import crosscheck, crosscheck_row
from jaxgd.crosscheck.oracle import ROUNDING_K
from jaxgd.crosscheck.report import CrosscheckReport


def normalised_in_leaf_dtype():
    """u = -g / ||g||, the norm squared and summed in the gradient's own dtype (as 16-bit code
    without an upcast would): in float16, ||g||**2 overflows to inf at ||g|| >= 256."""
    return stateless(lambda g, p: jax.tree.map(lambda x: -x / jnp.sqrt(jnp.sum(x * x)), g))


def nan_from(step):
    """SGD(0.1) whose updates turn NaN from ``step`` on (a count in the state)."""
    def update(g, count, p=None):
        u = jax.tree.map(lambda x: jnp.where(count >= step, jnp.nan, -0.1 * x), g)
        return u, count + 1

    return Transform(lambda p: jnp.zeros([], jnp.int32), update)


def test_a_fault_both_sides_share_is_both_depart_from_the_float64_oracle():
    params = {"w": jnp.ones(3, jnp.float16)}
    grads = {"w": jnp.full((4, 3), 300.0, jnp.float16)}  # ||g|| = 300 sqrt(3) = 520
    report = crosscheck(normalised_in_leaf_dtype(), normalised_in_leaf_dtype(), params, grads=grads,
                        names=("hand", "optax"), oracle="float64")
    assert report.first_divergence is None  # the two agree with each other: both give 0
    assert report.verdict == "depart" and not report.ok
    assert report.summary() == "both depart from the float64 oracle at step 0, leaf ['w'] (updates)"
    d = report.departures["hand"]
    assert d.abs == pytest.approx(1 / math.sqrt(3), rel=1e-3)  # float64: -1/sqrt(3) each; float16: 0
    assert "both depart" in report.table()


def test_optax_alone_departs_where_it_sums_squares_in_float16():
    params = {"w": jnp.ones(3, jnp.float16)}
    grads = {"w": jnp.full((4, 3), 300.0, jnp.float16)}
    report = crosscheck(hand.clip_by_global_norm(1.0), optax.clip_by_global_norm(1.0), params,
                        grads=grads, names=("hand", "optax"), oracle="float64")
    assert report.verdict == "depart" and set(report.departures) == {"optax"}
    assert report.summary().startswith("optax departs from the float64 oracle at step 0, leaf ['w']")
    assert report.summary().endswith("hand stays within it")


def test_non_finite_on_one_side_names_the_side_the_step_and_the_leaf():
    params = {"a": jnp.ones(2), "b": jnp.ones(3)}
    report = crosscheck(hand.sgd(0.1), nan_from(3), params, steps=6, names=("hand", "other"))
    assert report.verdict == "non-finite" and not report.ok
    assert report.non_finite == (3, ("other",), "updates", "['a']")
    back = CrosscheckReport.from_json(report.to_json())
    assert back.verdict == "non-finite" and back.non_finite == report.non_finite
    assert json.loads(report.to_json())["non_finite"]["sides"] == ["other"]


def test_float32_oracle_sides_with_jaxgds_bias_correction_and_the_table_documents_optax():
    report = crosscheck_row("adam", dtype=jnp.float32, steps=40, oracle="float64")
    assert "hand" not in report.departures and "optax" in report.departures
    assert report.verdict == "depart" and report.documented and report.ok
    assert "1 - b**t" in report.known
    # the size, by hand: at step 0 optax's 1 - b2 is float32(0.999)'s, 1.3e-5 off 1e-3
    assert abs(1 - np.float32(0.999) - 1e-3) / 1e-3 > ROUNDING_K * float(jnp.finfo(jnp.float32).eps)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_low_precision_adam_agrees_and_stays_within_the_oracle(dtype):
    report = crosscheck_row("adam", dtype=dtype, steps=60, oracle="float64")
    assert report.verdict == "agree", report.summary()
    assert report.meta["dtype"] == dtype and all(leaf.growth is not None for leaf in report.oracle_leaves)


def test_complex_adam_keeps_its_phase_against_optax_and_the_oracle():
    report = crosscheck_row("adam-nesterov", dtype=jnp.complex64, steps=40, oracle="float64")
    assert "hand" not in report.departures and report.first_divergence is None
    assert {leaf.dtype for leaf in report.leaves if leaf.kind == "updates"} == {"complex64"}


def test_a_lost_imaginary_part_is_a_difference():
    params = jnp.ones(3, jnp.complex64)
    real_only = stateless(lambda g, p: jax.tree.map(lambda x: -0.1 * jnp.real(x).astype(x.dtype), g))
    report = crosscheck(hand.sgd(0.1), real_only, params, steps=3)
    assert report.verdict == "differ" and report.first_divergence.step == 0


def test_rows_without_a_complex_form_are_refused():
    with pytest.raises(UnsupportedDtypeError, match="'rprop' takes real params only"):
        crosscheck_row("rprop", dtype=jnp.complex64, steps=3)


def test_cli_documents_optaxs_bfloat16_nan_and_exits_0(capsys):
    code = main(["crosscheck", "--optimizer", "inject_hyperparams-adam", "--dtype", "bfloat16",
                 "--oracle", "float64", "--steps", "20"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "non-finite" in out and "(documented)" in out and "1 documented exceptions" in out
    assert "b2 = 0.999 in bfloat16" in out


def test_cli_lists_refused_complex_rows(capsys):
    code = main(["crosscheck", "--optimizer", "clip,sgd", "--dtype", "complex64", "--steps", "5"])
    out = capsys.readouterr().out
    assert code == 0 and "clip" in out and "refused" in out and "1 refused" in out
