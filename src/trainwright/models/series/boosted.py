"""``gbdt``: one LightGBM model learns from windows of every series (a global forecaster).

A training row is a window of the last ``lags`` values before an origin, in units of that window (its level
is the mean of its last season, its spread its standard deviation), the horizon step, and where the target
falls in the season (phase and Fourier terms); its target is the value ``step`` steps after the origin in
the same units. Units per window let one model forecast series of any size and carry a trend further than
trees could in raw values. ``direct`` learns every step at once; ``recursive`` learns step 1 and feeds its
forecasts back in. The last horizon of every series is held out for early stopping, then the model is
refitted on every row with the rounds found.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from trainwright.models.series.base import Forecaster

__all__ = ["BoostedForecaster", "resolve_lags"]

_MAX_ROWS = 20_000  # more training rows than this are sampled (seeded)
_CLIP = 50.0  # targets beyond this many window spreads are clipped (a window that was flat)


def resolve_lags(lags, season: int, horizon: int, shortest: int) -> int:
    """``lags: auto``: two seasons, at least the horizon and 8, at most a third of ``shortest`` (>= 2; the median
    series length).

    Example:
        >>> resolve_lags("auto", 12, 12, 144), resolve_lags("auto", 1, 10, 100), resolve_lags(5, 1, 1, 100)
        (24, 10, 5)
    """
    if lags != "auto":
        return int(lags)
    return int(max(2, min(max(2 * season, horizon, 8), shortest // 3)))


class BoostedForecaster(Forecaster):
    """Gradient boosting (the ``lightgbm`` learner) on normalised windows; see the module's docstring."""

    name = "gbdt"
    description = "LightGBM on windows of every series, in units of each window"

    def __init__(self, season: int = 1, horizon: int = 1, lags="auto", strategy: str = "recursive", seed: int = 0) -> None:
        super().__init__(season, horizon)
        self.lags = lags
        self.strategy = strategy
        self.seed = seed

    @classmethod
    def from_config(cls, *, season: int, horizon: int, config=None, seed: int = 0) -> "BoostedForecaster":
        return cls(season=season, horizon=horizon, lags=getattr(config, "lags", "auto"),
                   strategy=getattr(config, "strategy", "recursive"), seed=seed)

    # --- features ---------------------------------------------------------------------------------------
    def _units(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(level, spread) of each window (rows x lags, oldest first; NaN where a short history has none)."""
        k = min(self.season, windows.shape[1]) if self.season > 1 else 1
        level = np.nanmean(windows[:, -k:], axis=1)
        spread = np.nanstd(windows, axis=1)
        floor = np.maximum(1e-3 * np.nanmean(np.abs(windows), axis=1), 1e-8)
        return level, np.maximum(np.nan_to_num(spread), floor)

    def _features(self, windows: np.ndarray, steps: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Rows of the model's inputs: the window in its own units (last value first), the step, the season."""
        level, spread = self._units(windows)
        cols = [((windows - level[:, None]) / spread[:, None])[:, ::-1], steps[:, None].astype(float),
                (spread / (np.abs(level) + spread))[:, None]]
        if self.season > 1:
            phase = np.mod(positions, self.season).astype(float)
            angle = 2 * np.pi * phase / self.season
            cols.append(phase[:, None])
            for k in range(1, min(3, self.season // 2) + 1):
                cols += [np.sin(k * angle)[:, None], np.cos(k * angle)[:, None]]
        return np.hstack(cols)

    def _rows(self, series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(inputs, targets in window units, whether the target is in the series' last horizon) of every
        window of every series that has ``lags`` values before it."""
        from numpy.lib.stride_tricks import sliding_window_view

        p, xs, ys, late = self.lags_, [], [], []
        steps = range(1, (self.horizon if self.strategy == "direct" else 1) + 1)
        for s in series:
            v, n = s.values, len(s.values)
            if n < p + 1:
                continue
            windows = sliding_window_view(v, p)[: n - p]  # window j ends at index j + p - 1
            for h in steps:
                j = np.arange(n - p - h + 1)
                if j.size == 0:
                    continue
                target_at = j + p - 1 + h
                w = windows[j]
                xs.append(self._features(w, np.full(j.size, h), s.start + target_at))
                level, spread = self._units(w)
                ys.append(np.clip((v[target_at] - level) / spread, -_CLIP, _CLIP))
                late.append(target_at >= n - self.horizon)
        if not xs:
            return np.zeros((0, 0)), np.zeros(0), np.zeros(0, bool)
        return np.vstack(xs), np.concatenate(ys), np.concatenate(late)

    # --- fitting and forecasting ---------------------------------------------------------------------------
    def _windows(self, series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``_rows`` of the series with the lags resolved (from the median length: one young series does not
        shorten every window; it is padded when forecast), at most ``_MAX_ROWS`` of them (seeded).

        Raises:
            ValueError: fewer than 20 windows to learn from.
        """
        self.lags_ = resolve_lags(self.lags, self.season, self.horizon, int(np.median([len(s.values) for s in series])))
        X, y, late = self._rows(series)
        if len(y) < 20:
            raise ValueError(f"too few windows to learn from ({len(y)}); the series are shorter than "
                             f"{self.lags_} lags plus the horizon")
        if len(y) > _MAX_ROWS:
            keep = np.sort(np.random.default_rng(self.seed).choice(len(y), _MAX_ROWS, replace=False))
            X, y, late = X[keep], y[keep], late[keep]
        return X, y, late

    def fit(self, series, *, deadline: float | None = None) -> "BoostedForecaster":
        from trainwright.models.tabular.gbdt import LightGBMLearner

        X, y, late = self._windows(series)
        rounds = 300
        if late.any() and (~late).sum() >= 20:  # early stopping on the last horizon, then every row
            probe = LightGBMLearner(task="regression", seed=self.seed, min_child_samples=20)
            probe.fit(X[~late], y[~late], X_valid=X[late], y_valid=y[late], deadline=deadline)
            rounds = max(20, int(probe.best_iteration_ * 1.1))
        self.learner_ = LightGBMLearner(task="regression", n_estimators=rounds, seed=self.seed, min_child_samples=20)
        self.learner_.fit(X, y, deadline=deadline)
        return self

    def forecast(self, series, steps: int) -> np.ndarray:
        if self.strategy == "direct" and steps > self.horizon:
            raise ValueError(f"a direct gbdt forecaster learned {self.horizon} steps, {steps} were asked")
        p = self.lags_
        windows = np.vstack([np.concatenate([np.full(max(0, p - len(s.values)), np.nan), s.values[-p:]])
                             for s in series])
        ends = np.array([s.end for s in series])
        if self.strategy == "direct":
            out = np.empty((len(series), steps))
            level, spread = self._units(windows)
            for h in range(1, steps + 1):
                X = self._features(windows, np.full(len(series), h), ends - 1 + h)
                out[:, h - 1] = level + spread * self.learner_.predict(X)
            return out
        out = np.empty((len(series), steps))
        for h in range(steps):
            level, spread = self._units(windows)
            X = self._features(windows, np.ones(len(series)), ends + h)
            out[:, h] = level + spread * self.learner_.predict(X)
            windows = np.hstack([windows[:, 1:], out[:, h:h + 1]])
        return out

    # --- saving -------------------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {**super().state(), "lags": self.lags_, "strategy": self.strategy, "seed": self.seed}

    def save(self, directory: Path) -> dict[str, Any]:
        self.learner_.save(Path(directory) / "gbdt")
        return {"type": self.name, **self.state(), "files": "gbdt"}

    @classmethod
    def from_state(cls, state: dict[str, Any], directory: Path) -> "BoostedForecaster":
        from trainwright.models.tabular.gbdt import LightGBMLearner

        f = cls(season=state["season"], horizon=state["horizon"], lags=state["lags"], strategy=state["strategy"],
                seed=state["seed"])
        f.lags_ = int(state["lags"])
        f.learner_ = LightGBMLearner.load(Path(directory) / state["files"])
        return f
