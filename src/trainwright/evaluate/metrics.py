"""Metrics per task, computed with scikit-learn.

Classification: accuracy, precision, recall and F1 (macro averages over
classes), ROC-AUC (one-vs-rest for more than two classes) and log loss.
Regression: RMSE, MAE and R2. A metric that cannot be computed on the given
rows (ROC-AUC when a class is absent) is ``None`` rather than a guess.
"""

from __future__ import annotations

import numpy as np

__all__ = ["score", "score_learner", "better", "classification_metrics", "regression_metrics", "primary_metric", "LOWER_IS_BETTER"]

LOWER_IS_BETTER = frozenset({"log_loss", "rmse", "mae"})
CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
REGRESSION_METRICS = ("rmse", "mae", "r2")


def primary_metric(task: str, metric: str = "auto") -> str:
    """The metric used to choose among models; 'auto' -> log_loss or rmse."""
    if metric != "auto":
        allowed = CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS
        if metric not in allowed:
            from trainwright.errors import ConfigError

            raise ConfigError(
                f"evaluate.metric '{metric}' does not apply to {task}; use one of: {', '.join(allowed)}",
                path="evaluate.metric",
            )
        return metric
    return "log_loss" if task == "classification" else "rmse"


def score(task: str, y_true, output, classes=None) -> dict[str, float | None]:
    """Score predictions.

    Args:
        task: "classification" or "regression".
        y_true: true labels (classification, encoded 0..K-1) or values.
        output: class probabilities, shape (rows, K), or predicted values.
        classes: the class labels, in probability-column order (classification only).
    """
    if task == "classification":
        return classification_metrics(np.asarray(y_true), np.asarray(output), len(classes))
    return regression_metrics(np.asarray(y_true, dtype=np.float64), np.asarray(output, dtype=np.float64))


def score_learner(task: str, learner, X, y) -> dict[str, float | None]:
    """Score a fitted learner on features ``X`` and raw targets ``y`` (labels or values)."""
    if task == "classification":
        return score(task, learner.encode_labels(y), learner.predict_proba(X), learner.classes_.tolist())
    return score(task, y, learner.predict(X))


def classification_metrics(y: np.ndarray, proba: np.ndarray, n_classes: int) -> dict[str, float | None]:
    """Metrics from encoded labels ``y`` (0..K-1) and probabilities ``proba`` (rows, K)."""
    from sklearn import metrics as skm

    pred = np.argmax(proba, axis=1)
    labels = np.arange(n_classes)
    present = np.unique(y)
    out: dict[str, float | None] = {
        "accuracy": skm.accuracy_score(y, pred),
        # Averaged over the classes present in y_true or predicted, as scikit-learn does.
        "precision": skm.precision_score(y, pred, average="macro", zero_division=0),
        "recall": skm.recall_score(y, pred, average="macro", zero_division=0),
        "f1": skm.f1_score(y, pred, average="macro", zero_division=0),
        "roc_auc": None,
        "log_loss": skm.log_loss(y, np.clip(proba, 1e-15, 1.0), labels=labels),
    }
    if len(present) == n_classes:
        if n_classes == 2:
            out["roc_auc"] = skm.roc_auc_score(y, proba[:, 1])
        else:
            out["roc_auc"] = skm.roc_auc_score(y, proba, multi_class="ovr", labels=labels)
    return {k: (None if v is None else float(v)) for k, v in out.items()}


def regression_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float | None]:
    """RMSE, MAE and R2 (None when y is constant)."""
    err = pred - y
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    return {
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mae": float(np.mean(np.abs(err))),
        "r2": (1.0 - float(np.sum(err**2)) / ss_tot) if ss_tot > 0 else None,
    }


def better(metric: str, a: float | None, b: float | None) -> bool:
    """True when value ``a`` of ``metric`` beats ``b`` (None never wins)."""
    if a is None:
        return False
    if b is None:
        return True
    return a < b if metric in LOWER_IS_BETTER else a > b
