"""Post-hoc calibration of class probabilities (``evaluate.calibrate``), fitted on validation rows only.

- ``temperature``: one temperature T for every class, probabilities ``softmax(log p / T)`` (Guo et al., 2017):
  keeps the ranking and the predicted class, fixes over- or under-confidence.
- ``platt``: a logistic regression on the log-odds of each class's probability (one-vs-rest for more than two
  classes, then normalised): a sigmoid per class.
- ``isotonic``: an isotonic (non-decreasing) step function per class (one-vs-rest, normalised): the most
  flexible, it needs the most rows and can tie probabilities.
- ``auto``: the one of none, temperature, platt and (from 1,000 validation rows) isotonic with the lowest log
  loss in 5-fold cross-validation over the validation rows, kept only when it beats none by 1% or more, refitted
  on all of them.

No calibrator is fitted when a class has fewer than two validation rows (it would never be predicted again).

Saved as plain numbers (``calibration.json`` in the run); the predictor applies it after pooling the members.

Example:
    >>> rng = np.random.default_rng(0)
    >>> logits = rng.normal(size=(2000, 3)) * 3
    >>> y = np.array([rng.choice(3, p=np.exp(r) / np.exp(r).sum()) for r in logits])  # true temperature 1
    >>> overconfident = np.exp(2 * logits) / np.exp(2 * logits).sum(axis=1, keepdims=True)
    >>> cal = Calibrator.fit("temperature", overconfident, y)
    >>> round(cal.params["temperature"], 1)
    2.0
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["Calibrator", "choose_calibrator", "METHODS"]

METHODS = ("temperature", "platt", "isotonic")
_EPS = 1e-12


class Calibrator:
    """A fitted map from class probabilities to calibrated ones.

    Args:
        method: "temperature", "platt" or "isotonic".
        params: the fitted numbers (``fit`` makes them; ``to_dict``/``from_dict`` keep them).
    """

    def __init__(self, method: str, params: dict[str, Any]) -> None:
        self.method, self.params = method, params

    @classmethod
    def fit(cls, method: str, proba: np.ndarray, y: np.ndarray) -> "Calibrator":
        """Fit on probabilities ``proba`` (rows, classes) and class positions ``y``."""
        proba = np.asarray(proba, dtype=np.float64)
        if method == "temperature":
            return cls(method, {"temperature": _temperature(proba, y)})
        columns = [1] if proba.shape[1] == 2 else range(proba.shape[1])
        fit_one = _platt if method == "platt" else _isotonic
        return cls(method, {"classes": {str(k): fit_one(proba[:, k], (y == k).astype(float)) for k in columns}})

    def transform(self, proba: np.ndarray) -> np.ndarray:
        """Calibrated probabilities, rows summing to 1."""
        proba = np.asarray(proba, dtype=np.float64)
        if self.method == "temperature":
            return _softmax(np.log(np.clip(proba, _EPS, 1)) / self.params["temperature"])
        out = proba.copy()
        for k, fitted in self.params["classes"].items():
            p = proba[:, int(k)]
            out[:, int(k)] = (_sigmoid(fitted["a"] * _logit(p) + fitted["b"]) if self.method == "platt"
                              else np.interp(p, fitted["x"], fitted["y"]))
        if proba.shape[1] == 2:
            out[:, 0] = 1 - out[:, 1]
            return out
        total = out.sum(axis=1, keepdims=True)
        return np.where(total > 0, out / np.where(total > 0, total, 1), 1 / proba.shape[1])

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"method": self.method, "params": self.params}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Calibrator":
        """The calibrator ``to_dict`` wrote."""
        if data.get("method") not in METHODS or not isinstance(data.get("params"), dict):
            raise ValueError(f"not a calibrator: method {data.get('method')!r}")
        return cls(data["method"], data["params"])


def choose_calibrator(method: str, proba: np.ndarray, y: np.ndarray, seed: int = 0) -> tuple[Calibrator | None, dict]:
    """The calibrator ``method`` asks for, fitted on all of ``proba``/``y``, or None; and what was measured.

    None, whatever the method, when a class has fewer than 2 validation rows (a calibrator fitted without a
    class would never predict it): ``{"why": ...}`` says so. ``auto`` compares none, temperature, platt and (from
    1,000 rows) isotonic by 5-fold cross-validated log loss and keeps a calibrator only when it beats none by
    1% or more: ``{"cv_log_loss": {...}}``.
    """
    counts = np.bincount(y, minlength=proba.shape[1])
    if counts.min() < 2:
        return None, {"why": f"the validation rows hold {int(counts.min())} row(s) of a class; a calibrator needs "
                             "every class at least twice"}
    if method != "auto":
        return Calibrator.fit(method, proba, y), {}
    from sklearn.model_selection import StratifiedKFold

    tried = ("temperature", "platt", "isotonic") if len(y) >= 1000 else ("temperature", "platt")
    losses = {m: 0.0 for m in ("none", *tried)}
    folds = StratifiedKFold(min(5, int(counts.min())), shuffle=True, random_state=seed)
    for fit_rows, held in folds.split(proba, y):
        losses["none"] += _log_loss(proba[held], y[held]) * len(held)
        for m in tried:
            losses[m] += _log_loss(Calibrator.fit(m, proba[fit_rows], y[fit_rows]).transform(proba[held]), y[held]) * len(held)
    losses = {m: v / len(y) for m, v in losses.items()}
    best = min(tried, key=losses.get)
    if not losses[best] < 0.99 * losses["none"]:
        return None, {"cv_log_loss": losses}
    return Calibrator.fit(best, proba, y), {"cv_log_loss": losses}


def _log_loss(proba: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(proba[np.arange(len(y)), y], _EPS, 1))))


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _temperature(proba: np.ndarray, y: np.ndarray) -> float:
    from scipy.optimize import minimize_scalar

    logp = np.log(np.clip(proba, _EPS, 1))
    result = minimize_scalar(lambda t: _log_loss(_softmax(logp / np.exp(t)), y), bounds=(-4, 4), method="bounded")
    return float(np.exp(result.x))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def _platt(p: np.ndarray, hit: np.ndarray) -> dict[str, float]:
    from sklearn.linear_model import LogisticRegression

    if hit.min() == hit.max():  # one outcome only: nothing to fit, leave the probabilities as they are
        return {"a": 1.0, "b": 0.0}
    model = LogisticRegression(C=1e4).fit(_logit(p)[:, None], hit)
    return {"a": float(model.coef_[0, 0]), "b": float(model.intercept_[0])}


def _isotonic(p: np.ndarray, hit: np.ndarray) -> dict[str, list[float]]:
    from sklearn.isotonic import IsotonicRegression

    model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(p, hit)
    floor = 1.0 / (len(p) + 2)  # a step at exactly 0 or 1 would make one surprising row cost an infinite log loss
    return {"x": model.X_thresholds_.tolist(), "y": np.clip(model.y_thresholds_, floor, 1 - floor).tolist()}
