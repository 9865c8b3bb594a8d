"""Model explanations per raw column, as plain JSON data for the evaluation report.

Four views, all per raw column (what a user sees, not the encoded features):

- ``permutation_importance``: how much the test metric drops when one column is
  shuffled (any model, through the full predictor).
- ``tree_shap``: exact TreeSHAP contributions of a tree learner, which computes them
  (``Learner.attributions``; LightGBM's own implementation), in the trees' margin space.
- ``integrated_gradients``: path attributions of a neural learner (captum, in the learner).
- ``partial_dependence``: the average prediction as one column is set to each
  value of a grid, with a few individual (ICE) curves.

``explain`` runs the ones that apply to a predictor. Attributions of encoded
features are summed into their raw column with ``Preprocessor.feature_sources``;
since SHAP values and integrated gradients are additive, the sums keep
``base + sum(contributions) == prediction``.

Every result holds only lists, dicts, strings, floats, ints and None.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from trainwright.data.columns import require_columns
from trainwright.errors import DataError
from trainwright.evaluate.metrics import LOWER_IS_BETTER, score

__all__ = ["explain", "integrated_gradients", "partial_dependence", "permutation_importance", "tree_shap"]

# Rows kept in a SHAP / IG summary; the report embeds them.
SUMMARY_ROWS = 500
MIN_ROWS = 100  # explanations never use fewer sampled rows than this (unless the test set is smaller)
# Individual conditional expectation curves kept per partial dependence.
ICE_CURVES = 20


# --- permutation importance -----------------------------------------------------------
def permutation_importance(predictor, frame, y, task: str, metric: str, *, repeats: int = 5, seed: int = 0,
                           columns: Sequence[str] | None = None) -> dict[str, Any]:
    """Drop in a metric when each raw column is shuffled (Breiman; any model).

    Each column is shuffled ``repeats`` times (one seeded generator, columns in order) and
    the rows are scored again through the whole predictor. Importance is signed so that a
    positive value means the model relies on the column: ``baseline - shuffled`` for metrics
    where higher is better, ``shuffled - baseline`` for those in ``LOWER_IS_BETTER``.

    Args:
        predictor: a ``Predictor``.
        frame: raw test rows already passed through ``predictor.prepare``.
        y: their raw targets (class labels or values), in row order.
        task: "classification" or "regression".
        metric: a key of ``score``'s result, e.g. "log_loss", "accuracy", "rmse".
        repeats: shuffles per column.
        seed: seed of the shuffles.
        columns: raw columns to shuffle; default: the columns member 0 was trained on.

    Returns:
        ``{"metric": str, "baseline": float, "repeats": int,
        "columns": [{"column": str, "mean": float, "std": float}, ...]}``, sorted by mean, largest first.

    Raises:
        DataError: a column is absent, or the metric cannot be computed on these rows.

    Example:
        >>> y = frame["species"]  # doctest: +SKIP
        >>> permutation_importance(run.predictor, frame, y, "classification", "log_loss")  # doctest: +SKIP
        {'metric': 'log_loss', 'baseline': 0.03, 'repeats': 5, 'columns': [{'column': 'bill_length_mm', ...}]}
    """
    import pandas as pd

    pre, learner = predictor.members[0]
    columns = list(pre.required_columns if columns is None else columns)
    require_columns(frame, columns, what="permutation importance column")
    classes = learner.classes_.tolist() if task == "classification" else None
    y = learner.encode_labels(y) if task == "classification" else np.asarray(y, dtype=np.float64)
    measure = _metric_function(task, y, classes, metric)
    baseline = measure(predictor.output(frame, prepared=True))
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    rng = np.random.default_rng(seed)
    n = len(frame)
    # All shuffles of one column go through the predictor in one call: (repeats * rows) rows.
    stacked = pd.concat([frame] * repeats, ignore_index=True)
    out = []
    for column in columns:
        values = frame[column].reset_index(drop=True)
        shuffled = stacked.copy(deep=False)
        shuffled[column] = pd.concat([values.iloc[rng.permutation(n)] for _ in range(repeats)], ignore_index=True)
        output = predictor.output(shuffled, prepared=True)
        drops = np.array([sign * (baseline - measure(output[r * n:(r + 1) * n])) for r in range(repeats)])
        out.append({"column": _native(column), "mean": float(drops.mean()), "std": float(drops.std())})
    out.sort(key=lambda c: -c["mean"])
    return {"metric": metric, "baseline": baseline, "repeats": int(repeats), "columns": out}


def _metric_function(task: str, y, classes, metric: str) -> Callable[[np.ndarray], float]:
    def measure(output: np.ndarray) -> float:
        scores = score(task, y, output, classes)
        if metric not in scores:
            raise DataError(f"metric '{metric}' is not one of {', '.join(scores)} for {task}")
        if scores[metric] is None:
            raise DataError(f"metric '{metric}' cannot be computed on these rows (for roc_auc: a class is absent); "
                            "explain with another metric, e.g. log_loss")
        return float(scores[metric])

    return measure


# --- additive attributions (TreeSHAP, integrated gradients) --------------------------------
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
    onehot = np.zeros((len(sources), len(columns)))  # (features, columns)
    onehot[np.arange(len(sources)), [columns.index(s) for s in sources]] = 1.0
    values = phi @ onehot  # (rows, columns)
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
    if space == "value":
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


# --- partial dependence ---------------------------------------------------------------------
def partial_dependence(predictor, frame, column: str, *, grid: int = 20, rows: int = 500,
                       seed: int = 0) -> dict[str, Any]:
    """Average prediction as ``column`` is set to each grid value (brute force, any model).

    A numeric column's grid is its distinct quantiles between the 5th and 95th percentile
    (``grid`` of them at most); any other column's grid is its ``grid`` most frequent values.
    Every grid value is written into a seeded sample of ``rows`` rows, which go through the
    whole predictor.

    Args:
        predictor: a ``Predictor``.
        frame: raw rows already passed through ``predictor.prepare``.
        column: the raw column to vary.
        grid: most grid values.
        rows: most rows averaged (a seeded sample without replacement).
        seed: seed of the sample.

    Returns:
        ``{"column": str, "kind": "numeric" | "categorical", "grid": [float or str, ...],
        "average": {str(class): [probability per grid value]} for classification, else [value per grid value],
        "ice": the same shape with one curve per row, ``ICE_CURVES`` rows at most
        (classification: {str(class): [[...], ...]}), or None for a categorical column}``.

    Raises:
        DataError: the column is absent or has no values.

    Example:
        >>> partial_dependence(run.predictor, frame, "flipper_length_mm")["grid"][:2]  # doctest: +SKIP
        [176.0, 181.0]
    """
    import pandas as pd

    if column not in frame.columns:
        raise DataError(f"partial dependence: column '{column}' is not in the data", column=column)
    sample = _sample(frame, rows, seed)
    kind, values = _grid(predictor, frame[column], grid)
    if not values:
        raise DataError(f"partial dependence: column '{column}' has no values", column=column)
    n, g = len(sample), len(values)
    stacked = pd.concat([sample] * g, ignore_index=True)
    # (grid * rows,): grid value i fills block i
    stacked[column] = np.repeat(np.array(values, dtype=np.float64 if kind == "numeric" else object), n)
    output = predictor.output(stacked, prepared=True)
    curves = output.reshape(g, n, -1).transpose(1, 0, 2)  # (rows, grid, classes or 1)
    ice = curves[:ICE_CURVES] if kind == "numeric" else None
    if predictor.task == "classification":
        names = [str(c) for c in predictor.classes_.tolist()]
        average = {name: curves[:, :, k].mean(axis=0).tolist() for k, name in enumerate(names)}
        ice = None if ice is None else {name: ice[:, :, k].tolist() for k, name in enumerate(names)}
    else:
        average = curves[:, :, 0].mean(axis=0).tolist()
        ice = None if ice is None else ice[:, :, 0].tolist()
    grid_out = [float(v) for v in values] if kind == "numeric" else [str(v) for v in values]
    return {"column": _native(column), "kind": kind, "grid": grid_out, "average": average, "ice": ice}


def _grid(predictor, series, size: int) -> tuple[str, list]:
    """("numeric", distinct quantiles in [5%, 95%]) or ("categorical", most frequent values)."""
    import pandas as pd

    kind = predictor.members[0][0].kinds.get(series.name)
    numeric = kind == "numeric" or (kind is None and pd.api.types.is_numeric_dtype(series)
                                    and not pd.api.types.is_bool_dtype(series))
    if numeric:
        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        values = values[np.isfinite(values)]
        if len(values) == 0:
            return "numeric", []
        return "numeric", np.unique(np.quantile(values, np.linspace(0.05, 0.95, size))).tolist()
    return "categorical", series.dropna().value_counts().index[:size].tolist()


def _sample(frame, rows: int, seed: int):
    """At most ``rows`` rows, drawn without replacement by a seeded generator, in their order."""
    return frame if len(frame) <= rows else frame.iloc[_positions(len(frame), rows, seed)]


def _positions(n: int, rows: int, seed: int) -> np.ndarray:
    """Sorted positions of at most ``rows`` of ``n`` rows, drawn without replacement (seeded)."""
    if n <= rows:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=rows, replace=False))


# --- everything for the report ------------------------------------------------------------
def explain(predictor, frame, y, task: str, metric: str, *, rows: int = 1000, repeats: int = 5, top: int = 6,
            seed: int = 0, seconds: float | None = 20.0) -> dict[str, Any]:
    """The explanations of a predictor on test rows, for the evaluation report.

    Permutation importance and partial dependence go through the whole predictor (all members
    pooled). Attributions explain member 0 the way its learner declares (``capabilities.explanation``:
    TreeSHAP, integrated gradients or coefficients); on the first ``SUMMARY_ROWS`` sampled rows, and the
    attribution ``example`` is the first sampled row. Floats are rounded to 6 significant digits,
    which keeps the report small (about 350 kB of JSON for 500 rows of 30 columns).

    Args:
        predictor: a ``Predictor``.
        frame: raw test rows already passed through ``predictor.prepare``.
        y: their raw targets, in row order.
        task: "classification" or "regression".
        metric: the metric permutation importance measures (a key of ``score``'s result).
        rows: most test rows used (a seeded sample).
        repeats: shuffles per column in permutation importance.
        top: partial dependence for this many columns, the most important by permutation.
        seed: seed of the sample, the shuffles and partial dependence's sample.
        seconds: rough bound on the time spent predicting: when one prediction of the sample,
            times the rows permutation importance and partial dependence would predict, exceeds it,
            fewer rows are used (at least 100) and the note says so. None: no bound.

    Returns:
        ``{"rows": int, "permutation": permutation_importance's result,
        "shap": tree_shap's result or None, "integrated_gradients": integrated_gradients' result or None,
        "coefficients": {"note": str, "columns": [{"column", "value"}, ...]} or None,
        "partial_dependence": [partial_dependence's result, ...], "note": str}``.

    Example:
        >>> run = trainwright.load("runs/penguins")  # doctest: +SKIP
        >>> frame = run.predictor.prepare(test)  # doctest: +SKIP
        >>> explain(run.predictor, frame, frame["species"], "classification", "log_loss")["note"]  # doctest: +SKIP
        'Explained 69 test rows of the mlp model; integrated gradients explains the model on the first 69 of them.'
    """
    if len(frame) == 0:
        raise DataError("explain needs at least one labelled test row; got none")
    chosen = _positions(len(frame), rows, seed)
    sample, y = frame.iloc[chosen], np.asarray(y)[chosen]
    pre, learner = predictor.members[0]
    asked = (len(sample), repeats, top)
    keep, repeats, top = _within_time(predictor, sample, repeats, top, seconds)
    limited = (len(sample), keep, repeats, top) if (keep, repeats, top) != asked else None
    sample, y = sample.iloc[:keep], y[:keep]
    permutation = permutation_importance(predictor, sample, y, task, metric, repeats=repeats, seed=seed)
    head = sample.iloc[:SUMMARY_ROWS]
    result: dict[str, Any] = {"rows": len(sample), "permutation": permutation, "shap": None,
                              "integrated_gradients": None, "coefficients": None}
    result.update(_attribution_views(learner, pre, head))
    columns = [c["column"] for c in permutation["columns"][:top]]
    result["partial_dependence"] = [partial_dependence(predictor, sample, c, seed=seed) for c in columns]
    result["note"] = _note(predictor, result, len(sample), len(head))
    if limited:
        result["note"] += (f" Predictions of this model are slow, so to keep explanations near {seconds:g} s "
                           f"(evaluate.explain.seconds) {limited[1]} of {limited[0]} sampled rows were used, "
                           f"with {limited[2]} shuffles per column and {limited[3]} partial dependence plots.")
    return _rounded(result)


def _within_time(predictor, sample, repeats: int, top: int, seconds: float | None) -> tuple[int, int, int]:
    """(rows, shuffles per column, partial dependence plots) that keep the predictions near ``seconds``."""
    if seconds is None or len(sample) <= MIN_ROWS:
        return len(sample), repeats, top
    t0 = time.perf_counter()
    predictor.output(sample, prepared=True)
    per_row = (time.perf_counter() - t0) / len(sample)
    width = len(predictor.members[0][0].required_columns)

    def planned(rows: int) -> float:
        return per_row * rows * (width * repeats + top * 20)

    if planned(len(sample)) <= seconds:
        return len(sample), repeats, top
    keep = max(MIN_ROWS, int(len(sample) * seconds / planned(len(sample))))
    if planned(keep) > seconds:  # still too slow at the fewest rows: fewer shuffles and PD plots
        share = seconds / planned(keep)
        repeats, top = max(2, int(repeats * share)), max(2, int(top * share))
    return keep, repeats, top


def _attribution_views(learner, pre, head) -> dict[str, Any]:
    """The attribution the learner says it supports (``capabilities.explanation``), on ``head``."""
    method = learner.capabilities.explanation
    if method == "tree_shap":
        return {"shap": tree_shap(learner, pre, pre.transform(head), head)}
    if method == "integrated_gradients":
        return {"integrated_gradients": integrated_gradients(learner, pre, pre.transform(head), head)}
    if method == "coefficients":
        return {"coefficients": _coefficients(learner, pre)}
    return {}


def _note(predictor, result: dict[str, Any], rows: int, summary_rows: int) -> str:
    """One sentence on what was explained, for the report."""
    members = len(predictor.members)
    name = predictor.members[0][1].name
    note = f"Explained {rows} test rows of the {name} model"
    what = f"member 1 of {members} (multiple imputation)" if members > 1 else "the model"
    if result["shap"] or result["integrated_gradients"]:
        method = "TreeSHAP" if result["shap"] else "integrated gradients"
        note += f"; {method} explains {what} on the first {summary_rows} of them"
    elif result["coefficients"]:
        note += f"; coefficients are those of {what}"
    else:
        note += f"; no attributions are available for {name} models"
    if members > 1:
        note += "; permutation importance and partial dependence use the pooled predictor"
    return note + "."


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


def _rounded(value):
    """``value`` with every float rounded to 6 significant digits."""
    if isinstance(value, float):
        return float(f"{value:.6g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def _native(value):
    """A numpy scalar as the matching Python value (JSON cannot hold numpy types)."""
    return value.item() if isinstance(value, np.generic) else value
