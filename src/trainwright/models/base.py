"""The learner contract: scikit-learn's estimator API, what a learner can do, and saving without pickle.

A learner is final for users and abstract for implementers: subclasses declare ``capabilities`` and
``requires``, define ``__init__`` (store only), ``_fit``, ``_predict_raw`` and the two state hooks, and
register with ``models.registry.register_learner(TheirConfig)``. Learned state ends in ``_``. Behaviour
that differs by model (how it is explained, what its iterations are, how to refit it with the iterations
fixed, how many parameters it has) is asked of the learner, never decided by its name elsewhere.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from trainwright.data.labels import encode_labels
from trainwright.errors import ArtifactError, DataError, NotFittedError, check_format_version
from trainwright.models._inputs import _as_matrix, _as_target, _as_weights

__all__ = ["Learner", "Capabilities", "Attributions", "LEARNER_FORMAT_VERSION"]

LEARNER_FORMAT_VERSION = 3  # 2: the linear learner saves n_iter; 3: SHA-256 of every saved file


@dataclass(frozen=True)
class Capabilities:
    """What a learner can do; the pipeline, explanations, report and selection read these.

    Attributes:
        explanation: how its predictions are attributed to features: "tree_shap" and
            "integrated_gradients" (``attributions``), "coefficients" (``feature_weights``) or "none".
        iteration: what one entry of ``history_`` is ("boosting round", "epoch", "regularisation strength"),
            None when the learner does not iterate.
        learning_curve: ``history_`` is a training curve over iterations (not a list of candidates tried).
        sample_weight: ``fit`` honours per-row weights (without them, balancing resamples rows instead of
            weighting them).
        probabilities: ``predict_proba`` gives class probabilities (every classifier trainwright trains must).
        randomized: another seed gives another model (False: the fit is deterministic whatever the seed).
        uses_loop: trains with trainwright's neural loop and takes the recipe's ``train`` section.
        reports_iterations: ``fit`` reports the validation loss as it goes (``on_iteration``), so a tuning trial
            can be pruned midway.
        parameters: what ``n_parameters`` counts, in words.
        inputs: what the features must be: "rows" (any numeric features), "image" (the pixels of one image
            column, as the preprocessor gives them), "tokens" (the token ids of one text column,
            ``features.text: tokens``), "encoder_tokens" (the ids of the pretrained sentence encoder's tokenizer,
            ``features.text: encoder_tokens``) or "sequence" (numeric features that are one sequence, time-major).

    Example:
        >>> Capabilities(explanation="coefficients", iteration=None).learning_curve
        False
    """

    explanation: Literal["tree_shap", "integrated_gradients", "coefficients", "none"] = "none"
    iteration: str | None = None
    learning_curve: bool = False
    sample_weight: bool = True
    probabilities: bool = True
    randomized: bool = True
    uses_loop: bool = False
    reports_iterations: bool = False
    inputs: Literal["rows", "image", "tokens", "encoder_tokens", "sequence"] = "rows"
    parameters: str = "parameters"

    @property
    def reads_tokens(self) -> bool:
        """Whether the features are the token ids of one text column (``inputs`` "tokens" or "encoder_tokens",
        the ``features.text`` setting of the same name)."""
        return self.inputs in ("tokens", "encoder_tokens")


@dataclass(frozen=True)
class Attributions:
    """Additive attributions of the rows' explained outputs (``Learner.attributions``).

    Attributes:
        space: the units of the explained output: "log-odds", "logit", "raw score" or "value".
        values: (rows, features): each row's contributions to its explained output.
        pick: (rows,): which output each row explains (its predicted class when there are several).
        base: (outputs,): the expected value (or the output at the baseline) per output.
        margin: (rows, outputs): the model's output per row in ``space``.
        extra: method-specific details (e.g. the completeness error of integrated gradients).

    Example:
        >>> from trainwright.models.tabular.gbdt import LightGBMLearner
        >>> X = np.random.default_rng(0).normal(size=(200, 3)); y = 2 * X[:, 0]
        >>> att = LightGBMLearner(task="regression", n_estimators=20).fit(X, y).attributions(X[:5])
        >>> att.space, att.values.shape, bool(np.allclose(att.values.sum(1) + att.base[0], att.margin[:, 0]))
        ('value', (5, 3), True)
    """

    space: str
    values: np.ndarray
    pick: np.ndarray
    base: np.ndarray
    margin: np.ndarray
    extra: dict


class _classification_only:
    """A method that exists only on learners with ``task == "classification"``.

    Looking it up on a regression learner raises ``AttributeError``, so ``hasattr`` is False, the
    way scikit-learn's ``available_if`` hides ``predict_proba`` from regressors (which scikit-learn
    tells apart by that test). Kept here so that importing models/ does not import scikit-learn.
    """

    def __init__(self, method) -> None:
        self.method = method
        functools.update_wrapper(self, method)

    def __get__(self, learner, owner=None):
        if learner is None:
            return self.method
        if learner.task != "classification":
            raise AttributeError(f"{self.method.__name__} is only available for classification; this "
                                 f"{type(learner).__name__} has task={learner.task!r}")
        return types.MethodType(self.method, learner)


class Learner:
    """Base of every learner.

    Follows scikit-learn's contract (``fit`` returns self, ``get_params`` / ``set_params``, ``classes_``
    for classifiers), so learners work inside ``cross_val_score``, ``GridSearchCV`` and stacking. One
    class serves both tasks; ``task`` picks classification or regression.

    Example:
        >>> from trainwright.models.tabular.linear import LinearLearner
        >>> X = np.random.default_rng(0).normal(size=(100, 2)); y = np.where(X[:, 0] > 0, "up", "down")
        >>> learner = LinearLearner().fit(X, y)
        >>> learner.classes_.tolist(), learner.capabilities.explanation, learner.score(X, y) > 0.9
        (['down', 'up'], 'coefficients', True)
    """

    name: ClassVar[str] = ""
    capabilities: ClassVar[Capabilities] = Capabilities()
    # Modules the learner imports to fit; loaded before its share of a time budget starts.
    requires: ClassVar[tuple[str, ...]] = ()
    # The default search space of ``trainwright tune``: recipe path -> distribution (``tune.params`` entries).
    search_space: ClassVar[dict[str, dict[str, Any]]] = {}

    # --- scikit-learn estimator protocol ---------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]

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

    def clone(self, **params: Any) -> "Learner":
        """An unfitted copy with the same constructor arguments, ``params`` changed (scikit-learn's ``clone``)."""
        return type(self)(**{**self.get_params(), **params})

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
            # Dense, imputed, finite numbers only: fit and predict refuse NaN, inf and sparse matrices.
            input_tags=InputTags(two_d_array=True, allow_nan=False, sparse=False),
            classifier_tags=ClassifierTags() if classifier else None,
            regressor_tags=None if classifier else RegressorTags(),
        )

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "n_features_in_")

    # --- fitting and prediction -------------------------------------------
    def fit(self, X, y, *, X_valid=None, y_valid=None, sample_weight=None,
            deadline: float | None = None, checkpoint_dir=None, resume: bool = False, callbacks=(),
            on_iteration=None) -> "Learner":
        """Fit on ``X`` (rows x features, numeric) and ``y``.

        Args:
            X, y: training rows and targets (class labels for classification).
            X_valid, y_valid: validation rows for early stopping and the best iteration.
            sample_weight: per-row weights of the training rows (e.g. class weights).
            deadline: ``time.monotonic()`` value after which training stops early.
            checkpoint_dir, resume, callbacks: for learners that train with the loop: where checkpoints go,
                whether to continue from the newest one, and loop callbacks. Other learners ignore them.
            on_iteration: called as ``on_iteration(iteration, validation_loss)`` as training goes (after each
                epoch, or each block of boosting rounds) by learners with ``capabilities.reports_iterations``;
                it may raise to stop the fit (a tuning trial pruned). Others ignore it.

        Returns:
            self
        """
        if self.task not in ("classification", "regression"):
            raise ValueError(f"task must be 'classification' or 'regression', got {self.task!r}")
        X = _as_matrix(X, min_rows=2)
        y = _as_target(y, self.task, type(self).__name__)
        if len(X) != len(y):
            raise DataError(f"X has {len(X)} rows but y has {len(y)}")
        valid = None
        if X_valid is not None and y_valid is not None and len(X_valid) > 0:
            valid = (_as_matrix(X_valid, name="X_valid"), np.asarray(y_valid))
        if self.task == "classification":
            self.classes_, y_enc = np.unique(y, return_inverse=True)
            if len(self.classes_) < 2:
                raise DataError(
                    f"classification needs at least 2 classes, got only one class: {self.classes_.tolist()}")
            if valid is not None:
                valid = (valid[0], self.encode_labels(valid[1]))
        else:
            y_enc = y
            if valid is not None:
                valid = (valid[0], valid[1].astype(np.float64))
        if sample_weight is not None:
            sample_weight = _as_weights(sample_weight, len(X))
        self._fit_options = {"checkpoint_dir": checkpoint_dir, "resume": resume, "callbacks": callbacks,
                             "on_iteration": on_iteration}
        self.n_features_in_ = X.shape[1]
        self.history_: list[dict[str, Any]] = []
        self.stopped_by_ = "completed"
        self._fit(X, y_enc, valid, deadline, sample_weight)
        return self

    def encode_labels(self, y) -> np.ndarray:
        """Positions of labels ``y`` in ``classes_`` (``DataError`` for a label never seen in training)."""
        return encode_labels(y, self.classes_)

    @_classification_only
    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (rows, classes), columns in ``classes_`` order.

        Only classifiers have it: on a regression learner ``hasattr(learner, "predict_proba")``
        is False, as scikit-learn expects of regressors."""
        self._check_fitted()
        return self._predict_raw(self._check_X(X))

    def predict(self, X) -> np.ndarray:
        """Class labels (classification) or values (regression), one per row."""
        self._check_fitted()
        raw = self._predict_raw(self._check_X(X))
        if self.task == "classification":
            return self.classes_[np.argmax(raw, axis=1)]
        return raw

    def output(self, X) -> np.ndarray:
        """What the pipeline pools and scores: probabilities (classification) or values (regression)."""
        return self.predict_proba(X) if self.task == "classification" else self.predict(X)

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
            raise _not_fitted_error_class()(f"this {type(self).__name__} is not fitted yet; call fit first")

    def _check_X(self, X) -> np.ndarray:
        X = _as_matrix(X)
        if X.shape[1] != self.n_features_in_:
            raise DataError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting {self.n_features_in_} "
                "features as input: pass the columns it was fitted on, in the same order")
        return X

    # --- what the rest of trainwright asks of a fitted learner -----------------------------------
    def fixed_params(self) -> dict[str, Any]:
        """Constructor arguments that refit this model without validation rows: the iteration count (or
        strength) it chose, fixed. Cross-validation refits ``clone(**fixed_params())`` on each fold."""
        return {}

    def refit_params(self, folds: list["Learner"]) -> dict[str, Any]:
        """``fixed_params`` for one refit on all the rows that ``folds`` (fitted learners like this one) each saw a
        part of: every number is the folds' median (whole numbers stay whole)."""
        out = self.fixed_params()
        for key, value in ((k, v) for k, v in out.items() if isinstance(v, (int, float)) and not isinstance(v, bool)):
            median = float(np.median([f.fixed_params()[key] for f in folds]))
            out[key] = max(1, round(median)) if isinstance(value, int) else median
        return out

    def resolved(self) -> dict[str, Any]:
        """Recipe values this fit decided (dotted paths, e.g. ``{"model.alpha": 0.1}``), for the resolved recipe."""
        return {}

    def decisions(self) -> list:
        """``config.Decision``s this fit made (e.g. the learning rate the LR finder chose)."""
        return []

    def n_parameters(self) -> int | None:
        """How many learned numbers the model holds (``capabilities.parameters`` says which), or None."""
        return None

    def onnx_nodes(self, g, features: str) -> str:
        """Add this fitted model to ONNX graph ``g`` (``trainwright.onnxgraph.Graph``) reading the float feature
        matrix ``features``; return its output: double probabilities (rows, classes) or values (rows,). Learners
        that can be exported override it; the export names the others."""
        from trainwright.errors import ExportError

        raise ExportError(f"the {self.name} model cannot be exported to ONNX yet (linear, lightgbm, catboost and mlp "
                          "runs can); train with --set model.type=linear, lightgbm, catboost or mlp, or distill the "
                          "run into one (trainwright compress RUN --method distill), to export it")

    def quantized(self) -> "Learner":
        """A copy of this fitted model with int8 weights (``trainwright compress --method quantize``). Learners
        with weights to quantise override it; the others say what to use instead."""
        from trainwright.errors import ConfigError

        raise ConfigError(f"the {self.name} model has no network weights to quantise to int8 (neural models have: "
                          "mlp, text and image networks); use --method prune (lightgbm, neural models) or --method "
                          "distill (any model)", path="--method")

    def pruned(self, amount: float, X: np.ndarray, y, *, X_valid=None, y_valid=None, deadline: float | None = None,
               sample_weight=None, seed: int = 0) -> "Learner":
        """A copy of this fitted model with the ``amount`` share of it removed, then fine-tuned on the training
        rows ``X``, ``y`` (raw targets, balanced as in training: ``sample_weight``; the validation rows choose when
        to stop) (``compress --method prune``). Learners that can be pruned override it; the others say what to
        use instead."""
        from trainwright.errors import ConfigError

        raise ConfigError(f"the {self.name} model cannot be pruned (neural networks and lightgbm can); use --method "
                          "distill", path="--method")

    def torchscript(self):
        """This fitted model as a TorchScript module on rows of features (``export --format torchscript``); neural
        learners override it, the others say what to use."""
        from trainwright.errors import ExportError

        raise ExportError(f"the {self.name} model is not a neural network: TorchScript holds networks; use "
                          "--format onnx")

    def attributions(self, X: np.ndarray, **options: Any) -> Attributions:
        """Additive attributions of the first rows of ``X`` (for ``capabilities.explanation`` tree_shap or
        integrated_gradients)."""
        raise NotImplementedError(f"{type(self).__name__} does not compute attributions "
                                  f"(capabilities.explanation={self.capabilities.explanation!r})")

    def token_attributions(self, X: np.ndarray, outputs: np.ndarray | None = None, *,
                           steps: int = 32) -> tuple[np.ndarray, float] | None:
        """Each token's share of each row's output, for models that read token ids through an embedding
        (integrated gradients; the sequence learners override it), with the largest completeness error; None
        here: the report then measures words by occlusion."""
        return None

    def feature_weights(self) -> np.ndarray:
        """Coefficients, shape (outputs, features), for ``capabilities.explanation == "coefficients"``."""
        raise NotImplementedError(f"{type(self).__name__} has no coefficients")

    # --- hooks for subclasses ---------------------------------------------
    def _fit(self, X: np.ndarray, y: np.ndarray, valid, deadline, sample_weight) -> None:
        raise NotImplementedError

    def _predict_raw(self, X: np.ndarray) -> np.ndarray:
        """Probabilities (classification, rows x classes) or values (regression)."""
        raise NotImplementedError

    def _state(self) -> tuple[dict[str, Any], dict[str, bytes]]:
        """Learned state: (JSON-able extras, {file name: bytes} written beside ``learner.json``)."""
        raise NotImplementedError

    def _load_state(self, directory: Path, extra: dict[str, Any]) -> None:
        raise NotImplementedError

    # --- artifacts ----------------------------------------------------------
    def save(self, directory: str | Path) -> None:
        """Save to ``directory`` without pickle: ``learner.json`` plus the learner's own files, each written
        atomically with the umask's mode (``runs.store``)."""
        from trainwright.runs import store

        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        extra, files = self._state()
        for name, data in files.items():
            store.write_bytes(directory / name, data)
        meta = {
            "files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
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
        store.write_json(directory / "learner.json", meta)

    @classmethod
    def load(cls, directory: str | Path) -> "Learner":
        """Load a learner saved by ``save``."""
        directory = Path(directory)
        meta = read_meta(directory)
        _check_files(directory, meta)  # a truncated model file must never reach a library that crashes on it
        learner = cls(**meta["params"])
        learner.n_features_in_ = meta["n_features_in"]
        if meta["classes"] is not None:
            learner.classes_ = np.asarray(meta["classes"])
        learner.stopped_by_ = meta["stopped_by"]
        learner.history_ = meta["history"]
        if meta["best_iteration"] is not None:
            learner.best_iteration_ = meta["best_iteration"]
        try:
            learner._load_state(directory, meta["state"])
        except ArtifactError:
            raise
        except Exception as exc:  # noqa: BLE001 - a missing or truncated model file, whatever the library says
            files = ", ".join(sorted(p.name for p in directory.iterdir())) if directory.is_dir() else "none"
            raise ArtifactError(f"{directory}: the saved {meta['type']} model is missing a file or is damaged "
                                f"({type(exc).__name__}: {str(exc).strip()[:160]}; files present: {files}). Train "
                                "the run again (or restore the folder from a copy).") from None
        return learner


def _check_files(directory: Path, meta: dict[str, Any]) -> None:
    """Every file the learner saved is there, byte for byte (SHA-256 recorded in ``learner.json``)."""
    for name, digest in meta.get("files", {}).items():
        path = directory / name
        if not path.is_file():
            raise ArtifactError(f"{path} is missing: the saved {meta['type']} model is incomplete. Train the run again "
                                "(or restore the folder from a copy).")
        if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            raise ArtifactError(f"{path} is damaged (its content is not what was saved: truncated or edited). "
                                "Train the run again (or restore the folder from a copy).")


def read_meta(directory: Path) -> dict[str, Any]:
    """A saved learner's ``learner.json``, checked for its format version."""
    from trainwright.runs import store

    path = directory / "learner.json"
    if not path.is_file():
        raise ArtifactError(f"{path} is missing: {directory} does not hold a saved learner")
    meta = store.read_json(path)
    check_format_version(meta, LEARNER_FORMAT_VERSION, str(path), "Load it with the trainwright version that "
                         "wrote it, or train the run again.")
    expected = {"type": str, "params": dict, "state": dict, "n_features_in": int, "files": dict}
    wrong = [k for k, t in expected.items() if not isinstance(meta.get(k), t)]
    if wrong:
        raise ArtifactError(f"{path} is damaged ({', '.join(wrong)} missing or of the wrong type); train the run again")
    return meta


@functools.cache
def _not_fitted_error_class() -> type:
    """trainwright's ``NotFittedError``, made also scikit-learn's when scikit-learn is installed.

    trainwright code catches its own class (an ``AttributeError``); scikit-learn's tools and
    conformance checks catch theirs. Built on first use, so importing models/ never imports
    scikit-learn; the module ``__getattr__`` below lets pickle find it by name.
    """
    try:
        from sklearn.exceptions import NotFittedError as SklearnNotFittedError
    except ImportError:
        return NotFittedError
    return type("LearnerNotFittedError", (NotFittedError, SklearnNotFittedError),
                {"__module__": __name__, "__doc__": "A learner was used before ``fit``."})


def __getattr__(name: str):
    if name == "LearnerNotFittedError":
        return _not_fitted_error_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
