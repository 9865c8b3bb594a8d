"""The predictor: raw rows in, predictions out, exactly as the run was trained.

It replays the run's frame-level steps (category spellings merged in cleaning, lag and rolling features),
then each member's preprocessing and learner, and pools the members (one member normally; m with multiple
imputation; the fold models of an ``auto`` ensemble) by a weighted average of probabilities or values.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from trainwright.errors import ArtifactError

__all__ = ["Predictor"]


class Predictor:
    """Applies fitted preprocessing and learners to new rows.

    Args:
        members: (Preprocessor, Learner) pairs whose outputs are averaged.
        task: "classification" or "regression".
        frame_steps: {"category_maps": ..., "lags": ..., "rolling": ..., "order_by": ...}.
        threshold: binary classification only: predict the second class when its probability
            reaches this (chosen on validation rows, ``evaluate.threshold``); None: the most probable class.
        weights: each member's weight in the pooled output (summing to 1); None: equal weights.
        pooling: what the members are, in words: "multiple imputation" or "ensemble".
        calibrator: classification only: maps the pooled probabilities to calibrated ones
            (``evaluate.calibrate``, fitted on validation rows); None: the probabilities as pooled.

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
                 threshold: float | None = None, weights: list[float] | None = None,
                 pooling: str = "multiple imputation", calibrator=None) -> None:
        self.members = members
        self.task = task
        self.frame_steps = frame_steps or {}
        self.threshold = threshold
        self.weights = np.full(len(members), 1.0 / len(members)) if weights is None else np.asarray(weights, float)
        self.pooling = pooling
        self.calibrator = calibrator

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
        if len(frame) == 0:  # a file with a header and no rows: no predictions, in the right shape
            self.members[0][0].transform(frame)  # still checks the columns
            return np.zeros((0, len(self.classes_))) if self.task == "classification" else np.zeros(0)
        total = 0.0
        for (pre, learner), weight in zip(self.members, self.weights):
            total = total + weight * learner.output(pre.transform(frame))
        return total if self.calibrator is None else self.calibrator.transform(total)

    def invalid_numbers(self, frame: pd.DataFrame) -> dict[str, pd.Index]:
        """Values of numeric input columns that are not numbers (text such as 'old'), as row labels by column.

        Example:
            >>> from trainwright.data.features import Preprocessor
            >>> pre = Preprocessor({"age": "numeric"}).fit(pd.DataFrame({"age": [30.0, 40.0]}))
            >>> p = Predictor([(pre, None)], "regression")
            >>> {c: list(rows) for c, rows in p.invalid_numbers(pd.DataFrame({"age": ["31", "old", None]})).items()}
            {'age': [1]}
        """
        out = {}
        for col, kind in self.members[0][0].kinds.items():
            if kind != "numeric" or col not in frame.columns:
                continue
            s = frame[col]
            if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
                continue
            text = s.astype(str).str.strip()
            bad = (s.notna() & (text != "") & pd.to_numeric(text, errors="coerce").isna()).to_numpy()
            if bad.any():
                out[col] = frame.index[bad]
        return out

    def predict(self, frame: pd.DataFrame, *, invalid: str = "error") -> pd.DataFrame:
        """``prediction`` and, for classification, one ``proba_<class>`` column per class; first the image
        columns' paths when the model reads images (each row says which file it is about).

        Args:
            invalid: what a value that is not a number in a numeric column does: "error" (a ``DataError``
                naming the column and rows) or "missing" (it is imputed like a missing value).
        """
        if invalid == "error":
            self.refuse_invalid(frame)
        out = pd.DataFrame(index=frame.index)
        for col, kind in self.members[0][0].kinds.items():
            if kind == "image" and col in frame.columns:
                out[col] = frame[col]
        raw = self.output(frame)
        if self.task == "classification":
            out["prediction"] = self.classes_[self.decide(raw)] if len(raw) else []
            for i, cls in enumerate(self.classes_.tolist()):
                out[f"proba_{cls}"] = raw[:, i]
        else:
            out["prediction"] = raw
        return out

    def refuse_invalid(self, frame: pd.DataFrame) -> None:
        """Raise a ``DataError`` naming the first numeric column that holds values that are not numbers."""
        from trainwright.errors import DataError

        for col, rows in self.invalid_numbers(frame).items():
            example = frame.loc[rows[0], col]
            raise DataError(
                f"column '{col}' holds values that are not numbers (e.g. {example!r}) in {len(rows)} row(s): "
                f"{', '.join(map(str, rows[:5].tolist()))} (0-based, header not counted). Fix those values, or "
                "treat them as missing with --invalid missing (Python: predict(frame, invalid='missing')).",
                column=col)

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
    def load(cls, run, *, require_completed: bool = True) -> "Predictor":
        """The predictor of a completed run (a ``runs.Run``): its preprocessors and learners, read without
        pickle. ``require_completed=False`` loads the saved model of a run that stopped after saving it (for
        ``--resume``)."""
        from trainwright.data.features.preprocessor import Preprocessor
        from trainwright.models.registry import load_learner
        from trainwright.runs import layout

        if require_completed:
            run.require_completed()
        data = run.read_json(layout.PREPROCESSOR)
        try:
            states = data["members"] if "members" in data else [data]
            pres = [Preprocessor.from_dict(d) for d in states]
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise ArtifactError(f"{run.path / layout.PREPROCESSOR} is damaged ({type(exc).__name__}: "
                                f"{str(exc)[:200]}); train the run again.") from None
        members = [(pre, load_learner(layout.member_dir(run.path, i, len(states)))) for i, pre in enumerate(pres)]
        for i, (_, learner) in enumerate(members):
            if hasattr(learner, "classes_") != (run.task == "classification"):
                raise ArtifactError(f"{layout.member_dir(run.path, i, len(states))} holds a model that does not "
                                    f"match the run's task ({run.task}): the folder was mixed with another run's. "
                                    "Train the run again.")
        chosen = run.info.get("threshold") or {}
        weights = data.get("weights") if "members" in data else None
        if weights is not None and (not isinstance(weights, list) or len(weights) != len(members)):
            raise ArtifactError(f"{run.path / layout.PREPROCESSOR} is damaged (its weights do not match its "
                                f"{len(members)} members); train the run again.")
        return cls(members, run.task, run.info.get("frame_steps"), chosen.get("threshold"), weights,
                   data.get("pooling", "multiple imputation"), _calibrator(run))


def _calibrator(run):
    """The run's calibrator (``calibration.json``), or None when it has none."""
    from trainwright.evaluate.calibration import Calibrator
    from trainwright.runs import layout

    data = run.read_json(layout.CALIBRATION, None)
    if data is None:
        return None
    try:
        return Calibrator.from_dict(data)
    except (ValueError, TypeError, KeyError) as exc:
        raise ArtifactError(f"{run.path / layout.CALIBRATION} is damaged ({exc}); train the run again.") from None
