"""The predictor: raw rows in, predictions out, exactly as the run was trained.

It replays the run's frame-level steps (category spellings merged in cleaning,
lag and rolling features), then each member's preprocessing and learner, and
pools the members (one member normally; m with multiple imputation) by
averaging probabilities or values.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Predictor"]


class Predictor:
    """Applies saved preprocessing and learners to new rows.

    Args:
        members: (Preprocessor, Learner) pairs whose outputs are averaged.
        task: "classification" or "regression".
        frame_steps: {"category_maps": ..., "lags": ..., "rolling": ..., "order_by": ...}.
        threshold: binary classification only: predict the second class when its probability
            reaches this (chosen on validation rows, ``evaluate.threshold``); None: the most probable class.
    """

    def __init__(self, members: list[tuple[Any, Any]], task: str, frame_steps: dict[str, Any] | None = None,
                 threshold: float | None = None) -> None:
        self.members = members
        self.task = task
        self.frame_steps = frame_steps or {}
        self.threshold = threshold

    @property
    def classes_(self) -> np.ndarray:
        return self.members[0][1].classes_

    def prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The frame-level steps of training, replayed on new rows."""
        from trainwright.data.clean import apply_category_maps
        from trainwright.data.engineer import add_time_features

        steps = self.frame_steps
        frame = apply_category_maps(frame, steps.get("category_maps", {}))
        return add_time_features(frame, steps.get("lags", {}), steps.get("rolling", {}), steps.get("order_by"))

    def output(self, frame: pd.DataFrame, *, prepared: bool = False) -> np.ndarray:
        """Pooled class probabilities (rows, classes) or predicted values (rows,)."""
        if not prepared:
            frame = self.prepare(frame)
        outs = []
        for pre, learner in self.members:
            X = pre.transform(frame)
            outs.append(learner.predict_proba(X) if self.task == "classification" else learner.predict(X))
        return np.mean(outs, axis=0)

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

    # --- artifacts -------------------------------------------------------------------
    def save(self, run_dir: Path) -> None:
        from trainwright.runs import write_json

        single = len(self.members) == 1
        pres = [pre.to_dict() for pre, _ in self.members]
        write_json(run_dir / "preprocessor.json", pres[0] if single else {"members": pres})
        for i, (_, learner) in enumerate(self.members):
            learner.save(run_dir / "model" if single else run_dir / "model" / f"member-{i}")

    @classmethod
    def load(cls, run_dir: Path, task: str, frame_steps: dict[str, Any] | None,
             threshold: float | None = None) -> "Predictor":
        from trainwright.data.features import Preprocessor
        from trainwright.models.base import load_learner

        data = json.loads((run_dir / "preprocessor.json").read_text(encoding="utf-8"))
        if "members" in data:
            members = [(Preprocessor.from_dict(d), load_learner(run_dir / "model" / f"member-{i}"))
                       for i, d in enumerate(data["members"])]
        else:
            members = [(Preprocessor.from_dict(data), load_learner(run_dir / "model"))]
        return cls(members, task, frame_steps, threshold)
