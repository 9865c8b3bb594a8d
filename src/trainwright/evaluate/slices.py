"""Where the model is wrong: the rows with the largest loss and the slices of the data it serves worst.

A slice is the rows sharing one value range of one column: a quantile bin of a
numeric or datetime column with more than 10 distinct values (fewer values: one
slice each), one of the most common levels of a categorical, text or boolean
column (the rarer levels pool into one slice), or the rows where the column is
missing. Columns are cut by ``_grouping._group``, which ``evaluate/fairness.py``
shares. Every function returns plain Python (lists, dicts, str, float, int,
bool, None), so results go straight into a report or a JSON file; NaN never
appears, a value that does not exist is ``None``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from trainwright.evaluate._grouping import _group, _Grouping

__all__ = ["largest_losses", "row_losses", "worst_slices"]

_EPS = 1e-15
_SLICE_METRICS = {"classification": ("accuracy", "log_loss"), "regression": ("mae", "rmse")}  # (metric, extra)


# --------------------------------------------------------------------------- public


def row_losses(y, output, task: str) -> list[float]:
    """The loss of every row.

    Args:
        y: true labels encoded 0..K-1 (classification) or true values (regression).
        output: class probabilities, shape (rows, K) (classification; for two
            classes a 1-D array of P(class 1) is accepted), or predicted values.
        task: "classification" or "regression".

    Returns:
        One float per row: ``-log p(true class)`` with p clipped at 1e-15
        (classification; a label outside 0..K-1 counts as p = 0), or the squared
        error (regression).

    Raises:
        ConfigError: ``task`` is not "classification" or "regression".

    Example:
        >>> [round(v, 4) for v in row_losses([0, 1], [[0.9, 0.1], [0.5, 0.5]], "classification")]
        [0.1054, 0.6931]
        >>> row_losses([1.0, 2.0], [1.5, 4.0], "regression")
        [0.25, 4.0]
    """
    _check_task(task)
    if task == "classification":
        return _losses(np.asarray(y, dtype=np.int64), _proba(output), task).tolist()
    return _losses(np.asarray(y, dtype=np.float64), np.asarray(output, dtype=np.float64).ravel(), task).tolist()


def largest_losses(frame, y_raw, output, task: str, *, classes=None, k: int = 20) -> list[dict[str, Any]]:
    """The ``k`` test rows the model got most wrong, worst first.

    Args:
        frame: pandas DataFrame of the raw feature columns of the test rows; its
            index holds the rows' numbers in the user's file.
        y_raw: the raw true labels or values, one per row of ``frame`` (in order).
        output: class probabilities, shape (rows, K), in ``classes`` order
            (classification), or predicted values (regression).
        task: "classification" or "regression".
        classes: the class labels in probability-column order (classification only).
        k: how many rows to return.

    Returns:
        A list of at most ``k`` dicts, sorted by loss, largest first (ties keep
        the frame's order)::

            {"row": frame index value (int or str),
             "actual": raw label or value (None when missing),
             "predicted": predicted label (classification) or value (regression),
             "confidence": P(predicted label) (classification) or None (regression),
             "loss": -log p(true class) or squared error,
             "features": {column: value}}

        Feature values are str for categories and text, float (or None when
        missing) for numbers, bool for booleans and an ISO string for datetimes.

    Raises:
        ConfigError: ``task`` is unknown, or ``classes`` is missing for classification.
        DataError: the inputs have different numbers of rows.

    Example:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]}, index=[10, 11, 12])
        >>> worst = largest_losses(frame, ["a", "b", "a"], [[0.9, 0.1], [0.8, 0.2], [0.6, 0.4]],
        ...                        "classification", classes=["a", "b"], k=1)
        >>> worst[0]["row"], worst[0]["actual"], worst[0]["predicted"], round(worst[0]["loss"], 3)
        (11, 'b', 'a', 1.609)
    """
    _check_task(task)
    y_true, out, classes = _prepare(frame, y_raw, output, task, classes)
    losses = _losses(y_true, out, task)
    order = np.argsort(-losses, kind="stable")[: max(int(k), 0)]
    actuals = y_raw.to_numpy(dtype=object) if hasattr(y_raw, "to_numpy") else np.asarray(y_raw, dtype=object)
    rows = []
    for i in order.tolist():  # k rows, not every row
        predicted, confidence = _prediction(out, i, task, classes)
        rows.append({
            "row": _plain(frame.index[i]),
            "actual": _plain(actuals[i]),
            "predicted": predicted,
            "confidence": confidence,
            "loss": _num(losses[i]),
            "features": {str(c): _feature_value(frame[c], i) for c in frame.columns},
        })
    return rows


def worst_slices(frame, y_raw, output, task: str, *, classes=None, min_rows: int | None = None, bins: int = 4,
                 k: int = 10, max_levels: int = 20) -> dict[str, Any]:
    """The slices of the test rows where the model does worst.

    Every column is cut into slices as the module docstring says; each slice of at least
    ``min_rows`` rows that is worse than all rows together is scored.

    Args:
        frame: pandas DataFrame of the raw feature columns of the test rows.
        y_raw: the raw true labels or values, one per row of ``frame`` (in order).
        output: class probabilities, shape (rows, K), in ``classes`` order
            (classification), or predicted values (regression).
        task: "classification" or "regression".
        classes: the class labels in probability-column order (classification only).
        min_rows: the smallest slice reported; default max(10, 2% of the rows).
        bins: quantile bins per numeric column.
        k: how many slices to return.
        max_levels: levels kept per categorical column before the rest is pooled.

    Returns:
        ``{"metric": "accuracy" | "mae",
        "overall": {"n": int, "value": float | None, "log_loss" | "rmse": float | None},
        "slices": [{"column": str, "slice": str, "group": str, "n": int, "value": float,
        "gap": float, "log_loss" | "rmse": float}, ...]}``.
        ``slice`` says it in words ("bill_length_mm in [39.2, 44.5)", "island = Dream",
        "sex is missing"); ``group`` is the bare label ("[39.2, 44.5)", "Dream", "(missing)",
        "(other)"). ``gap`` is the slice's value minus the overall value, signed so that larger
        is worse (overall accuracy minus slice accuracy; slice MAE minus overall MAE). Only
        slices with ``gap > 0`` are listed, largest gap first (ties: larger slice first), at most ``k``.

    Raises:
        ConfigError: ``task`` is unknown, or ``classes`` is missing for classification.
        DataError: the inputs have different numbers of rows.

    Example:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"site": ["a"] * 20 + ["b"] * 20})
        >>> y = [0.0] * 40
        >>> pred = [0.1] * 20 + [2.0] * 20
        >>> found = worst_slices(frame, y, pred, "regression")
        >>> found["metric"], found["slices"][0]["slice"], round(found["slices"][0]["gap"], 2)
        ('mae', 'site = b', 0.95)
    """
    _check_task(task)
    y_true, out, classes = _prepare(frame, y_raw, output, task, classes)
    n = len(y_true)
    metric, extra = _SLICE_METRICS[task]
    if n == 0:
        return {"metric": metric, "overall": {"n": 0, "value": None, extra: None}, "slices": []}
    min_rows = max(10, math.ceil(0.02 * n)) if min_rows is None else min_rows
    score, losses = _row_scores(y_true, out, task)
    overall = {"n": int(n), "value": float(score.mean()), extra: _mean_loss(losses.mean(), task)}
    found = []
    for column in frame.columns:
        grouping = _group(frame[column], bins=bins, max_levels=max_levels)
        found += _worse_slices(str(column), grouping, score, losses, overall["value"], task, min_rows, max_levels)
    found.sort(key=lambda s: (-s["gap"], -s["n"]))
    return {"metric": metric, "overall": overall, "slices": found[: max(int(k), 0)]}


def _row_scores(y_true: np.ndarray, out: np.ndarray, task: str) -> tuple[np.ndarray, np.ndarray]:
    """Per row, (rows,) each: the score (1 = right, else 0; or the absolute error) and the loss
    (log loss or squared error)."""
    losses = _losses(y_true, out, task)
    if task == "classification":
        return (np.argmax(out, axis=1) == y_true).astype(np.float64), losses
    return np.abs(out - y_true), losses


def _mean_loss(mean: float, task: str) -> float:
    """The mean log loss as it is, or the RMSE from the mean squared error."""
    return float(mean if task == "classification" else np.sqrt(mean))


def _worse_slices(column: str, grouping: _Grouping, score: np.ndarray, losses: np.ndarray, overall: float,
                  task: str, min_rows: int, max_levels: int) -> list[dict[str, Any]]:
    """The slices of one column with at least ``min_rows`` rows that score worse than ``overall``."""
    extra = _SLICE_METRICS[task][1]
    size = len(grouping.labels)
    counts = np.bincount(grouping.codes, minlength=size)
    sums = np.bincount(grouping.codes, weights=score, minlength=size)
    loss_sums = np.bincount(grouping.codes, weights=losses, minlength=size)
    found = []
    for g in np.flatnonzero(counts >= max(min_rows, 1)).tolist():
        value = sums[g] / counts[g]
        gap = overall - value if task == "classification" else value - overall
        if gap <= 1e-12:
            continue
        found.append({
            "column": column,
            "slice": _describe(column, grouping.labels[g], grouping.kinds[g], max_levels),
            "group": grouping.labels[g],
            "n": int(counts[g]),
            "value": float(value),
            "gap": float(gap),
            extra: _mean_loss(loss_sums[g] / counts[g], task),
        })
    return found


def _describe(column: str, label: str, kind: str, max_levels: int) -> str:
    if kind == "bin":
        return f"{column} in {label}"
    if kind == "missing":
        return f"{column} is missing"
    if kind == "other":
        return f"{column} is none of its {max_levels} most common values"
    return f"{column} = {label}"


# --------------------------------------------------------------------------- helpers


def _check_task(task: str) -> None:
    if task not in ("classification", "regression"):
        from trainwright.errors import ConfigError

        raise ConfigError(f"task must be 'classification' or 'regression', got {task!r}")


def _proba(output) -> np.ndarray:
    """Probabilities as (rows, K); a 1-D array is read as P(class 1) of two classes."""
    proba = np.asarray(output, dtype=np.float64)
    if proba.ndim == 1:
        proba = np.column_stack([1.0 - proba, proba])
    return proba


def _losses(y: np.ndarray, out: np.ndarray, task: str) -> np.ndarray:
    """(rows,) log loss per row from encoded labels, or squared error per row."""
    if task == "classification":
        inside = (y >= 0) & (y < out.shape[1])
        p = np.zeros(len(y))
        rows = np.flatnonzero(inside)
        p[rows] = out[rows, y[rows]]
        return -np.log(np.clip(p, _EPS, 1.0))
    return (out - y) ** 2


def _prediction(out: np.ndarray, i: int, task: str, classes) -> tuple[Any, float | None]:
    """Row ``i``'s prediction as plain JSON, and its probability (classification) or None (regression)."""
    if task == "classification":
        best = int(np.argmax(out[i]))
        return _plain(classes[best]), _num(out[i, best])
    return _num(out[i]), None


def _prepare(frame, y_raw, output, task: str, classes):
    """Encoded labels (or float values), output as an array, and the class list."""
    import pandas as pd

    from trainwright.errors import ConfigError, DataError

    n = len(frame)
    if task == "classification":
        if classes is None:
            raise ConfigError("classes is required for classification: pass the class labels in "
                              "probability-column order (learner.classes_)")
        classes = list(classes)
        out = _proba(output)
        if out.ndim != 2 or out.shape[1] != len(classes):
            raise DataError(f"output must have one probability column per class ({len(classes)}), "
                            f"got shape {out.shape}")
        # -1 for a label the model never saw: it counts as wrong, with probability 0.
        y_true = pd.Index(classes, dtype=object).get_indexer(pd.Index(list(y_raw), dtype=object))
        y_true = y_true.astype(np.int64)
    else:
        out = np.asarray(output, dtype=np.float64).ravel()
        y_true = np.asarray(y_raw, dtype=np.float64).ravel()
    if len(y_true) != n or len(out) != n:
        raise DataError(f"frame has {n} rows but y_raw has {len(y_true)} and output {len(out)}; "
                        "pass one label and one prediction per test row")
    return y_true, out, classes


def _feature_value(column, i: int):
    """One feature value as plain JSON: str, float, bool, ISO date string or None."""
    import pandas as pd
    from pandas.api import types as pt

    value = column.iloc[i]
    if value is None or (not isinstance(value, (str, bytes)) and pd.api.types.is_scalar(value) and pd.isna(value)):
        return None
    if pt.is_bool_dtype(column.dtype) or isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if pt.is_numeric_dtype(column.dtype) and not isinstance(column.dtype, pd.CategoricalDtype):
        return _num(value)
    return str(value)


def _num(value) -> float | None:
    """A float, or None for None, NaN and infinities."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _plain(value):
    """A label or index value as plain JSON: int, float (None for NaN), bool, str or None."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return _num(value)
    if isinstance(value, str):
        return str(value)
    try:
        import pandas as pd

        if pd.isna(value):
            return None
        if isinstance(value, pd.Timestamp):
            return value.isoformat()
    except (TypeError, ValueError):
        pass
    return str(value)
