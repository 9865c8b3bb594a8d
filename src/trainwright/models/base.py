"""The learner contract: scikit-learn's estimator API plus saving without pickle.

A learner is final for users and abstract for implementers: subclasses define
``name``, ``__init__`` (store only), ``_fit``, ``_predict_raw`` and the two
state hooks. Learned state ends in ``_``.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from trainwright.errors import ArtifactError, DataError, NotFittedError

__all__ = ["Learner", "build_learner", "load_learner", "LEARNER_FORMAT_VERSION"]

LEARNER_FORMAT_VERSION = 1


class Learner:
    """Base of every learner.

    Follows scikit-learn's contract (``fit`` returns self, ``get_params`` /
    ``set_params``, ``classes_`` for classifiers), so learners work inside
    ``cross_val_score``, ``GridSearchCV`` and stacking. One class serves both
    tasks; ``task`` picks classification or regression.
    """

    name: ClassVar[str] = ""
    # Modules the learner imports to fit; loaded before its share of a time budget starts.
    requires: ClassVar[tuple[str, ...]] = ()

    # --- scikit-learn estimator protocol ---------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments, as scikit-learn expects."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> "Learner":
        """Set constructor arguments; unknown names raise ``ValueError``."""
        valid = self._param_names()
        for key, value in params.items():
            if key not in valid:
                raise ValueError(f"{type(self).__name__} has no parameter '{key}'. Valid: {', '.join(valid)}")
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    @property
    def _estimator_type(self) -> str:
        return "classifier" if self.task == "classification" else "regressor"

    def __sklearn_tags__(self):
        from sklearn.utils import ClassifierTags, InputTags, RegressorTags, Tags, TargetTags

        classifier = self.task == "classification"
        return Tags(
            estimator_type=self._estimator_type,
            target_tags=TargetTags(required=True),
            input_tags=InputTags(),
            classifier_tags=ClassifierTags() if classifier else None,
            regressor_tags=None if classifier else RegressorTags(),
        )

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "n_features_in_")

    # --- fitting and prediction -------------------------------------------
    def fit(self, X, y, *, X_valid=None, y_valid=None, sample_weight=None,
            deadline: float | None = None, checkpoint_dir=None, resume: bool = False, callbacks=()) -> "Learner":
        """Fit on ``X`` (rows x features, numeric) and ``y``.

        Args:
            X, y: training rows and targets (class labels for classification).
            X_valid, y_valid: validation rows for early stopping and the best iteration.
            sample_weight: per-row weights of the training rows (e.g. class weights).
            deadline: ``time.monotonic()`` value after which training stops early.
            checkpoint_dir, resume, callbacks: for neural learners: where checkpoints go, whether to
                continue from the newest one, and loop callbacks. Other learners ignore them.

        Returns:
            self
        """
        X = _as_matrix(X)
        y = np.asarray(y)
        if len(X) != len(y):
            raise DataError(f"X has {len(X)} rows but y has {len(y)}")
        if self.task not in ("classification", "regression"):
            raise ValueError(f"task must be 'classification' or 'regression', got {self.task!r}")
        valid = None
        if X_valid is not None and y_valid is not None and len(X_valid) > 0:
            valid = (_as_matrix(X_valid), np.asarray(y_valid))
        if self.task == "classification":
            self.classes_, y_enc = np.unique(y, return_inverse=True)
            if len(self.classes_) < 2:
                raise DataError(f"classification needs at least 2 classes, got only {self.classes_.tolist()}")
            if valid is not None:
                valid = (valid[0], self.encode_labels(valid[1]))
        else:
            y_enc = y.astype(np.float64)
            if valid is not None:
                valid = (valid[0], valid[1].astype(np.float64))
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=np.float64)
            if sample_weight.shape != (len(X),) or (sample_weight < 0).any():
                raise DataError(f"sample_weight must be {len(X)} non-negative numbers, got shape {sample_weight.shape}")
        self._fit_options = {"checkpoint_dir": checkpoint_dir, "resume": resume, "callbacks": callbacks}
        self.n_features_in_ = X.shape[1]
        self.history_: list[dict[str, Any]] = []
        self.stopped_by_ = "completed"
        self._fit(X, y_enc, valid, deadline, sample_weight)
        return self

    def encode_labels(self, y) -> np.ndarray:
        y = np.asarray(y)
        idx = np.clip(np.searchsorted(self.classes_, y), 0, len(self.classes_) - 1)
        unknown = self.classes_[idx] != y
        if unknown.any():
            raise DataError(
                f"label {y[unknown][0]!r} was not among the training classes {self.classes_.tolist()}"
            )
        return idx.astype(np.int64)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (rows, classes), columns in ``classes_`` order."""
        self._check_fitted()
        if self.task != "classification":
            raise AttributeError("predict_proba is only available for classification")
        return self._predict_raw(self._check_X(X))

    def predict(self, X) -> np.ndarray:
        """Class labels (classification) or values (regression), one per row."""
        self._check_fitted()
        raw = self._predict_raw(self._check_X(X))
        if self.task == "classification":
            return self.classes_[np.argmax(raw, axis=1)]
        return raw

    def score(self, X, y) -> float:
        """Accuracy (classification) or R2 (regression), as scikit-learn's mixins define it."""
        pred = self.predict(X)
        y = np.asarray(y)
        if self.task == "classification":
            return float(np.mean(pred == y))
        ss_res = float(np.sum((y - pred) ** 2))
        ss_tot = float(np.sum((y - y.mean()) ** 2))
        return 1.0 - ss_res / ss_tot if ss_tot > 0 else 0.0

    def _check_fitted(self) -> None:
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit first")

    def _check_X(self, X) -> np.ndarray:
        X = _as_matrix(X)
        if X.shape[1] != self.n_features_in_:
            raise DataError(f"X has {X.shape[1]} features, but the learner was fitted on {self.n_features_in_}")
        return X

    # --- hooks for subclasses ---------------------------------------------
    def _fit(self, X: np.ndarray, y: np.ndarray, valid, deadline, sample_weight) -> None:
        raise NotImplementedError

    def _predict_raw(self, X: np.ndarray) -> np.ndarray:
        """Probabilities (classification, rows x classes) or values (regression)."""
        raise NotImplementedError

    def _save_state(self, directory: Path) -> dict[str, Any]:
        """Write learned state under ``directory``; return JSON-able extras."""
        raise NotImplementedError

    def _load_state(self, directory: Path, extra: dict[str, Any]) -> None:
        raise NotImplementedError

    # --- artifacts ----------------------------------------------------------
    def save(self, directory: str | Path) -> None:
        """Save to ``directory`` without pickle: ``learner.json`` plus the family's own files."""
        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        extra = self._save_state(directory)
        meta = {
            "format_version": LEARNER_FORMAT_VERSION,
            "type": self.name,
            "params": _jsonable(self.get_params()),
            "n_features_in": int(self.n_features_in_),
            "classes": self.classes_.tolist() if self.task == "classification" else None,
            "stopped_by": self.stopped_by_,
            "best_iteration": getattr(self, "best_iteration_", None),
            "history": self.history_,
            "state": _jsonable(extra),
        }
        (directory / "learner.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, directory: str | Path) -> "Learner":
        """Load a learner saved by ``save``."""
        directory = Path(directory)
        meta = _read_meta(directory)
        learner = cls(**meta["params"])
        learner.n_features_in_ = meta["n_features_in"]
        if meta["classes"] is not None:
            learner.classes_ = np.asarray(meta["classes"])
        learner.stopped_by_ = meta["stopped_by"]
        learner.history_ = meta["history"]
        if meta["best_iteration"] is not None:
            learner.best_iteration_ = meta["best_iteration"]
        learner._load_state(directory, meta["state"])
        return learner


def _read_meta(directory: Path) -> dict[str, Any]:
    path = directory / "learner.json"
    if not path.is_file():
        raise ArtifactError(f"{path} is missing: {directory} does not hold a saved learner")
    meta = json.loads(path.read_text(encoding="utf-8"))
    if meta.get("format_version") != LEARNER_FORMAT_VERSION:
        raise ArtifactError(
            f"{path} has format version {meta.get('format_version')}, this trainwright reads "
            f"version {LEARNER_FORMAT_VERSION}; load it with the trainwright version that wrote it"
        )
    return meta


def build_learner(config, *, task: str, seed: int, train=None) -> Learner:
    """Build the learner a model config describes (``config.type`` names it in the registry).

    ``train`` (the recipe's train section) goes to neural learners, which train with the loop."""
    from trainwright.registry import LEARNERS

    cls = LEARNERS.get(config.type)
    extra = {"train": train} if getattr(cls, "neural", False) and train is not None else {}
    return cls(task=task, seed=seed, **config.model_dump(exclude={"type"}), **extra)


def load_learner(directory: str | Path) -> Learner:
    """Load any saved learner; its type is read from ``learner.json``."""
    from trainwright.registry import LEARNERS

    meta = _read_meta(Path(directory))
    return LEARNERS.get(meta["type"]).load(directory)


def _as_matrix(X) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2:
        raise DataError(f"X must be 2-dimensional (rows x features), got shape {X.shape}")
    return X


def _jsonable(value):
    if hasattr(value, "model_dump"):  # a pydantic config
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
