"""Schedules asked for float16 or bfloat16 values compute in float32 and round once.

The right values are the float64 formulas, rounded to the dtype asked for.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import pytest

from jaxgd import schedules


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_cosine_over_100000_steps_is_finite_and_right(dtype):
    sched = schedules.cosine_decay_schedule(0.1, 100_000, dtype=dtype)
    steps = np.array([0, 1, 25_000, 50_000, 70_000, 99_999, 100_000, 200_000], np.int32)
    got = np.asarray(sched(jnp.asarray(steps)), np.float64)  # float16 counts above 65504 are inf
    right = 0.1 * 0.5 * (1 + np.cos(np.pi * np.minimum(steps, 100_000) / 100_000))
    assert sched(jnp.int32(0)).dtype == jnp.dtype(dtype)
    np.testing.assert_allclose(got, right, rtol=float(jnp.finfo(dtype).eps), atol=1e-8)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_a_rate_close_to_1_still_decays(dtype):
    sched = schedules.exponential_decay(0.1, 1, 0.9999, dtype=dtype)  # 0.9999 is 1.0 in 16 bits
    right = 0.1 * 0.9999**50_000  # 6.7e-4; 0.1 when the rate is rounded first
    assert float(sched(jnp.int32(50_000))) == pytest.approx(right, rel=float(jnp.finfo(dtype).eps))
    decay = schedules.step_decay(0.1, every=1, factor=0.999, dtype=dtype)
    assert float(decay(jnp.int32(5000))) == pytest.approx(0.1 * 0.999**5000, rel=1e-2)


def test_warmup_cosine_in_float16_matches_float64_at_every_phase():
    sched = schedules.warmup_cosine_decay_schedule(0.0, 0.1, 1_000, 200_000, dtype="float16")
    for t in (500, 1_000, 150_000):
        if t < 1_000:
            right = 0.1 * t / 1_000
        else:
            right = 0.1 * 0.5 * (1 + math.cos(math.pi * (t - 1_000) / 199_000))
        assert float(sched(jnp.int32(t))) == pytest.approx(right, rel=1e-3)
