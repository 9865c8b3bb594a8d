"""The forecast predictor: rows of history in, the next ``horizon`` steps of each series out, with intervals.

It reads the history on the run's own time grid (so seasons line up with training), forecasts with the
saved forecaster and widens each step by its conformal quantile (from the run's backtest errors) times the
series' own scale (its mean absolute seasonal difference). The same object makes the run's final forecast
at training time and ``trainwright predict``'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trainwright.errors import ArtifactError, DataError

__all__ = ["ForecastPredictor", "FORECASTER_FILE"]

FORECASTER_FILE = "forecaster.json"


class ForecastPredictor:
    """Forecasts raw history rows as the run was trained.

    Args:
        forecaster: a fitted forecaster (``models.series``).
        grid: the run's time grid (``data.series.Grid``).
        columns: {"time": ..., "target": ..., "series": ... or None}.
        horizon, season: steps forecast, steps in a season.
        quantiles: per step, the conformal quantile of |error| / scale (None where the backtest had none).
        level: the intervals' nominal coverage.
    """

    task = "forecast"
    classes = None

    def __init__(self, forecaster, grid, columns: dict[str, Any], *, horizon: int, season: int,
                 quantiles: list[float | None], level: float) -> None:
        self.forecaster = forecaster
        self.grid = grid
        self.columns = columns
        self.horizon = horizon
        self.season = season
        self.quantiles = quantiles
        self.level = level

    def read(self, frame: pd.DataFrame, *, file=None):
        """The series of ``frame`` on the run's grid (``data.series.read_series``)."""
        from trainwright.data.series import read_series

        return read_series(frame, time=self.columns["time"], target=self.columns["target"],
                           series_column=self.columns.get("series"), grid=self.grid, file=file)

    def forecast_panel(self, panel) -> pd.DataFrame:
        """One row per series and step: series (when several), time, step, prediction, lower, upper."""
        from trainwright.evaluate.backtest import mase_scale

        series = list(panel.series)
        values = self.forecaster.forecast(series, self.horizon)
        rows = []
        for s, forecast in zip(series, values):
            scale = mase_scale(s.values, self.season)
            for h in range(self.horizon):
                q = self.quantiles[h] if h < len(self.quantiles) else None
                half = q * scale if q is not None and np.isfinite(scale) else np.nan
                row = {"time": self.grid.time_of(s.end + h), "step": h + 1, "prediction": float(forecast[h]),
                       "lower": float(forecast[h] - half), "upper": float(forecast[h] + half)}
                rows.append({self.columns["series"]: s.key, **row} if self.columns.get("series") else row)
        return pd.DataFrame(rows)

    def invalid_numbers(self, frame: pd.DataFrame) -> dict:
        """Nothing is read as missing in a history: a value that is not a number is refused (``read``)."""
        return {}

    def predict(self, frame: pd.DataFrame, *, invalid: str = "error") -> pd.DataFrame:
        """The next ``horizon`` steps after the last row of each series in ``frame`` (its history)."""
        if len(frame) == 0:
            raise DataError("no rows: a forecast starts from the history of each series; give its rows "
                            f"(columns '{self.columns['time']}' and '{self.columns['target']}')")
        return self.forecast_panel(self.read(frame))

    # --- saving --------------------------------------------------------------------------------------------
    def save(self, directory: Path) -> dict[str, Any]:
        """Write the forecaster's files and ``forecaster.json`` into ``directory`` (through ``runs.store``)."""
        from trainwright.runs import store

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = {"forecaster": self.forecaster.save(directory), "grid": self.grid.to_dict(), "columns": self.columns,
                "horizon": self.horizon, "season": self.season, "quantiles": self.quantiles, "level": self.level}
        store.write_json(directory / FORECASTER_FILE, meta)
        return meta

    @classmethod
    def load(cls, run) -> "ForecastPredictor":
        """The predictor of a completed forecasting run."""
        from trainwright.data.series import Grid
        from trainwright.models.series import load_forecaster
        from trainwright.runs import layout, store

        if run.status != "completed":
            raise ArtifactError(f"run {run.path} has status '{run.status}'; only a completed run can predict")
        directory = run.path / layout.MODEL_DIR
        meta = store.read_json(directory / FORECASTER_FILE)
        return cls(load_forecaster(meta["forecaster"], directory), Grid(**meta["grid"]), meta["columns"],
                   horizon=meta["horizon"], season=meta["season"], quantiles=meta["quantiles"], level=meta["level"])
