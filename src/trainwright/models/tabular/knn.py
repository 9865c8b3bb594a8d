"""k-nearest neighbours on the preprocessed (standardised) features: a cheap, different model for ensembles."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal, Union

import numpy as np
from pydantic import Field

from trainwright.config.base import Section
from trainwright.models.base import Capabilities, Learner
from trainwright.models.registry import register_learner

__all__ = ["KNNConfig", "KNNLearner"]

K_GRID = (5, 15, 40, 100)
SMOOTH = 0.02  # share of uniform probability mixed in, so one unlucky neighbourhood never gives p = 0


class KNNConfig(Section):
    """k-nearest neighbours (distance-weighted) on the standardised features."""

    type: Literal["kneighbors"] = "kneighbors"
    n_neighbors: Union[int, Literal["auto"]] = Field(
        "auto", description="Neighbours that vote; 'auto' tries 5, 15, 40 and 100 and keeps the best on validation.")
    weights: Literal["uniform", "distance"] = Field(
        "uniform", description="How the neighbours' votes count. 'distance' lets a repeated feature vector take all "
                               "the weight: overconfident on tables with few distinct values (bench/portfolio.py).")
    max_rows: int = Field(20000, ge=10, description=(
        "Most training rows kept as neighbours (a random sample beyond it): prediction cost grows with them."))


_D = KNNConfig()


@register_learner(KNNConfig)
class KNNLearner(Learner):
    """A nearest-neighbour vote (scikit-learn finds the neighbours; each votes with its row's sample weight); the
    kept rows are its learned state (saved as safetensors).

    Example:
        >>> X = np.random.default_rng(0).normal(size=(100, 2)); y = (X[:, 0] > 0).astype(int)
        >>> KNNLearner(n_neighbors=5).fit(X, y).score(X, y) > 0.9
        True
    """

    capabilities = Capabilities(explanation="none", iteration="neighbour count", randomized=False,
                                parameters="stored training values")
    requires = ("sklearn.neighbors", "safetensors.numpy")
    search_space = {"model.n_neighbors": {"type": "int", "low": 1, "high": 100, "log": True},
                    "model.weights": {"type": "categorical", "choices": ["uniform", "distance"]}}

    def __init__(self, task: str = "classification", n_neighbors: Union[int, str] = _D.n_neighbors,
                 weights: str = _D.weights, max_rows: int = _D.max_rows, seed: int = 0) -> None:
        self.task = task
        self.n_neighbors = n_neighbors
        self.weights = weights
        self.max_rows = max_rows
        self.seed = seed

    def _fit(self, X, y, valid, deadline, sample_weight) -> None:
        w = np.ones(len(X)) if sample_weight is None else sample_weight
        if len(X) > self.max_rows:
            keep = np.sort(np.random.default_rng(self.seed).choice(len(X), self.max_rows, replace=False))
            X, y, w = X[keep], y[keep], w[keep]
        self.X_, self.y_, self.w_ = X.astype(np.float32), y, w.astype(np.float32)
        grid = K_GRID if self.n_neighbors == "auto" and valid is not None else (
            15 if self.n_neighbors == "auto" else int(self.n_neighbors),)
        best = None
        for k in grid:
            if best is not None and deadline is not None and time.monotonic() > deadline:
                self.stopped_by_ = "time_budget"
                break
            self.k_ = min(k, len(X))
            self._build()
            entry = {"n_neighbors": self.k_}
            if valid is not None:
                entry["validation_loss"] = self._loss(*valid)
            self.history_.append(entry)
            if best is None or entry.get("validation_loss", 0.0) < best[0]:
                best = (entry.get("validation_loss", 0.0), self.k_)
        self.k_ = best[1]
        self.best_iteration_ = next(i for i, h in enumerate(self.history_) if h["n_neighbors"] == self.k_) + 1
        self._build()

    def _build(self) -> None:
        from sklearn.neighbors import NearestNeighbors

        self.model_ = NearestNeighbors(n_neighbors=self.k_, n_jobs=1).fit(self.X_)

    def _loss(self, X, y) -> float:
        raw = self._predict_raw(X)
        if self.task == "classification":
            return float(-np.mean(np.log(raw[np.arange(len(y)), y])))
        return float(np.sqrt(np.mean((raw - y) ** 2)))

    def _predict_raw(self, X) -> np.ndarray:
        distance, index = self.model_.kneighbors(X.astype(np.float32))  # (rows, k) each
        vote = self.w_[index].astype(np.float64)  # a row's weight counts in its vote
        if self.weights == "distance":
            vote = vote / np.maximum(distance, 1e-12)
        vote /= np.maximum(vote.sum(axis=1, keepdims=True), 1e-300)
        if self.task == "regression":
            return (vote * self.y_[index]).sum(axis=1)
        proba = np.zeros((len(X), len(self.classes_)))
        for j in range(len(self.classes_)):  # classes are few: one pass each, no (rows, k, classes) array
            proba[:, j] = (vote * (self.y_[index] == j)).sum(axis=1)
        return (1 - SMOOTH) * proba + SMOOTH / len(self.classes_)

    def fixed_params(self) -> dict:
        """The neighbour count chosen on validation, fixed."""
        return {"n_neighbors": self.k_}

    def resolved(self) -> dict:
        """``n_neighbors: auto`` resolves to the count chosen."""
        return {"model.n_neighbors": self.k_} if self.n_neighbors == "auto" else {}

    def n_parameters(self) -> int:
        """The stored values: rows x features, plus their targets and weights."""
        return int(self.X_.size + 2 * len(self.y_))

    def _state(self) -> tuple[dict, dict[str, bytes]]:
        from safetensors.numpy import save

        y = self.y_.astype(np.int64 if self.task == "classification" else np.float64)
        tensors = {"X": self.X_, "y": y, "w": self.w_}
        return {"k": self.k_, "file": "neighbours.safetensors"}, {"neighbours.safetensors": save(tensors)}

    def _load_state(self, directory: Path, extra: dict) -> None:
        from safetensors.numpy import load_file

        arrays = load_file(str(directory / extra["file"]))
        self.X_, self.y_, self.w_, self.k_ = arrays["X"], arrays["y"], arrays["w"], int(extra["k"])
        self._build()
