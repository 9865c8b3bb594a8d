"""``combined``: the mean of the exponential-smoothing and gbdt forecasts.

Averaging forecasts of different kinds is one of the most reliable gains in forecasting (the M competitions):
their errors differ, so the mean errs less than the typical member. Its backtest needs no fitting of its own: each
window's forecast is the mean of its members' forecasts of that window, each fitted on the steps before the cutoff
only (``backtest_from``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from trainwright.models.series.base import Forecaster
from trainwright.models.series.boosted import BoostedForecaster
from trainwright.models.series.classical import ExponentialSmoothing

__all__ = ["Combined"]


class Combined(Forecaster):
    """The mean of ``ets`` and ``gbdt`` (fitted and saved as they are alone)."""

    name = "combined"
    description = "the mean of the ets and gbdt forecasts"
    combines = ("ets", "gbdt")

    def __init__(self, season: int = 1, horizon: int = 1, members: list[Forecaster] | None = None) -> None:
        super().__init__(season, horizon)
        self.members = members or [ExponentialSmoothing(season, horizon), BoostedForecaster(season, horizon)]

    @classmethod
    def from_config(cls, *, season: int, horizon: int, config=None, seed: int = 0) -> "Combined":
        return cls(season, horizon, [ExponentialSmoothing.from_config(season=season, horizon=horizon, config=config),
                                     BoostedForecaster.from_config(season=season, horizon=horizon, config=config,
                                                                   seed=seed)])

    @classmethod
    def check_available(cls) -> None:
        ExponentialSmoothing.check_available()

    @staticmethod
    def backtest_from(member_records: list[list]) -> list:
        """The combined backtest records from the members' records of the same windows (one list per member):
        the mean forecast, wherever every member forecast that series in that window."""
        from dataclasses import replace

        keyed = [{(r.cutoff, r.key): r for r in records} for records in member_records]
        common = sorted(set.intersection(*(set(k) for k in keyed)), key=lambda k: (k[0], str(k[1])))
        return [replace(keyed[0][k], forecast=np.mean([m[k].forecast for m in keyed], axis=0)) for k in common]

    def fit(self, series, *, deadline: float | None = None) -> "Combined":
        for member in self.members:
            member.fit(series, deadline=deadline)
        return self

    def forecast(self, series, steps: int) -> np.ndarray:
        return np.mean([member.forecast(series, steps) for member in self.members], axis=0)

    def save(self, directory: Path) -> dict[str, Any]:
        states = []
        for i, member in enumerate(self.members):
            states.append({**member.save(Path(directory) / f"member-{i}"), "folder": f"member-{i}"})
        return {"type": self.name, **self.state(), "members": states}

    @classmethod
    def from_state(cls, state: dict[str, Any], directory: Path) -> "Combined":
        from trainwright.models.series import load_forecaster

        members = [load_forecaster(s, Path(directory) / s["folder"]) for s in state["members"]]
        return cls(state["season"], state["horizon"], members)
