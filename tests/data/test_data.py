"""Synthetic datasets, the dataset table, validation and minibatch indices."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgd.core.errors import ConfigError, DataError, UnknownNameError
from jaxgd.data import (
    DATASETS,
    Dataset,
    circles,
    load_dataset,
    moons,
    sine,
    spirals,
    validate_arrays,
    validate_dataset,
    xor,
)
from jaxgd.data.batching import epoch_indices, iterate_minibatches

KEY = jax.random.PRNGKey(0)

# name, generator, kwargs, x shape, y shape, y dtype, task, n_classes
GENERATORS = [
    ("moons", moons, {"n": 21}, (21, 2), (21, 1), jnp.float32, "binary", 2),
    ("circles", circles, {"n": 21}, (21, 2), (21, 1), jnp.float32, "binary", 2),
    ("spirals", spirals, {"n": 31, "classes": 4}, (31, 2), (31,), jnp.int32, "multiclass", 4),
    ("sine", sine, {"n": 21}, (21, 1), (21, 1), jnp.float32, "regression", 0),
]


@pytest.mark.parametrize("name,gen,kw,x_shape,y_shape,y_dtype,task,n_classes", GENERATORS)
def test_generator_shapes_dtypes_and_key_determinism(name, gen, kw, x_shape, y_shape, y_dtype,
                                                     task, n_classes):
    ds = gen(KEY, **kw)
    assert (ds.x.shape, ds.y.shape) == (x_shape, y_shape)
    assert (ds.x.dtype, ds.y.dtype) == (jnp.float32, y_dtype)
    assert (ds.task, ds.n_classes, ds.name) == (task, n_classes, name)
    assert ds.x_test is None and ds.y_test is None
    assert ds.n == x_shape[0] and ds.n_features == x_shape[1]
    again, other = gen(KEY, **kw), gen(jax.random.PRNGKey(1), **kw)
    np.testing.assert_array_equal(ds.x, again.x)
    np.testing.assert_array_equal(ds.y, again.y)
    assert not np.allclose(ds.x, other.x)
    validate_dataset(ds)


def test_generators_honour_float64(x64):
    for gen in (moons, spirals):  # a float-label and an int-label generator
        ds = gen(KEY, n=21, dtype=jnp.float64)
        assert ds.x.dtype == jnp.float64
        assert ds.y.dtype == (jnp.int32 if ds.task == "multiclass" else jnp.float64)
    assert xor(dtype=jnp.float64).y.dtype == jnp.float64


def test_xor_is_the_truth_table():
    ds = xor()
    np.testing.assert_array_equal(ds.x, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(ds.y, [[0], [1], [1], [0]])
    assert (ds.task, ds.n_classes) == ("binary", 2)


@pytest.mark.parametrize("gen", [moons, circles])
def test_two_class_balance(gen):
    y = np.asarray(gen(KEY, n=21).y)[:, 0]
    assert sorted(set(y)) == [0.0, 1.0]
    assert (int((y == 0).sum()), int((y == 1).sum())) == (10, 11)


def test_noise_free_geometry_matches_closed_forms():
    m = moons(KEY, n=21, noise=0.0)
    x, y = np.asarray(m.x), np.asarray(m.y)[:, 0]
    up, low = x[y == 0], x[y == 1]
    np.testing.assert_allclose(up[:, 0] ** 2 + up[:, 1] ** 2, 1.0, atol=1e-5)
    np.testing.assert_allclose((low[:, 0] - 1) ** 2 + (low[:, 1] - 0.5) ** 2, 1.0, atol=1e-5)
    c = circles(KEY, n=21, noise=0.0, factor=0.3)
    radius = np.linalg.norm(np.asarray(c.x), axis=1)
    np.testing.assert_allclose(radius, np.where(np.asarray(c.y)[:, 0] == 0, 1.0, 0.3), atol=1e-5)
    s = sine(KEY, n=21, noise=0.0)
    assert np.all(np.abs(np.asarray(s.x)) <= math.pi)
    np.testing.assert_allclose(s.y, np.sin(np.asarray(s.x)), atol=1e-6)


def test_spirals_classes_and_radius():
    ds = spirals(KEY, n=31, classes=4, noise=0.0)
    counts = np.bincount(np.asarray(ds.y), minlength=4)
    assert counts.tolist() == [8, 8, 8, 7]
    radius = np.sort(np.linalg.norm(np.asarray(ds.x), axis=1))
    # each arm runs r = 0, 1/(m-1), ..., 1: four zeros and four ones
    np.testing.assert_allclose(radius[:4], 0.0, atol=1e-6)
    np.testing.assert_allclose(radius[4], 1 / 7, atol=1e-6)
    np.testing.assert_allclose(radius[-4:], 1.0, atol=1e-6)


def test_load_dataset_equals_generator_and_splits_stratified():
    np.testing.assert_array_equal(load_dataset("moons", KEY, n=21).x, moons(KEY, n=21).x)
    np.testing.assert_array_equal(load_dataset("sine", 0, n=21).y, sine(KEY, n=21).y)
    ds = load_dataset("moons", KEY, n=21, test_fraction=0.25)
    assert (ds.x.shape, ds.x_test.shape) == ((16, 2), (5, 2))
    # 0.25 * (10, 11) = (2.5, 2.75): the larger remainder gets the fifth test row
    assert float(ds.y_test.sum()) == 3.0
    full = np.asarray(moons(KEY, n=21).x)
    both = np.concatenate([np.asarray(ds.x), np.asarray(ds.x_test)])
    np.testing.assert_array_equal(np.sort(both, axis=0), np.sort(full, axis=0))
    assert set(DATASETS) >= {"xor", "moons", "circles", "spirals", "sine", "digits", "mnist1d"}



def test_names_moved_into_their_own_modules_stay_importable_from_data_and_realdata():
    from jaxgd import data, datafiles, dataset, realdata, splits, synthetic

    for module, names in ((dataset, ["TASKS", "Dataset", "validate_arrays", "validate_dataset"]),
                          (synthetic, ["xor", "moons", "circles", "spirals", "sine"])):
        assert all(getattr(data, n) is getattr(module, n) for n in names), module.__name__
    for module, names in ((splits, ["train_test_split", "Standardization", "standardize",
                                    "standardize_dataset"]),
                          (datafiles, ["load_npz", "load_csv", "load_file"])):
        assert all(getattr(realdata, n) is getattr(module, n) for n in names), module.__name__
    assert (data.DATASETS["digits"], data.DATASETS["mnist1d"]) == (realdata.digits, realdata.mnist1d)
    assert set(data.__all__) <= set(dir(data)) and set(realdata.__all__) <= set(dir(realdata))

def test_load_dataset_unknown_name_and_bad_arguments():
    with pytest.raises(UnknownNameError, match=r"'moon'.*Did you mean 'moons'.*spirals"):
        load_dataset("moon", KEY)
    with pytest.raises(ConfigError, match=r"unexpected arguments \['classes'\].*'noise'"):
        load_dataset("moons", KEY, classes=3)
    with pytest.raises(ConfigError, match=r"key=None is not a PRNG key.*int seed"):
        load_dataset("moons", None)
    with pytest.raises(ConfigError, match="test_fraction=1.5"):
        load_dataset("moons", KEY, test_fraction=1.5)
    with pytest.raises(ConfigError, match="factor=1.5"):
        circles(KEY, factor=1.5)
    with pytest.raises(ConfigError, match="classes=3"):
        spirals(KEY, n=2, classes=3)


# ----------------------------------------------------------------------------- minibatches


def test_epoch_indices_is_a_permutation_cut_into_batches():
    idx = epoch_indices(KEY, 12, 4)
    assert idx.shape == (3, 4) and idx.dtype == jnp.int32
    assert sorted(np.asarray(idx).ravel().tolist()) == list(range(12))
    np.testing.assert_array_equal(idx.ravel(), jax.random.permutation(KEY, 12))
    assert not np.array_equal(idx, epoch_indices(jax.random.PRNGKey(1), 12, 4))
    full = epoch_indices(KEY, 12, 12)
    assert full.shape == (1, 12)


def test_epoch_indices_drops_the_remainder_and_jits():
    idx = np.asarray(epoch_indices(KEY, 10, 3))
    assert idx.shape == (3, 3) and len(set(idx.ravel().tolist())) == 9
    jitted = jax.jit(epoch_indices, static_argnums=(1, 2))
    np.testing.assert_array_equal(jitted(KEY, 10, 3), idx)
    batched = jax.vmap(lambda k: epoch_indices(k, 10, 5))(jax.random.split(KEY, 3))
    assert batched.shape == (3, 2, 5)


@pytest.mark.parametrize("batch", [0, -2, 11, 2.5, True, "4"])
def test_epoch_indices_rejects_bad_batch(batch):
    with pytest.raises(ConfigError, match=rf"batch_size={batch!r}.*n=10.*\[1, 10\]"):
        epoch_indices(KEY, 10, batch)


def test_iterate_minibatches_keeps_pairs_and_covers_the_epoch():
    x = jnp.arange(20.0).reshape(10, 2)
    y = jnp.arange(10.0)[:, None]
    batches = list(iterate_minibatches(KEY, x, y, 5))
    assert len(batches) == 2 and batches[0][0].shape == (5, 2)
    for xb, yb in batches:
        np.testing.assert_array_equal(xb[:, 0], 2 * yb[:, 0])
    seen = np.concatenate([np.asarray(yb)[:, 0] for _, yb in batches])
    assert sorted(seen.tolist()) == list(range(10))
    online = list(iterate_minibatches(KEY, x, y, 1))
    assert len(online) == 10 and online[0][0].shape == (1, 2)


# ----------------------------------------------------------------------------- validation


def _x(n=4, d=2):
    return np.arange(n * d, dtype=np.float32).reshape(n, d)


def _with(a, index, value):
    a = a.copy()
    a[index] = value
    return a


BAD = [  # x, y, task, n_classes, error type, message pattern
    (_x(5), _x(4, 1), "regression", 0, DataError, r"x has 5 rows but y has 4"),
    (_with(_with(_x(), (2, 1), np.nan), (3, 0), np.inf), _x(4, 1), "regression", 0, DataError,
     r"x has 2 non-finite values.*first at x\[2, 1\]"),
    (_x(), _with(_x(4, 1), (1, 0), np.nan), "regression", 0, DataError,
     r"y has 1 non-finite values.*y\[1, 0\]"),
    (_x(), np.array([0, 1, 3, 2], np.int32), "multiclass", 3, DataError,
     r"1 labels outside \[0, 3\); the first is 3 at y\[2\]"),
    (_x(), np.array([0, -1, 1, 2], np.int32), "multiclass", 3, DataError,
     r"the first is -1 at y\[1\]"),
    (_x(), np.array([[0], [1], [0.5], [1]], np.float32), "binary", 2, DataError,
     r"outside \{0, 1\}; the first is 0.5 at y\[2, 0\]"),
    (np.arange(4.0), _x(4, 1), "regression", 0, DataError, r"x must be .*shape \(n, d\).*\(4,\)"),
    (_x().astype(np.int32), _x(4, 1), "regression", 0, DataError, r"x must be a float.*int32"),
    (_x(), np.array([0.0, 1, 0, 1]), "multiclass", 2, DataError, r"y must be an int array"),
    (_x(), np.zeros(4, np.int32), "binary", 2, DataError, r"float array \(n, 1\) of 0/1"),
    (_x(0), np.zeros((0, 1), np.float32), "regression", 0, DataError, r"empty"),
    (_x(), _x(4, 1), "binary", 3, DataError, r"n_classes=3 does not fit task 'binary'"),
    (_x(), np.zeros(4, np.int32), "multiclass", 1, DataError, r"n_classes >= 2"),
    (_x(), _x(4, 1), "regresion", 0, UnknownNameError, r"Did you mean 'regression'"),
]


@pytest.mark.parametrize("x,y,task,n_classes,error,pattern", BAD)
def test_validate_arrays_rejects_bad_input(x, y, task, n_classes, error, pattern):
    with pytest.raises(error, match=pattern):
        validate_arrays(x, y, task, n_classes)


def test_validate_accepts_good_data_and_skips_tracers():
    validate_arrays(_x(), np.array([0, 1, 2, 1], np.int32), "multiclass", 3)
    validate_arrays(_x(), np.array([[0.0], [1], [1], [0]], np.float32), "binary", 2)
    out = jax.jit(lambda x: (validate_arrays(x, x[:, :1], "regression", 0), x.sum())[1])(_x())
    assert float(out) == 28.0


def test_validate_dataset_checks_test_part():
    ds = Dataset(_x(), _x(4, 1), _x(3, 3), _x(3, 1), "regression", 0, "mine")
    with pytest.raises(DataError, match=r"dataset 'mine'.*\(3,\) but training arrays have \(2,\)"):
        validate_dataset(ds)
    with pytest.raises(DataError, match="both be given"):
        validate_dataset(ds._replace(x_test=None))
    with pytest.raises(DataError, match=r"dataset 'mine': x_test has 1 non-finite"):
        validate_dataset(ds._replace(x_test=_with(_x(3), (0, 0), np.nan)))
