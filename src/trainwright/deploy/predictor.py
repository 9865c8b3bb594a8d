"""The predictor: raw rows in, predictions out, exactly as the run was trained.

It replays the run's frame-level steps (category spellings merged in cleaning, lag and rolling features),
then each member's preprocessing and learner, and pools the members (one member normally; m with multiple
imputation) by averaging probabilities or values.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Predictor"]


class Predictor:
    """Applies fitted preprocessing and learners to new rows.

    Args:
        members: (Preprocessor, Learner) pairs whose outputs are averaged.
        task: "classification" or "regression".
        frame_steps: {"category_maps": ..., "lags": ..., "rolling": ..., "order_by": ...}.
        threshold: binary classification only: predict the second class when its probability
            reaches this (chosen on validation rows, ``evaluate.threshold``); None: the most probable class.

    Example:
        >>> from trainwright.data.features import Preprocessor
        >>> from trainwright.models.tabular.linear import LinearLearner
        >>> rows = pd.DataFrame({"x": np.arange(20.0)})
        >>> pre = Preprocessor({"x": "numeric"}).fit(rows)
        >>> learner = LinearLearner(task="regression", alpha=0.01).fit(pre.transform(rows), np.arange(20.0) * 3)
        >>> Predictor([(pre, learner)], "regression").predict(rows.head(2))["prediction"].round(1).tolist()
        [0.0, 3.0]
    """

    def __init__(self, members: list[tuple[Any, Any]], task: str, frame_steps: dict[str, Any] | None = None,
                 threshold: float | None = None) -> None:
        self.members = members
        self.task = task
        self.frame_steps = frame_steps or {}
        self.threshold = threshold

    @property
    def classes_(self) -> np.ndarray:
        """The class labels, in probability-column order."""
        return self.members[0][1].classes_

    @property
    def classes(self) -> list | None:
        """The class labels as a list (classification), else None."""
        return self.classes_.tolist() if self.task == "classification" else None

    def prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The frame-level steps of training, replayed on new rows."""
        from trainwright.data.clean import apply_category_maps
        from trainwright.data.features.lags import add_time_features

        steps = self.frame_steps
        frame = apply_category_maps(frame, steps.get("category_maps", {}))
        return add_time_features(frame, steps.get("lags", {}), steps.get("rolling", {}), steps.get("order_by"))

    def output(self, frame: pd.DataFrame, *, prepared: bool = False) -> np.ndarray:
        """Pooled class probabilities (rows, classes) or predicted values (rows,)."""
        if not prepared:
            frame = self.prepare(frame)
        return np.mean([learner.output(pre.transform(frame)) for pre, learner in self.members], axis=0)

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``prediction`` and, for classification, one ``proba_<class>`` column per class."""
        out = pd.DataFrame(index=frame.index)
        raw = self.output(frame)
        if self.task == "classification":
            out["prediction"] = self.classes_[self.decide(raw)] if len(raw) else []
            for i, cls in enumerate(self.classes_.tolist()):
                out[f"proba_{cls}"] = raw[:, i]
        else:
            out["prediction"] = raw
        return out

    def decide(self, proba: np.ndarray) -> np.ndarray:
        """Class positions from probabilities: the threshold for binary tasks when one was chosen, else argmax."""
        from trainwright.evaluate.metrics import predicted_classes

        return predicted_classes(proba, self.threshold)

    def score(self, frame: pd.DataFrame, y, *, prepared: bool = False) -> dict[str, Any]:
        """Every metric of the predictions of ``frame`` against raw targets ``y`` (threshold applied)."""
        from trainwright.evaluate.scoring import score_output

        return score_output(self.task, y, self.output(frame, prepared=prepared), self.classes,
                            threshold=self.threshold)

    @classmethod
    def load(cls, run) -> "Predictor":
        """The predictor of a completed run (a ``runs.Run``): its preprocessors and learners, read without pickle."""
        from trainwright.data.features.preprocessor import Preprocessor
        from trainwright.models.registry import load_learner
        from trainwright.runs import layout

        run.require_completed()
        data = run.read_json(layout.PREPROCESSOR)
        states = data["members"] if "members" in data else [data]
        members = [(Preprocessor.from_dict(d), load_learner(layout.member_dir(run.path, i, len(states))))
                   for i, d in enumerate(states)]
        chosen = run.info.get("threshold") or {}
        return cls(members, run.task, run.info.get("frame_steps"), chosen.get("threshold"))
