"""engine.datasets: every shipped dataset loads with the documented shapes, values, split
sizes and licence; the split is fixed (seeded), stratified and a partition; select()
keeps and relabels classes in the order given."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from engine import datasets
from engine.datasets import DATA, NAMES, Dataset, load

# name -> (input shape, number of classes, total examples, test fraction)
EXPECTED = {
    "bars": ((1, 6, 6), 2, 600, 0.25),
    "diagonals": ((1, 6, 6), 2, 600, 0.25),
    "strokes": ((1, 6, 6), 4, 800, 0.25),
    "digits": ((1, 8, 8), 10, 1797, 0.2),
}


def test_names_are_the_four_shipped_datasets() -> None:
    assert NAMES == ("bars", "diagonals", "strokes", "digits")
    assert set(EXPECTED) == set(NAMES)


def test_unknown_name_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        load("mnist")


@pytest.mark.parametrize("name", NAMES)
def test_arrays_have_the_documented_shapes_dtypes_and_ranges(name: str) -> None:
    shape, k, total, _ = EXPECTED[name]
    d = load(name)
    assert isinstance(d, Dataset) and d.name == name
    assert d.input_shape == shape
    assert len(d.classes) == k and len(set(d.classes)) == k
    for x, y in ((d.x_train, d.y_train), (d.x_test, d.y_test)):
        assert x.dtype == np.float64 and x.ndim == 4 and x.shape[1:] == shape
        assert x.shape[0] == y.shape[0] and y.ndim == 1
        assert np.issubdtype(y.dtype, np.integer)
        assert np.isfinite(x).all() and x.min() >= 0.0 and x.max() <= 1.0
        assert y.min() >= 0 and y.max() < k
        assert set(np.unique(y).tolist()) == set(range(k))  # every class in both parts
    assert len(d.y_train) + len(d.y_test) == total


@pytest.mark.parametrize("name", NAMES)
def test_meta_describes_the_arrays(name: str) -> None:
    d = load(name)
    meta = d.meta()
    assert set(meta) == {"name", "description", "input_shape", "classes", "train_size", "test_size", "licence",
                         "source"}
    assert meta["name"] == name
    assert meta["input_shape"] == list(EXPECTED[name][0])
    assert meta["classes"] == list(d.classes)
    assert meta["train_size"] == len(d.y_train) and meta["test_size"] == len(d.y_test)
    assert isinstance(meta["description"], str) and meta["description"]
    assert isinstance(meta["licence"], str) and meta["licence"]
    assert isinstance(meta["source"], str) and meta["source"]


@pytest.mark.parametrize("name", NAMES)
def test_split_is_stratified(name: str) -> None:
    _, k, _, fraction = EXPECTED[name]
    d = load(name)
    train, test = Counter(d.y_train.tolist()), Counter(d.y_test.tolist())
    for c in range(k):
        share = test[c] / (train[c] + test[c])
        assert 0.19 <= share <= 0.26, (c, share)  # about 20% (digits) or 25% (synthetic)
        # each class gets its own rounded share, so it is within one example of the fraction
        assert abs(test[c] - fraction * (train[c] + test[c])) <= 0.5, (c, train[c], test[c])


def _rows(x: np.ndarray) -> Counter[bytes]:
    return Counter(row.tobytes() for row in x.reshape(len(x), -1))


@pytest.mark.parametrize("name", NAMES)
def test_train_and_test_partition_the_examples(name: str) -> None:
    d = load(name)
    train, test = _rows(d.x_train), _rows(d.x_test)
    if name == "digits":
        # the shipped file's images, each in exactly one part (the UCI set has a few exact
        # duplicate images, so compare multisets rather than ask for disjoint sets)
        with np.load(DATA / "digits.npz") as f:
            images, labels = f["images"], f["labels"]
        assert images.shape == (1797, 8, 8) and labels.shape == (1797,)
        assert train + test == _rows(images[:, None].astype(np.float64) / 16.0)
        # and with the right labels: the multiset of (image, label) pairs is preserved too
        pairs = Counter((r.tobytes(), int(c)) for r, c in zip(images.reshape(1797, -1) / 16.0, labels))
        split_pairs = Counter((r.tobytes(), int(c)) for x, y in ((d.x_train, d.y_train), (d.x_test, d.y_test))
                              for r, c in zip(x.reshape(len(x), -1), y))
        assert split_pairs == pairs
    else:
        # noisy synthetic images never repeat: the parts are disjoint as sets
        assert max(train.values()) == 1 and max(test.values()) == 1
        assert not set(train) & set(test)


@pytest.mark.parametrize("name", NAMES)
def test_split_is_deterministic_across_loads_and_regeneration(name: str) -> None:
    first = load(name)
    assert load(name) is first  # cached
    arrays = [a.copy() for a in (first.x_train, first.y_train, first.x_test, first.y_test)]
    datasets._build.cache_clear()
    try:
        fresh = load(name)
        assert fresh is not first  # really rebuilt from the seed (and, for digits, the file)
        for old, new in zip(arrays, (fresh.x_train, fresh.y_train, fresh.x_test, fresh.y_test)):
            assert old.dtype == new.dtype
            np.testing.assert_array_equal(old, new)
        assert fresh.meta() == first.meta()
    finally:
        datasets._build.cache_clear()


def test_train_order_is_shuffled_not_grouped_by_class() -> None:
    # the split permutes the training part, so a prefix is not all one class
    y = load("digits").y_train
    assert len(set(y[:50].tolist())) > 5


def test_digits_meta_licence_and_attribution() -> None:
    meta = load("digits").meta()
    assert meta["licence"] == "CC BY 4.0"
    assert meta["classes"] == [str(i) for i in range(10)]
    assert meta["train_size"] + meta["test_size"] == 1797
    assert "Alpaydin" in meta["source"] and "Kaynak" in meta["source"]
    assert "UCI" in meta["source"] and "10.24432/C50P49" in meta["source"]
    assert (DATA / "DIGITS-LICENSE.txt").is_file()


def test_digits_values_are_sixteenths() -> None:
    d = load("digits")
    for x in (d.x_train, d.x_test):
        np.testing.assert_array_equal(x * 16.0, np.round(x * 16.0))
    assert d.x_train.max() == 1.0 and d.x_train.min() == 0.0


@pytest.mark.parametrize("name", ["bars", "diagonals", "strokes"])
def test_synthetic_meta_is_public_domain(name: str) -> None:
    meta = load(name).meta()
    assert meta["licence"] == "CC0-1.0"
    assert "synthetic" in meta["source"]


def test_bars_are_horizontal_vs_vertical() -> None:
    d = load("bars")
    assert d.classes == ("horizontal", "vertical")
    x, y = d.x_train[:, 0], d.y_train
    # a bar is the brightest row (horizontal) or column (vertical), away from the border
    row_peak = x.sum(axis=2).max(axis=1)
    col_peak = x.sum(axis=1).max(axis=1)
    assert ((row_peak > col_peak) == (y == 0)).all()
    rows = x.sum(axis=2).argmax(axis=1)[y == 0]
    cols = x.sum(axis=1).argmax(axis=1)[y == 1]
    assert set(rows.tolist()) <= {1, 2, 3, 4} and set(cols.tolist()) <= {1, 2, 3, 4}


def test_select_keeps_only_those_classes_relabelled_in_order() -> None:
    d = load("digits")
    s = d.select([3, 8])
    assert s.classes == ("3", "8")
    assert s.name == "digits[3,8]"
    assert s.input_shape == (1, 8, 8)
    assert s.licence == d.licence and s.source == d.source
    for x_all, y_all, x, y in ((d.x_train, d.y_train, s.x_train, s.y_train), (d.x_test, d.y_test, s.x_test, s.y_test)):
        assert set(np.unique(y).tolist()) == {0, 1}
        np.testing.assert_array_equal(x[y == 0], x_all[y_all == 3])
        np.testing.assert_array_equal(x[y == 1], x_all[y_all == 8])
        assert len(y) == int(np.isin(y_all, [3, 8]).sum())
    meta = s.meta()
    assert meta["classes"] == ["3", "8"]
    assert meta["train_size"] == len(s.y_train) and meta["test_size"] == len(s.y_test)


def test_select_order_decides_the_labels() -> None:
    d = load("digits")
    a, b = d.select([3, 8]), d.select([8, 3])
    assert b.classes == ("8", "3")
    np.testing.assert_array_equal(a.x_test, b.x_test)  # same examples, same order
    np.testing.assert_array_equal(a.y_test, 1 - b.y_test)  # swapped labels


def test_select_none_is_the_dataset_itself() -> None:
    d = load("strokes")
    assert d.select(None) is d


def test_select_three_of_four_strokes() -> None:
    d = load("strokes")
    s = d.select([2, 0, 3])
    assert s.classes == ("backslash", "horizontal", "slash")
    for y_all, y in ((d.y_train, s.y_train), (d.y_test, s.y_test)):
        kept = y_all[np.isin(y_all, [2, 0, 3])]
        np.testing.assert_array_equal(y, np.array([1, -1, 0, 2])[kept])
