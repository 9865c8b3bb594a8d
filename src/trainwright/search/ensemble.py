"""Greedy ensemble selection (Caruana, Niculescu-Mizil, Crew & Ksikes, ICML 2004) over out-of-fold outputs.

Start empty; each round add (with replacement) the model whose addition gives the best score of the
averaged outputs; the weights are how often each was added. It only ever sees out-of-fold predictions of
training rows, so the validation and test rows stay unseen.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["loss_function", "greedy_weights"]


def loss_function(task: str, y: np.ndarray, metric: str, classes: list | None = None) -> Callable[[np.ndarray], float]:
    """A loss (lower is better) of pooled outputs against ``y`` (class positions or values) for ``metric``.

    log_loss, rmse and mae are computed directly (they run once per model per round); other metrics go
    through ``evaluate.scoring.score_output`` and are negated when higher is better.

    Example:
        >>> f = loss_function("regression", np.array([1.0, 2.0]), "rmse")
        >>> f(np.array([1.0, 4.0])) == float(np.sqrt(2.0))
        True
    """
    if task == "classification" and metric == "log_loss":
        rows = np.arange(len(y))
        return lambda p: float(-np.mean(np.log(np.clip(p[rows, y], 1e-15, 1.0))))
    if task == "regression" and metric in ("rmse", "mse"):
        return lambda p: float(np.sqrt(np.mean((p - y) ** 2)))
    if task == "regression" and metric == "mae":
        return lambda p: float(np.mean(np.abs(p - y)))
    from trainwright.evaluate.metrics import LOWER_IS_BETTER
    from trainwright.evaluate.scoring import score_output

    labels = np.asarray(classes)[y] if task == "classification" else y
    sign = 1.0 if metric in LOWER_IS_BETTER else -1.0

    def loss(p: np.ndarray) -> float:
        value = score_output(task, labels, p, classes)[metric]
        return np.inf if value is None else sign * float(value)

    return loss


def greedy_weights(outputs: list[np.ndarray], loss: Callable[[np.ndarray], float], rounds: int = 25) -> tuple[np.ndarray, list[float]]:
    """Weights (summing to 1) of ``outputs`` chosen by greedy selection with replacement, and the loss after
    each round. Ties go to the earlier model; a round that cannot improve still adds the best choice (as in
    the paper), and the weights are taken at the round with the lowest loss.

    Example:
        >>> y = np.array([0.0, 1.0, 2.0, 3.0])
        >>> w, trace = greedy_weights([y + 1, y - 1, y * 0], loss_function("regression", y, "rmse"), rounds=4)
        >>> w.round(2).tolist(), trace[-1]
        ([0.5, 0.5, 0.0], 0.0)
    """
    counts = np.zeros(len(outputs))
    total = np.zeros_like(outputs[0], dtype=np.float64)
    trace: list[float] = []
    best = (np.inf, counts.copy())
    for r in range(rounds):
        scores = [loss((total + out) / (r + 1)) for out in outputs]
        pick = int(np.argmin(scores))
        counts[pick] += 1
        total += outputs[pick]
        trace.append(scores[pick])
        if scores[pick] < best[0] - 1e-12:
            best = (scores[pick], counts.copy())
    return best[1] / best[1].sum(), trace
