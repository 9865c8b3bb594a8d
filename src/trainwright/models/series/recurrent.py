"""``gru``: a recurrent forecaster, one network for every series (the ``sequence_gru`` learner).

It learns from the same windows as ``gbdt`` (``boosted``), in each window's own units, but reads a window as a
sequence: per step its value and, with a season, where the step falls in it (sine and cosine of the phase); it
learns the next step and forecasts recursively, feeding its forecasts back in. The last horizon of every series
is held out for early stopping (and, unlike gbdt, not refitted on: a second network would double its cost). Chosen with
``forecast.model: gru``; ``auto`` does not backtest it (it costs a network per backtest window: see
docs/benchmarks.md, "Forecasting").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from trainwright.models.series.boosted import BoostedForecaster

__all__ = ["RecurrentForecaster"]

_TRAIN = {"epochs": 200, "early_stopping": {"patience": 5}, "optimizer": {"lr": 3e-3}}


class RecurrentForecaster(BoostedForecaster):
    """A bidirectional GRU on normalised windows of every series, recursive; see the module's docstring."""

    name = "gru"
    description = "a GRU on windows of every series, in units of each window"
    in_auto = False  # backtested only when forecast.model asks for it

    def __init__(self, season: int = 1, horizon: int = 1, lags="auto", strategy: str = "recursive", seed: int = 0) -> None:
        super().__init__(season, horizon, lags, "recursive", seed)

    def _features(self, windows: np.ndarray, steps: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Each window as a sequence, oldest step first: its value in the window's units (a short history's
        missing steps at the window's level), and with a season the sine and cosine of each step's phase."""
        level, spread = self._units(windows)
        z = np.nan_to_num((windows - level[:, None]) / spread[:, None])  # (rows, lags)
        if self.season <= 1:
            return z
        at = positions[:, None] - steps[:, None] - windows.shape[1] + 1 + np.arange(windows.shape[1])[None, :]
        angle = 2 * np.pi * np.mod(at, self.season) / self.season
        return np.stack([z, np.sin(angle), np.cos(angle)], axis=2).reshape(len(z), -1)  # time-major

    def _learner(self, train: dict):
        from trainwright.models.series.sequence import SequenceGRULearner

        return SequenceGRULearner(task="regression", channels=3 if self.season > 1 else 1, embed_dim=32, hidden=32,
                                  dropout=0.1, device="cpu", train=train, seed=self.seed)

    def fit(self, series, *, deadline: float | None = None) -> "RecurrentForecaster":
        X, y, late = self._windows(series)
        learner = self._learner({**_TRAIN, "checkpoint": {"enabled": False}})
        if late.any() and (~late).sum() >= 20:  # early stopping on the last horizon (not refitted: one network)
            self.learner_ = learner.fit(X[~late], y[~late], X_valid=X[late], y_valid=y[late], deadline=deadline)
        else:
            self.learner_ = learner.fit(X, y, deadline=deadline)
        return self

    def save(self, directory: Path) -> dict[str, Any]:
        self.learner_.save(Path(directory) / "gru")
        return {"type": self.name, **self.state(), "files": "gru"}

    @classmethod
    def from_state(cls, state: dict[str, Any], directory: Path) -> "RecurrentForecaster":
        from trainwright.models.series.sequence import SequenceGRULearner

        f = cls(season=state["season"], horizon=state["horizon"], lags=state["lags"], seed=state["seed"])
        f.lags_ = int(state["lags"])
        f.learner_ = SequenceGRULearner.load(Path(directory) / state["files"])
        return f
