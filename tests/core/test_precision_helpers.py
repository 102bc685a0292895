"""The dtype rules compute in, |x|**2 for complex values, bias corrections, norms, refusals."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgd.core.errors import ConfigError, check_positive
from jaxgd.core.precision import (
    UnsupportedDtypeError,
    abs_sq,
    compute_dtype,
    hyper,
    refuse_complex,
    storage_dtype,
    tree_cast_like,
    tree_upcast,
)
from jaxgd.core.tree import bias_correction, tree_l2_norm, tree_sum_of_squares, tree_zeros_like


@pytest.mark.parametrize(("dtype", "computed"), [
    ("float16", "float32"), ("bfloat16", "float32"), ("float32", "float32"), ("float64", "float64"),
    ("complex64", "complex64"), ("complex128", "complex128")])
def test_compute_dtype_is_at_least_float32_of_the_same_kind(dtype, computed):
    assert compute_dtype(dtype) == jnp.dtype(computed)


def test_upcast_and_cast_back_round_once_and_keep_ints_and_python_numbers():
    tree = {"h": jnp.ones(2, jnp.bfloat16), "n": jnp.arange(2), "x": 1e-8}
    up = tree_upcast(tree)
    assert up["h"].dtype == jnp.float32 and up["n"].dtype == tree["n"].dtype and up["x"] == 1e-8
    eps = jnp.float16(0) + tree_upcast(jnp.ones((), jnp.float16)) * 1e-8  # 1e-8 survives in float32
    assert float(eps) == pytest.approx(1e-8, rel=1e-6)
    back = tree_cast_like({"h": up["h"] / 3}, {"h": tree["h"]})
    assert back["h"].dtype == jnp.bfloat16 and float(back["h"][0]) == float(jnp.bfloat16(1 / 3))


def test_abs_sq_is_real_for_complex_values():
    z = jnp.array([2j, 1 + 1j, -3.0], jnp.complex64)
    out = abs_sq(z)
    assert out.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(out), [4.0, 2.0, 9.0])  # z * z would give -4, 2j, 9
    np.testing.assert_array_equal(np.asarray(abs_sq(jnp.array([-2.0]))), [4.0])


def test_state_storage_keeps_the_complex_kind():
    assert storage_dtype(jnp.complex64, jnp.float32) == jnp.complex64
    assert storage_dtype(jnp.complex128, jnp.float32) == jnp.complex64
    assert storage_dtype(jnp.float64, jnp.float32) == jnp.float32  # optax's float32 accumulator
    assert storage_dtype(jnp.bfloat16) == jnp.bfloat16
    assert tree_zeros_like(jnp.ones(2, jnp.complex64), jnp.float32).dtype == jnp.complex64


def test_hyper_casts_arrays_to_the_real_compute_dtype_and_leaves_python_numbers():
    like = jnp.ones(2, jnp.complex64)
    assert hyper(0.5, like) == 0.5
    assert hyper(jnp.asarray(0.5, jnp.bfloat16), like).dtype == jnp.float32


def test_bias_correction_is_good_to_a_few_ulp_in_float32():
    t = jnp.arange(1, 3001, dtype=jnp.int32)
    exact = 1 - 0.999 ** np.arange(1, 3001, dtype=np.float64)  # float64, no cancellation worth naming
    got = np.asarray(bias_correction(0.999, t), np.float64)
    assert np.max(np.abs(got / exact - 1)) < 8 * np.finfo(np.float32).eps
    direct = np.asarray(1 - jnp.float32(0.999) ** t, np.float64)
    assert np.max(np.abs(direct / exact - 1)) > 1e-5  # what the plain form loses
    assert float(bias_correction(0.0, jnp.int32(1))) == 1.0
    from_bf16 = bias_correction(jnp.asarray(0.5, jnp.bfloat16), jnp.int32(3))
    assert from_bf16.dtype == jnp.float32 and float(from_bf16) == 0.875


def test_sums_of_squares_do_not_overflow_in_float16_and_are_real_for_complex():
    big = {"a": jnp.full((9, 100), 300.0, jnp.float16), "b": jnp.full(3, 1.0, jnp.float16)}
    assert float(tree_l2_norm(big)) == pytest.approx(np.sqrt(900 * 300.0**2 + 3), rel=1e-6)
    tiny = jnp.full(4, 1e-4, jnp.float16)  # 1e-8 underflows in float16
    assert float(tree_sum_of_squares(tiny)) == pytest.approx(4 * float(jnp.float16(1e-4)) ** 2, rel=1e-6)
    z = {"z": jnp.array([1 + 1j, 2j], jnp.complex64)}
    assert tree_sum_of_squares(z).dtype == jnp.float32 and float(tree_sum_of_squares(z)) == 6.0


def test_refuse_complex_names_the_rule_the_leaf_and_the_fix():
    refuse_complex("clip", {"w": jnp.ones(2)}, "why", "instead")  # real: fine
    message = r"clip: leaf \['z'\] has dtype complex64; .* use X"
    with pytest.raises(UnsupportedDtypeError, match=message) as err:
        refuse_complex("clip", {"w": jnp.ones(2), "z": jnp.ones(2, jnp.complex64)}, "it orders", "use X")
    assert isinstance(err.value, TypeError)
    abstract = jax.ShapeDtypeStruct((2,), jnp.complex64)
    with pytest.raises(UnsupportedDtypeError):
        refuse_complex("rprop", [abstract], "why", "instead")


def test_a_bfloat16_scalar_is_a_real_scalar_and_a_complex_one_is_not():
    assert check_positive("learning_rate", jnp.asarray(1e-3, jnp.bfloat16)) is not None
    with pytest.raises(ConfigError, match="not a real scalar"):
        check_positive("learning_rate", np.complex64(1e-3))
