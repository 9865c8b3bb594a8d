"""The forecaster contract: ``fit(series, deadline=...)`` on regular series (``data.series``) and
``forecast(series, steps)``, an array (series x steps) of the values after each series' last one; saved as JSON
(plus the forecaster's own files), no pickle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Forecaster"]


class Forecaster:
    """The contract: ``fit``, ``forecast``, ``state`` (JSON) and ``from_state``; ``name`` is its recipe name."""

    name = "forecaster"
    description = ""
    in_auto = True  # backtested by every run (False: only when forecast.model names it)

    def __init__(self, season: int = 1, horizon: int = 1) -> None:
        self.season = season
        self.horizon = horizon

    @classmethod
    def check_available(cls) -> None:
        """Raise ``ConfigError`` naming the install when a package the forecaster needs is missing."""

    def fit(self, series, *, deadline: float | None = None) -> "Forecaster":
        """Learn from ``series`` (a list of ``data.series.Series``); local forecasters learn nothing here."""
        return self

    def forecast(self, series, steps: int) -> np.ndarray:
        """The next ``steps`` values of each series (rows: series, columns: steps 1..steps)."""
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        """What ``from_state`` needs, as JSON."""
        return {"season": self.season, "horizon": self.horizon}

    def save(self, directory: Path) -> dict[str, Any]:
        """Write the forecaster's own files into ``directory``; returns its JSON state."""
        return {"type": self.name, **self.state()}

    @classmethod
    def from_config(cls, *, season: int, horizon: int, config=None, seed: int = 0) -> "Forecaster":
        """A new forecaster for a run's season and horizon; ``config`` is the recipe's ``forecast:`` section."""
        return cls(season=season, horizon=horizon)

    @classmethod
    def from_state(cls, state: dict[str, Any], directory: Path) -> "Forecaster":
        """The forecaster saved by ``save``."""
        return cls(season=state["season"], horizon=state["horizon"])
