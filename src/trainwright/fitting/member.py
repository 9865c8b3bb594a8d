"""The one fit routine: preprocess -> balance -> learner, on training rows only, under a deadline.

Holdout training, the candidates of ``auto``, multiple imputation, cross-validation folds and the LR finder
all fit through ``fit_member`` (or its first half, ``prepare_training``), as scikit-learn's
``_fit_and_score`` serves ``cross_validate``, ``GridSearchCV`` and ``learning_curve``: the sequence exists
once, so what one caller does (the deadline, balancing, leak-free preprocessing) every caller does.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from trainwright.config.base import Decision
from trainwright.errors import ConfigError

__all__ = ["MemberSpec", "Balancing", "Training", "Member", "prepare_training", "transformed_rows", "fit_member",
           "import_requirements"]


@dataclass(frozen=True)
class MemberSpec:
    """Everything needed to fit one member, and no fitted state.

    Attributes:
        kinds: feature column -> kind ("numeric", "categorical", "boolean", "datetime", "text", "image").
        task: "classification" or "regression".
        preprocess, features: the recipe's ``preprocess`` and ``features`` sections.
        learner: an unfitted learner; each fit uses a clone of it.
        clip: (rule, threshold) to cap numeric values at bounds learnt from the training rows, or None.
        balance: the balancing method ("none", "auto", "class_weight", "smote", ...).
        imbalance: (mild, strong) majority/minority ratios that ``balance: auto`` chooses by.
        posterior: multiple imputation: every member draws its imputations with noise (its own seed).

    Example:
        >>> from trainwright.data.features import FeaturesConfig, PreprocessConfig
        >>> from trainwright.models.tabular.linear import LinearLearner
        >>> spec = MemberSpec({"x": "numeric"}, "regression", PreprocessConfig(), FeaturesConfig(), LinearLearner())
        >>> spec.with_learner(LinearLearner(alpha=1.0)).learner.alpha
        1.0
    """

    kinds: Mapping[str, str]
    task: str
    preprocess: Any
    features: Any
    learner: Any
    clip: tuple[str, float] | None = None
    balance: str = "none"
    imbalance: tuple[float, float] = (3.0, 10.0)
    posterior: bool = False

    def with_learner(self, learner) -> "MemberSpec":
        """The same spec around another (unfitted) learner."""
        return replace(self, learner=learner)


@dataclass(frozen=True)
class Balancing:
    """What balancing did to the training rows: the method (resolved from ``auto``), why, and class counts.

    Example:
        >>> Balancing("oversample", None, {"a": 8, "b": 2}, {"a": 8, "b": 8}).after["b"]
        8
    """

    method: str
    reason: str | None
    before: dict
    after: dict


@dataclass(frozen=True)
class Training:
    """Training rows as the learner sees them: after the preprocessor (fitted on them) and balancing
    (``prepare_training`` makes one).

    Example:
        >>> Training(None, np.zeros((3, 2)), np.array([0, 1, 0]), None, None).X.shape
        (3, 2)
    """

    preprocessor: Any
    X: np.ndarray
    y: np.ndarray
    sample_weight: np.ndarray | None
    balancing: Balancing | None


@dataclass(frozen=True)
class Member:
    """A fitted preprocessor and learner, with its predictions on the validation rows and its fit time.

    Attributes:
        valid_output: probabilities (classification) or values of the validation rows; None without them.
        decisions: what this fit decided (balancing method for ``auto``, a learning rate for ``lr: auto``).

    ``fit_member`` makes one.

    Example:
        >>> from trainwright.models.tabular.linear import LinearLearner
        >>> learner = LinearLearner().fit(np.array([[0.0], [1.0], [2.0], [3.0]]), ["a", "a", "b", "b"])
        >>> Member(None, learner, None, 0.1).classes
        ['a', 'b']
    """

    preprocessor: Any
    learner: Any
    valid_output: np.ndarray | None
    fit_seconds: float
    balancing: Balancing | None = None
    decisions: tuple[Decision, ...] = field(default=())

    @property
    def classes(self) -> list | None:
        """The class labels (classification), in output-column order."""
        return self.learner.classes_.tolist() if self.learner.task == "classification" else None


def prepare_training(spec: MemberSpec, frame, y: np.ndarray, rows: np.ndarray, *, seed: int,
                     weights: np.ndarray | None = None, fit_rows: np.ndarray | None = None) -> Training:
    """Fit the preprocessor on ``rows`` of ``frame`` and balance them: the training rows a learner sees (with
    ``features.text_augment.copies``, followed by augmented copies of them, transformed by the preprocessor fitted
    on the real rows: vocabularies count real texts only).

    Args:
        frame: the cleaned rows (raw columns); ``rows`` are positions into it.
        y: targets of every row of ``frame``.
        seed: seed of the preprocessor (target encoding folds, imputation noise) and of resampling.
        weights: per-row weights of every row of ``frame`` (a distilled student's soft labels); they replace
            balancing, which must be "none".
        fit_rows: positions of the rows the preprocessor is fitted on, when they are not ``rows`` (a distilled
            student learns from the teacher's labels, its preprocessing from the true ones of the training rows).

    Example:
        >>> import pandas as pd
        >>> from trainwright.data.features import FeaturesConfig, PreprocessConfig
        >>> frame = pd.DataFrame({"x": [1.0, 2.0, None, 4.0]})
        >>> spec = MemberSpec({"x": "numeric"}, "regression", PreprocessConfig(), FeaturesConfig(), learner=None)
        >>> prepare_training(spec, frame, np.array([1.0, 2.0, 3.0, 4.0]), np.array([0, 1, 2]), seed=0).X.shape
        (3, 1)
    """
    from trainwright.data.features.preprocessor import Preprocessor

    from trainwright.data.augment.text import augment_rows

    pre = Preprocessor(spec.kinds, spec.preprocess, spec.features, task=spec.task, clip=spec.clip, seed=seed,
                       sample_posterior=spec.posterior)
    texts = [c for c, kind in spec.kinds.items() if kind == "text"]
    rows_frame, rows_y = augment_rows(frame.iloc[rows], y[rows], texts, spec.features.text_augment, seed=seed)
    if fit_rows is not None:
        X = pre.fit(frame.iloc[fit_rows], y[fit_rows]).transform(rows_frame.iloc[: len(rows)])
    else:
        X = pre.fit_transform(rows_frame.iloc[: len(rows)], rows_y[: len(rows)])  # vocabularies from the real rows
    if len(rows_frame) > len(rows):
        X = np.vstack([X, pre.transform(rows_frame.iloc[len(rows):])])
    X, yb, weight, balancing = _balance(spec, X, rows_y, pre, seed)
    if weights is not None:
        if balancing is not None:
            raise ConfigError(f"row weights replace balancing: set balance.method=none (not {spec.balance})",
                              path="balance.method")
        weight = np.resize(np.asarray(weights, dtype=float)[rows], len(X))  # augmented copies weigh as their rows
    return Training(pre, X, yb, weight, balancing)


def transformed_rows(pre, frame, y: np.ndarray, rows: np.ndarray, *, balance: str, seed: int) -> Training:
    """``rows`` of ``frame`` through an already fitted preprocessor, balanced by the resolved method ``balance``
    ("none", "class_weight", "oversample", ...): what a fitted member is fine-tuned on (``compress --method
    prune``), balanced as it was trained.

    Example:
        >>> import pandas as pd
        >>> from trainwright.data.features import Preprocessor
        >>> frame = pd.DataFrame({"x": np.arange(10.0)})
        >>> pre = Preprocessor({"x": "numeric"}).fit(frame)
        >>> y = np.array(["a"] * 8 + ["b"] * 2)
        >>> transformed_rows(pre, frame, y, np.arange(10), balance="class_weight", seed=0).sample_weight.round(2)[-2:]
        array([2.5, 2.5])
    """
    from trainwright.data.balance import balance as resample

    X, yt = pre.transform(frame.iloc[rows]), y[rows]
    if balance in ("none", "auto"):
        return Training(pre, X, yt, None, None)
    out = resample(X, yt, balance, seed=seed, categorical_groups=pre.categorical_groups())
    return Training(pre, out.X, out.y, out.sample_weight, Balancing(balance, None, out.counts_before, out.counts_after))


def _balance(spec: MemberSpec, X, y, pre, seed: int):
    from trainwright.data.balance import balance, choose_method

    method, reason = spec.balance, None
    if method == "none":
        return X, y, None, None
    if spec.task != "classification":
        raise ConfigError(f"balance.method={method} applies to classification only; set balance.method=none",
                          path="balance.method")
    if method == "auto":
        method, reason = choose_method(y, has_categorical=bool(pre.categorical_groups()),
                                       mild=spec.imbalance[0], strong=spec.imbalance[1])
        if method == "class_weight" and not spec.learner.capabilities.sample_weight:
            method, reason = "oversample", f"{reason}; {spec.learner.name} takes no sample weights, so rows are resampled"
    elif method == "class_weight" and not spec.learner.capabilities.sample_weight:
        raise ConfigError(f"balance.method=class_weight weights rows, and model.type={spec.learner.name} takes no "
                          "sample weights; use balance.method=oversample (or auto)", path="balance.method")
    out = balance(X, y, method, seed=seed, categorical_groups=pre.categorical_groups())
    return out.X, out.y, out.sample_weight, Balancing(method, reason, out.counts_before, out.counts_after)


def import_requirements(learner) -> None:
    """Import what the learner needs to fit (torch costs about 1.5 s), so that cost is paid before a time
    share is measured out to it; then set what the imports built aside from later garbage collections
    (``runtime.freeze_imports``)."""
    import sys

    from trainwright.runtime import freeze_imports

    before = len(sys.modules)
    for module in learner.requires:
        importlib.import_module(module)
    if len(sys.modules) > before:
        freeze_imports()


def fixed_in_words(fixed: Mapping[str, Any]) -> str:
    """A learner's ``fixed_params`` as a line of the log (a loop's training section as its epochs).

    Example:
        >>> fixed_in_words({"n_estimators": 412})
        'n_estimators=412'
    """
    return ", ".join(f"epochs={v.epochs}" if k == "train" else f"{k}={v}" for k, v in fixed.items())


def fit_member(spec: MemberSpec, frame, y: np.ndarray, train: np.ndarray, valid: np.ndarray | None = None, *,
               seed: int, deadline: float | None = None, early_stopping: bool = True,
               fit_options: Mapping[str, Any] | None = None, weights: np.ndarray | None = None,
               fit_rows: np.ndarray | None = None) -> Member:
    """Preprocess and balance ``train`` rows, fit a clone of the spec's learner, predict the ``valid`` rows.

    Args:
        frame, y: the cleaned rows and every row's target; ``train`` and ``valid`` are positions into them.
        seed: seed of the preprocessor, the resampling and the learner.
        deadline: ``time.monotonic()`` value after which the learner stops early (after at least one
            iteration). A caller that measures out a share of time calls ``import_requirements`` first.
        early_stopping: the learner may watch the ``valid`` rows to stop and keep its best iteration
            (False for a refit whose iterations are fixed, e.g. a cross-validation fold).
        fit_options: learner-specific fit arguments (checkpoints, resume, loop callbacks).
        weights, fit_rows: per-row weights of every row of ``frame``, and the rows the preprocessor is fitted on
            when not ``train`` (``prepare_training``).

    Returns:
        The ``Member``; ``valid_output`` holds its predictions of the ``valid`` rows.

    Example:
        >>> import pandas as pd
        >>> from trainwright.data.features import FeaturesConfig, PreprocessConfig
        >>> from trainwright.models.tabular.linear import LinearLearner
        >>> frame = pd.DataFrame({"x": np.arange(40.0)})
        >>> y = np.where(np.arange(40) < 20, "low", "high")
        >>> spec = MemberSpec({"x": "numeric"}, "classification", PreprocessConfig(), FeaturesConfig(),
        ...                   learner=LinearLearner())
        >>> member = fit_member(spec, frame, y, np.arange(0, 40, 2), np.arange(1, 40, 2), seed=0)
        >>> member.valid_output.shape, member.classes
        ((20, 2), ['high', 'low'])
    """
    import_requirements(spec.learner)
    t0 = time.monotonic()
    training = prepare_training(spec, frame, y, train, seed=seed, weights=weights, fit_rows=fit_rows)
    learner = spec.learner.clone(seed=seed)
    X_valid = training.preprocessor.transform(frame.iloc[valid]) if valid is not None else None
    watch = {"X_valid": X_valid, "y_valid": y[valid]} if early_stopping and valid is not None else {}
    learner.fit(training.X, training.y, sample_weight=training.sample_weight, deadline=deadline, **watch,
                **dict(fit_options or {}))
    output = learner.output(X_valid) if X_valid is not None else None
    decisions = [*training.preprocessor.decisions(), *learner.decisions()]
    if training.balancing is not None and training.balancing.reason is not None:
        decisions.insert(0, Decision("balance.method", training.balancing.method, training.balancing.reason))
    augmented = spec.features.text_augment.copies
    if augmented and any(kind == "text" for kind in spec.kinds.values()):
        decisions.insert(0, Decision("features.text_augment", f"{augmented} copies",
                                     f"{len(train)} training rows and {augmented * len(train)} augmented copies of "
                                     "their text columns; validation rows unchanged"))
    return Member(training.preprocessor, learner, output, time.monotonic() - t0, training.balancing,
                  tuple(decisions))
