"""Model explanations per raw column, as plain JSON data for the evaluation report.

Four views, all per raw column (what a user sees, not the encoded features):

- ``permutation_importance``: how much the test metric drops when one column is
  shuffled (any model, through the full predictor).
- ``tree_shap``: exact TreeSHAP contributions of a LightGBM learner, from
  LightGBM's own implementation (``pred_contrib=True``), in the trees' margin space.
- ``integrated_gradients``: path attributions of an MLP learner (captum).
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
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise DataError(f"permutation importance: column(s) {', '.join(map(str, absent))} are not in the data",
                        column=absent[0])
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
    """Exact TreeSHAP contributions of a LightGBM learner, summed per raw column.

    Uses LightGBM's implementation of Lundberg et al.'s algorithm
    (``booster_.predict(X, pred_contrib=True)``), so no ``shap`` package is needed. Values are in
    the trees' margin space: the log-odds of ``classes[1]`` for binary classification, the raw
    score (softmax input) of each row's predicted class for multiclass, the predicted value for
    regression.

    Args:
        learner: a fitted ``LightGBMLearner``.
        pre: its fitted ``Preprocessor``.
        X: features, ``pre.transform(frame_values)``; only the first ``max_rows`` rows are explained.
        frame_values: the raw rows behind ``X`` (a DataFrame), for feature values and row ids.
        max_rows: most rows explained.

    Returns:
        See ``_attribution_result``; ``space`` is "log-odds", "raw score" or "value" and ``base``
        the trees' expected value per output.

    Example:
        >>> X = pre.transform(frame); tree_shap(learner, pre, X, frame)["mean_abs"]  # doctest: +SKIP
        [0.91, 0.33, 0.02]
    """
    X = X[:max_rows]
    n, width = X.shape
    contrib = np.asarray(learner.booster_.predict(X, pred_contrib=True), dtype=np.float64)
    contrib = contrib.reshape(n, -1, width + 1)  # (rows, outputs, features + expected value)
    classes = learner.classes_.tolist() if learner.task == "classification" else None
    space = "value" if classes is None else ("log-odds" if len(classes) == 2 else "raw score")
    base = contrib[0, :, width] if n else np.zeros(contrib.shape[1])  # the same for every row
    margin = contrib.sum(axis=2)  # (rows, outputs); equals predict(raw_score=True)
    pick = _explained_output(margin)
    return _attribution_result(space, classes, pre, contrib[np.arange(n), pick, :width], pick, base, margin,
                               frame_values)


def integrated_gradients(learner, pre, X, frame_values, *, steps: int = 50, baseline=None,
                         max_rows: int = SUMMARY_ROWS) -> dict[str, Any]:
    """Integrated gradients (Sundararajan et al. 2017) of an MLP learner, summed per raw column.

    Computed with captum's ``IntegratedGradients`` (Gauss-Legendre rule, ``steps`` points) on
    ``learner.net_`` (float32). The default baseline is the zero vector of the standardised
    feature space: every numeric feature at its training mean (after imputation), every
    missing-value indicator off and no level of a one-hot column set. The output explained:
    the log-odds of ``classes[1]`` (the difference of the two logits) for binary
    classification, the logit (softmax input) of each row's predicted class for multiclass,
    the predicted value (de-standardised) for regression.

    Args:
        learner: a fitted ``MLPLearner``.
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

    Example:
        >>> integrated_gradients(learner, pre, pre.transform(frame), frame)["delta"]  # doctest: +SKIP
        0.0004
    """
    import torch
    from captum.attr import IntegratedGradients

    x = torch.as_tensor(np.asarray(X[:max_rows], dtype=np.float32))  # (rows, features)
    start = torch.zeros((1, x.shape[1])) if baseline is None else \
        torch.as_tensor(np.asarray(baseline, dtype=np.float32)).reshape(1, -1)
    space, forward = _mlp_outputs(learner)
    with torch.no_grad():
        margin = forward(x).double().numpy()  # (rows, outputs)
        base = forward(start)[0].double().numpy()  # (outputs,)
    pick = _explained_output(margin)
    phi, delta = np.zeros(tuple(x.shape)), 0.0
    if len(x):
        attr, err = IntegratedGradients(forward).attribute(
            x, baselines=start.expand_as(x), target=torch.as_tensor(pick), n_steps=steps,
            internal_batch_size=max(steps, 16384), return_convergence_delta=True)
        phi, delta = attr.detach().double().numpy(), float(err.abs().max())
    classes = learner.classes_.tolist() if learner.task == "classification" else None
    result = _attribution_result(space, classes, pre, phi, pick, base, margin, frame_values)
    result.update(delta=delta, baseline="zeros (training means)" if baseline is None else "given")
    return result


def _mlp_outputs(learner) -> tuple[str, Callable]:
    """The space and the function explained: (rows, features) -> (rows, outputs)."""
    net = learner.net_
    if learner.task == "regression":
        return "value", lambda x: net(x)[:, :1] * learner.y_std_ + learner.y_mean_
    if len(learner.classes_) == 2:
        def log_odds(x):
            z = net(x)  # (rows, 2); softmax over two logits: log(p1 / p0) = z1 - z0
            return z[:, 1:2] - z[:, 0:1]

        return "log-odds", log_odds
    return "logit", net


def _explained_output(margin: np.ndarray) -> np.ndarray:
    """Per row, the output explained: the predicted class when there are several, else the only one."""
    return margin.argmax(axis=1) if margin.shape[1] > 1 else np.zeros(len(margin), dtype=np.int64)


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
    pooled). Attributions explain member 0: TreeSHAP for LightGBM, integrated gradients for an
    MLP, coefficients for a linear model; on the first ``SUMMARY_ROWS`` sampled rows, and the
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
    import sys

    def is_a(module: str, name: str) -> bool:  # without importing the module (torch for the MLP) just to check
        cls = getattr(sys.modules.get(module), name, None)
        return cls is not None and isinstance(learner, cls)

    if len(frame) == 0:
        raise DataError("explain needs at least one labelled test row; got none")
    chosen = _positions(len(frame), rows, seed)
    sample, y = frame.iloc[chosen], np.asarray(y)[chosen]
    pre, learner = predictor.members[0]
    limited = None
    if seconds is not None and len(sample) > MIN_ROWS:
        t0 = time.perf_counter()
        predictor.output(sample, prepared=True)
        per_row = (time.perf_counter() - t0) / len(sample)
        def planned(rows: int) -> float:
            return per_row * rows * (len(pre.required_columns) * repeats + top * 20)

        if planned(len(sample)) > seconds:
            keep = max(MIN_ROWS, int(len(sample) * seconds / planned(len(sample))))
            limited = (len(sample), keep, repeats, top)
            sample, y = sample.iloc[:keep], y[:keep]
            if planned(keep) > seconds:  # still too slow at the fewest rows: fewer shuffles and PD plots
                share = seconds / planned(keep)
                repeats, top = max(2, int(repeats * share)), max(2, int(top * share))
                limited = (limited[0], keep, repeats, top)
    permutation = permutation_importance(predictor, sample, y, task, metric, repeats=repeats, seed=seed)
    head = sample.iloc[:SUMMARY_ROWS]
    X = pre.transform(head)
    result: dict[str, Any] = {"rows": len(sample), "permutation": permutation, "shap": None,
                              "integrated_gradients": None, "coefficients": None}
    if is_a("trainwright.models.gbdt", "LightGBMLearner"):
        result["shap"] = tree_shap(learner, pre, X, head)
    elif is_a("trainwright.models.neural.tabular", "MLPLearner"):
        result["integrated_gradients"] = integrated_gradients(learner, pre, X, head)
    elif is_a("trainwright.models.linear", "LinearLearner"):
        result["coefficients"] = _coefficients(learner, pre)
    columns = [c["column"] for c in permutation["columns"][:top]]
    result["partial_dependence"] = [partial_dependence(predictor, sample, c, seed=seed) for c in columns]
    result["note"] = _note(predictor, result, len(sample), len(head))
    if limited:
        result["note"] += (f" Predictions of this model are slow, so to keep explanations near {seconds:g} s "
                           f"(evaluate.explain.seconds) {limited[1]} of {limited[0]} sampled rows were used, "
                           f"with {limited[2]} shuffles per column and {limited[3]} partial dependence plots.")
    return _rounded(result)


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
    weight = np.abs(np.atleast_2d(learner.coef_)).sum(axis=0)  # (features,)
    totals: dict[str, float] = {}
    for source, w in zip(pre.feature_sources(), weight):
        totals[source] = totals.get(source, 0.0) + float(w)
    columns = [{"column": c, "value": v} for c, v in sorted(totals.items(), key=lambda item: -item[1])]
    return {"note": "sum of |coefficient| over each column's standardised features"
                    + (" and the classes" if learner.coef_.shape[0] > 1 else ""), "columns": columns}


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
