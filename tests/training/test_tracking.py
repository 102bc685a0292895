"""--track inside the compiled loop: each recorded value against an independent reference.

The engine hook (`jaxgd.training.tracking`) on its own, then the instruments as
`jaxgd.experiments.tracking` builds them: sharpness against the top eigenvalue of the
dense `jax.hessian`, the noise scale against `gradient_noise_scale` on the same rows,
the monitors against the difference of consecutive params and plain SGD's closed form.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from jaxgd.experiments.build import make_objective, make_problem, make_tx
from jaxgd.experiments.config import TrainConfig, validate
from jaxgd.experiments.defaults import resolve_defaults
from jaxgd.experiments.tracking import NOISE_ROWS, fixed_rows, make_track
from jaxgd.instruments import gradient_noise_scale
from jaxgd.nn.models import init_mlp
from jaxgd.optimizers import sgd
from jaxgd.training import fit
from jaxgd.training.tracking import Track, periodic


def _quadratic(params, x, y):
    return 0.5 * jnp.mean((x @ params - y) ** 2)


def _data(n=8):
    x = jnp.arange(n * 2, dtype=jnp.float32).reshape(n, 2) / (2 * n)
    return x, x @ jnp.array([1.0, -2.0])


def test_periodic_measure_is_nan_between_and_crosses_chunk_boundaries():
    """every=3 over 7 epochs in chunks of 2: values at epochs 3 and 6 only, each the
    params' own number (here the sum of the params after that epoch)."""
    x, y = _data()
    seen = {}

    def measure(p, epoch, x, y):
        return periodic(lambda p, x, y: {"psum": jnp.sum(p)}, 3)(p, epoch, x, y)

    track = Track(("psum",), None, measure)
    res = fit(_quadratic, jnp.zeros(2), sgd(0.3), x, y, epochs=7, chunk=2, track=track,
              on_checkpoint=lambda s, e, h: seen.setdefault(e, float(jnp.sum(s.params))),
              checkpoint_every=3)
    h = res.history["psum"]
    assert np.isnan(h[[0, 1, 3, 4, 6]]).all()
    assert h[2] == pytest.approx(seen[3], rel=1e-6) and h[5] == pytest.approx(seen[6], rel=1e-6)


def test_monitor_is_the_epoch_mean_of_its_steps():
    """A monitor of ||new - old|| under plain SGD is lr * ||g|| per step; the epoch records
    the mean over its steps, as it does the gradient norm: so update = lr * grad_norm."""
    x, y = _data(8)
    track = Track(("upd",), lambda old, new: {"upd": jnp.linalg.norm(new.params - old.params)})
    res = fit(_quadratic, jnp.zeros(2), sgd(0.3), x, y, epochs=3, batch_size=2, track=track)
    np.testing.assert_allclose(res.history["upd"], 0.3 * res.history["grad_norm"], rtol=1e-5)


def test_no_track_records_exactly_loss_and_grad_norm():
    x, y = _data()
    res = fit(_quadratic, jnp.zeros(2), sgd(0.3), x, y, epochs=3)
    assert set(res.history) == {"loss", "grad_norm"}


@pytest.mark.parametrize(("optimizer", "columns"), [("sgd", ["sharpness", "two_over_lr"]),
                                                    ("lbfgs", ["sharpness"]), ("dog", ["sharpness"])])
def test_two_over_lr_was_drawn_for_rules_that_set_their_own_step(optimizer, columns):
    # lbfgs's line search, DoG's / Prodigy's / D-Adaptation's estimates pick the step: 2 / lr
    # (2.0 at their lr 1) is no threshold for them, and the column is left out
    cfg = validate(resolve_defaults(TrainConfig(track="sharpness", optimizer=optimizer, epochs=2)))
    pb = make_problem(cfg)
    loss_fn, _ = make_objective(cfg, pb)
    params = init_mlp(jax.random.key(0), pb.sizes, cfg.init)
    assert list(make_track(cfg, pb, loss_fn, 1, "hand", params).names) == columns


@pytest.fixture(scope="module")
def tracked():
    """XOR, the tutorial's 2-3-1 sigmoid net, plain full-batch GD at lr 0.5, 4 epochs with
    sharpness and noise scale every 2 and the monitors; the params after each epoch."""
    cfg = validate(resolve_defaults(TrainConfig(track="sharpness:2,noise_scale:2,monitors", epochs=4)))
    pb = make_problem(cfg)
    loss_fn, vg = make_objective(cfg, pb)
    params = init_mlp(jax.random.key(0), pb.sizes, cfg.init)
    seen = {0: params}
    res = fit(None, params, make_tx(cfg, "hand", 1), pb.data.x, pb.data.y, value_and_grad=vg, epochs=4,
              track=make_track(cfg, pb, loss_fn, 1, "hand", params), checkpoint_every=1,
              on_checkpoint=lambda s, e, h: seen.setdefault(e, jax.tree.map(np.asarray, s.params)))
    return res.history, seen, loss_fn, pb.data


@pytest.mark.parametrize("epoch", [2, 4])
def test_sharpness_is_the_top_eigenvalue_of_the_dense_hessian(tracked, epoch):
    """At the params after that epoch: the sharpness grows ~10% per epoch here (0.049, 0.055,
    0.063, 0.072), so the params of the epoch before or after would miss rel 1e-3."""
    h, seen, loss_fn, ds = tracked
    assert np.isnan(h["sharpness"][[0, 2]]).all() and np.isnan(h["two_over_lr"][[0, 2]]).all()
    flat, unravel = ravel_pytree(seen[epoch])
    dense = jax.jit(jax.hessian(lambda v: loss_fn(unravel(v), ds.x, ds.y)))(flat)
    eigs = np.linalg.eigvalsh(np.asarray(dense, np.float64))
    assert h["sharpness"][epoch - 1] == pytest.approx(eigs[np.argmax(np.abs(eigs))], rel=1e-3)
    assert h["two_over_lr"][epoch - 1] == 2 / 0.5


def test_noise_scale_is_the_instruments_on_the_same_rows(tracked):
    h, seen, loss_fn, ds = tracked
    assert np.isnan(h["noise_scale"][[0, 2]]).all()
    want = jax.jit(lambda p: gradient_noise_scale(loss_fn, p, ds.x, ds.y).b_simple)(seen[4])
    assert h["noise_scale"][3] == pytest.approx(float(want), rel=1e-5)


def test_monitors_are_the_difference_of_consecutive_params(tracked):
    h, seen, _, _ = tracked
    norm = lambda t: float(np.sqrt(sum(np.sum(np.square(a)) for a in jax.tree.leaves(t))))
    for epoch in range(1, 5):
        before, step = seen[epoch - 1], jax.tree.map(np.subtract, seen[epoch], seen[epoch - 1])
        assert h["update_norm"][epoch - 1] == pytest.approx(norm(step), rel=1e-4)
        assert h["update_ratio"][epoch - 1] == pytest.approx(norm(step) / norm(before), rel=1e-4)
        assert h["update_ratio[1].w"][epoch - 1] == pytest.approx(norm(step[1].w) / norm(before[1].w),
                                                                   rel=1e-4)
    np.testing.assert_allclose(h["update_norm"], 0.5 * h["grad_norm"], rtol=1e-5)  # GD: lr * ||g||
    np.testing.assert_allclose(h["lr"], 0.5)
    assert h["update_ratio[0].b"][0] == 0  # zero biases at init: no scale, 0 rather than NaN


def test_fixed_rows_are_a_fixed_subset_only_for_big_data():
    assert fixed_rows(NOISE_ROWS, NOISE_ROWS) is None
    rows = fixed_rows(5000, NOISE_ROWS)
    assert len(set(rows.tolist())) == NOISE_ROWS and rows.max() < 5000
    np.testing.assert_array_equal(rows, fixed_rows(5000, NOISE_ROWS))
