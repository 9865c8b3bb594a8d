"""Class labels, coerced once: as training reads them, as new files bring them, and as class positions.

A label column read from a file can hold 1.0 where training saw 1, or 1 and "a" side by side; these rules
make the same label compare equal wherever it comes from.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from trainwright.errors import DataError

__all__ = ["coerce_labels", "align_labels", "encode_labels"]


def coerce_labels(y: pd.Series) -> np.ndarray:
    """Class labels of a training target: whole floats become integers (0.0/1.0 read from a file with gaps
    are the classes 0/1), labels of mixed types compare as text.

    Example:
        >>> coerce_labels(pd.Series([1.0, 0.0, 1.0])).tolist()
        [1, 0, 1]
        >>> coerce_labels(pd.Series([1, "a"], dtype=object)).tolist()
        ['1', 'a']
    """
    if pd.api.types.is_float_dtype(y) and np.all(np.mod(y.to_numpy(), 1) == 0):
        y = y.astype(np.int64)
    elif not pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y):
        y = y.astype(str)
    return y.to_numpy()


def align_labels(y, classes: np.ndarray) -> np.ndarray:
    """Labels from a new file in the type of the training classes (1.0 -> 1 for integer classes, numbers ->
    text for text classes).

    Example:
        >>> align_labels(np.array([1.0, 0.0]), np.array([0, 1])).tolist()
        [1, 0]
    """
    y = np.asarray(y)
    if np.issubdtype(classes.dtype, np.integer) and not np.issubdtype(y.dtype, np.integer):
        try:
            as_float = np.asarray(y, dtype=np.float64)
            if np.all(np.mod(as_float, 1) == 0):
                return as_float.astype(np.int64)
        except (TypeError, ValueError):
            pass
    if classes.dtype.kind in "OUT" and y.dtype.kind not in "OUT":
        return y.astype(str)
    return y


def encode_labels(y, classes: np.ndarray) -> np.ndarray:
    """Positions of labels ``y`` in the sorted ``classes`` (int64).

    Raises:
        DataError: a label is not among the classes (named, with the classes).

    Example:
        >>> encode_labels(["b", "a"], np.array(["a", "b"])).tolist()
        [1, 0]
    """
    y = np.asarray(y)
    classes = np.asarray(classes)
    if len(y) == 0:
        return np.zeros(0, dtype=np.int64)
    idx = np.clip(np.searchsorted(classes, y), 0, len(classes) - 1)
    unknown = classes[idx] != y
    if unknown.any():
        raise DataError(f"label {y[unknown][0]!r} was not among the training classes {classes.tolist()}")
    return idx.astype(np.int64)
