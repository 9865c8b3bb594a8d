"""Forecasters (``task: forecast``): seasonal naive, exponential smoothing, gradient boosting and a GRU on windows.

Each has the contract of ``base.Forecaster`` and a recipe name (``forecast.model``); ``FORECASTER_CLASSES``
maps the names to the classes, ``build_forecaster`` makes one from the recipe, ``load_forecaster`` reads a
saved one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trainwright.models.series.base import Forecaster
from trainwright.models.series.boosted import BoostedForecaster
from trainwright.models.series.classical import ExponentialSmoothing, SeasonalNaive
from trainwright.models.series.combined import Combined
from trainwright.models.series.recurrent import RecurrentForecaster

__all__ = ["Forecaster", "SeasonalNaive", "ExponentialSmoothing", "BoostedForecaster", "Combined",
           "RecurrentForecaster", "FORECASTER_CLASSES", "build_forecaster", "load_forecaster"]

FORECASTER_CLASSES: dict[str, type[Forecaster]] = {c.name: c for c in (SeasonalNaive, ExponentialSmoothing,
                                                                         BoostedForecaster, Combined,
                                                                         RecurrentForecaster)}


def build_forecaster(name: str, *, season: int, horizon: int, config=None, seed: int = 0) -> Forecaster:
    """A forecaster by recipe name, with the run's season and horizon and its ``forecast:`` settings."""
    return FORECASTER_CLASSES[name].from_config(season=season, horizon=horizon, config=config, seed=seed)


def load_forecaster(state: dict[str, Any], directory: Path) -> Forecaster:
    """The forecaster saved as ``state`` (and its files in ``directory``)."""
    return FORECASTER_CLASSES[state["type"]].from_state(state, directory)
