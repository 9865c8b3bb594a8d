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
from trainwright.models.registry import build_learner, learners, require_installed

__all__ = ["check_inputs", "member_spec", "candidates", "auto_candidates", "select_model", "imputation_members",
           "cross_validation", "loop_options", "tuned_type", "tuned_recipe", "tune_model", "trial_candidate",
           "tune_folds", "refit_best", "work_units"]


def work_units(recipe, kinds: dict[str, str] | None = None, task: str | None = None) -> dict[str, int]:
    """How the fitting time is shared: one unit per candidate, per extra imputation member, per CV fold (``auto``'s
    candidates those ``default_candidates`` gives for the features' ``kinds`` and the ``task``).

    Example:
        >>> from trainwright.pipeline.recipe import Recipe
        >>> recipe = Recipe(target="y", model={"type": "auto"}, split={"cv": {"method": "kfold"}})
        >>> work_units(recipe), work_units(recipe, {"x": "numeric"}, "classification")["selection"]
        ({'selection': 63, 'imputation': 0, 'cross_validation': 5}, 56)
    """
    from trainwright.models.auto import default_candidates

    model, cv = recipe.model, recipe.split.cv
    folds = 0 if cv.method == "none" else cv.n_splits * (cv.n_repeats if cv.method == "repeated" else 1)
    # auto: each entry is screened on one fold, up to bag_top (all) are bagged on every fold and refitted once
    n = len(default_candidates(model, kinds or {}, task)) if model.type == "auto" else 0
    auto = n + min(model.bag_top or n, n) * (model.bag_folds + (model.refit is not False)) if n else 1
    return {"selection": auto, "imputation": recipe.preprocess.multiple_imputations - 1, "cross_validation": folds}


def check_inputs(recipe, kinds: dict[str, str], task: str | None = None) -> None:
    """Refuse, before any work, a learner that cannot take these features: an image learner
    (``capabilities.inputs == "image"``) takes the pixels of one image column and nothing else, a sequence
    learner (``"tokens"``) the words of one text column; and settings the ``task`` cannot use (a model
    section's ``check_task``, e.g. LightGBM's target transform on classes).

    Example:
        >>> from trainwright.pipeline.recipe import Recipe
        >>> check_inputs(Recipe(target="y", model={"type": "cnn"}), {"photo": "image"})
    """
    from trainwright.errors import ConfigError
    from trainwright.models.auto import REGRESSION_ONLY, default_candidates, portfolio_entry

    model = recipe.model
    named = default_candidates(model, kinds, task) if model.type == "auto" else []
    entries, only = [portfolio_entry(n) for n in named], ", ".join(n for n in named if n in REGRESSION_ONLY)
    if task == "classification" and only:
        raise ConfigError(f"model.candidates names {only}, which trains on regression targets only, and this "
                          f"target has classes: leave {only} out of model.candidates", path="model.candidates")
    for config in [learners().config_class(kind)(**params) for kind, params, _ in entries] or [model]:
        if task is not None and hasattr(config, "check_task"):
            config.check_task(task)
    names = [kind for kind, _, _ in entries] or [model.type]
    for name in dict.fromkeys(names):
        require_installed(learners().get(name))
        inputs = learners().get(name).capabilities.inputs
        needs = {"image": ("image", "the pixels of one image column"), "tokens": ("text", "the words of one text column"),
                 "encoder_tokens": ("text", "the words of one text column")}
        other = [f"{c} ({k})" for c, k in kinds.items() if k not in ("numeric", "boolean")]
        if inputs == "sequence" and other:
            raise ConfigError(f"model.type={name} reads the numeric features of a row as one sequence; the features "
                              f"include {', '.join(other[:5])}: drop "
                              "them (preprocess.drop_columns) or choose a tabular model.type", path="model.type")
        channels = getattr(model, "channels", 1)
        if inputs == "sequence" and len(kinds) % channels:
            raise ConfigError(f"model.type={name} reads each row as a sequence of model.channels={channels} numbers per "
                              f"step, but the rows have {len(kinds)} features, not a multiple of it: set "
                              "model.channels to the numbers per step, or drop the columns that are not the sequence",
                              path="model.channels")
        if inputs in needs and list(kinds.values()) != [needs[inputs][0]]:
            raise ConfigError(
                f"model.type={name} takes {needs[inputs][1]} and nothing else; the features are "
                f"{', '.join(f'{c} ({k})' for c, k in kinds.items())}: drop the other columns "
                "(preprocess.drop_columns) or choose a tabular model.type", path="model.type")


def member_spec(recipe, kinds: dict[str, str], task: str, learner) -> MemberSpec:
    """The ``MemberSpec`` the recipe describes for ``learner``."""
    c, features, preprocess = recipe.clean, recipe.features, recipe.preprocess
    inputs = learner.capabilities.inputs if learner is not None else "rows"
    if learner is not None and learner.capabilities.reads_tokens and features.text != inputs:
        features = features.model_copy(update={"text": inputs})  # sequence models read token ids
    if inputs == "sequence":  # the features are the steps, in order: nothing appended after them
        features = features.model_copy(update={"polynomial_degree": 1})
        preprocess = preprocess.model_copy(update={"missing_indicators": "none"})
    return MemberSpec(kinds=kinds, task=task, preprocess=preprocess, features=features,
                      learner=learner, clip=(c.outlier_rule, c.outlier_threshold) if c.outliers == "cap" else None,
                      balance=recipe.balance.method,
                      imbalance=(recipe.audit.imbalance_ratio, recipe.audit.strong_imbalance_ratio),
                      posterior=recipe.preprocess.multiple_imputations > 1)


def candidates(recipe, kinds: dict[str, str], task: str, names: list[str] | None = None) -> list[Candidate]:
    """The recipe's learner, or each ``auto`` portfolio entry (its learner with the entry's settings; ``names``,
    by default the portfolio ``default_candidates`` gives)."""
    import dataclasses

    from trainwright.config.io import with_values
    from trainwright.models.auto import ENTRY_FEATURES, default_candidates, portfolio_entry

    model = recipe.model
    if model.type != "auto":
        return [Candidate(model, member_spec(recipe, kinds, task, build_learner(model, task=task, seed=recipe.seed,
                                                                                 train=recipe.train)))]
    out = []
    for name in default_candidates(model, kinds, task) if names is None else names:
        kind, params, train = portfolio_entry(name)
        config = learners().config_class(kind)(**params)
        loop = type(recipe.train).model_validate(with_values(recipe.train.model_dump(), train)) if train else recipe.train
        spec = member_spec(recipe, kinds, task, build_learner(config, task=task, seed=recipe.seed, train=loop))
        if name in ENTRY_FEATURES:
            spec = dataclasses.replace(spec, features=spec.features.model_copy(update=ENTRY_FEATURES[name]))
        out.append(Candidate(config, spec, label=name))
    return out


def auto_candidates(recipe, frame, kinds: dict[str, str], task: str, seconds: float | None, log) -> list[Candidate]:
    """``auto``'s entries for this table: the portfolio, and for free text with few rows the sentence encoder's
    embeddings as one more entry (``models.auto.with_text_embeddings``, logged)."""
    from trainwright.models.auto import default_candidates, with_text_embeddings

    names = default_candidates(recipe.model, kinds, task)
    texts = [frame[c] for c, k in kinds.items() if k == "text"]
    if texts and "candidates" not in recipe.model.model_fields_set:
        names, why = with_text_embeddings(names, texts, recipe.features.text, seconds)
        log(f"text portfolio: {why}")
    return candidates(recipe, kinds, task, names)


def loop_options(run_dir: Path, recipe, resume: bool) -> Callable[..., dict[str, Any]]:
    """(candidate, bagging fold or None) -> fit options for learners that train with the loop: checkpoints in
    the run (resumed from when ``resume``) and the loop's loggers, one folder and history per fit."""
    from trainwright.runs import layout

    def options(candidate: Candidate, fold: int | None = None) -> dict[str, Any]:
        if not candidate.spec.learner.capabilities.uses_loop:
            return {}
        name = candidate.name if fold is None else f"{candidate.name}-fold{fold + 1}"
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
    """Fit the recipe's model, or (``auto``) screen, bag and ensemble the portfolio inside the training rows."""
    from trainwright.evaluate.metrics import primary_metric

    if recipe.model.type == "auto":
        import time

        from trainwright.search.automl import fit_auto

        if deadline is None and recipe.model.default_seconds is not None:  # auto's stated default, recorded
            deadline = time.monotonic() + recipe.model.default_seconds
        groups = frame[recipe.split.group_column].astype(str).to_numpy() if recipe.split.group_column else None
        seconds = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        picks = auto_candidates(recipe, frame, kinds, task, seconds, log)
        return fit_auto(picks, frame, y, positions["train"], positions["validation"],
                        config=recipe.model, metric=primary_metric(task, recipe.evaluate.metric), seed=recipe.seed,
                        groups=groups, deadline=deadline, fit_options=fit_options, log=log)
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


def tuned_type(recipe) -> str:
    """The learner ``tune`` searches: the recipe's, or LightGBM when the recipe says ``auto`` (the portfolio is
    not searched; its entries are fixed configurations)."""
    return "lightgbm" if recipe.model.type == "auto" else recipe.model.type


def tune_model(recipe, frame, y: np.ndarray, task: str, kinds: dict[str, str], positions: dict, *, study_name: str,
               storage: str | None, deadline: float | None, fit_options, log, coordinator: bool = True,
               workers: Callable[[], Any] | None = None, seed_offset: int = 0) -> dict[str, Any]:
    """Run this process's trials of the study (``search.study.run_trials``) and, when ``workers`` starts other
    processes on the same study, wait for them. Returns the study and what the search needs next."""
    from trainwright.evaluate.metrics import primary_metric
    from trainwright.search import study

    kind = tuned_type(recipe)
    space = study.search_space(recipe.tune, learners().get(kind))
    metric = primary_metric(task, recipe.evaluate.metric)
    opened = study.open_study(recipe.tune, space, name=study_name, direction=study.direction(metric),
                              seed=(recipe.seed + seed_offset) % 2**32, storage=storage, coordinator=coordinator)
    trials = study.planned_trials(recipe.tune, space, deadline)
    started = workers() if workers is not None else []
    try:
        study.run_trials(opened, space, lambda values: trial_candidate(recipe, values, kinds, task), frame, y,
                          tune_folds(recipe, frame, y, positions, task), metric=metric, seed=recipe.seed, trials=trials,
                          deadline=deadline, fit_options=fit_options, log=log)
        study.wait_for_others(opened, deadline, log)
    finally:
        for proc in started:
            _, err = proc.communicate()
            if proc.returncode != 0:
                tail = " | ".join(err.strip().splitlines()[-3:])
                log(f"warning: tuning worker {proc.pid} stopped with exit code {proc.returncode}: {tail[-500:]}")
    return {"study": opened, "space": space, "metric": metric, "trials": trials, "type": kind}


def trial_candidate(recipe, values: dict[str, Any], kinds: dict[str, str], task: str) -> Candidate:
    """The candidate of one set of searched values."""
    return candidates(tuned_recipe(recipe, values), kinds, task)[0]


def tuned_recipe(recipe, values: dict[str, Any]):
    """The recipe with searched values set (the searched learner in place of ``auto``), validated like any recipe."""
    from trainwright.config.io import parse_config, with_values

    raw = recipe.model_dump(mode="json")
    if recipe.model.type == "auto":
        raw["model"] = {"type": tuned_type(recipe)}
    return parse_config(type(recipe), with_values(raw, values), what="recipe with the searched values")


def tune_folds(recipe, frame, y: np.ndarray, positions: dict, task: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """Where trials fit and score: (train, validation), or ``tune.cv`` folds over train+validation (grouped
    like the split, stratified for classification)."""
    from types import SimpleNamespace

    k = recipe.tune.cv
    if k < 2:
        return [(positions["train"], positions["validation"])]
    if recipe.split.method == "time":
        from trainwright.errors import ConfigError

        raise ConfigError("tune.cv folds would train on rows after the ones they score under split.method=time; "
                          "set tune.cv=0 (score on the validation rows, which come after the training rows)",
                          path="tune.cv")
    group = recipe.split.group_column
    cv = SimpleNamespace(method="group" if group else ("stratified" if task == "classification" else "kfold"),
                         n_splits=k, n_repeats=1)
    pool = np.sort(np.concatenate([positions["train"], positions["validation"]]))
    groups = frame[group].astype(str).to_numpy() if group else None
    return make_folds(pool, cv, task=task, y=y, groups=groups, seed=recipe.seed)


def refit_best(recipe, values: dict[str, Any], frame, y: np.ndarray, task: str, kinds: dict[str, str], positions: dict,
               *, metric: str, deadline: float | None, fit_options, log) -> tuple[Any, Selection]:
    """(the best recipe, its Selection): the best values fitted on the training rows (early stopping on the
    validation rows, as in the trials), then, with ``tune.refit`` and a learner that can fix its iterations,
    refitted on train+validation."""
    from trainwright.config.base import Decision
    from trainwright.fitting import fit_member
    from trainwright.fitting.member import fixed_in_words

    best = tuned_recipe(recipe, values)
    candidate = candidates(best, kinds, task)[0]
    selection = fit_candidates([candidate], frame, y, positions["train"], positions["validation"], metric=metric,
                               seed=recipe.seed, deadline=deadline, fit_options=fit_options, log=log)
    fixed = selection.member.learner.fixed_params()
    if not (recipe.tune.refit and fixed):
        why = "tune.refit is off" if not recipe.tune.refit else f"{candidate.name} cannot fix its iterations"
        return best, Selection(selection.member, candidate, metric, selection.board,
                               (Decision("tune.refit", False, f"the best values fitted on the training rows ({why})"),))
    pool = np.sort(np.concatenate([positions["train"], positions["validation"]]))
    spec = candidate.spec.with_learner(selection.member.learner.clone(**fixed))
    member = fit_member(spec, frame, y, pool, positions["validation"], seed=recipe.seed, deadline=deadline,
                        early_stopping=False, fit_options=fit_options(candidate))
    log(f"refit on train+validation ({len(pool)} rows) in {member.fit_seconds:.1f}s with {fixed_in_words(fixed)}")
    why = (f"the best values refitted on the {len(pool)} train+validation rows with {fixed_in_words(fixed)} "
           "(validation scores of this run come from rows the model saw; the study's best value is the honest one)")
    return best, Selection(member, candidate, metric, selection.board, (Decision("tune.refit", True, why),))
