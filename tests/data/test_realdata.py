"""Offline real datasets, user .npz/.csv files, splitting and standardizing."""

import random
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxgd.core.errors import ConfigError, DataError, UnknownNameError
from jaxgd.data import DATASETS, load_dataset
from jaxgd.data.real import (
    MissingDependencyError,
    digits,
    load_csv,
    load_npz,
    standardize,
    standardize_dataset,
    train_test_split,
)

KEY = jax.random.PRNGKey(0)


# ----------------------------------------------------------------------------- split, scale


@settings(max_examples=40, deadline=None)
@given(labels=st.lists(st.integers(0, 4), min_size=60, max_size=60),
       fraction=st.floats(0.01, 0.99), seed=st.integers(0, 3))
def test_stratified_split_keeps_class_proportions(labels, fraction, seed):
    y = np.array(labels, np.int32)  # fixed n = 60: one compiled permutation
    x = np.arange(len(y), dtype=np.float32)[:, None]  # row id as the feature
    key = jax.random.PRNGKey(seed)
    x_tr, y_tr, x_te, y_te = train_test_split(key, x, y, fraction, stratify=True)
    counts = np.bincount(y, minlength=5)
    n_test = np.bincount(y_te, minlength=5)
    if 1 <= round(fraction * len(y)) <= len(y) - 1:  # no clamping to keep both parts
        assert len(y_te) == round(fraction * len(y))
        assert np.all(np.abs(n_test - fraction * counts) <= 1)
    assert sorted(np.concatenate([x_tr, x_te])[:, 0].tolist()) == list(range(len(y)))
    np.testing.assert_array_equal(y[x_te[:, 0].astype(int)], y_te)  # pairs stay together
    again = train_test_split(key, x, y, fraction, stratify=True)
    np.testing.assert_array_equal(again[2], x_te)


def test_split_depends_on_key_and_sizes_unstratified():
    x = np.arange(40.0)[:, None]
    y = np.sin(x)
    a = train_test_split(KEY, x, y, 0.25)
    b = train_test_split(jax.random.PRNGKey(1), x, y, 0.25)
    assert a[2].shape == (10, 1) and a[0].shape == (30, 1)
    assert not np.array_equal(a[2], b[2])
    with pytest.raises(ConfigError, match=r"test_fraction=1.0.*\[0, 1\)"):
        train_test_split(KEY, x, y, 1.0)


def test_standardize_uses_training_statistics_only():
    train = np.array([[1.0, 5.0, 2.0], [3.0, 5.0, 4.0], [5.0, 5.0, 9.0]], np.float32)
    test = np.array([[3.0, 7.0, 5.0]], np.float32)
    z_train, z_test, none, stats = standardize(train, test, None)
    mean, std = train.mean(0), train.std(0)
    std[1] = 1.0  # the constant column is only centered
    np.testing.assert_allclose(stats.mean, mean, rtol=1e-6)
    np.testing.assert_allclose(stats.std, std, rtol=1e-6)
    np.testing.assert_allclose(z_train, (train - mean) / std, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(z_test, [[0.0, 2.0, (5.0 - 5.0) / std[2]]], atol=1e-6)
    assert none is None
    np.testing.assert_allclose(np.asarray(z_train).mean(0), 0.0, atol=1e-6)


# ----------------------------------------------------------------------------- user files


def test_npz_round_trip_multiclass_with_test_part(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(12, 3)), np.arange(12) % 4
    path = tmp_path / "mine.npz"
    np.savez(path, x=x, y=y, x_test=x[:5], y_test=y[:5])
    ds = load_dataset(str(path), KEY)
    assert (ds.task, ds.n_classes, ds.name) == ("multiclass", 4, "mine.npz")
    assert (ds.x.dtype, ds.y.dtype) == (jnp.float32, jnp.int32)
    np.testing.assert_allclose(ds.x, x.astype(np.float32))
    np.testing.assert_array_equal(ds.y, y)
    np.testing.assert_array_equal(ds.y_test, y[:5])


def test_npz_regression_binary_images_and_split(tmp_path):
    path = tmp_path / "r.npz"
    images = np.arange(10 * 2 * 3, dtype=np.float64).reshape(10, 2, 3)
    np.savez(path, x=images, y=np.linspace(0, 1, 10))
    ds = load_npz(path)
    assert (ds.task, ds.x.shape, ds.y.shape) == ("regression", (10, 6), (10, 1))
    np.testing.assert_allclose(ds.x[3], images[3].ravel())
    np.savez(path, x=images, y=np.arange(10) % 2)
    ds = load_npz(path, KEY, task="binary", test_fraction=0.2)
    assert (ds.task, ds.n_classes, ds.y.dtype, ds.y_test.shape) == ("binary", 2, jnp.float32,
                                                                    (2, 1))
    assert sorted(np.asarray(ds.y_test)[:, 0].tolist()) == [0.0, 1.0]  # stratified


def test_csv_round_trip_with_header_and_named_label(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,label,b\n1.5,0,2\n-3,2,4\n\n0.25,1,8\n")
    ds = load_csv(path, label_column="label")
    np.testing.assert_allclose(ds.x, [[1.5, 2], [-3, 4], [0.25, 8]])
    np.testing.assert_array_equal(ds.y, [0, 2, 1])
    assert (ds.task, ds.n_classes) == ("multiclass", 3)
    path.write_text("0.5,1,2\n0.25,3,4\n")  # no header: detected; the first column, by position
    ds = load_dataset(str(path), KEY, label_column=1)
    assert ds.task == "regression"
    np.testing.assert_allclose(ds.y, [[0.5], [0.25]])
    np.testing.assert_allclose(ds.x, [[1, 2], [3, 4]])


def _write(path, text):
    path.write_text(text)
    return path


FILE_ERRORS = [  # file name, content, kwargs, message pattern
    ("a.npz", None, {}, r"a.npz' does not exist"),
    ("b.npz", b"not a zip archive", {}, r"b.npz' is not a valid .npz file"),
    ("c.npz", {"x": np.ones((3, 2))}, {}, r"c.npz' has no array 'y' \(found \['x'\]\)"),
    ("d.npz", {"x": np.ones((3, 2)), "y": np.zeros(3), "x_test": np.ones((1, 2))}, {},
     r"only one of 'x_test' and 'y_test'"),
    ("e.npz", {"x": np.ones((3, 2)), "y": np.array([0, -1, 1])}, {},
     r"e.npz', y\[1\]: the label -1 is not a class index.*--task regression"),
    ("f.npz", {"x": np.ones((3, 2)), "y": np.zeros(2)}, {}, r"x has 3 rows but y has 2"),
    ("g.csv", "x,y\n1,2\noops,3\n", {}, r"g.csv', line 3, column 1 \('x'\): 'oops' is not a number"),
    ("h.csv", "1,2,3\n4,5\n", {"label_column": -1}, r"line 2: 2 fields, but line 1 has 3"),
    ("i.csv", "a,b\n1,2\n", {"label_column": "c"},
     r"label_column='c' \(--label-column\) names no column: the columns are \['a', 'b'\]"),
    ("j.csv", "1,2\n3,4\n", {"label_column": 5}, r"label_column=5 .* 1\.\.2 or -1\.\.-2"),
    ("k.csv", "1,2\n3,4\n", {"label_column": "y"}, r"'y' .* the file has no header row"),
    ("l.csv", "1,2\n3,0.5\n", {"task": "multiclass", "label_column": 2},
     r"l.csv', line 2, column 2: the label 0.5 is not a class index"),
    ("m.csv", "a,b\n", {}, r"has no data rows below its header"),
]


@pytest.mark.parametrize("name,content,kwargs,pattern", FILE_ERRORS)
def test_file_errors_name_the_file_and_the_problem(tmp_path, name, content, kwargs, pattern):
    path = tmp_path / name
    if isinstance(content, dict):
        np.savez(path, **content)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(DataError, match=pattern):
        load_dataset(str(path), KEY, **kwargs)


def test_file_argument_errors(tmp_path):
    path = tmp_path / "p.npz"
    np.savez(path, x=np.ones((4, 2)), y=np.arange(4) % 2, x_test=np.ones((2, 2)),
             y_test=np.arange(2))
    with pytest.raises(ConfigError, match="already has a test set"):
        load_npz(path, KEY, test_fraction=0.5)
    with pytest.raises(UnknownNameError, match="Did you mean 'binary'"):
        load_npz(path, task="binaryy")
    np.savez(path, x=np.ones((3, 2)), y=np.array([0, 1, 2]))
    with pytest.raises(DataError, match=r"'p.npz': y has 1 labels outside \[0, 2\); the first is 2"):
        load_npz(path, n_classes=2)
    with pytest.raises(ConfigError, match=r"n_classes=3 does not apply to task 'regression'"):
        load_npz(path, task="regression", n_classes=3)


# ----------------------------------------------------------------------------- real datasets


def test_digits_shapes_and_stratified_split():
    ds = digits(KEY)
    assert ds.n + len(ds.x_test) == 1797 and ds.n_features == 64
    assert (ds.task, ds.n_classes, ds.y.dtype) == ("multiclass", 10, jnp.int32)
    assert 0.0 <= float(ds.x.min()) and float(ds.x.max()) == 1.0
    assert len(ds.x_test) == round(0.2 * 1797)
    assert np.bincount(np.asarray(ds.y_test)).min() >= 35  # about 36 of each class


def test_mnist1d_small_matches_package_and_restores_global_rngs():
    # through the table entry, which imports jaxgd.data.real on first call
    from mnist1d.data import get_dataset_args, make_dataset

    np.random.seed(123)
    random.seed(7)
    expected_np, expected_py = np.random.random(3), random.random()
    np.random.seed(123)
    random.seed(7)
    ds = DATASETS["mnist1d"](None, num_samples=200)
    assert (np.random.random(3) == expected_np).all() and random.random() == expected_py
    assert (ds.x.shape, ds.x_test.shape, ds.n_classes) == ((160, 40), (40, 40), 10)
    args = get_dataset_args()
    args.num_samples = 200
    raw = make_dataset(args)
    np.testing.assert_allclose(ds.x, raw["x"].astype(np.float32))
    np.testing.assert_array_equal(ds.y_test, raw["y_test"])
    drawn = [DATASETS["mnist1d"](jax.random.PRNGKey(i), num_samples=100, seed=None).x
             for i in (0, 0, 1)]
    np.testing.assert_array_equal(drawn[0], drawn[1])
    assert not np.allclose(drawn[0], drawn[2])


def test_missing_extra_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(MissingDependencyError, match=r'pip install -e "\.\[data\]"') as info:
        load_dataset("digits", KEY)
    assert isinstance(info.value, ImportError)


def test_standardize_dataset_keeps_test_stats_from_train():
    ds = load_dataset("moons", KEY, n=21, test_fraction=0.25)
    scaled, stats = standardize_dataset(ds)
    np.testing.assert_allclose(stats.mean, np.asarray(ds.x).mean(0), rtol=1e-5)
    np.testing.assert_allclose(scaled.x_test, (ds.x_test - stats.mean) / stats.std, rtol=1e-6)


def test_stratify_on_distinct_values_is_random_not_the_smallest_rows():
    x = np.arange(20.0)[:, None]
    stratified = train_test_split(KEY, x, x, 0.2, stratify=True)[2]
    np.testing.assert_array_equal(stratified, train_test_split(KEY, x, x, 0.2)[2])
    assert stratified[:, 0].tolist() != [0.0, 1.0, 2.0, 3.0]


def test_generated_datasets_are_cached_by_their_arguments(tmp_path, monkeypatch):
    pytest.importorskip("mnist1d")
    import mnist1d.data

    from jaxgd.data import real

    monkeypatch.setenv("JAXGD_CACHE_DIR", str(tmp_path))
    calls = []
    make = mnist1d.data.make_dataset
    monkeypatch.setattr(mnist1d.data, "make_dataset", lambda args: calls.append(args.seed) or make(args))
    first = real.mnist1d(num_samples=200, seed=3)
    again = real.mnist1d(num_samples=200, seed=3)
    other = real.mnist1d(num_samples=200, seed=4)
    assert calls == [3, 4]  # the second call of seed 3 came from the cache
    np.testing.assert_array_equal(first.x, again.x)
    np.testing.assert_array_equal(first.y_test, again.y_test)
    assert not np.array_equal(first.x, other.x)
    for entry in (tmp_path / "datasets").iterdir():
        entry.write_bytes(b"damaged")  # a damaged entry is generated again, not an error
    np.testing.assert_array_equal(real.mnist1d(num_samples=200, seed=3).x, first.x)
    assert calls == [3, 4, 3]
