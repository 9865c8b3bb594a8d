"""Text to dates, one way everywhere: schema inference, cleaning, features, the audit and time splits.

Every parse is in UTC (``utc=True``), so text with mixed offsets never fails; unparseable values become
missing (NaT). Each value is read on its own (``format="mixed"``): a row's date never depends on which rows
come with it, so training and prediction read it the same way.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

__all__ = ["parse_dates", "epoch_seconds"]


def parse_dates(values: pd.Series) -> pd.Series:
    """Datetimes (UTC) of ``values``; values that are not dates become NaT.

    Example:
        >>> parse_dates(pd.Series(["2021-03-04", "4 Mar 2021", "soon"])).dt.day.tolist()
        [4.0, 4.0, nan]
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.tz_localize("UTC") if values.dt.tz is None else values.dt.tz_convert("UTC")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pd.to_datetime(values, errors="coerce", format="mixed", utc=True)


def epoch_seconds(values: pd.Series) -> np.ndarray:
    """Seconds since 1970 (float) of ``values`` as ``parse_dates`` reads them; NaN where not a date.

    Example:
        >>> epoch_seconds(pd.Series(["1970-01-02", None])).tolist()
        [86400.0, nan]
    """
    parsed = parse_dates(values).dt.tz_convert(None)
    seconds = parsed.to_numpy("datetime64[ns]").astype(np.int64).astype(np.float64) / 1e9
    seconds[parsed.isna().to_numpy()] = np.nan
    return seconds
