"""The stages before fitting: load, frame (target and task), clean, split, audit; and cleaning fitted on the
training rows after the split.

Each stage takes plain inputs (recipe sections, the previous stage's result) and returns a small frozen
result holding what it decided. Every check on the user's input happens before the run directory is
created, so bad input leaves nothing behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trainwright.config.base import Decision
from trainwright.data.clean import CleaningLog
from trainwright.data.columns import require_column, require_columns
from trainwright.errors import ConfigError, DataError

__all__ = ["Loaded", "Framed", "Cleaned", "Split", "Refined", "load", "frame_target", "clean", "split", "audit",
           "reads_sequence",
           "clean_after_split"]


@dataclass(frozen=True)
class Loaded:
    """The data file as read, with the hash of its bytes (and how its encoding was chosen)."""

    frame: pd.DataFrame
    path: Path
    sha256: str
    decisions: tuple[Decision, ...] = ()


@dataclass(frozen=True)
class Framed:
    """Rows with their target and task settled.

    Attributes:
        raw: every row as read plus lag features, indexed by file row (the audit sees these).
        frame: the labelled rows (a regression target numeric), same index.
    """

    raw: pd.DataFrame
    frame: pd.DataFrame
    task: str
    schema: Any
    fingerprint: dict[str, Any]
    decisions: tuple[Decision, ...]


@dataclass(frozen=True)
class Cleaned:
    """Cleaned rows, their targets, and the feature columns with their kinds (the rest dropped, with reasons)."""

    frame: pd.DataFrame
    y: np.ndarray
    kinds: dict[str, str]
    dropped: tuple[str, ...]
    log: CleaningLog
    decisions: tuple[Decision, ...]


@dataclass(frozen=True)
class Split:
    """Row positions (into ``Cleaned.frame``) of train, validation and test, and the method used."""

    splits: Any
    method: str
    decisions: tuple[Decision, ...]


@dataclass(frozen=True)
class Refined:
    """Cleaning fitted on the training rows: feature kinds left, training rows kept, columns dropped, the log."""

    kinds: dict[str, str]
    train: np.ndarray
    dropped: tuple[str, ...]
    log: CleaningLog
    decisions: tuple[Decision, ...]


def load(data) -> Loaded:
    """Read the recipe's ``data`` section's file (the file is only read)."""
    import codecs

    from trainwright.data.sources import detect_encoding, detect_format, file_sha256, read_table

    path = Path(data.path)
    encoding, decisions = data.encoding, ()
    if encoding == "auto" and path.is_file() and detect_format(path, data.format) in ("csv", "jsonl"):
        encoding, how = detect_encoding(path)
        if encoding != "utf-8":
            decisions = (Decision("data.encoding", encoding, how),)
    elif encoding != "auto":
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ConfigError(f"data.encoding '{encoding}' is not a known text encoding; use e.g. utf-8, latin-1, "
                              "cp1252 or utf-16", path="data.encoding") from None
    return Loaded(read_table(path, data.format, encoding=encoding), path, file_sha256(path), decisions)


def frame_target(recipe, loaded: Loaded) -> Framed:
    """Add lag features, find the target, drop unlabelled rows, settle the task, infer the schema."""
    from trainwright.data.features.lags import add_time_features, time_feature_names
    from trainwright.data.schema import infer_schema
    from trainwright.evaluate.metrics import primary_metric

    f, decisions = recipe.features, []
    raw = add_time_features(loaded.frame, f.lags, f.rolling, f.order_by)
    if f.lags or f.rolling:
        decisions.append(Decision("time features", time_feature_names(f.lags, f.rolling),
                                  f"earlier rows, ordered by '{f.order_by}'"))
    frame, task = _labelled(recipe, raw, loaded.path, decisions)
    primary_metric(task, recipe.evaluate.metric)  # a metric of the wrong task fails before any work
    schema = infer_schema(frame)
    fp = {"file": str(loaded.path), "sha256": loaded.sha256, "bytes": loaded.path.stat().st_size,
          "rows": int(loaded.frame.shape[0]), "columns": int(loaded.frame.shape[1]), "schema": schema.to_dict()}
    return Framed(raw, frame, task, schema, fp, tuple(decisions))


def _labelled(recipe, frame: pd.DataFrame, path: Path, decisions: list) -> tuple[pd.DataFrame, str]:
    from trainwright.data.schema import infer_task

    target = recipe.target
    require_column(frame, target, what="target column", file=path, fix="Pass one of them with --target.")
    labelled = frame[target].notna()
    if not labelled.any():
        raise DataError(f"{path}: every value of the target column '{target}' is missing; nothing to learn from.",
                        column=target, file=str(path))
    if not labelled.all():
        decisions.append(Decision("rows dropped", int((~labelled).sum()), f"the target '{target}' is missing in these rows"))
        frame = frame[labelled]
    task = recipe.task
    if task == "auto":
        task, reason = infer_task(frame[target])
        decisions.append(Decision("task", task, reason))
    if task == "regression" and not pd.api.types.is_numeric_dtype(frame[target]):
        as_number = pd.to_numeric(frame[target].astype(str).str.strip(), errors="coerce")
        bad = as_number.isna()
        if bad.any() and bad.mean() <= 0.05:
            examples = sorted(set(frame[target][bad].astype(str)))[:3]
            decisions.append(Decision("rows dropped", int(bad.sum()), f"the target '{target}' is not a number there (e.g. {examples})"))
            frame = frame[~bad].assign(**{target: as_number[~bad]})
    return frame, task


def clean(recipe, framed: Framed, path: Path) -> Cleaned:
    """Stat-free cleaning of every row, the targets, and the feature columns (their kinds)."""
    from trainwright.data.clean import clean_before_split

    kinds = {c.name: (c.kind, c.reason) for c in framed.schema.columns}
    frame, log = clean_before_split(framed.frame, recipe.target, recipe.clean, kinds)
    log = CleaningLog(raw_sha256=framed.fingerprint["sha256"]).merged(log)
    y = _targets(frame, recipe.target, framed.task, path)
    features, dropped, decisions = _features(recipe, frame, framed.schema, path)
    _check_sensitive(recipe.evaluate.sensitive, recipe.target, frame, path)
    return Cleaned(frame, y, features, dropped, log, decisions)


def _targets(frame: pd.DataFrame, target: str, task: str, path: Path) -> np.ndarray:
    from trainwright.data.labels import coerce_labels
    from trainwright.data.schema import numeric_target

    if task == "regression":
        return numeric_target(frame[target], target, path).to_numpy()
    return coerce_labels(frame[target])


def _features(recipe, frame: pd.DataFrame, schema, path: Path):
    """(feature kinds, dropped columns, decisions): which columns become features and of what kind."""
    p, s = recipe.preprocess, recipe.split
    for setting, cols in (("preprocess.drop_columns", p.drop_columns),
                          ("split.group_column", [s.group_column] if s.group_column else []),
                          ("split.time_column", [s.time_column] if s.time_column else [])):
        require_columns(frame, cols, what="column", file=path, setting=setting)
    if recipe.target in p.drop_columns:
        raise ConfigError(f"preprocess.drop_columns lists the target '{recipe.target}'; the target is never a feature, "
                          "remove it from drop_columns.", path="preprocess.drop_columns")
    kinds: dict[str, str] = {}
    dropped, decisions, sequence = list(p.drop_columns), [], reads_sequence(recipe)
    for col in schema.columns:
        if col.name == recipe.target or col.name in p.drop_columns:
            continue
        if col.name == s.group_column:
            decisions.append(Decision(f"column '{col.name}' dropped", "group", "the group id of split.method=group is not a feature"))
            dropped.append(col.name)
        elif sequence and col.kind in ("numeric", "boolean", "empty", "identifier"):
            kinds[col.name] = "numeric"  # a sequence learner's steps stay in place, as numbers
        elif col.kind == "empty" or (col.kind == "identifier" and p.drop_identifiers):
            decisions.append(Decision(f"column '{col.name}' dropped", col.kind, col.reason))
            dropped.append(col.name)
        elif col.kind == "identifier":  # kept on request: numbers stay numbers, codes become categories
            kinds[col.name] = "numeric" if pd.api.types.is_numeric_dtype(frame[col.name]) else "categorical"
        else:
            kinds[col.name] = col.kind
    if not kinds:
        raise DataError(f"{path}: no usable feature columns are left besides the target '{recipe.target}' "
                        "(identifier-like, empty or dropped columns are not features). If an identifier-like "
                        "column is a real feature, keep it with --set preprocess.drop_identifiers=false.",
                        file=str(path))
    return kinds, tuple(dropped), tuple(decisions)


def _check_sensitive(columns: list[str], target: str, frame, path: Path) -> None:
    """Sensitive columns (fairness audit) must exist and not be the target."""
    if target in columns:
        raise ConfigError(f"evaluate.sensitive names the target '{target}'; a fairness audit compares groups of "
                          "rows by another column (e.g. sex or age). Remove it from evaluate.sensitive.",
                          path="evaluate.sensitive")
    require_columns(frame, columns, what="evaluate.sensitive column", file=path, fix="Fix evaluate.sensitive.")


def split(recipe, cleaned: Cleaned, task: str, path: Path) -> Split:
    """Check the target can be learnt, then cut train / validation / test (70/20/10 by default)."""
    try:
        _check_target(recipe.target, cleaned.y, task, path)
        _check_threshold(recipe.evaluate.threshold.choose, task, cleaned.y)
        return _split(recipe, cleaned.frame, cleaned.y, task)
    except DataError as exc:
        raise _after_cleaning(exc, cleaned.log) from None


def _check_target(target: str, y: np.ndarray, task: str, path: Path) -> None:
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
        _check_classes_are_classes(target, y, classes, path)


def _check_classes_are_classes(target: str, y: np.ndarray, classes: np.ndarray, path: Path) -> None:
    """A numeric target with fractional values, or so many classes that most have one row, is a quantity:
    say so, and point to regression (a split or a learner would otherwise fail with advice that goes round)."""
    numeric = np.issubdtype(np.asarray(y).dtype, np.number)
    fractional = numeric and np.issubdtype(np.asarray(y).dtype, np.floating) and bool(np.any(np.mod(y, 1) != 0))
    _, counts = np.unique(y, return_counts=True)
    mostly_single = len(classes) > 20 and np.mean(counts == 1) > 0.5
    if fractional or (numeric and mostly_single):
        why = "holds fractional numbers" if fractional else \
            f"has {len(classes):,} distinct values for {len(y):,} rows, most of them on a single row"
        raise DataError(f"{path}: the target '{target}' {why}: that is a quantity to predict, not classes. Use "
                        "--task regression (or leave --task out to let trainwright infer it).", column=target,
                        file=str(path))
    if mostly_single:
        raise DataError(f"{path}: the target '{target}' has {len(classes):,} classes for {len(y):,} rows, most of them "
                        "on a single row: no model can learn a class it sees once. Group rare classes together, or "
                        "check that the right column is the target.", column=target, file=str(path))


def _check_threshold(choose: str, task: str, y) -> None:
    """A decision threshold is chosen for two classes only."""
    if choose == "none":
        return
    n = len(np.unique(np.asarray(y).astype(str))) if task == "classification" else 0
    if n != 2:
        what = f"{n} classes" if task == "classification" else "a regression target"
        raise ConfigError(f"evaluate.threshold.choose={choose} applies to binary classification, and this run has "
                          f"{what}; set evaluate.threshold.choose=none", path="evaluate.threshold.choose")


def _split(recipe, frame: pd.DataFrame, y: np.ndarray, task: str) -> Split:
    from trainwright.data.dates import epoch_seconds
    from trainwright.data.split import split_rows

    s, decisions = recipe.split, []
    method = s.method
    if method == "auto":
        method = "stratified" if task == "classification" else "random"
        decisions.append(Decision("split.method", method, f"{task} target"))
    if method == "stratified" and task != "classification":
        raise ConfigError("split.method=stratified needs a classification target; use random", path="split.method")
    kwargs: dict[str, Any] = {}
    if method == "stratified":
        kwargs["labels"] = y
    elif method == "group":
        kwargs["groups"] = frame[s.group_column].astype(str).to_numpy()
    elif method == "time":
        kwargs["times"] = _times(frame[s.time_column], s.time_column, epoch_seconds)
    splits = split_rows(len(frame), train=s.train, validation=s.validation, test=s.test, seed=recipe.seed, **kwargs)
    if task == "classification":
        held = np.concatenate([y[splits.validation], y[splits.test]])
        unseen = np.setdiff1d(np.unique(held), np.unique(y[splits.train])).tolist()
        if unseen:
            raise DataError(
                f"class(es) {unseen} of '{recipe.target}' appear in validation or test rows but never in "
                f"training rows (split.method={method}), so no model could predict them. Add such rows to the "
                "early data, or use another split.method.", column=recipe.target)
    return Split(splits, method, tuple(decisions))


def _times(series: pd.Series, name: str, epoch_seconds) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(series):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        values = epoch_seconds(series)
    bad = np.isnan(values)
    if bad.any():
        example = series[bad].iloc[0] if (~series[bad].isna()).any() else "(missing)"
        raise DataError(f"split.time_column '{name}': {int(bad.sum())} rows have no usable time (e.g. {example!r}); "
                        "fix or drop them before a time split.", column=name)
    return values


def _after_cleaning(exc: DataError, log: CleaningLog) -> DataError:
    """A data error found after cleaning says how many rows cleaning removed, when it removed any."""
    dropped = sum(a["rows_affected"] for a in log.actions if a["action"] in ("drop_duplicates", "resolve_conflicts"))
    if not dropped:
        return exc
    return DataError(f"{exc} (Cleaning first removed {dropped} duplicate or conflicting rows; keep them with "
                     "--set clean.drop_duplicates=false or clean.resolve_conflicts=none.)", column=exc.column, file=exc.file)


def audit(recipe, framed: Framed, cleaned: Cleaned, split_: Split, *, deadline: float | None = None):
    """The data audit of the file's rows as read (before cleaning), with the real split, so every row number
    in a finding is a file row; None when ``audit.enabled`` is false. Checks that would start after
    ``deadline`` are skipped, and the report says which."""
    from trainwright.data.quality.audit import audit as run_checks

    if not recipe.audit.enabled:
        return None
    row_ids = cleaned.frame.index.to_numpy()  # file row of each cleaned row
    file_splits = {name: row_ids[positions] for name, positions in split_.splits.as_dict().items()}
    return run_checks(framed.raw.reset_index(drop=True), target=recipe.target, task=framed.task, config=recipe.audit,
                      splits=file_splits, seed=recipe.seed, deadline=deadline)


def reads_sequence(recipe) -> bool:
    """Whether the recipe's learner reads a row's features as one sequence (``capabilities.inputs``)."""
    from trainwright.models.registry import learners

    return recipe.model.type != "auto" and learners().get(recipe.model.type).capabilities.inputs == "sequence"


def clean_after_split(recipe, cleaned: Cleaned, train: np.ndarray, report) -> Refined:
    """Cleaning fitted on the training rows: leaking columns the audit found (``clean.drop_leaking``),
    constant columns, outlier rows. A sequence learner's features are one sequence (``capabilities.inputs ==
    "sequence"``): every column is kept, as a number, so the steps stay in place."""
    from trainwright.data.clean import clean_after_split as fit_cleaning

    kinds, log, decisions = dict(cleaned.kinds), CleaningLog(), []
    model = recipe.model.type
    if reads_sequence(recipe):
        constant, rows, fitted_log = fit_cleaning(cleaned.frame, train, recipe.target, recipe.clean, {})
        decisions.append(Decision("columns kept", len(kinds), f"model.type={model} reads them as one sequence: "
                                  "constant and leaking columns stay, booleans are numbers"))
        return Refined(kinds, rows, (), log.merged(fitted_log), tuple(decisions))
    leaks = set()
    if report is not None and recipe.clean.drop_leaking:
        leaks = {f.column for f in report.by_check("target_leakage") if f.column in kinds and f.severity == "error"}
    for col in sorted(leaks):
        log.add("drop_leaking", col, "predicts the target almost perfectly on its own (audit: target_leakage)", [])
        decisions.append(Decision(f"column '{col}' dropped", "leak", "the audit found it predicts the target almost perfectly alone"))
    kinds = {c: k for c, k in kinds.items() if c not in leaks}
    constant, rows, fitted_log = fit_cleaning(cleaned.frame, train, recipe.target, recipe.clean, kinds)
    for col in constant:
        decisions.append(Decision(f"column '{col}' dropped", "constant", "a single value in the training rows"))
    kinds = {c: k for c, k in kinds.items() if c not in constant}
    return Refined(kinds, rows, (*sorted(leaks), *constant), log.merged(fitted_log), tuple(decisions))
