"""A trained run, ready to use: its record (``runs.Run``) and its predictor, loaded once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trainwright.deploy.predictor import Predictor
from trainwright.errors import DataError
from trainwright.runs import Run

__all__ = ["TrainedModel", "load"]


class TrainedModel:
    """What ``trainwright.train`` and ``trainwright.load`` return: a run's record and a predictor.

    Args:
        path: the run directory.

    Example:
        >>> import tempfile, trainwright
        >>> from importlib import resources
        >>> data = resources.files("trainwright") / "datasets" / "penguins.csv"
        >>> model = trainwright.train(str(data), target="species", out=tempfile.mkdtemp() + "/run",
        ...                           overrides=["evaluate.report=false"])
        >>> model.status, model.task
        ('completed', 'classification')
        >>> import pandas as pd
        >>> trainwright.load(model.path).predict(pd.read_csv(data).head(2))["prediction"].tolist()
        ['Adelie', 'Adelie']
    """

    def __init__(self, path: str | Path) -> None:
        self.run = Run(path)
        self._predictor: Predictor | None = None

    def __repr__(self) -> str:
        return f"TrainedModel('{self.path}', status={self.status!r}, model={self.info.get('model')!r})"

    @property
    def path(self) -> Path:
        """The run directory."""
        return self.run.path

    @property
    def info(self) -> dict[str, Any]:
        """The run's ``run.json``."""
        return self.run.info

    @property
    def status(self) -> str:
        """``running``, ``completed`` or ``failed``."""
        return self.run.status

    @property
    def task(self) -> str:
        """``classification``, ``regression`` or ``forecast``."""
        return self.run.task

    @property
    def target(self) -> str:
        """The column predicted."""
        return self.run.target

    @property
    def metrics(self) -> dict[str, Any]:
        """``{"train": {...}, "validation": {...}, "test": {...}}`` as trained."""
        return self.run.metrics

    @property
    def predictor(self) -> Predictor:
        """The ``Predictor`` built from the saved artifacts (loaded once)."""
        if self._predictor is None:
            if self.info.get("task") == "forecast":  # a run that did not finish may not say its task
                from trainwright.deploy.forecast import ForecastPredictor

                self._predictor = ForecastPredictor.load(self.run)
            else:
                self._predictor = Predictor.load(self.run)
        return self._predictor

    def training_rows(self):
        """(the path, the rows) of the file the run was trained on, read again.

        Raises:
            DataError: the file is gone or changed since training (its SHA-256 is checked).
        """
        from trainwright.data.sources import file_sha256, read_table

        fingerprint = self.run.read_json("fingerprint.json")
        path = Path(fingerprint["file"])
        if not path.is_file() or file_sha256(path) != fingerprint["sha256"]:
            raise DataError(f"the run's data file {path} is {'gone' if not path.is_file() else 'changed'} since "
                            f"{self.path} was trained (SHA-256 {fingerprint['sha256'][:12]}...); put the original "
                            "file back at that path", file=str(path))
        return path, read_table(path)

    def predict(self, frame, *, invalid: str = "error"):
        """Predictions for raw rows: a DataFrame with ``prediction`` and, for classification, one
        ``proba_<class>`` column per class. Columns may come in any order; extra ones are ignored. A value
        that is not a number in a numeric column is an error, or missing with ``invalid="missing"``."""
        return self.predictor.predict(frame, invalid=invalid)

    def evaluate(self, frame) -> dict[str, Any]:
        """Score labelled rows (the target column must be present); returns the metrics."""
        if self.info.get("task") == "forecast":
            raise DataError("a forecasting run is scored by its backtests (metrics.json, the report); `evaluate` "
                            "scores table runs. To score a forecast, predict from the history and compare with what "
                            "happened.")
        if self.target not in frame.columns:
            raise DataError(
                f"the data has no target column '{self.target}', so it cannot be scored. "
                "Add the labels, or use `trainwright predict` for unlabelled rows.",
                column=self.target,
            )
        self.predictor.refuse_invalid(frame)
        frame = self.predictor.prepare(frame)
        labelled = frame[frame[self.target].notna()]
        if len(labelled) == 0:
            raise DataError(f"every value of the target column '{self.target}' is missing", column=self.target)
        y = labelled[self.target]
        if self.task == "regression":
            from trainwright.data.schema import numeric_target

            y = numeric_target(y, self.target, "the data")
        return self.predictor.score(labelled, y.to_numpy(), prepared=True)


def load(path: str | Path) -> TrainedModel:
    """Open a run directory written by ``train``, ready to predict.

    Raises:
        ArtifactError: the folder is not a run, was written by an incompatible version, or (when predicting)
            did not complete.

    Example:
        >>> load("no/such/run")
        Traceback (most recent call last):
        ...
        trainwright.errors.ArtifactError: no/such/run is not a trainwright run directory (no run.json)
    """
    return TrainedModel(path)
