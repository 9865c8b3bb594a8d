"""trainwright: from raw data to a trained, validated and reusable model.

Example:
    >>> import tempfile, trainwright
    >>> from importlib import resources
    >>> data = str(resources.files("trainwright") / "datasets" / "penguins.csv")
    >>> run = trainwright.train(data, target="species", out=tempfile.mkdtemp() + "/run", time_budget=10,
    ...                         overrides=["evaluate.report=false"])
    >>> import pandas as pd
    >>> trainwright.load(run.path).predict(pd.read_csv(data).tail(1))["prediction"].tolist()
    ['Chinstrap']

Names are imported on first use, so ``import trainwright`` (and the CLI's start-up) never pays for torch,
LightGBM or scikit-learn.
"""

from __future__ import annotations

from trainwright.exports import lazy_exports
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "train": "trainwright.pipeline.api",
    "tune": "trainwright.pipeline.tuning",
    "retrain": "trainwright.pipeline.retrain",
    "compress": "trainwright.pipeline.compress",
    "audit": "trainwright.pipeline.api",
    "lr_find": "trainwright.pipeline.api",
    "Experiment": "trainwright.pipeline.experiment",
    "Recipe": "trainwright.pipeline.recipe",
    "load": "trainwright.deploy.model",
    "TrainedModel": "trainwright.deploy.model",
    "Run": "trainwright.runs.reader",
    "list_runs": "trainwright.runs.reader",
    "TrainwrightError": "trainwright.errors",
    "ConfigError": "trainwright.errors",
    "DataError": "trainwright.errors",
    "ArtifactError": "trainwright.errors",
    "NotFittedError": "trainwright.errors",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:  # for editors and type checkers; at run time names load lazily
    from trainwright.deploy.model import TrainedModel, load
    from trainwright.errors import ArtifactError, ConfigError, DataError, NotFittedError, TrainwrightError
    from trainwright.pipeline.api import audit, lr_find, train
    from trainwright.pipeline.experiment import Experiment
    from trainwright.pipeline.compress import compress
    from trainwright.pipeline.retrain import retrain
    from trainwright.pipeline.tuning import tune
    from trainwright.pipeline.recipe import Recipe
    from trainwright.runs.reader import Run, list_runs


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
