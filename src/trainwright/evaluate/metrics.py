"""Metrics of an evaluation report: point values, per-class values, threshold choice.

Classification metrics come from one weighted core (``evaluate/_confusion.py``):
a weight matrix ``w`` of shape (resamples, rows) says how often each row counts.
All ones scores the sample itself; the bootstrap (``trainwright.evaluate.bootstrap``)
draws multinomial counts, so one code path gives both the point values and the
resampled ones, and the tests check it against scikit-learn. A metric that
cannot be computed on the given rows (ROC-AUC when a class is absent, R2 of a
constant target) is ``None`` rather than a guess.

Macro averages (``precision``, ``recall``, ``f1``, ``specificity``) run over the
classes present in the true or the predicted labels, as scikit-learn's do;
weighted averages weigh each class by its number of true rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# ECE_BINS and predicted_classes are public here; they live beside the core that uses them.
from trainwright.evaluate._confusion import ECE_BINS, _ClassRows, _per_class, predicted_classes

__all__ = [
    "CLASSIFICATION_METRICS",
    "LOWER_IS_BETTER",
    "REGRESSION_METRICS",
    "better",
    "binary_counts",
    "choose_threshold",
    "classification_metrics",
    "per_class_metrics",
    "primary_metric",
    "regression_metrics",
    "residual_stats",
    "score",
]

LOWER_IS_BETTER = frozenset({"log_loss", "brier", "ece", "mse", "rmse", "mae", "mape"})
CLASSIFICATION_METRICS = (
    "accuracy", "precision", "recall", "f1", "roc_auc", "log_loss",
    "balanced_accuracy", "specificity", "precision_weighted", "recall_weighted", "f1_weighted",
    "specificity_weighted", "pr_auc", "brier", "ece", "mcc",
)
REGRESSION_METRICS = ("rmse", "mae", "r2", "mse", "mape")
MAPE_RTOL = 1e-12  # MAPE skips rows with |y| <= MAPE_RTOL * max|y|: zeros, and zeros up to rounding


def primary_metric(task: str, metric: str = "auto") -> str:
    """The metric used to choose among models.

    Args:
        task: "classification" or "regression".
        metric: a name from ``CLASSIFICATION_METRICS`` or ``REGRESSION_METRICS``, or "auto"
            (log_loss for classification, rmse for regression).

    Returns:
        The metric name.

    Raises:
        ConfigError: the metric does not apply to the task (path ``evaluate.metric``).

    >>> primary_metric("classification", "pr_auc")
    'pr_auc'
    """
    if metric == "auto":
        return "log_loss" if task == "classification" else "rmse"
    allowed = CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS
    if metric not in allowed:
        from trainwright.errors import ConfigError

        raise ConfigError(
            f"evaluate.metric '{metric}' does not apply to {task}; use one of: {', '.join(allowed)}",
            path="evaluate.metric",
        )
    return metric


def score(task: str, y_true, output, classes=None, *, threshold: float | None = None) -> dict[str, float | None]:
    """Score predictions.

    Args:
        task: "classification" or "regression".
        y_true: true labels (classification, encoded 0..K-1) or values.
        output: class probabilities, shape (rows, K), or predicted values.
        classes: the class labels, in probability-column order (classification only).
        threshold: binary only: predict class 1 when P(class 1) >= threshold.

    Returns:
        ``classification_metrics`` or ``regression_metrics`` of the rows.
    """
    if task == "classification":
        return classification_metrics(np.asarray(y_true), np.asarray(output), len(classes), threshold=threshold)
    return regression_metrics(np.asarray(y_true, dtype=np.float64), np.asarray(output, dtype=np.float64))


def better(metric: str, a: float | None, b: float | None) -> bool:
    """True when value ``a`` of ``metric`` beats ``b`` (None never wins)."""
    if a is None:
        return False
    if b is None:
        return True
    return a < b if metric in LOWER_IS_BETTER else a > b


# ----------------------------------------------------------------------------- classification


def classification_metrics(y, proba, n_classes: int, threshold: float | None = None) -> dict[str, float | None]:
    """Every classification metric of ``CLASSIFICATION_METRICS``, in that order.

    ``roc_auc`` is on P(class 1) for two classes and the one-vs-rest macro average
    otherwise; ``pr_auc`` is average precision the same way; both are None when a
    class is absent. ``brier`` matches scikit-learn 1.9's ``brier_score_loss``: for
    two classes the mean of (y - P(class 1))^2, range [0, 1]; for more, the mean over
    rows of the sum over classes of squared errors, range [0, 2] (scikit-learn
    scales by half only for two classes). ``ece`` is the expected calibration error
    of the top-label confidence (the argmax class, whatever the threshold) in 15
    equal-width bins, each weighted by its rows. ``log_loss`` clips probabilities to
    [eps, 1 - eps] as scikit-learn does.

    Args:
        y: encoded labels 0..K-1, shape (rows,).
        proba: class probabilities, shape (rows, K).
        n_classes: K.
        threshold: binary only: predict class 1 when P(class 1) >= threshold, else class 0.

    Returns:
        {metric name: float or None}.

    Raises:
        ConfigError: a threshold outside [0, 1], or one given for more than two classes.
        DataError: shapes or labels that do not fit.

    >>> m = classification_metrics([0, 1, 1], [[0.8, 0.2], [0.3, 0.7], [0.6, 0.4]], 2)
    >>> m["accuracy"], m["roc_auc"]
    (0.6666666666666666, 1.0)
    """
    y, proba = _check_classification(y, proba, n_classes)
    rows = _ClassRows(y, proba, threshold)
    values = rows.values(np.ones((1, rows.n)), CLASSIFICATION_METRICS)
    return {name: _plain(values[name][0]) for name in CLASSIFICATION_METRICS}


def per_class_metrics(y, proba, classes, threshold: float | None = None) -> list[dict[str, Any]]:
    """One-vs-rest metrics of each class.

    Args:
        y: encoded labels 0..K-1, shape (rows,).
        proba: class probabilities, shape (rows, K).
        classes: the class labels, in probability-column order.
        threshold: binary only, as in ``classification_metrics``.

    Returns:
        One dict per class: {"class", "support" (int), "precision", "recall", "f1",
        "specificity", "roc_auc", "pr_auc"}; precision, recall and F1 are 0.0 when their
        denominator is empty (as scikit-learn's ``zero_division=0``); specificity is None when
        every row is of the class (no negatives to be specific about);
        roc_auc is None when the class or its rest is absent, pr_auc when the class is.
    """
    y, proba = _check_classification(y, proba, len(classes))
    rows = _ClassRows(y, proba, threshold)
    w = np.ones((1, rows.n))
    per = _per_class(rows.confusion(w))
    ranked = [rows.ranking(w, k) for k in range(rows.k)]
    return [
        {
            "class": _plain(label),
            "support": int(per["support"][0, k]),
            **{m: _plain(float(per[m][0, k])) for m in ("precision", "recall", "f1", "specificity")},
            "roc_auc": _plain(ranked[k][0][0]),
            "pr_auc": _plain(ranked[k][1][0]),
        }
        for k, label in enumerate(classes)
    ]


# ----------------------------------------------------------------------------- regression


def regression_metrics(y, pred) -> dict[str, float | None]:
    """Every regression metric of ``REGRESSION_METRICS``, in that order.

    ``mape`` is mean(|y - pred| / |y|) as a fraction (0.1 is 10 %), over the rows with
    |y| > 1e-12 * max|y| (exact zeros and zeros up to rounding are skipped; the guard
    is relative, like the metric); None when no row qualifies. ``r2`` is None when y
    is constant.

    Args:
        y: true values, shape (rows,).
        pred: predicted values, shape (rows,).

    Returns:
        {"rmse", "mae", "r2", "mse", "mape"}: float or None.

    >>> regression_metrics([1.0, 2.0, 4.0], [1.0, 2.0, 3.0])["mae"]
    0.3333333333333333
    """
    y, pred = _check_regression(y, pred)
    err = pred - y
    mse = float(np.mean(err**2))
    ok = mape_rows(y)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    return {
        "rmse": float(np.sqrt(mse)),
        "mae": float(np.mean(np.abs(err))),
        "r2": None if np.all(y == y[0]) else 1.0 - float(np.sum(err**2)) / ss_tot,
        "mse": mse,
        "mape": float(np.mean(np.abs(err[ok]) / np.abs(y[ok]))) if ok.any() else None,
    }


def residual_stats(y, pred) -> dict[str, float | int]:
    """Summary of the residuals ``y - pred`` (actual minus predicted).

    Args:
        y: true values, shape (rows,).
        pred: predicted values, shape (rows,).

    Returns:
        {"mean", "std" (population, ddof=0), "median", "q05", "q95", "max_abs": floats, "n": int}.
    """
    y, pred = _check_regression(y, pred)
    r = y - pred
    q05, median, q95 = np.quantile(r, [0.05, 0.5, 0.95])
    return {"mean": float(r.mean()), "std": float(r.std()), "median": float(median), "q05": float(q05),
            "q95": float(q95), "max_abs": float(np.abs(r).max()), "n": int(r.size)}


def mape_rows(y: np.ndarray) -> np.ndarray:
    """Rows MAPE counts: those whose actual value is not (relatively) zero."""
    return np.abs(y) > MAPE_RTOL * np.abs(y).max()


# ----------------------------------------------------------------------------- threshold


def choose_threshold(y01, p1, method: str, target: float | None = None) -> dict[str, Any]:
    """Choose the decision threshold of a binary task on validation rows.

    A row is predicted positive when p1 >= threshold; the candidates are the distinct
    values of p1.

    Args:
        y01: true labels, 0 or 1, shape (rows,).
        p1: P(class 1), shape (rows,).
        method: "f1" (the threshold of the highest F1; the highest such threshold on ties),
            "precision" (the smallest threshold whose precision >= target: the highest
            recall that reaches the target precision) or "recall" (the largest threshold
            whose recall >= target).
        target: the precision or recall to reach, in (0, 1]; unused by "f1".

    Returns:
        {"method", "target", "threshold", "precision", "recall", "f1", "reached": bool,
        "note": str or None}. When no threshold reaches the target, "reached" is False,
        the threshold is the one of highest precision (then highest recall) and "note" says so.

    Raises:
        ConfigError: an unknown method (path ``evaluate.threshold.choose``) or a target
            outside (0, 1] (path ``evaluate.threshold.target``).
        DataError: labels other than 0/1, probabilities that are not finite, or no positive row.

    >>> choose_threshold([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9], "recall", 1.0)["threshold"]
    0.4
    """
    from trainwright.errors import ConfigError, DataError

    if method not in ("f1", "precision", "recall"):
        raise ConfigError(f"evaluate.threshold.choose must be one of f1, precision, recall; got '{method}'",
                          path="evaluate.threshold.choose")
    if method != "f1" and (target is None or not 0.0 < target <= 1.0):
        raise ConfigError(f"evaluate.threshold.target must be within (0, 1] for method '{method}', got {target}",
                          path="evaluate.threshold.target")
    y01, p1 = np.asarray(y01), np.asarray(p1, dtype=np.float64)
    if y01.shape != p1.shape or y01.ndim != 1 or not np.isin(y01, (0, 1)).all() or not np.isfinite(p1).all():
        raise DataError("choose_threshold needs labels 0/1 and finite P(class 1) of the same rows")
    thresholds, tp, fp = binary_counts(y01 == 1, p1)
    if tp.size == 0 or tp[-1] == 0:
        raise DataError("the rows hold no positive row, so no threshold can be chosen; use more validation rows")
    precision, recall = tp / (tp + fp), tp / tp[-1]
    f1 = 2 * tp / (tp + fp + tp[-1])
    note = None
    if method == "f1":
        i = int(np.argmax(f1))
    elif method == "recall":
        i = int(np.flatnonzero(recall >= target - 1e-12)[0])  # recall reaches 1 at the lowest threshold
    else:
        ok = np.flatnonzero(precision >= target - 1e-12)
        if ok.size:
            i = int(ok[-1])
        else:
            i = int(np.flatnonzero(precision == precision.max())[-1])
            note = (f"no threshold reaches precision {target:g} on these rows; the highest precision is "
                    f"{precision[i]:.4g}, at threshold {thresholds[i]:.4g} (recall {recall[i]:.4g})")
    return {"method": method, "target": None if method == "f1" or target is None else float(target),
            "threshold": float(thresholds[i]), "precision": float(precision[i]), "recall": float(recall[i]),
            "f1": float(f1[i]), "reached": note is None, "note": note}


def binary_counts(is_pos: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True and false positives at each distinct threshold, from the highest threshold down.

    Args:
        is_pos: bool, shape (rows,).
        score: scores, shape (rows,); a row is positive when score >= threshold.

    Returns:
        (thresholds descending, tp, fp), each of shape (distinct scores,).
    """
    order = np.argsort(-score, kind="stable")
    s, pos = score[order], is_pos[order]
    last = np.flatnonzero(np.r_[s[1:] != s[:-1], True]) if s.size else np.array([], dtype=np.intp)
    tp = np.cumsum(pos)[last].astype(np.float64)
    return s[last], tp, (last + 1) - tp


# ----------------------------------------------------------------------------- helpers



def _plain(v):
    """A numpy scalar as a Python one; NaN as None."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and np.isnan(v):
        return None
    return v


def _check_classification(y, proba, n_classes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    from trainwright.errors import DataError

    y, proba = np.asarray(y), np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2 or y.ndim != 1 or len(y) != len(proba) or len(y) == 0:
        raise DataError(f"need labels (rows,) and probabilities (rows, classes) of the same rows, at least one; "
                        f"got {y.shape} and {proba.shape}")
    k = proba.shape[1]
    if (n_classes is not None and k != n_classes) or k < 2:
        raise DataError(f"the probabilities have {k} columns for {n_classes} classes")
    if not np.isfinite(proba).all():
        raise DataError("the probabilities hold NaN or infinite values")
    if y.min() < 0 or y.max() >= k or not np.array_equal(y, y.astype(np.intp)):
        raise DataError(f"labels must be encoded 0..{k - 1}, got values from {y.min()} to {y.max()}")
    return y.astype(np.intp), proba


def _check_regression(y, pred) -> tuple[np.ndarray, np.ndarray]:
    from trainwright.errors import DataError

    y, pred = np.asarray(y, dtype=np.float64), np.asarray(pred, dtype=np.float64)
    if y.ndim != 1 or y.shape != pred.shape or len(y) == 0:
        raise DataError(f"need true and predicted values of the same rows, at least one; got {y.shape} and "
                        f"{pred.shape}")
    if not (np.isfinite(y).all() and np.isfinite(pred).all()):
        raise DataError("the true or predicted values hold NaN or infinite values")
    return y, pred
