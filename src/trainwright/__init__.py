"""trainwright: from raw data to a trained, validated and reusable model.

Example:
    >>> import trainwright
    >>> run = trainwright.train("penguins.csv", target="species")   # doctest: +SKIP
    >>> trainwright.load(run.path).predict(new_rows)                 # doctest: +SKIP

Names are imported on first use, so ``import trainwright`` (and the CLI's
start-up) never pays for torch, LightGBM or scikit-learn.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "train": "trainwright.experiment",
    "audit": "trainwright.experiment",
    "lr_find": "trainwright.experiment",
    "Experiment": "trainwright.experiment",
    "load": "trainwright.runs",
    "Run": "trainwright.runs",
    "list_runs": "trainwright.runs",
    "Recipe": "trainwright.config.recipe",
    "TrainwrightError": "trainwright.errors",
    "ConfigError": "trainwright.errors",
    "DataError": "trainwright.errors",
    "ArtifactError": "trainwright.errors",
    "NotFittedError": "trainwright.errors",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:  # for editors and type checkers; at run time names load lazily
    from trainwright.config.recipe import Recipe
    from trainwright.errors import ArtifactError, ConfigError, DataError, NotFittedError, TrainwrightError
    from trainwright.experiment import Experiment, audit, lr_find, train
    from trainwright.runs import Run, list_runs, load


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'trainwright' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(__all__)
