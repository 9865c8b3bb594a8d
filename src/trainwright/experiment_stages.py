"""The stages before fitting: load, frame features, target and task, feature columns, split, audit.

Every check on the user's input happens here, before the run directory is
created, so bad input leaves nothing behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trainwright.errors import ConfigError, DataError, did_you_mean

__all__ = ["explain_after_cleaning", "load_data", "add_frame_features", "resolve_task", "target_values", "check_target", "choose_features",
           "make_splits", "run_audit", "fingerprint"]


def load_data(recipe) -> tuple[pd.DataFrame, Path]:
    from trainwright.data.sources import read_table

    path = Path(recipe.data.path)
    return read_table(path, recipe.data.format), path


def add_frame_features(exp, frame: pd.DataFrame) -> pd.DataFrame:
    """Lag and rolling features (rows ordered in time), added before anything else looks at the columns."""
    from trainwright.data.engineer import add_time_features, time_feature_names

    f = exp.recipe.features
    out = add_time_features(frame, f.lags, f.rolling, f.order_by)
    if f.lags or f.rolling:
        exp.decide("time features", time_feature_names(f.lags, f.rolling), f"earlier rows, ordered by '{f.order_by}'")
    return out


def resolve_task(exp, frame: pd.DataFrame, path: Path) -> tuple[pd.DataFrame, str]:
    """Find the target, drop rows without a label, and settle the task."""
    from trainwright.data.schema import infer_task

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
    if task == "regression" and not pd.api.types.is_numeric_dtype(frame[target]):
        as_number = pd.to_numeric(frame[target].astype(str).str.strip(), errors="coerce")
        bad = as_number.isna()
        if bad.any() and bad.mean() <= 0.05:
            examples = sorted(set(frame[target][bad].astype(str)))[:3]
            exp.decide("rows dropped", int(bad.sum()), f"the target '{target}' is not a number there (e.g. {examples})")
            frame = frame[~bad].assign(**{target: as_number[~bad]})
    return frame, task


def target_values(frame: pd.DataFrame, target: str, task: str, path: Path) -> np.ndarray:
    from trainwright.data.schema import numeric_target

    y = frame[target]
    if task == "regression":
        return numeric_target(y, target, path).to_numpy()
    if pd.api.types.is_float_dtype(y) and np.all(np.mod(y.to_numpy(), 1) == 0):
        y = y.astype(np.int64)  # labels 0.0/1.0 read from a file with gaps are the classes 0/1
    elif not pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y):
        y = y.astype(str)  # labels of mixed types (1 and "a") compare as text
    return y.to_numpy()


def check_target(exp, y: np.ndarray, task: str, path: Path) -> None:
    target = exp.recipe.target
    if task == "regression" and not np.all(np.isfinite(y)):
        raise DataError(f"{path}: the regression target '{target}' holds infinite values; remove or fix those rows.",
                        column=target, file=str(path))
    if task == "classification":
        classes = np.unique(y)
        if len(classes) < 2:
            raise DataError(
                f"{path}: the target column '{target}' has a single class ({classes[0]!r}); a classifier needs "
                "at least two. Check the target column, or use --task regression for a numeric target.",
                column=target, file=str(path),
            )


def choose_features(exp, frame: pd.DataFrame, schema, path: Path) -> dict[str, str]:
    """Decide which columns become features and of what kind, recording each drop."""
    rec = exp.recipe
    for key, cols in (("preprocess.drop_columns", rec.preprocess.drop_columns),
                      ("split.group_column", [rec.split.group_column] if rec.split.group_column else []),
                      ("split.time_column", [rec.split.time_column] if rec.split.time_column else [])):
        unknown = [c for c in cols if c not in frame.columns]
        if unknown:
            raise ConfigError(f"{key} names column(s) not in {path}: {', '.join(unknown)}."
                              f"{did_you_mean(unknown[0], frame.columns)}", path=key)
    if rec.target in rec.preprocess.drop_columns:
        raise ConfigError(f"preprocess.drop_columns lists the target '{rec.target}'; the target is never a feature, "
                          "remove it from drop_columns.", path="preprocess.drop_columns")
    kinds: dict[str, str] = {}
    exp.dropped_columns = list(rec.preprocess.drop_columns)
    for col in schema.columns:
        if col.name == rec.target or col.name in rec.preprocess.drop_columns:
            continue
        if col.name == rec.split.group_column:
            exp.decide(f"column '{col.name}' dropped", "group", "the group id of split.method=group is not a feature")
            exp.dropped_columns.append(col.name)
            continue
        if col.kind == "empty" or (col.kind == "identifier" and rec.preprocess.drop_identifiers):
            exp.decide(f"column '{col.name}' dropped", col.kind, col.reason)
            exp.dropped_columns.append(col.name)
            continue
        if col.kind == "identifier":  # kept on request: numbers stay numbers, codes become categories
            kinds[col.name] = "numeric" if pd.api.types.is_numeric_dtype(frame[col.name]) else "categorical"
        else:
            kinds[col.name] = col.kind
    if not kinds:
        raise DataError(f"{path}: no usable feature columns are left besides the target '{rec.target}' "
                        "(identifier-like, empty or dropped columns are not features). If an identifier-like "
                        "column is a real feature, keep it with --set preprocess.drop_identifiers=false.",
                        file=str(path))
    return kinds


def explain_after_cleaning(exc: DataError, log) -> DataError:
    """A data error found after cleaning says how many rows cleaning removed, when it removed any."""
    dropped = sum(a["rows_affected"] for a in log.actions if a["action"] in ("drop_duplicates", "resolve_conflicts"))
    if not dropped:
        return exc
    return DataError(f"{exc} (Cleaning first removed {dropped} duplicate or conflicting rows; keep them with "
                     "--set clean.drop_duplicates=false or clean.resolve_conflicts=none.)", column=exc.column, file=exc.file)


def make_splits(exp, frame: pd.DataFrame, y: np.ndarray, task: str):
    from trainwright.data.split import split_rows

    s = exp.recipe.split
    method = s.method
    if method == "auto":
        method = "stratified" if task == "classification" else "random"
        exp.decide("split.method", method, f"{task} target")
    if method == "stratified" and task != "classification":
        raise ConfigError("split.method=stratified needs a classification target; use random", path="split.method")
    kwargs: dict[str, Any] = {}
    if method == "stratified":
        kwargs["labels"] = y
    elif method == "group":
        kwargs["groups"] = frame[s.group_column].astype(str).to_numpy()
    elif method == "time":
        times = _time_values(frame[s.time_column], s.time_column)
        kwargs["times"] = times
    exp.split_method = method
    splits = split_rows(len(frame), train=s.train, validation=s.validation, test=s.test,
                        seed=exp.recipe.seed, **kwargs)
    if task == "classification":
        held = np.concatenate([y[splits.validation], y[splits.test]])
        unseen = np.setdiff1d(np.unique(held), np.unique(y[splits.train])).tolist()
        if unseen:
            raise DataError(
                f"class(es) {unseen} of '{exp.recipe.target}' appear in validation or test rows but never in "
                f"training rows (split.method={method}), so no model could predict them. Add such rows to the "
                "early data, or use another split.method.", column=exp.recipe.target)
    return splits


def _time_values(series: pd.Series, name: str) -> np.ndarray:
    import warnings

    if pd.api.types.is_numeric_dtype(series):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stamps = pd.to_datetime(series, errors="coerce", format="mixed", utc=True)
        values = stamps.to_numpy(dtype="datetime64[ns]").astype(np.int64).astype(np.float64)
        values[stamps.isna().to_numpy()] = np.nan
    bad = np.isnan(values)
    if bad.any():
        example = series[bad].iloc[0] if (~series[bad].isna()).any() else "(missing)"
        raise DataError(f"split.time_column '{name}': {int(bad.sum())} rows have no usable time (e.g. {example!r}); "
                        "fix or drop them before a time split.", column=name)
    return values


def run_audit(exp, raw: pd.DataFrame, row_ids: np.ndarray, task: str, splits):
    """The data audit of the file's rows as read (before cleaning), with the real split, so every row
    number in a finding is a row number of the file; None when disabled.

    Args:
        raw: the rows as read (plus lag features), indexed 0..n-1.
        row_ids: file row number of each row of the cleaned frame the split was made on.
    """
    from trainwright.data.audit import audit

    cfg = exp.recipe.audit
    if not cfg.enabled:
        return None
    file_splits = {name: row_ids[positions] for name, positions in splits.as_dict().items()}
    report = audit(raw.reset_index(drop=True), target=exp.recipe.target, task=task, config=cfg,
                   splits=file_splits, seed=exp.recipe.seed)
    for finding in report.findings:
        if finding.severity in ("warning", "error"):
            exp._log(f"audit {finding.severity}: {finding.message}")
    return report


def fingerprint(path: Path, shape: tuple[int, int], schema, sha256: str) -> dict[str, Any]:
    """Content hash, size and shape of the data file as read, and the inferred schema."""
    return {"file": str(path), "sha256": sha256, "bytes": path.stat().st_size,
            "rows": int(shape[0]), "columns": int(shape[1]), "schema": schema.to_dict()}
