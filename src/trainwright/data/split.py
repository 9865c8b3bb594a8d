"""Splitting rows into train, validation and test: seeded, stratified for classification."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainwright.errors import DataError

__all__ = ["Splits", "split_rows"]


@dataclass(frozen=True)
class Splits:
    """Row positions (0-based, into the loaded frame) of each split."""

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "validation": len(self.validation), "test": len(self.test)}

    def save(self, path: Path) -> None:
        """Write the indices as JSON (readable anywhere, no pickle)."""
        path.write_text(json.dumps({k: getattr(self, k).tolist() for k in ("train", "validation", "test")}))

    @classmethod
    def load(cls, path: Path) -> "Splits":
        data = json.loads(path.read_text())
        return cls(**{k: np.asarray(v, dtype=np.int64) for k, v in data.items()})


def split_rows(
    n_rows: int,
    *,
    train: float = 0.7,
    validation: float = 0.2,
    test: float = 0.1,
    labels: np.ndarray | None = None,
    seed: int = 42,
) -> Splits:
    """Shuffle rows and cut them into train/validation/test.

    With ``labels`` the cut is made per class (stratified), so each split keeps
    the class proportions; classes too small to share stay in train.

    Example:
        >>> split_rows(100, seed=0).sizes()
        {'train': 70, 'validation': 20, 'test': 10}

    Raises:
        DataError: too few rows for every split to get at least one.
    """
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
    if labels is None:
        order = rng.permutation(n_rows)
        return _cut(order, n_val, n_test)
    parts: list[Splits] = []
    _, codes = np.unique(np.asarray(labels), return_inverse=True)
    for code in range(codes.max() + 1):
        members = rng.permutation(np.flatnonzero(codes == code))
        k = len(members)
        parts.append(_cut(members, int(round(k * validation)) if k >= 3 else 0, int(round(k * test)) if k >= 3 else 0))
    splits = Splits(*(np.sort(np.concatenate([getattr(p, s) for p in parts])) for s in ("train", "validation", "test")))
    if len(splits.validation) == 0 or len(splits.test) == 0:
        raise DataError(
            f"every class has fewer than 3 rows ({n_rows} rows in all), so a stratified split leaves "
            "validation or test empty. Add rows, or set split.stratify=false."
        )
    return splits


def _cut(order: np.ndarray, n_val: int, n_test: int) -> Splits:
    n_train = len(order) - n_val - n_test
    return Splits(
        train=np.sort(order[:n_train]).astype(np.int64),
        validation=np.sort(order[n_train:n_train + n_val]).astype(np.int64),
        test=np.sort(order[n_train + n_val:]).astype(np.int64),
    )
