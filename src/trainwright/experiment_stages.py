"""The stages an ``Experiment`` chains: load, target and task, features, split, fit, evaluate, save.

Every check on the user's input happens before the run directory is created,
so bad input leaves nothing behind.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trainwright.errors import ConfigError, DataError, did_you_mean

__all__ = ["load_data", "resolve_task", "check_target", "choose_features", "make_splits", "fingerprint", "fit_and_save"]


def load_data(recipe) -> tuple[pd.DataFrame, Path]:
    from trainwright.data.sources import read_table

    path = Path(recipe.data.path)
    return read_table(path, recipe.data.format), path


def resolve_task(exp, frame: pd.DataFrame, path: Path) -> tuple[pd.DataFrame, np.ndarray, str]:
    """Find the target, drop rows without a label, and settle the task."""
    from trainwright.data.schema import infer_task, numeric_target

    target = exp.recipe.target
    if target not in frame.columns:
        raise DataError(
            f"{path}: target column '{target}' not found.{did_you_mean(target, frame.columns)} "
            f"Columns: {', '.join(map(str, frame.columns[:40]))}. Pass one of them with --target.",
            column=target, file=str(path),
        )
    labelled = frame[target].notna()
    if not labelled.any():
        raise DataError(f"{path}: every value of the target column '{target}' is missing; nothing to learn from.",
                        column=target, file=str(path))
    if not labelled.all():
        exp.decide("rows dropped", int((~labelled).sum()), f"the target '{target}' is missing in these rows")
        frame = frame[labelled]
    task = exp.recipe.task
    if task == "auto":
        task, reason = infer_task(frame[target])
        exp.decide("task", task, reason)
    y = frame[target]
    if task == "regression":
        y = numeric_target(y, target, path)
    elif pd.api.types.is_float_dtype(y) and np.all(np.mod(y.to_numpy(), 1) == 0):
        y = y.astype(np.int64)  # labels 0.0/1.0 read from a file with gaps are the classes 0/1
    return frame, y.to_numpy(), task


def check_target(exp, y: np.ndarray, task: str, path: Path) -> None:
    target = exp.recipe.target
    if task == "classification":
        classes = np.unique(y)
        if len(classes) < 2:
            raise DataError(
                f"{path}: the target column '{target}' has a single class ({classes[0]!r}); a classifier needs "
                "at least two. Check the target column, or use --task regression for a numeric target.",
                column=target, file=str(path),
            )


def choose_features(exp, frame: pd.DataFrame, path: Path):
    """Infer the schema and decide which columns become features, recording each drop."""
    from trainwright.data.schema import infer_schema

    rec = exp.recipe
    unknown = [c for c in rec.preprocess.drop_columns if c not in frame.columns]
    if unknown:
        raise ConfigError(
            f"preprocess.drop_columns names column(s) not in {path}: {', '.join(unknown)}."
            f"{did_you_mean(unknown[0], frame.columns)}", path="preprocess.drop_columns")
    schema = infer_schema(frame)
    kinds: dict[str, str] = {}
    exp.dropped_columns = list(rec.preprocess.drop_columns)
    for col in schema.columns:
        if col.name == rec.target or col.name in rec.preprocess.drop_columns:
            continue
        if col.kind == "empty" or (col.kind == "identifier" and rec.preprocess.drop_identifiers):
            exp.decide(f"column '{col.name}' dropped", col.kind, col.reason)
            exp.dropped_columns.append(col.name)
            continue
        kinds[col.name] = "numeric" if col.kind == "identifier" else col.kind
    if not kinds:
        raise DataError(f"{path}: no usable feature columns are left besides the target '{rec.target}' "
                        "(identifier-like, empty or dropped columns are not features).", file=str(path))
    return kinds, schema


def make_splits(exp, n_rows: int, labels: np.ndarray | None):
    from trainwright.data.split import split_rows

    s = exp.recipe.split
    stratify = labels is not None and s.stratify
    return split_rows(n_rows, train=s.train, validation=s.validation, test=s.test,
                      labels=labels if stratify else None, seed=exp.recipe.seed)


def fingerprint(path: Path, frame: pd.DataFrame, schema) -> dict[str, Any]:
    from trainwright.data.sources import file_sha256

    return {"file": str(path), "sha256": file_sha256(path), "bytes": path.stat().st_size,
            "rows": int(frame.shape[0]), "columns": int(frame.shape[1]), "schema": schema.to_dict()}


def fit_and_save(exp, run_dir: Path, frame, y, task, kinds, splits, fp) -> None:
    """Fit preprocessing on train rows, train the learner(s), evaluate once on test, save the run."""
    from trainwright.data.features import Preprocessor
    from trainwright.evaluate.metrics import score_learner
    from trainwright.experiment_train import train_candidates
    from trainwright.runs import environment, write_json, write_text

    rec = exp.recipe
    write_text(run_dir / "recipe.yaml", dump_recipe_dict(exp.given))
    write_json(run_dir / "fingerprint.json", fp)
    _save_splits(run_dir / "splits.json", splits, frame.index.to_numpy())
    with exp.stage("features"):
        p = rec.preprocess
        pre = Preprocessor(kinds, numeric_impute=p.numeric_impute, scale=p.scale,
                           categorical_encoding=p.categorical_encoding, max_categories=p.max_categories,
                           missing_indicators=p.missing_indicators).fit(frame.iloc[splits.train])
        X = {name: pre.transform(frame.iloc[getattr(splits, name)]) for name in ("train", "validation", "test")}
        Y = {name: y[getattr(splits, name)] for name in ("train", "validation", "test")}
    with exp.stage("train"):
        learner, config, board, metric = train_candidates(exp, task, X, Y)
    with exp.stage("evaluate"):
        metrics = {name: score_learner(task, learner, X[name], Y[name]) for name in ("validation", "test")}
    with exp.stage("save"):
        write_json(run_dir / "preprocessor.json", pre.to_dict())
        learner.save(run_dir / "model")
        write_json(run_dir / "metrics.json", metrics)
        write_json(run_dir / "leaderboard.json", {"metric": metric, "candidates": board})
        write_json(run_dir / "history.json", {"model": config.type, "best": learner.best_iteration_,
                                              "stopped_by": learner.stopped_by_, "entries": learner.history_})
        _save_resolved(exp, run_dir, task, metric, config)
        write_json(run_dir / "environment.json", environment(rec.seed))
    exp.run_info.update(
        status="completed", task=task, model=config.type, metric=metric,
        classes=learner.classes_.tolist() if task == "classification" else None,
        features=list(kinds), n_features=len(pre.feature_names_), splits=splits.sizes(),
        seconds=round(time.monotonic() - exp.started, 3), trainwright=_version(),
    )
    write_json(run_dir / "run.json", exp.run_info)
    write_text(run_dir / "log.txt", "\n".join(exp.log) + "\n")


def _save_splits(path: Path, splits, row_ids: np.ndarray) -> None:
    from trainwright.runs import write_json

    # Row numbers of the loaded file (0-based, header excluded), not positions after dropping unlabelled rows.
    write_json(path, {name: row_ids[getattr(splits, name)].tolist() for name in ("train", "validation", "test")})


def _save_resolved(exp, run_dir: Path, task: str, metric: str, config) -> None:
    from trainwright.config.io import dump_recipe
    from trainwright.runs import write_json, write_text

    resolved = exp.recipe.model_copy(deep=True)
    resolved.task = task
    resolved.evaluate.metric = metric
    resolved.model = config
    resolved.preprocess.drop_columns = exp.dropped_columns
    header = "# Resolved recipe: every default and every automatic decision written out.\n"
    header += "".join(f"# decision: {d['what']} = {d['value']} ({d['reason']})\n" for d in exp.decisions)
    write_text(run_dir / "recipe.resolved.yaml", dump_recipe(resolved, header))
    write_json(run_dir / "decisions.json", exp.decisions)


def dump_recipe_dict(raw: dict) -> str:
    import yaml

    return "# The recipe as given (file, command-line arguments and --set overrides).\n" + \
        yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("trainwright")
    except metadata.PackageNotFoundError:
        return "unknown"
