"""Training the learner a recipe asks for, or, for ``model.type: auto``, each candidate within the budget."""

from __future__ import annotations

import importlib
import time
from typing import Any

__all__ = ["train_candidates", "train_members", "cross_validate", "fixed_config"]


def train_candidates(exp, task: str, X: dict, Y: dict, sample_weight=None):
    """Train the configured learner (or every auto candidate) and keep the best on validation.

    Returns:
        (learner, config, leaderboard rows, selection metric)
    """
    from trainwright.evaluate.metrics import better, primary_metric, score_learner
    from trainwright.models import MODEL_CONFIGS, build_learner

    rec = exp.recipe
    metric = primary_metric(task, rec.evaluate.metric)
    configs = [MODEL_CONFIGS[name]() for name in rec.model.candidates] if rec.model.type == "auto" else [rec.model]
    board: list[dict[str, Any]] = []
    best = None
    for i, config in enumerate(configs):
        if i > 0 and exp.deadline is not None and exp.deadline - time.monotonic() <= 0:
            board.append({"model": config.type, "status": "skipped", "reason": "time budget used up"})
            exp._log(f"{config.type}: skipped, time budget used up")
            continue
        learner = build_learner(config, task=task, seed=rec.seed, train=rec.train)
        for module in learner.requires:  # import cost (torch: ~1.5 s) counts, and is paid before the share is set
            importlib.import_module(module)
        deadline = exp.deadline
        if deadline is not None:
            remaining = deadline - time.monotonic()
            # An equal share of what is left; time a learner does not use passes to the next.
            deadline = time.monotonic() + max(remaining, 0.0) / (len(configs) - i)
        t0 = time.monotonic()
        learner.fit(X["train"], Y["train"], X_valid=X["validation"], y_valid=Y["validation"],
                    sample_weight=sample_weight, deadline=deadline, **exp.fit_options(config.type))
        seconds = time.monotonic() - t0
        valid = score_learner(task, learner, X["validation"], Y["validation"])
        board.append({"model": config.type, "status": "trained", "validation": valid, "fit_seconds": round(seconds, 3),
                      "best_iteration": learner.best_iteration_, "stopped_by": learner.stopped_by_})
        exp._log(f"{config.type}: validation {metric}={_fmt(valid[metric])} in {seconds:.1f}s ({learner.stopped_by_})")
        if best is None or better(metric, valid[metric], best[2]):
            best = (learner, config, valid[metric])
    if len(configs) > 1:
        exp.decide("model", best[1].type, f"best validation {metric} ({best[2]:.4g}) among {', '.join(c.type for c in configs)}")
    return best[0], resolved_config(best[1], best[0]), board, metric


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def resolved_config(config, learner):
    """The config with its 'auto' values replaced by what the learner chose."""
    if config.type == "linear" and config.alpha == "auto":
        return config.model_copy(update={"alpha": learner.alpha_})
    return config


def fixed_config(config, learner, train):
    """(model config, train config) with the iteration count fixed at what the trained learner chose, so a
    refit needs no validation rows (cross-validation scores fold rows it never used for stopping)."""
    if config.type == "lightgbm":
        return config.model_copy(update={"n_estimators": learner.best_iteration_}), train
    if config.type == "mlp":
        return config, train.model_copy(update={"epochs": max(1, learner.best_iteration_)})
    if config.type == "linear":
        return config.model_copy(update={"alpha": learner.alpha_}), train
    return config, train


def train_members(exp, frame, y, task: str, kinds, positions, config, m: int) -> list:
    """Members 2..m of multiple imputation: each its own posterior draw of the imputations and its own
    learner, trained like the first; predictions are pooled later."""
    from trainwright.experiment_fit import balance_training_rows, make_preprocessor
    from trainwright.models import build_learner

    members = []
    train, valid = positions["train"], positions["validation"]
    for i in range(1, m):
        seed = exp.recipe.seed + i
        pre = make_preprocessor(exp, kinds, task, seed=seed, posterior=True)
        Xt = pre.fit_transform(frame.iloc[train], y[train])
        Xt, yt, w = balance_training_rows(exp, Xt, y[train], pre, task)
        learner = build_learner(config, task=task, seed=seed, train=exp.recipe.train)
        learner.fit(Xt, yt, X_valid=pre.transform(frame.iloc[valid]), y_valid=y[valid], sample_weight=w,
                    deadline=exp.deadline)
        members.append((pre, learner))
        exp._log(f"imputation {i + 1}/{m}: trained {config.type}")
    return members


def cross_validate(exp, frame, y, task: str, kinds, splits, config, learner) -> dict[str, Any]:
    """k-fold estimate over the train+validation rows (test rows untouched): mean, std and per-fold values.

    Each fold fits its own preprocessing and balancing on its training part only."""
    import numpy as np

    from trainwright.data.split import cross_validation_folds
    from trainwright.evaluate.metrics import score_learner
    from trainwright.experiment_fit import balance_training_rows, make_preprocessor
    from trainwright.models import build_learner

    cv, rec = exp.recipe.split.cv, exp.recipe
    pool = np.sort(np.concatenate([splits.train, splits.validation]))
    groups = frame[rec.split.group_column].astype(str).to_numpy()[pool] if rec.split.group_column else None
    labels = y[pool] if task == "classification" and cv.method in ("stratified", "repeated") else None
    folds = cross_validation_folds(len(pool), method=cv.method, n_splits=cv.n_splits, n_repeats=cv.n_repeats,
                                   labels=labels, groups=groups, seed=rec.seed)
    fixed, fixed_train = fixed_config(config, learner, rec.train)
    per_fold = []
    for k, (tr, va) in enumerate(folds):
        tr, va = pool[tr], pool[va]
        pre = make_preprocessor(exp, kinds, task, seed=rec.seed)
        Xt, yt, w = balance_training_rows(exp, pre.fit_transform(frame.iloc[tr], y[tr]), y[tr], pre, task)
        model = build_learner(fixed, task=task, seed=rec.seed, train=fixed_train).fit(Xt, yt, sample_weight=w)
        per_fold.append(score_learner(task, model, pre.transform(frame.iloc[va]), y[va]))
        exp._log(f"fold {k + 1}/{len(folds)}: {per_fold[-1]}")
    summary = {"method": cv.method, "n_folds": len(folds), "refit": fixed.model_dump(mode="json"), "folds": per_fold}
    for name in per_fold[0]:
        values = [f[name] for f in per_fold if f[name] is not None]
        summary[name] = {"mean": float(np.mean(values)), "std": float(np.std(values))} if values else None
    return summary
