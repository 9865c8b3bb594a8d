import numpy as np
import pytest

from trainwright.data.split import split_rows
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


def test_stratified_totals_match_ratios_even_with_small_classes():
    s = split_rows(24, labels=np.repeat(np.arange(6), 4), seed=0)  # per-class rounding would give 0 test rows
    assert s.sizes() == {"train": 17, "validation": 5, "test": 2}
    with pytest.raises(DataError, match="split.method=random"):
        split_rows(10, labels=np.arange(10), seed=0)  # every class has a single row


def test_group_split_keeps_each_group_in_one_split():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(60), rng.integers(1, 12, 60))
    s = split_rows(len(groups), groups=groups, seed=4)
    parts = [set(groups[p]) for p in (s.train, s.validation, s.test)]
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    assert sum(s.sizes().values()) == len(groups)
    assert 0.55 < len(s.train) / len(groups) < 0.85
    with pytest.raises(DataError, match="at least 3 groups"):
        split_rows(20, groups=np.array([0, 1] * 10))


def test_time_split_is_strictly_ordered_even_with_ties():
    times = np.repeat(np.arange(25), 4)[::-1]  # ties, and rows not in time order
    s = split_rows(len(times), times=times)
    assert times[s.train].max() < times[s.validation].min()
    assert times[s.validation].max() < times[s.test].min()
    with pytest.raises(DataError, match="same time"):
        split_rows(20, times=np.zeros(20))


@pytest.mark.parametrize("method", ["kfold", "stratified", "group", "repeated"])
def test_cross_validation_folds(method):
    from trainwright.data.split import cross_validation_folds

    n = 60
    labels = np.array([0] * 45 + [1] * 15)
    groups = np.arange(n) // 4
    folds = cross_validation_folds(n, method=method, n_splits=5, n_repeats=2, labels=labels, groups=groups, seed=0)
    assert len(folds) == (10 if method == "repeated" else 5)
    for tr, va in folds:
        assert not set(tr) & set(va) and len(tr) + len(va) == n
        if method == "stratified":
            assert labels[va].mean() == pytest.approx(0.25)
        if method == "group":
            assert not set(groups[tr]) & set(groups[va])
    seen = np.concatenate([va for _, va in folds[:5]])
    assert sorted(seen.tolist()) == list(range(n))  # each row validated once per repeat
