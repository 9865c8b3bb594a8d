"""Cross-validation: a k-fold estimate over the train+validation rows (the test rows stay untouched).

Each fold fits through ``fit_member`` with the chosen model's iterations fixed (``Learner.fixed_params``),
so every fold fits its own preprocessing and balancing on its training part only, and folds stop at the
deadline like every other fit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from trainwright.evaluate.scoring import score_output
from trainwright.fitting.member import MemberSpec, fit_member

__all__ = ["cross_validate", "make_folds"]


def make_folds(pool: np.ndarray, cv, *, task: str, y: np.ndarray, groups: np.ndarray | None,
               seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, validation) positions into the frame for each fold of ``pool`` (train+validation rows).

    Args:
        cv: the recipe's ``split.cv`` section (method, n_splits, n_repeats).
        groups: group id of every row of the frame, for ``cv.method == "group"`` (else ignored).

    Example:
        >>> from types import SimpleNamespace
        >>> cv = SimpleNamespace(method="kfold", n_splits=3, n_repeats=1)
        >>> folds = make_folds(np.arange(10, 40), cv, task="regression", y=np.zeros(40), groups=None, seed=0)
        >>> len(folds), sorted(np.concatenate([va for _, va in folds]).tolist()) == list(range(10, 40))
        (3, True)
    """
    from trainwright.data.split import cross_validation_folds

    labels = y[pool] if task == "classification" and cv.method in ("stratified", "repeated") else None
    folds = cross_validation_folds(len(pool), method=cv.method, n_splits=cv.n_splits, n_repeats=cv.n_repeats,
                                   labels=labels, groups=None if groups is None else groups[pool], seed=seed)
    return [(pool[tr], pool[va]) for tr, va in folds]


def cross_validate(spec: MemberSpec, frame, y: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]], *,
                   method: str, seed: int, deadline: float | None = None,
                   log: Callable[[str], None] = lambda message: None) -> dict[str, Any]:
    """Fit ``spec`` (its learner already refitting with fixed iterations) on each fold and score it.

    A fold is scored only when it trains in full: none starts after the deadline, and one the deadline cut
    short (its learner ``stopped_by_ == "time_budget"``) is left out of the estimate, since it is not the
    model being estimated.

    Returns:
        ``{"method", "n_folds", "completed", "refit", "folds": [metrics per fold], <metric>: {"mean", "std"}}``;
        ``stopped`` says why when the deadline left folds out (then with no fold, no metric is given).

    Example:
        >>> import pandas as pd
        >>> from trainwright.data.features import FeaturesConfig, PreprocessConfig
        >>> from trainwright.models.tabular.linear import LinearLearner
        >>> frame = pd.DataFrame({"x": np.arange(30.0)}); y = np.arange(30.0) * 2
        >>> spec = MemberSpec({"x": "numeric"}, "regression", PreprocessConfig(), FeaturesConfig(), LinearLearner(task="regression", alpha=0.01))
        >>> folds = [(np.arange(0, 20), np.arange(20, 30)), (np.arange(10, 30), np.arange(0, 10))]
        >>> cross_validate(spec, frame, y, folds, method="kfold", seed=0)["completed"]
        2
    """
    per_fold = []
    stopped = None
    for k, (train, valid) in enumerate(folds):
        if deadline is not None and time.monotonic() >= deadline:
            stopped = f"time budget used up after {len(per_fold)} of {len(folds)} folds"
            break
        member = fit_member(spec, frame, y, train, valid, seed=seed, deadline=deadline, early_stopping=False)
        if member.learner.stopped_by_ == "time_budget":
            stopped = f"time budget used up during fold {k + 1}; {len(per_fold)} of {len(folds)} folds completed"
            break
        per_fold.append(score_output(spec.task, y[valid], member.valid_output, member.classes))
        log(f"fold {k + 1}/{len(folds)}: {per_fold[-1]}")
    if stopped:
        log(f"cross-validation: {stopped}")
    learner = spec.learner
    summary: dict[str, Any] = {"method": method, "n_folds": len(folds), "completed": len(per_fold),
                               "refit": {"type": learner.name, **_plain(learner.get_params())}, "folds": per_fold}
    if stopped:
        summary["stopped"] = stopped
    for name in per_fold[0] if per_fold else ():
        values = [f[name] for f in per_fold if f[name] is not None]
        summary[name] = {"mean": float(np.mean(values)), "std": float(np.std(values))} if values else None
    return summary


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    """Constructor arguments as JSON data (settings objects dumped), without task and seed."""
    out = {}
    for key, value in params.items():
        if key in ("task", "seed"):
            continue
        out[key] = value.model_dump(mode="json") if hasattr(value, "model_dump") else value
    return out
