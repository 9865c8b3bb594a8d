"""Attributions per raw column: TreeSHAP and integrated gradients (additive, computed by the learner) and
linear coefficients, summed from encoded features into the raw columns they came from with
``Preprocessor.feature_sources``. Since SHAP values and integrated gradients are additive, the sums keep
``base + sum(contributions) == prediction``. Every result holds only lists, dicts, strings, floats, ints
and None.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["tree_shap", "integrated_gradients", "attribution_views", "SUMMARY_ROWS"]

# Rows kept in a SHAP / IG summary; the report embeds them.
SUMMARY_ROWS = 500


def tree_shap(learner, pre, X, frame_values, *, max_rows: int = SUMMARY_ROWS) -> dict[str, Any]:
    """Exact TreeSHAP contributions of a tree learner (``capabilities.explanation == "tree_shap"``), summed
    per raw column.

    The learner computes them (``Learner.attributions``; LightGBM's own implementation of Lundberg et al.'s
    algorithm, no ``shap`` package), in the trees' margin space: the log-odds of ``classes[1]`` for binary
    classification, the raw score (softmax input) of each row's predicted class for multiclass, the
    predicted value for regression.

    Args:
        learner: a fitted learner that computes tree SHAP values.
        pre: its fitted ``Preprocessor``.
        X: features, ``pre.transform(frame_values)``; only the first ``max_rows`` rows are explained.
        frame_values: the raw rows behind ``X`` (a DataFrame), for feature values and row ids.
        max_rows: most rows explained.

    Returns:
        See ``_attribution_result``; ``space`` is "log-odds", "raw score" or "value" and ``base``
        the trees' expected value per output.
    """
    return _attributions(learner, pre, X[:max_rows], frame_values)


def integrated_gradients(learner, pre, X, frame_values, *, steps: int = 50, baseline=None,
                         max_rows: int = SUMMARY_ROWS) -> dict[str, Any]:
    """Integrated gradients (Sundararajan et al. 2017) of a neural learner
    (``capabilities.explanation == "integrated_gradients"``), summed per raw column.

    The learner computes them (``Learner.attributions``, with captum) from ``baseline``, by default the zero
    vector of the standardised feature space: every numeric feature at its training mean, every
    missing-value indicator off and no level of a one-hot column set. The output explained: the log-odds of
    ``classes[1]`` for binary classification, the logit of each row's predicted class for multiclass, the
    predicted value for regression.

    Args:
        learner: a fitted learner that computes integrated gradients.
        pre: its fitted ``Preprocessor``.
        X: features, ``pre.transform(frame_values)``; only the first ``max_rows`` rows are explained.
        frame_values: the raw rows behind ``X`` (a DataFrame), for feature values and row ids.
        steps: integration points along the straight path from the baseline.
        baseline: one feature vector, shape (features,), to integrate from; default zeros.
        max_rows: most rows explained.

    Returns:
        See ``_attribution_result``, plus ``delta``: the largest completeness error
        ``|sum(attributions) - (f(x) - f(baseline))|`` over rows, and ``baseline``: "zeros
        (training means)" or "given"; ``space`` is "log-odds", "logit" or "value" and ``base``
        is f(baseline) per output.
    """
    return _attributions(learner, pre, X[:max_rows], frame_values, steps=steps, baseline=baseline)


def _attributions(learner, pre, X, frame_values, **options) -> dict[str, Any]:
    att = learner.attributions(np.asarray(X), **options)
    classes = learner.classes_.tolist() if learner.task == "classification" else None
    result = _attribution_result(att.space, classes, pre, att.values, att.pick, att.base, att.margin, frame_values)
    result.update(att.extra)
    return result


def _attribution_result(space: str, classes, pre, phi: np.ndarray, pick: np.ndarray, base: np.ndarray,
                        margin: np.ndarray, frame_values) -> dict[str, Any]:
    """Sum feature attributions into raw columns and package them for the report.

    Args:
        phi: attributions of each row's explained output, shape (rows, features).
        pick: the output each row explains, shape (rows,).
        base: expected value / f(baseline) per output, shape (outputs,); outputs: 1, or one per class.
        margin: model output per row and output, shape (rows, outputs).

    Returns:
        ``{"space": str, "classes": list | None, "columns": [str, ...],
        "kinds": [kind per column ("interaction" for a polynomial term)],
        "base": [float per output],
        "values": rows x columns, each row's contributions to its explained output,
        "explained": per row the class explained (binary: classes[1]; multiclass: the predicted
        class, whose base is base[classes.index(explained)]), None for regression,
        "mean_abs": per column, mean |contribution| over rows,
        "mean_abs_by_class": multiclass: classes x columns, mean |contribution| over the rows
        predicted as that class (None for a class never predicted); otherwise None,
        "feature_values": rows x columns, raw values (float, str, or None when missing or not a raw column),
        "example": {"row": index label of the first row, "explained", "prediction" (margin),
        "probability" of the explained class (classification) or None, "base",
        "contributions": [{"column", "value", "contribution"}, ...] by |contribution|, largest first}}``.
    """
    sources = pre.feature_sources()
    columns = list(dict.fromkeys(sources))
    position = {c: j for j, c in enumerate(columns)}
    owner = np.array([position[s] for s in sources], dtype=np.int64)  # (features,): its raw column's position
    values = np.zeros((phi.shape[0], len(columns)))  # (rows, columns)
    np.add.at(values.T, owner, np.asarray(phi, dtype=np.float64).T)  # each feature's column adds into its owner's
    n, outputs = len(values), margin.shape[1]
    if classes is None:
        explained = [None] * n
    else:
        explained = [classes[k] for k in pick] if outputs > 1 else [classes[1]] * n
    by_class = None
    if outputs > 1:
        by_class = [np.abs(values[pick == k]).mean(axis=0).tolist() if (pick == k).any() else None
                    for k in range(outputs)]
    feature_values = _feature_values(frame_values.iloc[:n], columns)
    result = {
        "space": space, "classes": classes, "columns": [_native(c) for c in columns],
        "kinds": [pre.kinds.get(c, "interaction") for c in columns],
        "base": [float(b) for b in base], "values": values.tolist(), "explained": explained,
        "mean_abs": (np.abs(values).mean(axis=0) if n else np.zeros(len(columns))).tolist(),
        "mean_abs_by_class": by_class, "feature_values": feature_values, "example": None,
    }
    if n:
        k = int(pick[0])
        contributions = [{"column": c, "value": v, "contribution": float(s)}
                         for c, v, s in zip(result["columns"], feature_values[0], values[0])]
        contributions.sort(key=lambda item: -abs(item["contribution"]))
        result["example"] = {"row": _native(frame_values.index[0]), "explained": explained[0],
                             "prediction": float(margin[0, k]), "probability": _probability(space, margin[0], k),
                             "base": float(base[k]), "contributions": contributions}
    return result


def _probability(space: str, margin: np.ndarray, k: int) -> float | None:
    if space not in ("log-odds", "raw score"):  # a regression's value (or its log)
        return None
    if margin.shape[0] == 1:  # binary log-odds of classes[1]
        return float(1.0 / (1.0 + math.exp(-margin[0])))
    e = np.exp(margin - margin.max())
    return float(e[k] / e.sum())


def _feature_values(frame, columns: list) -> list[list]:
    """Raw values, rows x columns: numbers as float, anything else as str, missing as None."""
    import pandas as pd

    per_column = []
    for column in columns:
        if column not in frame.columns:  # a polynomial term of several columns
            per_column.append([None] * len(frame))
            continue
        series = frame[column]
        missing = series.isna().to_numpy()
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            raw = series.to_numpy(dtype=np.float64, na_value=np.nan).tolist()
        else:
            raw = series.astype(str).tolist()
        per_column.append([None if m or (isinstance(v, float) and not math.isfinite(v)) else v
                           for v, m in zip(raw, missing)])
    return [list(row) for row in zip(*per_column)] if per_column else [[] for _ in range(len(frame))]


def attribution_views(learner, pre, head) -> dict[str, Any]:
    """The attribution the learner says it supports (``capabilities.explanation``), on ``head``."""
    method = learner.capabilities.explanation
    if method == "tree_shap":
        return {"shap": tree_shap(learner, pre, pre.transform(head), head)}
    if method == "integrated_gradients":
        return {"integrated_gradients": integrated_gradients(learner, pre, pre.transform(head), head)}
    if method == "coefficients":
        return {"coefficients": _coefficients(learner, pre)}
    return {}


def _coefficients(learner, pre) -> dict[str, Any]:
    """Sum of |coefficient| of each raw column's features (and classes); features are standardised."""
    coef = learner.feature_weights()  # (outputs, features)
    weight = np.abs(coef).sum(axis=0)  # (features,)
    totals: dict[str, float] = {}
    for source, w in zip(pre.feature_sources(), weight):
        totals[source] = totals.get(source, 0.0) + float(w)
    columns = [{"column": c, "value": v} for c, v in sorted(totals.items(), key=lambda item: -item[1])]
    return {"note": "sum of |coefficient| over each column's standardised features"
                    + (" and the classes" if coef.shape[0] > 1 else ""), "columns": columns}


def _native(value):
    """A numpy scalar as the matching Python value (JSON cannot hold numpy types)."""
    return value.item() if isinstance(value, np.generic) else value
