"""The classical forecasters: seasonal naive and exponential smoothing (statsmodels).

Both are local: they estimate their few numbers from each history as it is given to ``forecast`` (a backtest
window's training steps, or the rows given to ``predict``), so ``fit`` learns nothing.
"""

from __future__ import annotations

import warnings

import numpy as np

from trainwright.errors import ConfigError
from trainwright.models.series.base import Forecaster

__all__ = ["SeasonalNaive", "ExponentialSmoothing"]


class SeasonalNaive(Forecaster):
    """Each step repeats the value one season earlier (the last value when there is no season): the baseline
    every forecast must beat, and the scale of MASE."""

    name = "seasonal_naive"
    description = "repeats the last season"

    def forecast(self, series, steps: int) -> np.ndarray:
        out = np.empty((len(series), steps))
        for i, s in enumerate(series):
            m = self.season if len(s.values) >= self.season else 1
            last = s.values[-m:]
            out[i] = last[np.arange(steps) % m]
        return out


class ExponentialSmoothing(Forecaster):
    """Holt-Winters exponential smoothing (statsmodels): per series, additive damped trend or none, additive or
    multiplicative season (multiplicative only for positive series), the form with the lowest AICc kept."""

    name = "ets"
    description = "exponential smoothing (statsmodels), the form with the lowest AICc per series"

    @classmethod
    def check_available(cls) -> None:
        try:
            import statsmodels.tsa.holtwinters  # noqa: F401
        except ImportError:
            raise ConfigError("forecasting backtests the exponential-smoothing baseline, which needs statsmodels: "
                              "pip install 'trainwright[series]'", path="task") from None

    def forecast(self, series, steps: int) -> np.ndarray:
        self.check_available()
        return np.vstack([self._one(s.values, steps) for s in series])

    def _one(self, y: np.ndarray, steps: int) -> np.ndarray:
        from statsmodels.tsa.holtwinters import ExponentialSmoothing as HoltWinters

        if len(y) < 4 or np.ptp(y) == 0:
            return np.full(steps, y[-1])
        seasonal = self.season > 1 and len(y) >= 2 * self.season + 2
        forms = [(trend, season) for trend in (None, "add") for season in
                 ((None, "add", "mul") if seasonal and y.min() > 0 else (None, "add") if seasonal else (None,))]
        best, best_aicc = None, np.inf
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # statsmodels warns on every optimiser hiccup; the AICc judges
            for trend, season in forms:
                try:
                    fitted = HoltWinters(y, trend=trend, damped_trend=trend is not None, seasonal=season,
                                         seasonal_periods=self.season if season else None,
                                         initialization_method="estimated").fit()
                except (ValueError, np.linalg.LinAlgError):
                    continue
                aicc = fitted.aicc if np.isfinite(fitted.aicc) else fitted.aic
                if np.isfinite(aicc) and aicc < best_aicc:
                    best, best_aicc = fitted, aicc
        if best is None:
            return np.full(steps, y[-1])
        values = np.asarray(best.forecast(steps), float)
        return values if np.isfinite(values).all() else np.full(steps, y[-1])
