"""Frame-level feature engineering for rows ordered in time: lags and rolling means.

These use only earlier rows, so they are computed the same way on training
data and on new data (which must then carry its own history rows).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from trainwright.data.columns import require_columns
from trainwright.errors import ConfigError

__all__ = ["add_time_features", "time_feature_names"]


def time_feature_names(lags: dict[str, list[int]], rolling: dict[str, list[int]]) -> list[str]:
    """The names of the lag and rolling-mean columns ``add_time_features`` adds.

    Example:
        >>> time_feature_names({"sales": [1, 7]}, {"sales": [7]})
        ['sales__lag1', 'sales__lag7', 'sales__roll7_mean']
    """
    return [f"{c}__lag{k}" for c, ks in lags.items() for k in ks] + \
        [f"{c}__roll{w}_mean" for c, ws in rolling.items() for w in ws]


def add_time_features(frame: pd.DataFrame, lags: dict[str, list[int]], rolling: dict[str, list[int]],
                      order_by: str | None) -> pd.DataFrame:
    """Add ``col__lagK`` (value K rows earlier) and ``col__rollW_mean`` (mean of the W previous rows).

    Rows are ordered by ``order_by`` (stable); the result keeps the input's row order.

    Example:
        >>> f = pd.DataFrame({"t": [2, 1, 3], "v": [20.0, 10.0, 30.0]})
        >>> add_time_features(f, {"v": [1]}, {}, "t")["v__lag1"].tolist()
        [10.0, nan, 20.0]
    """
    if not lags and not rolling:
        return frame
    if order_by is None:
        raise ConfigError("features.lags and features.rolling need features.order_by (the column that orders rows in time)",
                          path="features.order_by")
    require_columns(frame, list(dict.fromkeys([order_by, *lags, *rolling])), what="lag/rolling feature column")
    # Work by position, not by index label: a frame may repeat labels (pd.concat without ignore_index).
    order = np.argsort(frame[order_by].to_numpy(), kind="stable")
    back = np.empty_like(order)
    back[order] = np.arange(len(order))  # position in time order -> position in the input

    def in_input_order(ordered_values: pd.Series):
        return ordered_values.to_numpy()[back]

    out = frame.copy()
    for col, ks in lags.items():
        values = pd.to_numeric(frame[col].iloc[order], errors="coerce").reset_index(drop=True)
        for k in ks:
            out[f"{col}__lag{k}"] = in_input_order(values.shift(k))
    for col, ws in rolling.items():
        past = pd.to_numeric(frame[col].iloc[order], errors="coerce").reset_index(drop=True).shift(1)  # never the current row
        for w in ws:
            out[f"{col}__roll{w}_mean"] = in_input_order(past.rolling(w, min_periods=1).mean())
    return out
