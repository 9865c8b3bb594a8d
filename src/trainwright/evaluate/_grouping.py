"""Rows of one column assigned to groups: the slices of ``slices.py`` and the groups of ``fairness.py``.

A numeric or datetime column with more than ``max_distinct`` (10) distinct
values is cut into quantile bins whose edges are values from the data
("[39.2, 44.5)"); fewer distinct values are one group each. Datetime columns
are binned like numbers (quantile ranges of time, labelled with ISO dates),
because a range of dates is a meaningful group and a single timestamp almost
never is. Other columns (categorical, text, boolean; timedelta and other
objects as their string form) group by level, the most common kept and the
rest pooled as "(other)". Missing values form the group "(missing)".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

MISSING = "(missing)"
OTHER = "(other)"


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
