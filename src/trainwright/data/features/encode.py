"""Categorical encoders: one-hot, ordinal and target encoding (out-of-fold on training rows).

Each encoder is a pair of functions over plain-JSON state: ``fit_*`` learns from
training rows, ``encode_*`` maps any rows. Levels never seen in training get the
'__other__' column (one-hot), the code after the last level (ordinal), or the
prior (target encoding).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["category_strings", "fit_levels", "encode_levels", "fit_target_encoding", "encode_target",
           "target_encode_out_of_fold", "MISSING"]

MISSING = "__missing__"


def category_strings(series: pd.Series) -> pd.Series:
    """Values as stripped strings, missing as '__missing__'; whole floats lose '.0' so 3 and 3.0 match."""
    if pd.api.types.is_float_dtype(series):
        arr = series.to_numpy(dtype=np.float64, na_value=np.nan)
        whole = np.isfinite(arr) & (np.mod(arr, 1) == 0)
        text = series.astype(object).map(str).to_numpy(dtype=object)
        text[whole] = arr[whole].astype(np.int64).astype(str)
        values = pd.Series(text, index=series.index, dtype=object)
    else:
        values = series.astype(object).map(str).str.strip()
    return values.where(series.notna(), MISSING)


def fit_levels(values: pd.Series, max_categories: int, impute: str) -> dict[str, Any]:
    """The most frequent levels (missing included unless imputed with the most frequent level)."""
    counts = values.value_counts(sort=True)
    fill = None
    if impute == "most_frequent":
        present = counts.drop(MISSING, errors="ignore")
        fill = str(present.index[0]) if len(present) else MISSING
        counts = present
    levels = [str(v) for v in counts.index[:max_categories]]
    return {"levels": levels, "other": bool(len(counts) > len(levels)), "missing_fill": fill}


def _codes(values: pd.Series, state: dict[str, Any]) -> np.ndarray:
    if state.get("missing_fill") is not None:
        values = values.where(values != MISSING, state["missing_fill"])
    return pd.Index(state["levels"]).get_indexer(values).astype(np.int64)


def encode_levels(values: pd.Series, state: dict[str, Any], encoding: str) -> np.ndarray:
    """One-hot (rows, levels [+ other]) or ordinal (rows, 1) float block."""
    levels = state["levels"]
    codes = _codes(values, state)
    unseen = codes < 0  # rare in training, new, or missing when training had none
    if encoding == "ordinal":
        return np.where(unseen, len(levels), codes).astype(np.float64)[:, None]
    width = len(levels) + (1 if state["other"] else 0)
    out = np.zeros((len(values), width), dtype=np.float64)
    rows = np.flatnonzero(~unseen)
    out[rows, codes[rows]] = 1.0
    if state["other"]:
        out[unseen, len(levels)] = 1.0
    return out


def _target_matrix(y: np.ndarray, task: str, classes: list | None) -> np.ndarray:
    """(rows, outputs): one-hot of the class (one column for binary) or the value."""
    if task == "regression":
        return np.asarray(y, dtype=np.float64)[:, None]
    codes = pd.Index(classes).get_indexer(y)
    onehot = np.eye(len(classes))[codes]
    return onehot[:, 1:] if len(classes) == 2 else onehot


def fit_target_encoding(values: pd.Series, y: np.ndarray, task: str, classes: list | None,
                        smoothing: float) -> dict[str, Any]:
    """Per level: smoothed mean of the target (per class for classification), shrunk to the prior."""
    T = _target_matrix(y, task, classes)
    prior = T.mean(axis=0)
    frame = pd.DataFrame(T, index=values.index)
    grouped = frame.groupby(values.to_numpy(), sort=True)
    sums, counts = grouped.sum(), grouped.size()
    enc = (sums.to_numpy() + smoothing * prior) / (counts.to_numpy()[:, None] + smoothing)
    return {"levels": [str(v) for v in sums.index], "values": enc.tolist(), "prior": prior.tolist(),
            "width": int(T.shape[1])}


def encode_target(values: pd.Series, state: dict[str, Any]) -> np.ndarray:
    """Target-encoded columns (rows, width) of ``values`` from a fitted state; unseen levels get the prior."""
    idx = pd.Index(state["levels"]).get_indexer(values)
    table = np.vstack([np.asarray(state["values"], dtype=np.float64).reshape(-1, state["width"]),
                       np.asarray(state["prior"], dtype=np.float64)[None, :]])
    return table[np.where(idx < 0, len(state["levels"]), idx)]


def target_encode_out_of_fold(values: pd.Series, y: np.ndarray, task: str, classes: list | None,
                              smoothing: float, seed: int, n_folds: int = 5) -> np.ndarray:
    """Encodings of the training rows, each computed without its own fold: a row's target never
    feeds its own feature, so the model cannot learn the encoding's leak."""
    rng = np.random.default_rng(seed)
    fold = rng.permutation(len(values)) % n_folds
    out = np.zeros((len(values), _target_matrix(y[:1], task, classes).shape[1]))
    for k in range(n_folds):
        held = fold == k
        if not held.any() or held.all():
            continue
        state = fit_target_encoding(values[~held], y[~held], task, classes, smoothing)
        out[held] = encode_target(values[held], state)
    return out
