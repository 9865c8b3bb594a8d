"""The fit stage: the recipe's model (or every ``auto`` candidate) through ``fitting``, multiple-imputation
members, and the cross-validated estimate. This module turns recipe sections into fitting's plain inputs;
the fitting itself is ``trainwright.fitting``'s."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from trainwright.fitting import Candidate, MemberSpec, Selection, cross_validate, fit_candidates, fit_imputation_members
from trainwright.fitting.cv import make_folds
from trainwright.models.registry import build_learner, learners

__all__ = ["member_spec", "candidates", "select_model", "imputation_members", "cross_validation", "loop_options",
           "work_units"]


def work_units(recipe) -> dict[str, int]:
    """How the fitting time is shared: one unit per candidate, per extra imputation member, per CV fold.

    Example:
        >>> from trainwright.pipeline.recipe import Recipe
        >>> work_units(Recipe(target="y", model={"type": "auto"}, split={"cv": {"method": "kfold"}}))
        {'selection': 3, 'imputation': 0, 'cross_validation': 5}
    """
    model, cv = recipe.model, recipe.split.cv
    folds = 0 if cv.method == "none" else cv.n_splits * (cv.n_repeats if cv.method == "repeated" else 1)
    return {"selection": len(model.candidates) if model.type == "auto" else 1,
            "imputation": recipe.preprocess.multiple_imputations - 1, "cross_validation": folds}


def member_spec(recipe, kinds: dict[str, str], task: str, learner) -> MemberSpec:
    """The ``MemberSpec`` the recipe describes for ``learner``."""
    c = recipe.clean
    return MemberSpec(kinds=kinds, task=task, preprocess=recipe.preprocess, features=recipe.features,
                      learner=learner, clip=(c.outlier_rule, c.outlier_threshold) if c.outliers == "cap" else None,
                      balance=recipe.balance.method,
                      imbalance=(recipe.audit.imbalance_ratio, recipe.audit.strong_imbalance_ratio),
                      posterior=recipe.preprocess.multiple_imputations > 1)


def candidates(recipe, kinds: dict[str, str], task: str) -> list[Candidate]:
    """The recipe's learner, or each ``auto`` candidate with its default settings."""
    model = recipe.model
    configs = [learners().config_class(name)() for name in model.candidates] if model.type == "auto" else [model]
    return [Candidate(config, member_spec(recipe, kinds, task, build_learner(config, task=task, seed=recipe.seed,
                                                                              train=recipe.train)))
            for config in configs]


def loop_options(run_dir: Path, recipe, resume: bool) -> Callable[[str], dict[str, Any]]:
    """Learner name -> fit options for learners that train with the loop: checkpoints in the run (resumed
    from when ``resume``) and the loop's loggers."""
    from trainwright.runs import layout

    def options(name: str) -> dict[str, Any]:
        if not learners().get(name).capabilities.uses_loop:
            return {}
        return {"checkpoint_dir": run_dir / layout.CHECKPOINTS / name, "resume": resume,
                "callbacks": _callbacks(run_dir, name, recipe.train.log)}

    return options


def _callbacks(run_dir: Path, name: str, log) -> tuple:
    from trainwright.training.callbacks import JsonlLogger, MLflowLogger, TensorBoardLogger

    out = [JsonlLogger(run_dir / f"history-{name}.jsonl")]
    if log.tensorboard:
        out.append(TensorBoardLogger(run_dir / "tensorboard" / name))
    if log.mlflow:
        out.append(MLflowLogger(store=(run_dir / "mlruns").resolve().as_uri()))
    return tuple(out)


def select_model(recipe, frame, y: np.ndarray, task: str, kinds: dict[str, str], positions: dict, *,
                 deadline: float | None, fit_options, log) -> Selection:
    """Fit the recipe's model (or the ``auto`` candidates) and keep the best on the validation rows."""
    from trainwright.evaluate.metrics import primary_metric

    return fit_candidates(candidates(recipe, kinds, task), frame, y, positions["train"], positions["validation"],
                          metric=primary_metric(task, recipe.evaluate.metric), seed=recipe.seed, deadline=deadline,
                          fit_options=fit_options, log=log)


def imputation_members(recipe, selection: Selection, frame, y: np.ndarray, positions: dict, *,
                       deadline: float | None, log) -> list:
    """Members 2..m of multiple imputation, fitted like the chosen one (none unless m > 1)."""
    m = recipe.preprocess.multiple_imputations
    if m <= 1:
        return []
    return fit_imputation_members(selection.candidate.spec, frame, y, positions["train"], positions["validation"],
                                  m=m, seed=recipe.seed, deadline=deadline, log=log)


def cross_validation(recipe, selection: Selection, frame, y: np.ndarray, splits, *, deadline: float | None,
                     log) -> dict[str, Any]:
    """The k-fold estimate of the chosen model over the train+validation rows, its iterations fixed."""
    cv = recipe.split.cv
    pool = np.sort(np.concatenate([splits.train, splits.validation]))
    groups = frame[recipe.split.group_column].astype(str).to_numpy() if recipe.split.group_column else None
    folds = make_folds(pool, cv, task=selection.candidate.spec.task, y=y, groups=groups, seed=recipe.seed)
    learner = selection.member.learner
    spec = selection.candidate.spec.with_learner(learner.clone(**learner.fixed_params()))
    return cross_validate(spec, frame, y, folds, method=cv.method, seed=recipe.seed, deadline=deadline, log=log)
