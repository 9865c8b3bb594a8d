"""Data for the plots of an evaluation report: ROC, precision-recall, calibration, confusion, thresholds, residuals.

Every function returns plain Python lists, floats and ints (JSON as it is). Curves
are thinned to at most ``max_points`` points spread evenly along their length,
always keeping both ends; the areas under them (AUC, average precision) are
computed on all rows, before thinning.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trainwright.evaluate.metrics import _check_classification as _check
from trainwright.evaluate.metrics import _check_regression, binary_counts

__all__ = ["calibration_bins", "confusion", "pr_curves", "regression_curves", "roc_curves", "threshold_curve"]

HISTOGRAM_BINS = 30


def roc_curves(y, proba, classes, max_points: int = 200) -> list[dict[str, Any]]:
    """ROC curves: one for class 1 with two classes, one per class (one-vs-rest) with more.

    Args:
        y: encoded labels 0..K-1, shape (rows,).
        proba: class probabilities, shape (rows, K).
        classes: the class labels, in probability-column order.
        max_points: the most points kept per curve (>= 2).

    Returns:
        [{"class", "fpr": [...], "tpr": [...], "auc": float}], points from (0, 0) to (1, 1);
        a class that is absent, or the only one present, gets empty lists and auc None.

    >>> roc_curves([0, 1, 1], [[0.8, 0.2], [0.3, 0.7], [0.6, 0.4]], ["no", "yes"])[0]["auc"]
    1.0
    """
    y, proba = _check(y, proba, len(classes))
    _check_points(max_points)
    out = []
    for k in _curve_classes(len(classes)):
        _, tp, fp = binary_counts(y == k, proba[:, k])
        n_pos, n_neg = tp[-1], fp[-1]
        entry = {"class": _label(classes[k]), "fpr": [], "tpr": [], "auc": None}
        if n_pos > 0 and n_neg > 0:
            fp, tp = np.r_[0.0, fp], np.r_[0.0, tp]
            # A point in the middle of a straight segment adds nothing; counts make the test exact.
            dfp, dtp = np.diff(fp), np.diff(tp)
            keep = np.r_[True, dfp[:-1] * dtp[1:] != dtp[:-1] * dfp[1:], True]
            fpr, tpr = fp[keep] / n_neg, tp[keep] / n_pos
            auc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))  # trapezoids: ties count one half
            idx = _thin(fpr, tpr, max_points)
            entry.update(fpr=fpr[idx].tolist(), tpr=tpr[idx].tolist(), auc=auc)
        out.append(entry)
    return out


def pr_curves(y, proba, classes, max_points: int = 200) -> list[dict[str, Any]]:
    """Precision-recall curves: one for class 1 with two classes, one per class with more.

    Points run as scikit-learn 1.9's ``precision_recall_curve`` gives them, reversed:
    from (recall 0, precision 1) through each distinct threshold, highest first, to the
    lowest, where recall is 1 and precision the prevalence.

    Args:
        y: encoded labels 0..K-1, shape (rows,).
        proba: class probabilities, shape (rows, K).
        classes: the class labels, in probability-column order.
        max_points: the most points kept per curve (>= 2).

    Returns:
        [{"class", "recall": [...], "precision": [...], "ap": float, "prevalence": float}]:
        ap is the average precision on all rows; prevalence the share of the class, the
        precision of a model that guesses. A class without rows gets empty lists and ap None.
    """
    y, proba = _check(y, proba, len(classes))
    _check_points(max_points)
    out = []
    for k in _curve_classes(len(classes)):
        _, tp, fp = binary_counts(y == k, proba[:, k])
        n_pos = tp[-1]
        entry = {"class": _label(classes[k]), "recall": [], "precision": [], "ap": None,
                 "prevalence": float(n_pos / len(y))}
        if n_pos > 0:
            precision, recall = tp / (tp + fp), tp / n_pos
            ap = float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
            recall, precision = np.r_[0.0, recall], np.r_[1.0, precision]
            idx = _thin(recall, precision, max_points)
            entry.update(recall=recall[idx].tolist(), precision=precision[idx].tolist(), ap=ap)
        out.append(entry)
    return out


def calibration_bins(y, proba, n_bins: int = 10) -> dict[str, Any]:
    """Reliability diagram data in ``n_bins`` equal-width bins of predicted probability.

    Two classes: P(class 1) against the frequency of class 1. More: the top-label
    confidence against the accuracy of the top label. A value on a bin edge falls in
    the lower bin, as in scikit-learn's ``calibration_curve(strategy="uniform")``.

    Args:
        y: encoded labels 0..K-1, shape (rows,).
        proba: class probabilities, shape (rows, K).
        n_bins: number of bins (>= 1).

    Returns:
        {"bins": [{"lo", "hi", "mean_predicted", "observed", "count"}] for every bin (means
        None when the bin is empty), "ece": the count-weighted mean |observed - mean_predicted|
        over these bins}. (The ``ece`` of ``classification_metrics`` is always top-label, 15 bins.)
    """
    y, proba = _check(y, proba)
    if n_bins < 1:
        from trainwright.errors import ConfigError

        raise ConfigError(f"n_bins must be >= 1, got {n_bins}", path="n_bins")
    if proba.shape[1] == 2:
        p, hit = proba[:, 1], (y == 1).astype(np.float64)
    else:
        p, hit = proba.max(axis=1), (proba.argmax(axis=1) == y).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    ids = np.searchsorted(edges[1:-1], p)
    count = np.bincount(ids, minlength=n_bins)
    sum_p, sum_hit = np.bincount(ids, p, n_bins), np.bincount(ids, hit, n_bins)
    bins = [
        {"lo": float(edges[b]), "hi": float(edges[b + 1]),
         "mean_predicted": float(sum_p[b] / count[b]) if count[b] else None,
         "observed": float(sum_hit[b] / count[b]) if count[b] else None, "count": int(count[b])}
        for b in range(n_bins)
    ]
    return {"bins": bins, "ece": float(np.abs(sum_hit - sum_p).sum() / len(y))}


def confusion(y, pred, n_classes: int) -> dict[str, list[list[float]]]:
    """Confusion matrix, rows the true class and columns the predicted one.

    Args:
        y: encoded true labels 0..K-1, shape (rows,).
        pred: encoded predicted labels 0..K-1, shape (rows,).
        n_classes: K.

    Returns:
        {"counts": K x K ints, "normalized": each row divided by its total (a class without
        rows keeps a row of zeros)}.

    >>> confusion([0, 1, 1], [0, 1, 0], 2)["normalized"]
    [[1.0, 0.0], [0.5, 0.5]]
    """
    y, pred = np.asarray(y, dtype=np.intp), np.asarray(pred, dtype=np.intp)
    if y.shape != pred.shape or (y.size and (min(y.min(), pred.min()) < 0 or max(y.max(), pred.max()) >= n_classes)):
        from trainwright.errors import DataError

        raise DataError(f"true and predicted labels must be encoded 0..{n_classes - 1} for the same rows")
    counts = np.bincount(y * n_classes + pred, minlength=n_classes * n_classes).reshape(n_classes, n_classes)
    totals = counts.sum(axis=1, keepdims=True)
    normalized = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    return {"counts": counts.tolist(), "normalized": normalized.tolist()}


def threshold_curve(y01, p1, max_points: int = 101) -> dict[str, list]:
    """Precision, recall and F1 of class 1 over a grid of thresholds from 0 to 1.

    A row is predicted positive when p1 >= threshold. A value is None where it is
    undefined: precision with no row predicted positive, recall (and F1 when also
    nothing is predicted positive) with no positive row.

    Args:
        y01: true labels, 0 or 1, shape (rows,).
        p1: P(class 1), shape (rows,).
        max_points: number of thresholds, evenly spaced over [0, 1] (>= 2).

    Returns:
        {"threshold", "precision", "recall", "f1"}: lists of max_points values.

    >>> threshold_curve([0, 1], [0.3, 0.8], max_points=3)["precision"]
    [0.5, 1.0, None]
    """
    _check_points(max_points)
    y01, p1 = np.asarray(y01), np.asarray(p1, dtype=np.float64)
    if y01.shape != p1.shape or y01.ndim != 1 or not np.isin(y01, (0, 1)).all():
        from trainwright.errors import DataError

        raise DataError("threshold_curve needs labels 0/1 and P(class 1) of the same rows")
    grid = np.round(np.linspace(0.0, 1.0, max_points), 12)  # 0.07, not 0.07000000000000001
    # Rows with p1 >= t, among all and among positives, by sorted position.
    predicted = len(p1) - np.searchsorted(np.sort(p1), grid, side="left")
    tp = np.sum(y01 == 1) - np.searchsorted(np.sort(p1[y01 == 1]), grid, side="left")
    n_pos = int(np.sum(y01 == 1))
    return {
        "threshold": grid.tolist(),
        "precision": [float(t / p) if p else None for t, p in zip(tp, predicted)],
        "recall": [float(t / n_pos) if n_pos else None for t in tp],
        "f1": [float(2 * t / (p + n_pos)) if p + n_pos else None for t, p in zip(tp, predicted)],
    }


def regression_curves(y, pred, max_points: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Points for predicted-against-actual and residual plots, and a residual histogram.

    Args:
        y: true values, shape (rows,).
        pred: predicted values, shape (rows,).
        max_points: the most rows sampled for the scatter plots (all rows when fewer).
        seed: seed of that sample.

    Returns:
        {"actual", "predicted", "residual": lists over the sampled rows, in their original
        order, residual = actual - predicted; "histogram": {"counts": 30 ints, "edges": 31
        floats} of the residuals of all rows}.
    """
    y, pred = _check_regression(y, pred)
    _check_points(max_points)
    residual = y - pred
    rows = np.arange(len(y))
    if len(y) > max_points:
        rows = np.sort(np.random.default_rng(seed).choice(len(y), size=max_points, replace=False))
    counts, edges = np.histogram(residual, bins=HISTOGRAM_BINS)
    return {"actual": y[rows].tolist(), "predicted": pred[rows].tolist(), "residual": residual[rows].tolist(),
            "histogram": {"counts": counts.tolist(), "edges": edges.tolist()}}


def _thin(x: np.ndarray, y: np.ndarray, max_points: int) -> np.ndarray:
    """Indices of at most ``max_points`` points spread evenly along the polyline's length, ends kept."""
    n = len(x)
    if n <= max_points:
        return np.arange(n)
    length = np.r_[0.0, np.cumsum(np.hypot(np.diff(x), np.diff(y)))]
    idx = np.searchsorted(length, np.linspace(0.0, length[-1], max_points))
    idx[-1] = n - 1  # the end, even after a run of repeated points
    return np.unique(idx)


def _curve_classes(k: int) -> range:
    return range(1, 2) if k == 2 else range(k)


def _label(v):
    return v.item() if isinstance(v, np.generic) else v


def _check_points(max_points: int) -> None:
    if max_points < 2:
        from trainwright.errors import ConfigError

        raise ConfigError(f"max_points must be >= 2 to keep both ends of a curve, got {max_points}",
                          path="max_points")
