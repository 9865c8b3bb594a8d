"""The recipe's ``tune:`` section: what ``trainwright tune`` searches, how, and for how long."""

from __future__ import annotations

from typing import Any, Literal, Optional, Union

from pydantic import Field, model_validator

from trainwright.config.base import Section

__all__ = ["Distribution", "TuneConfig"]

Choice = Union[bool, int, float, str, list, None]


class Distribution(Section):
    """One searched recipe value: ``int`` or ``float`` between ``low`` and ``high`` (``log: true`` samples on a
    log scale; ``step`` makes a grid), ``log`` (a float on a log scale), or one of ``choices``.

    Example:
        >>> Distribution(type="log", low=1e-4, high=1e-1).log
        True
    """

    type: Literal["int", "float", "log", "categorical"] = Field(..., description="The kind of values.")
    low: Optional[float] = Field(None, description="Smallest value (int, float, log).")
    high: Optional[float] = Field(None, description="Largest value (int, float, log).")
    step: Optional[float] = Field(None, gt=0, description="Spacing of the values (int, float); for the grid sampler.")
    log: bool = Field(False, description="Sample on a log scale (int, float); implied by type=log.")
    choices: Optional[list[Choice]] = Field(None, min_length=1, description="The values to choose among (categorical).")

    @model_validator(mode="after")
    def _consistent(self) -> "Distribution":
        if self.type == "log":
            object.__setattr__(self, "log", True)
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("a categorical distribution needs choices: [...]")
            return self
        if self.low is None or self.high is None:
            raise ValueError(f"a {self.type} distribution needs low and high")
        if self.low >= self.high:
            raise ValueError(f"low must be below high, got low={self.low:g}, high={self.high:g}")
        if self.log and self.low <= 0:
            raise ValueError(f"a log scale needs low > 0, got low={self.low:g}")
        if self.log and self.step is not None:
            raise ValueError("step and a log scale cannot be combined (Optuna samples one or the other)")
        return self

    def grid(self, points: int = 5) -> list[Any]:
        """The values the grid sampler tries: the choices, every ``step``, or ``points`` spread evenly (on a log
        scale for log distributions).

        Example:
            >>> Distribution(type="int", low=1, high=9, step=4).grid()
            [1, 5, 9]
        """
        import numpy as np

        if self.type == "categorical":
            return list(self.choices)
        if self.step is not None:
            values = np.arange(self.low, self.high + self.step / 2, self.step)
        elif self.log:
            values = np.geomspace(self.low, self.high, points)
        else:
            values = np.linspace(self.low, self.high, points)
        return sorted({int(round(v)) for v in values}) if self.type == "int" else [float(v) for v in values]


class TuneConfig(Section):
    """Hyperparameter search (``trainwright tune``): Optuna over any recipe values, with pruning."""

    params: dict[str, Distribution] = Field(
        default_factory=dict,
        description="Recipe path -> distribution, e.g. model.num_leaves: {type: int, low: 8, high: 256, log: true}, "
                    "train.optimizer.lr: {type: log, low: 1e-4, high: 1e-1}, balance.method: {type: categorical, "
                    "choices: [none, class_weight]}. Empty: the learner's own default search space.")
    sampler: Literal["tpe", "random", "grid", "cmaes", "gp"] = Field(
        "tpe", description="How values are proposed: tpe (Bayesian, tree-structured Parzen estimator), random, grid "
                           "(every combination of each distribution's grid), cmaes (CMA-ES; numeric values only), "
                           "gp (Gaussian-process Bayesian optimisation).")
    pruner: Literal["asha", "hyperband", "median", "none"] = Field(
        "asha", description="How bad trials are stopped early from the validation loss they report after each epoch "
                            "or block of boosting rounds: asha (successive halving), hyperband, median, none.")
    trials: Optional[int] = Field(None, ge=1, description=(
        "Trials to run in the study (finished trials already in its storage count). Without it, trials run "
        "until the time budget; with neither, 20 (or the whole grid)."))
    cv: int = Field(0, ge=0, le=20, description=(
        "0: each trial is scored on the validation rows. k >= 2: k-fold cross-validation over the train+validation "
        "rows (grouped by split.group_column when the split is grouped, stratified for classification); "
        "pruning then looks at the running mean after each fold."))
    refit: bool = Field(True, description=(
        "Refit the best configuration on train+validation rows with its iterations fixed (learners that can: "
        "those with a fixed iteration count or strength); the validation scores of the run then come from rows "
        "the model saw, and the study's own validation score is the honest one."))
    storage: Optional[str] = Field(None, description=(
        "Where the study lives: none (in memory, one process), a journal file path (journal:PATH or a path "
        "ending in .journal; processes on one machine share it), or a database URL (postgresql://user@host/db, "
        "sqlite:///file.db; processes on several machines share it). A study in storage resumes when the same "
        "command runs again."))
    study: Optional[str] = Field(None, description="Study name in the storage (default: derived from the data and target).")
    workers: int = Field(1, ge=1, description=(
        "Processes running trials at once on this machine, sharing the study (the cores are divided between "
        "them). Without a storage, a journal file in the run directory is used."))
