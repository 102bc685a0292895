"""A user's own .csv/.npz files: which column holds the labels, text labels, the task, and
errors that name the file and the place (line and column from 1; array indices as x[i, j])."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgd.core.errors import ConfigError, DataError
from jaxgd.data import load_dataset
from jaxgd.data.csvfile import has_header, label_position
from jaxgd.data.real import load_csv, load_npz

KEY = jax.random.PRNGKey(0)


def _csv(tmp_path, text, name="t.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


# ----------------------------------------------------------------------------- the label column


@pytest.mark.parametrize("name", ["label", "Target", "y", "CLASS"])
def test_label_column_is_the_one_named_like_a_label(tmp_path, name):
    path = _csv(tmp_path, f"a,{name},b\n1.5,1,2\n-3,0,4\n0.25,1,8\n")
    ds = load_csv(path)
    np.testing.assert_allclose(ds.x, [[1.5, 2], [-3, 4], [0.25, 8]])
    np.testing.assert_allclose(ds.y, [[1], [0], [1]])
    assert f"labels in column 2 of 3, {name!r} (found by its name" in ds.notes[1]


def test_no_silent_last_column_label(tmp_path):
    # was: the last column became the labels without a word (here a feature)
    path = _csv(tmp_path, "a,b,c\n1,0,5.5\n2,1,6.5\n")
    with pytest.raises(DataError, match=r"t.csv': which column holds the labels\? No column is "
                       r"named label, target, y or class \(the columns are \['a', 'b', 'c'\]\)\. "
                       r"Give --label-column"):
        load_csv(path)
    ds = load_csv(path, label_column="b")
    np.testing.assert_allclose(ds.x, [[1, 5.5], [2, 6.5]])
    assert ds.task == "binary" and "labels in column 2 of 3, 'b' (--label-column)" in ds.notes


def test_headerless_file_takes_a_position_from_one_and_negative_from_the_end(tmp_path):
    # was: --label-column -1 refused on a header-less file with advice to pass -1
    path = _csv(tmp_path, "0.5,7,0\n0.25,8,1\n")
    for column in (-1, 3, "-1", "3"):
        ds = load_csv(path, label_column=column)
        np.testing.assert_allclose(ds.y, [[0], [1]])
        np.testing.assert_allclose(ds.x, [[0.5, 7], [0.25, 8]])
    np.testing.assert_allclose(load_csv(path, label_column=1, task="regression").y, [[0.5], [0.25]])
    np.testing.assert_allclose(load_csv(path, label_column=-3, task="regression").y, [[0.5], [0.25]])
    with pytest.raises(DataError, match=r"label_column=0 .*positions count from 1\. Accepted: "
                       r"1\.\.3 or -1\.\.-3"):
        load_csv(path, label_column=0)
    with pytest.raises(DataError, match=r"label_column=-4 .*the table has 3 columns"):
        load_csv(path, label_column=-4)
    with pytest.raises(DataError, match=r"which column holds the labels\? .*no header row and 3 "
                       r"columns"):
        load_csv(path)


def test_a_header_name_wins_over_a_position_and_two_label_names_must_be_chosen(tmp_path):
    path = _csv(tmp_path, "2,y,label\n1,0,5\n3,1,6\n")
    assert label_position("f", "2", ["2", "y", "label"], 3) == (0, True)
    with pytest.raises(DataError, match=r"the columns 'y' \(column 2\) and 'label' \(column 3\) "
                       r"could each hold the labels; choose one with --label-column"):
        load_csv(path)
    assert load_csv(path, label_column="y").notes[1].startswith("labels in column 2 of 3, 'y'")
    with pytest.raises(ConfigError, match=r"label_column=2\.0: expected a column name"):
        load_csv(path, label_column=2.0)


def test_header_detection_with_text_labels():
    assert has_header([(1, ["a", "b", "label"]), (2, ["1", "2", "cat"])])
    assert not has_header([(1, ["1", "2", "cat"]), (2, ["3", "4", "dog"])])
    assert not has_header([(1, ["1", "2", "3"])])


# ----------------------------------------------------------------------------- text labels


def test_string_labels_are_encoded_as_sorted_classes(tmp_path):
    # was: "'dog' is not a number"
    path = _csv(tmp_path, "w,species\n1,dog\n2,cat\n3,dog\n4,cat\n")
    ds = load_csv(path, label_column="species")
    assert (ds.task, ds.n_classes, ds.classes) == ("binary", 2, ("cat", "dog"))
    np.testing.assert_allclose(ds.y, [[1], [0], [1], [0]])  # cat -> 0, dog -> 1
    path = _csv(tmp_path, "w,class\n1,dog\n2,cat\n3,emu\n4,cat\n")
    ds = load_csv(path)
    assert (ds.task, ds.n_classes, ds.classes, ds.y.dtype) == ("multiclass", 3,
                                                              ("cat", "dog", "emu"), jnp.int32)
    np.testing.assert_array_equal(ds.y, [1, 0, 2, 0])
    assert "labels encoded as classes: cat -> 0, dog -> 1, emu -> 2" in ds.notes
    assert ds.notes[0] == "task multiclass, 3 classes (inferred from 3 text labels; --task sets it)"


def test_text_labels_in_an_npz_and_its_test_part_share_one_encoding(tmp_path):
    path = tmp_path / "t.npz"
    np.savez(path, x=np.ones((3, 2)), y=np.array(["b", "a", "b"]), x_test=np.ones((2, 2)),
             y_test=np.array(["c", "a"]))
    ds = load_npz(path)
    assert ds.classes == ("a", "b", "c")
    np.testing.assert_array_equal(ds.y, [1, 0, 1])
    np.testing.assert_array_equal(ds.y_test, [2, 0])


@pytest.mark.parametrize(("text", "kwargs", "pattern"), [
    ("a,label\n1,cat\n2,dog\n", {"task": "regression"},
     r"the labels are text \('cat', \.\.\.\), but task 'regression' \(--task"),
    ("a,label\n1,cat\n2,dog\n3,emu\n", {"task": "binary"}, r"needs two classes, but the labels "
     r"hold 3: 'cat', 'dog', 'emu'\. Use --task multiclass"),
    ("a,label\n1,cat\n2,cat\n", {}, r"every label is 'cat'; a classifier needs at least two"),
    ("a,label\n1,0\n2,1\n3,cat\n", {}, r"t.csv', line 4, column 2: the label 'cat' is text, but "
     r"line 2 holds the number 0; the labels must be all numbers or all names"),
    ("a,label\n1,cat\n2,\n", {}, r"t.csv', line 3, column 2: the label is empty"),
])
def test_text_label_errors(tmp_path, text, kwargs, pattern):
    with pytest.raises(DataError, match=pattern):
        load_csv(_csv(tmp_path, text), **kwargs)


# ----------------------------------------------------------------------------- one place convention


@pytest.mark.parametrize(("text", "pattern"), [
    ("a,b,label\n1,2,0\n\n3,oops,1\n", r"line 4, column 2 \('b'\): 'oops' is not a number"),
    ("a,b,label\n1,2,0\n3,4,1\n5,nan,1\n", r"line 4, column 2 \('b'\): 'nan' is not a finite"),
    ("a,b,label\n1,,0\n", r"line 2, column 2 \('b'\): the cell is empty"),
    ("a,b,label\n1,2,0\n3,4,inf\n", r"line 3, column 3: the label \[inf\] is not a finite number"),
    ("a,b,label\n1,2,0\n3,4,2\n", r"line 3, column 3: the label 2 is not 0 or 1 \(task 'binary'"),
])
def test_bad_cell_line_and_column_one_convention(tmp_path, text, pattern):
    # was: the same cell as "line 6, column 2" in one message and "row 4, column 1" in another
    kwargs = {"task": "binary"} if text.endswith("2\n") else {}
    with pytest.raises(DataError, match=pattern) as err:
        load_csv(_csv(tmp_path, text), **kwargs)
    assert "row" not in str(err.value)


def test_a_file_that_is_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "b.csv"
    path.write_bytes(b"a,label\n1,0\n\x89PNG,1\n")
    with pytest.raises(DataError, match=r"b.csv', line 3: the byte 0x89 is not UTF-8 text"):
        load_csv(path)


def test_a_non_finite_npz_value_is_named_by_its_index(tmp_path):
    path = tmp_path / "n.npz"
    x = np.ones((4, 2))
    x[3, 1] = np.nan
    np.savez(path, x=x, y=np.zeros(4))
    with pytest.raises(DataError, match=r"n.npz': x has 1 values that are not finite .*x\[3, 1\]"):
        load_npz(path)


# ----------------------------------------------------------------------------- campaign findings


def test_not_a_zip_npz_is_said_plainly_never_unpickle(tmp_path):
    # A038: numpy's "pickled data ... load it unsafely" advice reached the user
    path = tmp_path / "notzip.npz"
    path.write_text("hello\n")
    with pytest.raises(DataError, match=r"notzip.npz' is not a valid .npz file") as err:
        load_dataset(str(path), KEY)
    assert "pickle" not in str(err.value).lower()
    path = tmp_path / "objects.npz"
    np.savez(path, x=np.ones((2, 2)), y=np.array([1, "a"], dtype=object))
    with pytest.raises(DataError, match=r"holds an array of Python objects") as err:
        load_dataset(str(path), KEY)
    assert "pickle" not in str(err.value).lower()


def test_txt_dataset_names_the_accepted_file_kinds(tmp_path):
    # A028: "unknown dataset 'data.txt'. Valid datasets: circles, ..."
    for name in ("data.txt", str(tmp_path / "data"), "folder/table.tsv"):
        with pytest.raises(DataError, match=r"which jaxgd does not read; accepted: \.npz .* or "
                           r"\.csv"):
            load_dataset(name, KEY)


def test_3d_x_in_an_npz_is_flattened_and_said(tmp_path):
    # A036: x of shape (4, 2, 2) became 4 features without a word; 0/1 y (4, 1) was 2 classes
    path = tmp_path / "cube.npz"
    x = np.arange(16.0).reshape(4, 2, 2)
    np.savez(path, x=x, y=np.array([[0], [1], [1], [0]]))
    ds = load_npz(path)
    np.testing.assert_allclose(ds.x, x.reshape(4, 4))
    assert (ds.task, ds.y.shape) == ("binary", (4, 1))
    assert "x of shape (4, 2, 2) read as 4 features per example (reshaped to (4, 4))" in ds.notes


def test_n_samples_on_xor_speaks_of_its_fixed_points():
    # A052 (the library side): the message named only arguments, now also why
    with pytest.raises(ConfigError, match=r"dataset 'xor' \(its 4 points are fixed\) got "
                       r"unexpected arguments \['n'\]"):
        load_dataset("xor", KEY, n=100)


# ----------------------------------------------------------------------------- the task


@pytest.mark.parametrize(("labels", "task", "n_classes", "why"), [
    ("0,1,1,0", "binary", 2, "labels 0 and 1"),
    ("0,2,1,0", "multiclass", 3, "integer labels"),
    ("0.5,2,1,0", "regression", 0, "real-valued targets"),
])
def test_task_is_inferred_from_the_labels_and_said(tmp_path, labels, task, n_classes, why):
    rows = "".join(f"{i},{v}\n" for i, v in enumerate(labels.split(",")))
    ds = load_csv(_csv(tmp_path, "a,target\n" + rows))
    assert (ds.task, ds.n_classes) == (task, n_classes)
    assert ds.notes[0].startswith(f"task {task}") and f"(inferred from {why}; --task sets it)" in ds.notes[0]
    given = load_csv(_csv(tmp_path, "a,target\n" + rows), task="regression")
    assert given.task == "regression" and given.notes[0] == "task regression (--task)"
