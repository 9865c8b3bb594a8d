"""Regularised linear models: logistic regression and ridge regression.

Fitting uses scikit-learn; prediction uses the saved coefficients directly, so a
loaded model predicts exactly what the fitted one did.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Literal, Union

import numpy as np
from pydantic import Field

from trainwright.config.base import Section
from trainwright.models.base import Capabilities, Learner
from trainwright.models.registry import register_learner

__all__ = ["LinearConfig", "LinearLearner", "ALPHA_GRID"]

# Tried in order when alpha is 'auto'; the one with the lowest validation loss wins.
ALPHA_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)


class LinearConfig(Section):
    """L2-regularised logistic regression (classification) or ridge regression."""

    type: Literal["linear"] = "linear"
    alpha: Union[float, Literal["auto"]] = Field(
        "auto",
        description=(
            "L2 penalty strength (logistic C = 1/alpha). 'auto' tries 0.01, 0.1, 1, 10, 100 "
            "and keeps the best on validation."
        ),
    )
    max_iter: int = Field(2000, ge=1, description="Most solver iterations.")


_D = LinearConfig()


@register_learner(LinearConfig)
class LinearLearner(Learner):
    """Logistic regression (classification) or ridge regression, with L2 penalty.

    Example:
        >>> import numpy as np
        >>> X = np.random.default_rng(0).normal(size=(100, 2)); y = X[:, 0] * 2.0
        >>> round(float(LinearLearner(task="regression", alpha=0.01).fit(X, y).coef_[0, 0]), 2)
        2.0
    """

    capabilities = Capabilities(explanation="coefficients", iteration="regularisation strength", randomized=False,
                                parameters="coefficients and intercepts")
    requires = ("sklearn.linear_model",)
    search_space = {"model.alpha": {"type": "log", "low": 1e-4, "high": 1e3}}

    def __init__(
        self,
        task: str = "classification",
        alpha: Union[float, str] = _D.alpha,
        max_iter: int = _D.max_iter,
        seed: int = 0,
    ) -> None:
        self.task = task
        self.alpha = alpha
        self.max_iter = max_iter
        self.seed = seed

    def _fit(self, X, y, valid, deadline, sample_weight) -> None:
        import time

        grid = ALPHA_GRID if self.alpha == "auto" and valid is not None else (
            1.0 if self.alpha == "auto" else float(self.alpha),)
        best, solver = None, None
        data = _sparse_if_mostly_zero(X)
        for alpha in grid:
            if best is not None and deadline is not None and time.monotonic() > deadline:
                self.stopped_by_ = "time_budget"
                break
            coef, intercept, n_iter, solver = self._solve(data, y, alpha, sample_weight, solver)
            self.coef_, self.intercept_ = coef, intercept
            entry = {"alpha": alpha, "train_loss": self._loss(X, y)}
            if valid is not None:
                entry["validation_loss"] = self._loss(*valid)
            self.history_.append(entry)
            key = entry.get("validation_loss", entry["train_loss"])
            if best is None or key < best[0]:
                best = (key, alpha, coef, intercept, n_iter)
        _, self.alpha_, self.coef_, self.intercept_, self.n_iter_ = best
        self.best_iteration_ = next(i for i, h in enumerate(self.history_) if h["alpha"] == self.alpha_) + 1

    def _solve(self, X, y, alpha, sample_weight, model=None):
        """One fit at strength ``alpha``; a logistic model of the previous strength starts from its solution
        (warm start: the grid's fits after the first take a fraction of the iterations)."""
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression, Ridge

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if self.task == "classification":
                model = model or LogisticRegression(max_iter=self.max_iter, random_state=self.seed, warm_start=True)
                model.set_params(C=1.0 / alpha)
            else:
                model = Ridge(alpha=alpha, random_state=self.seed)
            model.fit(X if hasattr(X, "tocsr") else X.astype(np.float64), y, sample_weight=sample_weight)
        coef = np.atleast_2d(model.coef_).astype(np.float64)  # (classes or 1, features)
        # Solver iterations (logistic; ConvergenceWarning is silenced above, so n_iter_ == max_iter is
        # how a user sees it stopped short). Ridge is solved in closed form: None, as in Ridge.
        n_iter = None if model.n_iter_ is None else int(np.max(model.n_iter_))
        return coef, np.atleast_1d(model.intercept_).astype(np.float64), n_iter, model

    def _loss(self, X, y) -> float:
        raw = self._predict_raw(X)
        if self.task == "classification":
            p = np.clip(raw[np.arange(len(y)), y], 1e-15, 1.0)
            return float(-np.mean(np.log(p)))
        return float(np.sqrt(np.mean((raw - y) ** 2)))

    def _predict_raw(self, X) -> np.ndarray:
        z = X.astype(np.float64) @ self.coef_.T + self.intercept_  # (rows, classes or 1)
        if self.task == "regression":
            return z[:, 0]
        if z.shape[1] == 1:  # binary logistic: P(class 1) = sigmoid(z)
            p1 = 1.0 / (1.0 + np.exp(-z[:, 0]))
            return np.column_stack([1.0 - p1, p1])
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def onnx_nodes(self, g, features: str) -> str:
        """The linear model in ONNX, in double precision as ``_predict_raw`` computes it."""
        z = g.op("Add", g.op("MatMul", g.op("Cast", features, to=11), g.const(self.coef_.T.astype(np.float64))),
                 g.const(self.intercept_.astype(np.float64)))
        if self.task == "regression":
            return g.op("Squeeze", z, g.const(np.array([1], dtype=np.int64)))
        if self.coef_.shape[0] == 1:  # binary: [1 - sigmoid(z), sigmoid(z)]
            p1 = g.op("Sigmoid", z)
            return g.op("Concat", g.op("Sub", g.const(np.array(1.0)), p1), p1, axis=1)
        return g.op("Softmax", z, axis=1)

    def fixed_params(self) -> dict:
        """The strength chosen on validation, fixed."""
        return {"alpha": self.alpha_}

    def resolved(self) -> dict:
        """``alpha: auto`` resolves to the strength chosen."""
        return {"model.alpha": self.alpha_} if self.alpha == "auto" else {}

    def n_parameters(self) -> int:
        """Coefficients plus intercepts."""
        return int(np.size(self.coef_) + np.size(self.intercept_))

    def feature_weights(self) -> np.ndarray:
        """The coefficients, shape (classes or 1, features), on the standardised features."""
        return np.atleast_2d(self.coef_)

    def _state(self) -> tuple[dict, dict[str, bytes]]:
        return {"coef": self.coef_.tolist(), "intercept": self.intercept_.tolist(), "alpha": self.alpha_,
                "n_iter": self.n_iter_}, {}

    def _load_state(self, directory: Path, extra: dict) -> None:
        self.coef_ = np.asarray(extra["coef"], dtype=np.float64)
        self.intercept_ = np.asarray(extra["intercept"], dtype=np.float64)
        self.alpha_ = extra["alpha"]
        self.n_iter_ = extra["n_iter"]


def _sparse_if_mostly_zero(X: np.ndarray):
    """``X`` as a float64 CSR matrix when under a fifth of a wide matrix is non-zero (TF-IDF of text: the solver
    works on the non-zeros only; one BBC News fold, 961 rows x 5,202 terms, 4% non-zero: 0.54 s a fit against
    1.07 s dense), else as it is."""
    if X.shape[1] < 500 or np.count_nonzero(X) > 0.2 * X.size:
        return X
    from scipy import sparse

    return sparse.csr_matrix(X, dtype=np.float64)
