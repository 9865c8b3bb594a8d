"""Metrics of an evaluation report: point values, per-class values, threshold choice.

Classification metrics come from one weighted core: a weight matrix ``w`` of
shape (resamples, rows) says how often each row counts. All ones scores the
sample itself; the bootstrap (``trainwright.evaluate.bootstrap``) draws
multinomial counts, so one code path gives both the point values and the
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
    "score_learner",
]

LOWER_IS_BETTER = frozenset({"log_loss", "brier", "ece", "mse", "rmse", "mae", "mape"})
CLASSIFICATION_METRICS = (
    "accuracy", "precision", "recall", "f1", "roc_auc", "log_loss",
    "balanced_accuracy", "specificity", "precision_weighted", "recall_weighted", "f1_weighted",
    "specificity_weighted", "pr_auc", "brier", "ece", "mcc",
)
REGRESSION_METRICS = ("rmse", "mae", "r2", "mse", "mape")
ECE_BINS = 15
MAPE_RTOL = 1e-12  # MAPE skips rows with |y| <= MAPE_RTOL * max|y|: zeros, and zeros up to rounding
_RANKED = frozenset({"roc_auc", "pr_auc"})


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


def score_learner(task: str, learner, X, y, *, threshold: float | None = None) -> dict[str, float | None]:
    """Score a fitted learner on features ``X`` and raw targets ``y`` (labels or values)."""
    if task == "classification":
        return score(task, learner.encode_labels(y), learner.predict_proba(X), learner.classes_.tolist(),
                     threshold=threshold)
    return score(task, y, learner.predict(X))


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
        "specificity", "roc_auc", "pr_auc"}; precision, recall, F1 and specificity are
        0.0 when their denominator is empty (as scikit-learn's ``zero_division=0``);
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
            **{m: float(per[m][0, k]) for m in ("precision", "recall", "f1", "specificity")},
            "roc_auc": _plain(ranked[k][0][0]),
            "pr_auc": _plain(ranked[k][1][0]),
        }
        for k, label in enumerate(classes)
    ]


class _ClassRows:
    """A classification sample prepared once for weighted scoring.

    Rows are kept in one fixed order (binary: ascending P(class 1)), so a bootstrap
    may draw its weights in that order: resampling rows does not depend on their order.
    """

    def __init__(self, y: np.ndarray, proba: np.ndarray, threshold: float | None) -> None:
        self.n, self.k = proba.shape
        order = np.lexsort((y == 1, proba[:, 1])) if self.k == 2 else np.arange(self.n)
        self.y, self.proba = y[order], proba[order]
        self.pred = predicted_classes(self.proba, threshold)
        cells = self.y * self.k + self.pred
        self._cells = _groups(cells)
        self._ranks: dict[int, tuple] = {}

    def values(self, w: np.ndarray, names) -> dict[str, np.ndarray]:
        """{name: (resamples,) array}, NaN where a metric is undefined."""
        names = set(names)
        out: dict[str, np.ndarray] = {}
        if names - _RANKED - {"log_loss", "brier", "ece"}:
            out.update(_from_confusion(self.confusion(w)))
        if names & _RANKED:
            ap = "pr_auc" in names
            ranked = [self.ranking(w, k, ap) for k in ([1] if self.k == 2 else range(self.k))]
            auc = np.mean([a for a, _ in ranked], axis=0)  # NaN as soon as one class is absent
            out["roc_auc"] = auc
            if ap:
                out["pr_auc"] = np.where(np.isnan(auc), np.nan, np.mean([p for _, p in ranked], axis=0))
        if "log_loss" in names:
            eps = np.finfo(np.float64).eps
            p_true = np.clip(self.proba[np.arange(self.n), self.y], eps, 1 - eps)
            out["log_loss"] = _dot(w, -np.log(p_true)) / self.n
        if "brier" in names:
            if self.k == 2:
                sq = (self.y - self.proba[:, 1]) ** 2
            else:
                sq = ((np.eye(self.k)[self.y] - self.proba) ** 2).sum(axis=1)
            out["brier"] = _dot(w, sq) / self.n
        if "ece" in names:
            conf = self.proba.max(axis=1)
            gap = (self.proba.argmax(axis=1) == self.y) - conf
            bins = np.searchsorted(np.linspace(0, 1, ECE_BINS + 1)[1:-1], conf)
            # Per bin |sum(correct) - sum(confidence)| / n == (count/n) * |accuracy - mean confidence|.
            out["ece"] = np.abs(_group_sums(w * gap, _groups(bins))).sum(axis=1) / self.n
        return out

    def confusion(self, w: np.ndarray) -> np.ndarray:
        """Weighted confusion matrices, shape (resamples, K, K); rows are true classes."""
        ids = self._cells[0]
        out = np.zeros((w.shape[0], self.k * self.k))
        out[:, ids] = _group_sums(w, self._cells)
        return out.reshape(-1, self.k, self.k)

    def ranking(self, w: np.ndarray, k: int, ap: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """ROC-AUC and average precision of class ``k`` against the rest, (resamples,) each.

        Rows are sorted by score, and within a tied score the other classes before class
        k; ``s`` holds the weight of each run of equal (score, is class k). A class-k run
        of weight ``s`` whose tied score weighs ``g`` in all sits at mid-rank ``mid``: the
        weight below that score plus g/2. The Mann-Whitney count of (class k, other)
        pairs in order, ties as one half, is then sum(s * mid) - P^2/2 (P: class-k weight).
        Average precision is scikit-learn's step rule: the precision at each distinct
        threshold, weighted by the class-k weight that threshold adds.
        AUC is NaN when either side is empty, AP when class k is.
        """
        if k not in self._ranks:
            self._ranks[k] = self._runs(k)
        order, starts, runs, prev, tied = self._ranks[k]
        ws = w if order is None else np.take(w, order, axis=1)
        s = ws if starts is None else np.add.reduceat(ws, starts, axis=1)  # (resamples, runs)
        c = np.cumsum(s, axis=1)
        total = c[:, -1]
        # Only the class-k runs matter from here: s_pos their weight, mid their mid-rank,
        # that is the weight below them plus half their tied score.
        s_pos = np.take(s, runs, axis=1)
        half_tie = 0.5 * (s_pos + np.take(s, prev, axis=1) * tied)
        mid = np.take(c, runs, axis=1) - half_tie  # c ends the run: below + tied others + s_pos
        n_pos = s_pos.sum(axis=1)
        n_neg = total - n_pos
        with np.errstate(invalid="ignore", divide="ignore"):
            auc = (np.einsum("ij,ij->i", s_pos, mid) - 0.5 * n_pos**2) / (n_pos * n_neg)
            auc[(n_pos == 0) | (n_neg == 0)] = np.nan
            if not ap:
                return auc, None
            # At the threshold of each class-k run: its class-k weight and all weight at scores >= it.
            tp = n_pos[:, None] - np.cumsum(s_pos, axis=1) + s_pos
            above = total[:, None] - mid + half_tie
            precision = np.divide(tp, above, out=np.zeros_like(tp), where=above > 0)
            avg_precision = (s_pos * precision).sum(axis=1) / n_pos
        return auc, avg_precision

    def _runs(self, k: int) -> tuple:
        """Sort order and runs of equal (score, is class k) for ``ranking``."""
        score, is_pos = self.proba[:, k], self.y == k
        order = np.lexsort((is_pos, score))
        if self.k == 2 and k == 1:
            order = None  # the rows are already in this order
        sc, ip = (score, is_pos) if order is None else (score[order], is_pos[order])
        starts = np.flatnonzero(np.r_[True, (sc[1:] != sc[:-1]) | (ip[1:] != ip[:-1])])
        run_score, run_pos = sc[starts], ip[starts]
        runs = np.flatnonzero(run_pos)
        prev = np.maximum(runs - 1, 0)
        # The run before a class-k run holds the other rows of the same score, or none.
        tied = ((runs > 0) & ~run_pos[prev] & (run_score[prev] == run_score[runs])).astype(np.float64)
        return order, (None if len(starts) == self.n else starts), runs, prev, tied


def _per_class(c: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class counts and rates, (resamples, K) each, from confusion matrices (resamples, K, K)."""
    tp = np.diagonal(c, axis1=1, axis2=2)
    support, predicted = c.sum(axis=2), c.sum(axis=1)
    fp, fn = predicted - tp, support - tp
    tn = c.sum(axis=(1, 2))[:, None] - tp - fp - fn
    return {
        "tp": tp, "support": support, "predicted": predicted,
        "precision": _div(tp, predicted), "recall": _div(tp, support),
        "f1": _div(2 * tp, 2 * tp + fp + fn), "specificity": _div(tn, tn + fp),
    }


def _from_confusion(c: np.ndarray) -> dict[str, np.ndarray]:
    """Every metric of the predicted labels, (resamples,) each, from confusion matrices."""
    per = _per_class(c)
    support, predicted = per["support"], per["predicted"]
    present = (support + predicted) > 0
    total = support.sum(axis=1)
    out = {"accuracy": per["tp"].sum(axis=1) / total}
    for m in ("precision", "recall", "f1", "specificity"):
        out[m] = (per[m] * present).sum(axis=1) / present.sum(axis=1)
        out[f"{m}_weighted"] = (per[m] * support).sum(axis=1) / total
    out["balanced_accuracy"] = (per["recall"] * (support > 0)).sum(axis=1) / (support > 0).sum(axis=1)
    # Matthews correlation, multiclass form (Gorodkin 2004), as scikit-learn: 0 when undefined.
    cov_tp = per["tp"].sum(axis=1) * total - (support * predicted).sum(axis=1)
    denom = np.sqrt((total**2 - (predicted**2).sum(axis=1)) * (total**2 - (support**2).sum(axis=1)))
    out["mcc"] = _div(cov_tp, denom)
    return out


def predicted_classes(proba: np.ndarray, threshold: float | None) -> np.ndarray:
    """Class positions from probabilities: P(class 1) >= ``threshold`` for two classes when given, else argmax.
    The one rule behind the metrics and ``Predictor.predict``."""
    if threshold is None:
        return proba.argmax(axis=1)
    from trainwright.errors import ConfigError

    if proba.shape[1] != 2:
        raise ConfigError(f"evaluate.threshold applies to two classes only; this task has {proba.shape[1]}. "
                          "Remove the threshold.", path="evaluate.threshold")
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"evaluate.threshold must be within [0, 1], got {threshold}", path="evaluate.threshold")
    return (proba[:, 1] >= threshold).astype(np.intp)


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


def _groups(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(distinct keys, order that sorts keys, start of each key's run in that order)."""
    order = np.argsort(keys, kind="stable")
    k = keys[order]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    return k[starts], order, starts


def _group_sums(w: np.ndarray, groups: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    _, order, starts = groups
    return np.add.reduceat(np.take(w, order, axis=1), starts, axis=1)


def _dot(w: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(resamples, rows) @ (rows,) without BLAS threads, which spin badly when other work shares the cores."""
    return np.einsum("ij,j->i", w, v)


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.divide(a, b, out=np.zeros(np.broadcast(a, b).shape), where=b > 0)


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
