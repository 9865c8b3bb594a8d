"""Scoring predictions against raw targets, one way everywhere: model selection, metrics.json, ``evaluate``,
the report and cross-validation all call ``score_output``."""

from __future__ import annotations

from typing import Any

import numpy as np

from trainwright.data.labels import align_labels, encode_labels
from trainwright.evaluate.metrics import score

__all__ = ["score_output", "encode_targets"]


def encode_targets(task: str, y, classes) -> np.ndarray:
    """Raw targets as ``score`` takes them: class positions (classification, labels aligned to the classes'
    type first) or float values.

    Example:
        >>> encode_targets("classification", [1.0, 0.0], [0, 1]).tolist()
        [1, 0]
    """
    if task == "classification":
        classes = np.asarray(classes)
        return encode_labels(align_labels(y, classes), classes)
    return np.asarray(y, dtype=np.float64)


def score_output(task: str, y, output, classes=None, *, threshold: float | None = None) -> dict[str, Any]:
    """Every metric of ``output`` (probabilities or values) against raw targets ``y`` (labels or values).

    Args:
        classes: the class labels in output-column order (classification).
        threshold: binary only: predict the second class when its probability reaches this.

    Example:
        >>> m = score_output("classification", ["a", "b"], np.array([[0.9, 0.1], [0.2, 0.8]]), ["a", "b"])
        >>> m["accuracy"], round(m["log_loss"], 4)
        (1.0, 0.1643)
    """
    if task == "classification":
        return score(task, encode_targets(task, y, classes), output, list(classes), threshold=threshold)
    return score(task, np.asarray(y, dtype=np.float64), output)
