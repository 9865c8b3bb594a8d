"""Where the model is wrong: the rows with the largest loss and the slices of the data it serves worst.

A slice is the rows sharing one value range of one column: a quantile bin of a
numeric or datetime column, a level of a categorical, text or boolean column,
or the rows where the column is missing. Every function returns plain Python
(lists, dicts, str, float, int, bool, None), so results go straight into a
report or a JSON file; NaN never appears, a value that does not exist is
``None``.

Datetime columns are binned like numbers (quantile ranges of time, labelled with
ISO dates), because a range of dates is a meaningful slice and a single
timestamp almost never is. Timedelta and other object columns are treated as
levels of their string form.

The grouping helper ``_group`` is shared with ``evaluate/fairness.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["largest_losses", "row_losses", "worst_slices"]

_EPS = 1e-15
MISSING = "(missing)"
OTHER = "(other)"


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
        actual = actuals[i]
        if task == "classification":
            best = int(np.argmax(out[i]))
            predicted, confidence = _plain(classes[best]), _num(out[i, best])
        else:
            predicted, confidence = _num(out[i]), None
        rows.append({
            "row": _plain(frame.index[i]),
            "actual": _plain(actual),
            "predicted": predicted,
            "confidence": confidence,
            "loss": _num(losses[i]),
            "features": {str(c): _feature_value(frame[c], i) for c in frame.columns},
        })
    return rows


def worst_slices(frame, y_raw, output, task: str, *, classes=None, min_rows: int | None = None, bins: int = 4,
                 k: int = 10, max_levels: int = 20) -> dict[str, Any]:
    """The slices of the test rows where the model does worst.

    Every column is cut into slices: numeric and datetime columns with more than
    10 distinct values into ``bins`` quantile bins (fewer values: one slice
    each), other columns into their ``max_levels`` most common levels plus one
    slice for the rest; missing values form their own slice. Each slice of at
    least ``min_rows`` rows that is worse than all rows together is scored.

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
        ``slice`` says it in words ("bill_length_mm in [39.2, 44.5)",
        "island = Dream", "sex is missing"); ``group`` is the bare label
        ("[39.2, 44.5)", "Dream", "(missing)", "(other)"). ``gap`` is the slice's
        value minus the overall value, signed so that larger is worse (overall
        accuracy minus slice accuracy; slice MAE minus overall MAE). Only slices
        with ``gap > 0`` are listed, largest gap first (ties: larger slice
        first), at most ``k``.

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
    metric, extra = ("accuracy", "log_loss") if task == "classification" else ("mae", "rmse")
    if n == 0:
        return {"metric": metric, "overall": {"n": 0, "value": None, extra: None}, "slices": []}
    if min_rows is None:
        min_rows = max(10, math.ceil(0.02 * n))

    losses = _losses(y_true, out, task)  # (rows,) log loss or squared error
    if task == "classification":
        score = (np.argmax(out, axis=1) == y_true).astype(np.float64)  # 1 = right
    else:
        score = np.abs(out - y_true)  # absolute error
    overall_value = float(score.mean())
    overall_extra = float(losses.mean()) if task == "classification" else float(np.sqrt(losses.mean()))

    found = []
    for column in frame.columns:
        grouping = _group(frame[column], bins=bins, max_levels=max_levels)
        size = len(grouping.labels)
        counts = np.bincount(grouping.codes, minlength=size)
        sums = np.bincount(grouping.codes, weights=score, minlength=size)
        loss_sums = np.bincount(grouping.codes, weights=losses, minlength=size)
        for g in np.flatnonzero(counts >= max(min_rows, 1)).tolist():
            value = sums[g] / counts[g]
            gap = overall_value - value if task == "classification" else value - overall_value
            if gap <= 1e-12:
                continue
            mean_loss = loss_sums[g] / counts[g]
            found.append({
                "column": str(column),
                "slice": _describe(str(column), grouping.labels[g], grouping.kinds[g], max_levels),
                "group": grouping.labels[g],
                "n": int(counts[g]),
                "value": float(value),
                "gap": float(gap),
                extra: float(mean_loss if task == "classification" else np.sqrt(mean_loss)),
            })
    found.sort(key=lambda s: (-s["gap"], -s["n"]))
    return {
        "metric": metric,
        "overall": {"n": int(n), "value": overall_value, extra: overall_extra},
        "slices": found[: max(int(k), 0)],
    }


# --------------------------------------------------------------------------- grouping (shared with fairness)


@dataclass(frozen=True)
class _Grouping:
    """Rows of one column assigned to groups.

    Attributes:
        codes: (rows,) int, the group of each row, indexing ``labels``.
        labels: the group labels in display order: "[30, 42)", "Dream", "(other)", "(missing)".
        kinds: per label, "bin", "level", "other" or "missing".
        binned: whether the column was cut into quantile bins.
    """

    codes: np.ndarray
    labels: list[str]
    kinds: list[str]
    binned: bool


def _group(values, *, bins: int = 4, max_levels: int | None = None, max_distinct: int = 10) -> _Grouping:
    """Assign every value of a column to a group (see the module docstring).

    Args:
        values: a pandas Series or array-like; positions, not index labels, matter.
        bins: quantile bins for numeric and datetime columns with more than
            ``max_distinct`` distinct values.
        max_levels: keep this many most common levels, pool the rest as "(other)"; None keeps all.
        max_distinct: up to this many distinct numbers are levels, not bins.
    """
    import pandas as pd
    from pandas.api import types as pt

    if int(bins) < 1:
        from trainwright.errors import ConfigError

        raise ConfigError(f"bins must be at least 1, got {bins}")
    s = values.reset_index(drop=True) if isinstance(values, pd.Series) else pd.Series(values)
    if pt.is_bool_dtype(s):
        return _levels(s, max_levels)
    if pt.is_datetime64_any_dtype(s):
        seconds, tz = _datetime_seconds(s)
        return _numeric(seconds, bins, max_levels, max_distinct, lambda v: _fmt_time(v, tz))
    if pt.is_numeric_dtype(s) and not isinstance(s.dtype, pd.CategoricalDtype):
        x = s.to_numpy(dtype=np.float64, na_value=np.nan)
        return _numeric(x, bins, max_levels, max_distinct, _fmt)
    return _levels(s, max_levels)


def _numeric(x: np.ndarray, bins: int, max_levels, max_distinct: int, fmt) -> _Grouping:
    """Quantile bins, or one level per value when there are few distinct values.

    Args:
        x: (rows,) float values, NaN where missing.
        fmt: turns one value into its label.
    """
    missing = ~np.isfinite(x)  # NaN, and the rare inf, which cannot be binned
    present = x[~missing]
    distinct = np.unique(present)
    if len(distinct) <= max_distinct:
        return _value_levels(x, missing, distinct, fmt, max_levels)
    # Edges are values from the data (not interpolated), so labels read like the data: [39.2, 44.5), 2021-10-28.
    edges = np.unique(np.quantile(present, np.linspace(0.0, 1.0, int(bins) + 1), method="higher"))
    n_bins = len(edges) - 1
    codes = np.full(len(x), n_bins, dtype=np.int64)  # n_bins = the missing group
    # Bin i holds [edges[i], edges[i+1]); the last bin also holds its upper edge.
    codes[~missing] = np.searchsorted(edges[1:-1], present, side="right")
    labels = [f"[{fmt(edges[i])}, {fmt(edges[i + 1])}{']' if i == n_bins - 1 else ')'}" for i in range(n_bins)]
    kinds = ["bin"] * n_bins
    if missing.any():
        labels.append(MISSING)
        kinds.append("missing")
    return _Grouping(codes, labels, kinds, True)


def _value_levels(x: np.ndarray, missing: np.ndarray, distinct: np.ndarray, fmt, max_levels) -> _Grouping:
    """One level per distinct number, in numeric order (the most common kept), the rest pooled, missing last."""
    codes = np.empty(len(x), dtype=np.int64)
    present_codes = np.searchsorted(distinct, x[~missing])  # (present rows,) index into distinct
    counts = np.bincount(present_codes, minlength=len(distinct))
    kept = np.sort(np.argsort(-counts, kind="stable")[:max_levels]) if max_levels is not None \
        else np.arange(len(distinct))
    remap = np.full(len(distinct), len(kept), dtype=np.int64)  # len(kept) = the "(other)" group
    remap[kept] = np.arange(len(kept))
    codes[~missing] = remap[present_codes]
    labels = [fmt(distinct[i]) for i in kept.tolist()]
    kinds = ["level"] * len(labels)
    if len(kept) < len(distinct):
        labels.append(OTHER)
        kinds.append("other")
    if missing.any():
        codes[missing] = len(labels)
        labels.append(MISSING)
        kinds.append("missing")
    return _Grouping(codes, labels, kinds, False)


def _levels(s, max_levels: int | None) -> _Grouping:
    """One group per level (most common first, ties by label), the rest pooled, missing last."""
    import pandas as pd

    missing = s.isna().to_numpy()
    keys = s[~missing].astype(str).to_numpy(dtype=object)
    counts = pd.Series(keys, dtype=object).value_counts(sort=False)
    order = sorted(counts.index, key=lambda key: (-counts[key], key))  # one entry per level, not per row
    labels = list(order[:max_levels] if max_levels is not None else order)
    kinds = ["level"] * len(labels)
    codes = np.empty(len(s), dtype=np.int64)
    present_codes = pd.Index(labels, dtype=object).get_indexer(keys)
    if (present_codes < 0).any():
        present_codes[present_codes < 0] = len(labels)
        labels.append(OTHER)
        kinds.append("other")
    codes[~missing] = present_codes
    if missing.any():
        codes[missing] = len(labels)
        labels.append(MISSING)
        kinds.append("missing")
    return _Grouping(codes, [str(v) for v in labels], kinds, False)


def _datetime_seconds(s) -> tuple[np.ndarray, Any]:
    """Seconds since the epoch (NaN where missing) and the column's time zone."""
    tz = getattr(s.dtype, "tz", None)
    if tz is not None:
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
    as_ns = s.to_numpy().astype("datetime64[ns]")
    seconds = as_ns.astype(np.int64).astype(np.float64) / 1e9
    seconds[np.isnat(as_ns)] = np.nan
    return seconds, tz


def _fmt_time(seconds: float, tz) -> str:
    import pandas as pd

    stamp = pd.Timestamp(round(seconds * 1e6), unit="us")
    if tz is not None:
        stamp = stamp.tz_localize("UTC").tz_convert(tz)
    if stamp.hour == 0 and stamp.minute == 0 and stamp.second == 0 and stamp.microsecond == 0:
        return stamp.strftime("%Y-%m-%d")
    return stamp.strftime("%Y-%m-%d %H:%M")


def _fmt(value: float) -> str:
    """A short label for a number: 30, 39.25, 0.0001235, 1235000 (four significant digits)."""
    value = float(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return np.format_float_positional(value, precision=4, unique=True, fractional=False, trim="-")


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
