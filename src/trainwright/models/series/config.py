"""The recipe's ``forecast:`` section (``task: forecast``): the horizon, the series, the forecasters, the backtest."""

from __future__ import annotations

from typing import Annotated, Literal, Optional, Union

from pydantic import Field

from trainwright.config.base import Section

__all__ = ["BacktestConfig", "ForecastConfig"]


class BacktestConfig(Section):
    """Rolling-origin evaluation: each window fits on the steps before its cutoff and forecasts the horizon."""

    windows: int = Field(8, ge=1, le=100, description="Backtest windows (cutoffs); fewer are used, with a decision, "
                                                       "when the series are too short for them. More windows give "
                                                       "the conformal intervals more errors to rest on.")
    stride: Optional[int] = Field(None, ge=1, description="Steps between consecutive cutoffs; default: half the "
                                                          "horizon (at least 1).")
    mode: Literal["expanding", "sliding"] = Field(
        "expanding", description="'expanding': each window fits on every step before its cutoff; 'sliding': on the "
                                 "last forecast.backtest.length steps only.")
    length: Optional[int] = Field(None, ge=2, description="Steps each window fits on, for mode=sliding.")
    gap: int = Field(0, ge=0, description="Steps between the last step a window fits on and its first forecast step "
                                          "(data that arrives late): the forecaster sees nothing of them.")


class ForecastConfig(Section):
    """Forecasting (``task: forecast``): the time column is ``split.time_column``, the value column the target."""

    horizon: Union[Annotated[int, Field(ge=1, le=10_000)], Literal["auto"]] = Field(
        "auto", description="Steps to forecast after the last row; 'auto': one season (12 for monthly data), or 10% "
                            "of the series (1-24 steps) when there is no season. Recorded as a decision.")
    series_column: Optional[str] = Field(None, description="Column of series ids, for a file of many series "
                                                           "(one model learns from all of them).")
    season: Union[Annotated[int, Field(ge=1, le=10_000)], Literal["auto"]] = Field(
        "auto", description="Steps in one season; 'auto': 12 for months, 4 for quarters, 7 for days, 24 for hours, "
                            "52 for weeks, 1 (none) for years and plain numbers.")
    model: Literal["auto", "combined", "gbdt", "ets", "seasonal_naive", "gru"] = Field(
        "auto", description="The forecaster kept: 'auto' keeps the one with the lowest backtest MASE among "
                            "seasonal_naive, ets, gbdt and combined (the mean of the ets and gbdt forecasts); 'gru' "
                            "a recurrent network on the windows gbdt learns from (recursive; backtested only when "
                            "asked for). Seasonal naive and exponential smoothing are always backtested alongside "
                            "as baselines.")
    strategy: Literal["recursive", "direct"] = Field(
        "recursive", description="gbdt ('gru' is always recursive): 'recursive' learns one step and feeds its forecasts back in (the default: "
                                 "lower backtest MASE on 4 of the 7 series in docs/benchmarks.md, mean 0.915 against "
                                 "0.947); 'direct' learns every horizon step at once (the step is a feature).")
    lags: Union[Annotated[int, Field(ge=1, le=10_000)], Literal["auto"]] = Field(
        "auto", description="gbdt and gru: past steps they see; 'auto': two seasons, at least the horizon and 8, at most a "
                            "third of the median series length (a shorter series is padded).")
    interval: float = Field(0.9, gt=0, lt=1, description="Level of the prediction intervals (conformal, from the "
                                                         "backtest errors at each horizon step; with a backtest "
                                                         "gap, the errors of the steps after the gap).")
    backtest: BacktestConfig = Field(default_factory=BacktestConfig, description="Rolling-origin evaluation.")
