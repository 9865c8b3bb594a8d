"""Splitting rows into train, validation and test, and into cross-validation folds.

Four ways to split, all seeded: random, stratified (class proportions kept),
group (no group in two splits) and time (train strictly before validation
before test). Split indices are row positions, saved with the run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainwright.errors import DataError

__all__ = ["Splits", "split_rows", "cross_validation_folds", "CV_METHODS"]

CV_METHODS = ("kfold", "stratified", "group", "repeated")


@dataclass(frozen=True)
class Splits:
    """Row positions (0-based, into the frame that was split) of each split.

    Example:
        >>> s = Splits(np.array([0, 1, 2]), np.array([3]), np.array([4]))
        >>> s.sizes()
        {'train': 3, 'validation': 1, 'test': 1}
    """

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "validation": len(self.validation), "test": len(self.test)}

    def as_dict(self) -> dict[str, np.ndarray]:
        return {"train": self.train, "validation": self.validation, "test": self.test}


def split_rows(
    n_rows: int,
    *,
    train: float = 0.7,
    validation: float = 0.2,
    test: float = 0.1,
    labels: np.ndarray | None = None,
    groups: np.ndarray | None = None,
    times: np.ndarray | None = None,
    seed: int = 42,
) -> Splits:
    """Cut rows into train/validation/test.

    Args:
        labels: class labels: cut per class (stratified), so each split keeps the proportions.
        groups: group ids: whole groups go to one split (no group appears in two).
        times: sortable time values: train rows come strictly before validation rows,
            which come strictly before test rows; rows sharing a time stay together.
        seed: seed of the shuffles (random, stratified, group).

    Example:
        >>> split_rows(100, seed=0).sizes()
        {'train': 70, 'validation': 20, 'test': 10}

    Raises:
        DataError: too few rows (or groups, or distinct times) for every split to get some.
    """
    if sum(a is not None for a in (labels, groups, times)) > 1:
        raise ValueError("give at most one of labels, groups, times")
    # Enough rows that every split gets at least one (train two) at the asked ratios.
    need = int(np.ceil(round(max(1 / validation, 1 / test, 2 / train), 9)))
    n_val, n_test = int(round(n_rows * validation)), int(round(n_rows * test))
    if n_rows < need or n_val < 1 or n_test < 1 or n_rows - n_val - n_test < 2:
        raise DataError(
            f"{n_rows} rows are too few for a {train:.0%}/{validation:.0%}/{test:.0%} split: "
            f"at least {need} rows are needed so that every split gets rows. Add rows or change "
            "split.train/split.validation/split.test."
        )
    rng = np.random.default_rng(seed)
    if groups is not None:
        splits = _group_split(np.asarray(groups), n_val, n_test, rng)
    elif times is not None:
        splits = _time_split(np.asarray(times), n_val, n_test)
    elif labels is not None:
        splits = _stratified_split(np.asarray(labels), validation, test, rng)
    else:
        splits = _cut(rng.permutation(n_rows), n_val, n_test)
    return splits


def _stratified_split(labels: np.ndarray, validation: float, test: float, rng) -> Splits:
    """Per-class cuts whose totals match round(n x ratio): largest remainders get the extra rows,
    and every class keeps at least one training row."""
    _, codes, counts = np.unique(labels, return_inverse=True, return_counts=True)
    n = len(labels)
    n_test = _allocate(counts, int(round(n * test)), counts - 1)
    n_val = _allocate(counts, int(round(n * validation)), counts - 1 - n_test)
    parts: list[Splits] = []
    for code in range(len(counts)):
        members = rng.permutation(np.flatnonzero(codes == code))
        parts.append(_cut(members, int(n_val[code]), int(n_test[code])))
    splits = Splits(*(np.sort(np.concatenate([getattr(p, s) for p in parts])) for s in ("train", "validation", "test")))
    if len(splits.validation) == 0 or len(splits.test) == 0:
        raise DataError(
            f"a stratified split of {n} rows in {len(counts)} classes leaves validation or test empty "
            "(every class needs a training row first). Add rows, or set split.method=random."
        )
    return splits


def _allocate(counts: np.ndarray, total: int, room: np.ndarray) -> np.ndarray:
    """Share ``total`` rows among classes in proportion to ``counts`` (largest remainder), at most ``room`` each."""
    quota = counts * (total / counts.sum())
    take = np.minimum(np.floor(quota).astype(np.int64), room)
    for i in np.argsort(-(quota - np.floor(quota)), kind="stable"):
        if take.sum() >= total:
            break
        if take[i] < room[i]:
            take[i] += 1
    return np.maximum(take, 0)


def _group_split(groups: np.ndarray, n_val: int, n_test: int, rng) -> Splits:
    uniq, codes, counts = np.unique(groups, return_inverse=True, return_counts=True)
    if len(uniq) < 3:
        raise DataError(f"a group split needs at least 3 groups, got {len(uniq)}; use another split.method.")
    order = rng.permutation(len(uniq))
    cum = np.cumsum(counts[order])
    # Whole groups, in shuffled order, fill test first, then validation; the rest is train.
    n_test_groups = max(1, int(np.searchsorted(cum, n_test)) + 1) if n_test else 0
    n_test_groups = min(n_test_groups, len(uniq) - 2)
    n_val_end = max(n_test_groups + 1, int(np.searchsorted(cum, cum[n_test_groups - 1] + n_val)) + 1)
    n_val_end = min(n_val_end, len(uniq) - 1)
    where = np.empty(len(uniq), dtype=np.int8)  # 0 train, 1 validation, 2 test, per group code
    where[order[:n_test_groups]] = 2
    where[order[n_test_groups:n_val_end]] = 1
    where[order[n_val_end:]] = 0
    row_part = where[codes]
    return Splits(*(np.flatnonzero(row_part == p).astype(np.int64) for p in (0, 1, 2)))


def _time_split(times: np.ndarray, n_val: int, n_test: int) -> Splits:
    order = np.argsort(times, kind="stable")
    ordered = times[order]
    n = len(times)

    def boundary(cut: int) -> int:
        # Move the cut back so rows sharing a time land in the later split: earlier is strictly earlier.
        while 0 < cut < n and ordered[cut - 1] == ordered[cut]:
            cut -= 1
        return cut

    test_start = boundary(n - n_test)
    val_start = boundary(min(test_start - 1, n - n_test - n_val))
    if val_start <= 0 or test_start <= val_start:
        raise DataError(
            "too many rows share the same time for a time split (train before validation before test); "
            "use a finer time column or another split.method."
        )
    return Splits(np.sort(order[:val_start]), np.sort(order[val_start:test_start]), np.sort(order[test_start:]))


def _cut(order: np.ndarray, n_val: int, n_test: int) -> Splits:
    n_train = len(order) - n_val - n_test
    return Splits(
        train=np.sort(order[:n_train]).astype(np.int64),
        validation=np.sort(order[n_train:n_train + n_val]).astype(np.int64),
        test=np.sort(order[n_train + n_val:]).astype(np.int64),
    )


def cross_validation_folds(
    n_rows: int,
    *,
    method: str = "kfold",
    n_splits: int = 5,
    n_repeats: int = 1,
    labels: np.ndarray | None = None,
    groups: np.ndarray | None = None,
    seed: int = 42,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train positions, validation positions) for each fold.

    Args:
        method: "kfold", "stratified" (needs labels), "group" (needs groups; no group in two
            folds' validation parts), or "repeated" (k-fold repeated ``n_repeats`` times with new
            shuffles; stratified when labels are given).

    Example:
        >>> [len(v) for _, v in cross_validation_folds(10, n_splits=5)]
        [2, 2, 2, 2, 2]
    """
    from sklearn import model_selection as ms

    if method not in CV_METHODS:
        raise DataError(f"unknown cross-validation method '{method}'; use one of {', '.join(CV_METHODS)}")
    if n_rows < n_splits:
        raise DataError(f"{n_rows} rows are too few for {n_splits}-fold cross-validation; lower n_splits.")
    X = np.zeros((n_rows, 1))
    if method == "stratified":
        if labels is None:
            raise DataError("stratified cross-validation needs class labels (a classification target)")
        folds = ms.StratifiedKFold(n_splits, shuffle=True, random_state=seed).split(X, labels)
    elif method == "group":
        if groups is None:
            raise DataError("group cross-validation needs split.group_column")
        if len(np.unique(groups)) < n_splits:
            raise DataError(f"group cross-validation needs at least {n_splits} groups, got {len(np.unique(groups))}")
        folds = ms.GroupKFold(n_splits).split(X, groups=groups)
    elif method == "repeated":
        cls = ms.RepeatedStratifiedKFold if labels is not None else ms.RepeatedKFold
        folds = cls(n_splits=n_splits, n_repeats=n_repeats, random_state=seed).split(X, labels)
    else:
        folds = ms.KFold(n_splits, shuffle=True, random_state=seed).split(X)
    return [(np.asarray(tr, dtype=np.int64), np.asarray(va, dtype=np.int64)) for tr, va in folds]
