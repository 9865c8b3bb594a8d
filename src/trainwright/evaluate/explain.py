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

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from trainwright.data.columns import require_columns
from trainwright.evaluate.attributions import SUMMARY_ROWS, _native, attribution_views
from trainwright.errors import DataError
from trainwright.evaluate.metrics import LOWER_IS_BETTER, score

__all__ = ["explain", "partial_dependence", "permutation_importance"]

MIN_ROWS = 100  # explanations never use fewer sampled rows than this (unless the test set is smaller)
# Individual conditional expectation curves kept per partial dependence.
ICE_CURVES = 20
PD_GRID = 20  # grid points of a partial dependence: about as many predictions of the sample


# --- permutation importance -----------------------------------------------------------
def permutation_importance(predictor, frame, y, task: str, metric: str, *, repeats: int = 5, seed: int = 0,
                           columns: Sequence[str] | None = None, deadline: float | None = None) -> dict[str, Any]:
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
        if deadline is not None and out and time.monotonic() > deadline:
            break  # the columns come in order of interest: the rest are left out
        values = frame[column].reset_index(drop=True)
        shuffled = stacked.copy(deep=False)
        shuffled[column] = pd.concat([values.iloc[rng.permutation(n)] for _ in range(repeats)], ignore_index=True)
        output = predictor.output(shuffled, prepared=True)
        drops = np.array([sign * (baseline - measure(output[r * n:(r + 1) * n])) for r in range(repeats)])
        out.append({"column": _native(column), "mean": float(drops.mean()), "std": float(drops.std())})
    out.sort(key=lambda c: -c["mean"])
    return {"metric": metric, "baseline": baseline, "repeats": int(repeats), "columns": out,
            "left_out": len(columns) - len(out)}


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
    head = sample.iloc[:SUMMARY_ROWS]
    result: dict[str, Any] = {"shap": None, "integrated_gradients": None, "coefficients": None}
    result.update(attribution_views(learner, pre, head))
    deadline = None if seconds is None else time.monotonic() + seconds
    plan = _within_time(predictor, sample, repeats, top, seconds)
    sample, y = sample.iloc[:plan.rows], y[:plan.rows]
    columns = _ranked_columns(result, pre.required_columns, seed)[:plan.columns]
    permutation = permutation_importance(predictor, sample, y, task, metric, repeats=plan.repeats, seed=seed,
                                         columns=columns, deadline=deadline)
    result.update(rows=len(sample), permutation=permutation)
    result["partial_dependence"] = []
    for c in _curve_columns(permutation, sample, pre.kinds)[:plan.top]:
        if deadline is not None and time.monotonic() > deadline:
            break
        result["partial_dependence"].append(partial_dependence(predictor, sample, c, seed=seed))
    result["note"] = _note(predictor, result, len(sample), len(head))
    result["note"] += _cut_note(plan, len(permutation["columns"]), len(result["partial_dependence"]), seconds)
    return _rounded(result)


def _curve_columns(permutation: dict[str, Any], sample, kinds: dict[str, str]) -> list[str]:
    """Columns for partial dependence, most important first: those with values, not text or image columns (a
    grid of whole texts or images says nothing)."""
    return [c["column"] for c in permutation["columns"] if sample[c["column"]].notna().any()
            and kinds.get(c["column"]) not in ("text", "image")]


def _cut_note(plan, shuffled: int, plots: int, seconds: float | None) -> str:
    """What the time bound cut, for the report's note ("" when nothing was cut)."""
    if plan.asked == (plan.rows, plan.repeats, plots, shuffled):
        return ""
    return (f" Predictions of this model are slow, so to keep explanations near {seconds:g} s {plan.rows} of "
            f"{plan.asked[0]} sampled rows were used, with {plan.repeats} shuffles per column, {plots} partial "
            "dependence plots" + (f" and {shuffled} of {plan.asked[3]} columns shuffled (those the attributions rank "
                                  "first)" if shuffled < plan.asked[3] else "") + ".")


@dataclass(frozen=True)
class _Plan:
    """How much of the explanations fits the time: rows, shuffles per column, PD plots, columns shuffled."""

    rows: int
    repeats: int
    top: int
    columns: int
    asked: tuple[int, int, int, int]


def _within_time(predictor, sample, repeats: int, top: int, seconds: float | None) -> _Plan:
    """Fewer rows first (down to ``MIN_ROWS``), then fewer shuffles and plots, then fewer columns, until the
    predictions permutation importance and partial dependence make fit in about ``seconds``."""
    width = len(predictor.members[0][0].required_columns)
    asked = (len(sample), repeats, top, width)
    if seconds is None:
        return _Plan(*asked, asked)
    t0 = time.perf_counter()
    predictor.output(sample, prepared=True)
    per_call = time.perf_counter() - t0  # one prediction of the whole sample

    def planned(rows: int, repeats: int, top: int, columns: int) -> float:
        return per_call * rows / len(sample) * (columns * repeats + top * PD_GRID)

    keep = len(sample)
    if planned(keep, repeats, top, width) > seconds and keep > MIN_ROWS:
        keep = max(MIN_ROWS, int(keep * seconds / planned(keep, repeats, top, width)))
    if planned(keep, repeats, top, width) > seconds:
        share = seconds / planned(keep, repeats, top, width)
        repeats, top = max(2, int(repeats * share)), max(2, int(top * share))
    columns = width
    if planned(keep, repeats, top, width) > seconds:
        one_column = planned(keep, repeats, 0, 1)
        columns = max(5, min(width, int((seconds - planned(keep, 0, top, 0)) / one_column)))
    return _Plan(keep, repeats, top, columns, asked)


def _ranked_columns(result: dict[str, Any], columns: list[str], seed: int) -> list[str]:
    """The raw columns, those the attributions rank highest first (a seeded shuffle when there are none)."""
    for key in ("shap", "integrated_gradients", "coefficients"):
        view = result.get(key)
        if view:
            if key == "coefficients":
                scores = {c["column"]: c["value"] for c in view["columns"]}
            else:
                scores = dict(zip(view["columns"], view["mean_abs"]))
            return sorted(columns, key=lambda c: -abs(scores.get(c, 0.0)))
    order = np.random.default_rng(seed).permutation(len(columns))
    return [columns[i] for i in order]


def _note(predictor, result: dict[str, Any], rows: int, summary_rows: int) -> str:
    """One sentence on what was explained, for the report."""
    members = len(predictor.members)
    name = predictor.members[0][1].name
    note = f"Explained {rows} test rows of the {name} model"
    pooling = "multiple imputation" if getattr(predictor, "pooling", None) != "ensemble" else \
        "an ensemble; its heaviest entry's first fold model"
    what = f"member 1 of {members} ({pooling})" if members > 1 else "the model"
    if result["shap"] or result["integrated_gradients"]:
        method = "TreeSHAP" if result["shap"] else "integrated gradients"
        note += f"; {method} explains {what} on the first {summary_rows} of them"
    elif result["coefficients"]:
        note += f"; coefficients are those of {what}"
    elif predictor.members[0][1].capabilities.reads_tokens:
        note += f"; the {name} model reads token ids, so its attributions are per word (which words decide, below)"
    else:
        note += f"; no attributions are available for {name} models"
    if members > 1:
        note += "; permutation importance and partial dependence use the pooled predictor"
    return note + "."


def _rounded(value):
    """``value`` with every float rounded to 6 significant digits."""
    if isinstance(value, float):
        return float(f"{value:.6g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value
