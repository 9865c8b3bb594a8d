"""Schema inference: what kind of values each column holds, and what task the target implies.

Kinds: numeric, categorical, boolean, datetime, text (free text), identifier
(unique per row, cannot generalise) and empty (no values at all). Each decision
carries its reason so the run can say why a column was treated as it was.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from trainwright.errors import DataError

__all__ = ["ColumnSchema", "Schema", "infer_schema", "infer_column", "infer_task", "numeric_target", "KINDS"]

KINDS = ("numeric", "categorical", "boolean", "datetime", "text", "image", "identifier", "empty")
_BOOL_WORDS = {"true", "false", "yes", "no", "t", "f", "y", "n"}
TRUE_WORDS = frozenset({"1", "1.0", "true", "t", "yes", "y"})  # boolean text that means True (after strip/lower)


def tidy_text(series: pd.Series) -> pd.Series:
    """Text with surrounding whitespace removed and inner runs of whitespace made one space; missing stays
    missing. Cleaning merges spellings on this form, prediction replays it, the audit compares on it."""
    return series.astype(object).where(series.isna(), series.astype(str).str.strip().str.replace(r"\s+", " ", regex=True))
# Text that looks like a date: 2021-03-04, 04/03/2021, 4 Mar 2021, Mar 4 2021 (not 1.2.3 or 3/7).
_DATE_LIKE = re.compile(
    r"^(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}|\d{1,2}\s+[A-Za-z]{3,}|[A-Za-z]{3,}\.?\s+\d{1,2})"
)
_ID_NAME = re.compile(r"(^|_)(id|uuid|guid|key|index|row)($|_)|ID$|Id$")


@dataclass(frozen=True)
class ColumnSchema:
    name: str
    kind: str
    dtype: str
    n_missing: int
    n_unique: int
    reason: str


@dataclass(frozen=True)
class Schema:
    """The inferred kind of every column, in the frame's order."""

    columns: tuple[ColumnSchema, ...]

    def __getitem__(self, name: str) -> ColumnSchema:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    def names(self, *kinds: str) -> list[str]:
        """Column names, optionally only those of the given kinds."""
        return [c.name for c in self.columns if not kinds or c.kind in kinds]

    def to_dict(self) -> dict:
        return {"columns": [asdict(c) for c in self.columns]}

    @classmethod
    def from_dict(cls, data: dict) -> "Schema":
        return cls(tuple(ColumnSchema(**c) for c in data["columns"]))


def infer_schema(frame: pd.DataFrame) -> Schema:
    """Infer the kind of every column of ``frame``.

    Example:
        >>> infer_schema(pd.DataFrame({"a": [1.5, 2.5, 3.5], "b": ["x", "y", "x"]})).names("categorical")
        ['b']
    """
    cols = []
    for name in frame.columns:
        series = frame[name]
        kind, reason = infer_column(series)
        cols.append(ColumnSchema(
            name=str(name), kind=kind, dtype=str(series.dtype), n_missing=int(series.isna().sum()),
            n_unique=int(series.nunique(dropna=True)), reason=reason,
        ))
    return Schema(tuple(cols))


def infer_column(series: pd.Series) -> tuple[str, str]:
    """Return ``(kind, reason)`` for one column."""
    values = series.dropna()
    n = len(values)
    if n == 0:
        return "empty", "every value is missing"
    n_unique = values.nunique()
    if pd.api.types.is_bool_dtype(series):
        return "boolean", "boolean dtype"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "datetime", "datetime dtype"
    if pd.api.types.is_numeric_dtype(series):
        if n_unique == 2 and set(np.unique(values.to_numpy())) <= {0, 1}:
            return "boolean", "numeric with only the values 0 and 1"
        if _integer_valued(values) and n_unique == n and n > 20:
            if _ID_NAME.search(str(series.name)):
                return "identifier", "unique integer per row with an identifier-like name"
            ordered = np.sort(values.to_numpy())
            if ordered[0] in (0, 1) and np.all(np.diff(ordered) == 1):
                return "identifier", "unique consecutive integers from 0 or 1 (a row number)"
        return "numeric", "numeric dtype"
    from trainwright.data.images import looks_like_image_paths

    if looks_like_image_paths(values):
        return "image", "paths of image files"
    return _infer_text_like(values.astype(str).str.strip(), n, n_unique)


def _infer_text_like(values: pd.Series, n: int, n_unique: int) -> tuple[str, str]:
    lowered = set(values.str.lower().unique()) if n_unique <= 2 else set()
    if lowered and lowered <= _BOOL_WORDS:
        return "boolean", f"text with only the values {sorted(lowered)}"
    as_number = pd.to_numeric(values, errors="coerce")
    if as_number.notna().mean() >= 0.95:
        return "numeric", "numbers stored as text"
    sample = values.iloc[:500]
    if sample.str.match(_DATE_LIKE).mean() >= 0.95:
        from trainwright.data.dates import parse_dates

        if parse_dates(sample).notna().mean() >= 0.95:
            return "datetime", "text that parses as dates"
    words = values.str.split().str.len()
    mean_words = float(words.mean())
    unique_share = n_unique / n
    if unique_share >= 0.95 and n > 20:
        if mean_words >= 3:
            return "text", f"free text: unique per row, {mean_words:.1f} words on average"
        return "identifier", "unique text per row (a code or key)"
    if mean_words > 4 and unique_share > 0.5:
        return "text", f"free text: {mean_words:.1f} words on average"
    return "categorical", f"{n_unique} distinct values"


def _integer_valued(values: pd.Series) -> bool:
    arr = values.to_numpy()
    if np.issubdtype(arr.dtype, np.integer):
        return True
    return bool(np.all(np.isfinite(arr)) and np.all(np.mod(arr, 1) == 0))


def infer_task(target: pd.Series) -> tuple[str, str]:
    """Return ``("classification" | "regression", reason)`` for a target column.

    Example:
        >>> infer_task(pd.Series(["a", "b", "a"]))[0]
        'classification'
    """
    values = target.dropna()
    n_unique = values.nunique()
    if not pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        as_number = pd.to_numeric(values.astype(str).str.strip(), errors="coerce")
        if as_number.notna().mean() >= 0.95 and as_number.nunique() > 20:
            return "regression", f"the target is numbers stored as text ({as_number.nunique()} distinct values)"
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return "classification", f"the target holds labels ({n_unique} distinct values)"
    if _integer_valued(values) and (n_unique <= 2 or (n_unique <= 20 and n_unique * 5 <= len(values))):
        return "classification", f"the target holds {n_unique} distinct whole numbers"
    return "regression", f"the target is numeric with {n_unique} distinct values"


def numeric_target(y: pd.Series, target: str, path) -> pd.Series:
    """A regression target as float64; text that is not a number is a ``DataError`` naming an example."""
    if pd.api.types.is_bool_dtype(y):
        return y.astype(np.float64)
    if pd.api.types.is_numeric_dtype(y):
        return y.astype(np.float64)
    as_number = pd.to_numeric(y, errors="coerce")
    if as_number.notna().all():
        return as_number.astype(np.float64)
    example = y[as_number.isna()].iloc[0]
    raise DataError(
        f"{path}: regression needs a numeric target, but column '{target}' holds text such as {example!r}. "
        "Use --task classification to predict it as labels, or convert the column to numbers.",
        column=target, file=str(path),
    )
