import numpy as np
import pytest

from trainwright.data.split import Splits, split_rows
from trainwright.errors import DataError


def test_sizes_disjoint_and_complete():
    s = split_rows(1000, seed=1)
    assert s.sizes() == {"train": 700, "validation": 200, "test": 100}
    allrows = np.concatenate([s.train, s.validation, s.test])
    assert sorted(allrows.tolist()) == list(range(1000))


def test_seeded():
    a, b, c = split_rows(100, seed=1), split_rows(100, seed=1), split_rows(100, seed=2)
    assert np.array_equal(a.test, b.test) and not np.array_equal(a.test, c.test)


def test_stratified_keeps_proportions():
    labels = np.array(["a"] * 900 + ["b"] * 100)
    s = split_rows(1000, labels=labels, seed=0)
    for part in (s.train, s.validation, s.test):
        assert abs(np.mean(labels[part] == "b") - 0.1) < 0.01
    # a random split of such small parts usually drifts further
    assert len(s.test) == 100


def test_too_few_rows():
    with pytest.raises(DataError, match=r"4 rows are too few for a 70%/20%/10% split: at least 10 rows"):
        split_rows(4)


def test_tiny_classes_leave_validation_empty():
    with pytest.raises(DataError, match="stratify=false"):
        split_rows(10, labels=np.arange(10) % 5, seed=0)


def test_save_load(tmp_path):
    s = split_rows(50, seed=3)
    s.save(tmp_path / "s.json")
    t = Splits.load(tmp_path / "s.json")
    assert all(np.array_equal(getattr(s, k), getattr(t, k)) for k in ("train", "validation", "test"))
