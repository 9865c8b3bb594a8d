"""Cleaning with a written record: every action says what changed, in which column, by which rule,
how many rows it touched and a sample of their row ids. The input file is never modified.

Stat-free fixes run on all rows before the split (types, category spellings,
date formats, duplicates, conflicting labels); anything that learns a statistic
(outlier bounds, constant columns) is fitted on training rows only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Union

import numpy as np
import pandas as pd
from pydantic import Field

from trainwright.config.base import Section
from trainwright.data.dates import parse_dates
from trainwright.data.schema import tidy_text
from trainwright.errors import DataError

__all__ = ["CleanConfig", "CleaningLog", "clean_before_split", "clean_after_split", "apply_category_maps"]


class CleanConfig(Section):
    """Cleaning, with every action logged (the recipe's ``clean:``)."""

    drop_duplicates: Union[bool, Literal["auto"]] = Field(
        "auto", description="Drop exact duplicate rows (features and target), keeping the first. 'auto': drop them when "
                            "they are few (at most clean.duplicate_share of the rows: copies made by accident), keep them "
                            "when many rows repeat (repeated observations in a table of few distinct values, such as "
                            "survey answers: dropping them would change the distribution the model learns). The choice "
                            "is in the cleaning log.")
    duplicate_share: float = Field(0.05, ge=0, le=1, description="For drop_duplicates=auto: the largest share of "
                                                                 "duplicate rows that is dropped.")
    resolve_conflicts: Literal["none", "majority", "drop"] = Field(
        "none", description="Rows with the same features but different labels: keep those with the group's most "
                            "common label ('majority'), drop the whole group ('drop'), or keep all ('none').")
    fix_mixed_types: bool = Field(
        True, description="Columns of numbers stored as text become numeric; the values that are not numbers become missing.")
    standardize_categories: bool = Field(
        True, description="Trim and collapse whitespace in text values, and merge spellings that differ only by case "
                          "into the most frequent spelling.")
    standardize_dates: bool = Field(True, description="Parse date columns written in several formats into one datetime.")
    outliers: Literal["none", "cap", "drop"] = Field(
        "none", description="Numeric outliers: cap them at bounds fitted on training rows (also at prediction time), "
                            "or drop the training rows that hold them (validation and test rows are never dropped).")
    outlier_rule: Literal["iqr", "zscore"] = Field(
        "iqr", description="Bounds: quartiles +- threshold x IQR, or median +- threshold x robust standard deviation.")
    outlier_threshold: float = Field(3.0, gt=0, description="The threshold of outlier_rule.")
    bad_images: Literal["error", "skip"] = Field(
        "error", description="Image files that are missing or cannot be decoded: stop with an error naming them, or "
                             "leave their rows out (counted in the cleaning log).")
    drop_constant: bool = Field(True, description="Drop columns with a single value in the training rows.")
    drop_leaking: bool = Field(
        True, description="Drop columns the audit finds predicting the target almost perfectly on their own "
                          "(a leak: the model would be useless on real data).")


@dataclass
class CleaningLog:
    """The record of cleaning: raw input hash plus one entry per action (saved as ``cleaning_log.json``).

    Example:
        >>> log = CleaningLog("ab12")
        >>> log.add("drop_duplicates", None, "exact duplicate of an earlier row", [7, 9])
        >>> log.actions[0]["rows_affected"], log.merged(CleaningLog()).raw_sha256
        (2, 'ab12')
    """

    raw_sha256: str = ""
    actions: list[dict[str, Any]] = field(default_factory=list)
    category_maps: dict[str, dict[str, str]] = field(default_factory=dict)

    def add(self, action: str, column: str | None, rule: str, rows: pd.Index | np.ndarray | list) -> None:
        rows = list(rows)
        self.actions.append({"action": action, "column": column, "rule": rule, "rows_affected": len(rows),
                             "sample_row_ids": [int(r) for r in rows[:10]]})

    def to_dict(self) -> dict[str, Any]:
        """The JSON form saved as ``cleaning_log.json``."""
        return {"raw_sha256": self.raw_sha256, "actions": self.actions, "category_maps": self.category_maps}

    def merged(self, other: "CleaningLog") -> "CleaningLog":
        """A new log: this one's actions and maps, then ``other``'s (the raw hash is this one's, else other's)."""
        return CleaningLog(self.raw_sha256 or other.raw_sha256, [*self.actions, *other.actions],
                           {**self.category_maps, **other.category_maps})


def clean_before_split(frame: pd.DataFrame, target: str, config: CleanConfig,
                       kinds: dict[str, tuple[str, str]]) -> tuple[pd.DataFrame, CleaningLog]:
    """Stat-free cleaning on all rows. Row ids (the frame's index) are kept, so the log refers to file rows.

    Args:
        kinds: inferred kind and reason per column (from ``infer_column``), as {"col": ("numeric", reason)}.

    Returns:
        (the cleaned frame, the log of what was done)

    Example:
        >>> frame = pd.DataFrame({"x": ["1", "2", "2"], "y": ["a", "b", "b"]})
        >>> kinds = {"x": ("numeric", ""), "y": ("categorical", "")}
        >>> out, log = clean_before_split(frame, "y", CleanConfig(drop_duplicates=True), kinds)
        >>> len(out), [a["action"] for a in log.actions]
        (2, ['fix_mixed_types', 'drop_duplicates'])
        >>> out, log = clean_before_split(frame, "y", CleanConfig(), kinds)  # auto: a third of the rows repeat
        >>> len(out), [a["action"] for a in log.actions]
        (3, ['fix_mixed_types', 'keep_duplicates'])
    """
    frame, log = frame.copy(), CleaningLog()
    for col, (kind, reason) in kinds.items():
        if col != target and pd.api.types.is_float_dtype(frame[col]):
            infinite = np.isinf(frame[col].to_numpy(dtype=np.float64, na_value=np.nan))
            if infinite.any():  # inf, -inf and numbers beyond float64 (read as inf) carry no value to learn from
                frame[col] = frame[col].where(~infinite)
                log.add("non_finite_to_missing", col, "inf / -inf -> missing (imputed like any missing value)",
                        frame.index[infinite])
        series = frame[col]
        is_text = not pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_datetime64_any_dtype(series) \
            and not pd.api.types.is_bool_dtype(series)
        if config.fix_mixed_types and col != target and kind == "numeric" and is_text:
            as_number = pd.to_numeric(series, errors="coerce")
            as_number = as_number.where(~np.isinf(as_number.to_numpy(dtype=np.float64, na_value=np.nan)))
            bad = series.notna() & as_number.isna()
            frame[col] = as_number
            log.add("fix_mixed_types", col, "numbers stored as text -> numeric; non-numbers -> missing", frame.index[bad])
        elif config.standardize_dates and col != target and kind == "datetime" and is_text:
            parsed = parse_dates(series)
            bad = series.notna() & parsed.isna()
            frame[col] = parsed
            log.add("standardize_dates", col, "dates in mixed formats -> one datetime; unparseable -> missing",
                    frame.index[bad])
        elif config.standardize_categories and is_text and kind in ("categorical", "boolean"):
            frame[col] = _standardize(frame[col], col, log)
        elif kind == "image":
            frame = _bad_images(frame, col, config.bad_images, log)
    if config.drop_duplicates is not False:
        dup = frame.duplicated(keep="first")
        if dup.any() and config.drop_duplicates == "auto" and dup.mean() > config.duplicate_share:
            log.add("keep_duplicates", None, f"exact duplicates of earlier rows kept: {dup.mean():.0%} of the rows repeat, "
                    "so they are repeated observations, not copies (clean.drop_duplicates=true drops them)",
                    frame.index[dup])
        elif dup.any():
            log.add("drop_duplicates", None, "exact duplicate of an earlier row", frame.index[dup])
            frame = frame[~dup]
    if config.resolve_conflicts != "none" and target in frame.columns:
        frame = _resolve_conflicts(frame, target, config.resolve_conflicts, log)
    return frame, log


def _bad_images(frame: pd.DataFrame, col: str, how: str, log: CleaningLog) -> pd.DataFrame:
    """Rows whose image file is missing or undecodable: an error naming them, or dropped and logged."""
    from trainwright.data.images import unreadable

    bad = unreadable(frame[col])
    if not bad:
        return frame
    if how == "error":
        named = "; ".join(f"row {row}: {frame.at[row, col]} ({why})" for row, why in list(bad.items())[:5])
        raise DataError(f"column '{col}': {len(bad)} image file(s) cannot be used: {named}"
                        f"{' ...' if len(bad) > 5 else ''}. Restore or remove them, or set clean.bad_images=skip "
                        "to leave these rows out.", column=col)
    log.add("drop_bad_images", col, "image file missing or not a readable image", pd.Index(list(bad)))
    return frame.drop(index=list(bad))


def _standardize(series: pd.Series, col: str, log: CleaningLog) -> pd.Series:
    text = tidy_text(series)
    changed = series.notna() & (text != series.astype(object))
    counts = text.value_counts()
    lower = pd.Series(counts.index.str.lower(), index=counts.index)
    canonical = {}
    for _, variants in lower.groupby(lower.to_numpy()):
        if len(variants) > 1:  # e.g. "Male" and "male": the most frequent spelling wins
            best = counts[variants.index].idxmax()
            canonical.update({v: best for v in variants.index if v != best})
    if canonical:
        merged = text.isin(list(canonical))
        text = text.where(~merged, text.map(canonical))
        log.category_maps[col] = canonical
        log.add("standardize_categories", col, f"merged spellings that differ by case: {canonical}", series.index[merged])
    if changed.any():
        log.add("standardize_categories", col, "trimmed and collapsed whitespace", series.index[changed])
    return text


def _resolve_conflicts(frame: pd.DataFrame, target: str, how: str, log: CleaningLog) -> pd.DataFrame:
    features = [c for c in frame.columns if c != target]
    key = pd.util.hash_pandas_object(frame[features], index=False)
    labels_per_key = frame.groupby(key.to_numpy())[target].nunique(dropna=False)
    conflicted = key.isin(labels_per_key.index[labels_per_key > 1])
    if not conflicted.any():
        return frame
    if how == "drop":
        log.add("resolve_conflicts", target, "same features, different labels: dropped every such row", frame.index[conflicted])
        return frame[~conflicted]
    sub = frame[conflicted]
    majority = sub.groupby(key[conflicted].to_numpy())[target].agg(lambda s: s.value_counts().index[0])
    keep_label = key[conflicted].map(majority)
    drop = sub.index[sub[target].to_numpy() != keep_label.to_numpy()]
    log.add("resolve_conflicts", target, "same features, different labels: kept the majority label's rows", drop)
    return frame.drop(index=drop)


def clean_after_split(frame: pd.DataFrame, train_rows: np.ndarray, target: str, config: CleanConfig,
                      kinds: dict[str, str]) -> tuple[list[str], np.ndarray, CleaningLog]:
    """Cleaning fitted on training rows: returns (columns to drop, training row positions to keep, the log).

    Constant columns and outlier bounds are learnt from ``train_rows`` only; validation and test rows are
    never dropped.

    Example:
        >>> frame = pd.DataFrame({"v": [1.0, 2.0, 3.0, 100.0], "c": [1, 1, 1, 2], "y": [0, 1, 0, 1]})
        >>> dropped, keep, log = clean_after_split(frame, np.arange(3), "y", CleanConfig(), {"v": "numeric", "c": "numeric"})
        >>> dropped, keep.tolist()
        (['c'], [0, 1, 2])
    """
    train, log = frame.iloc[train_rows], CleaningLog()
    dropped = []
    if config.drop_constant:
        for col in kinds:
            if train[col].nunique(dropna=False) <= 1:
                dropped.append(col)
                log.add("drop_constant", col, "a single value in the training rows", [])
    keep = np.ones(len(train_rows), dtype=bool)
    if config.outliers == "drop":
        from trainwright.data.features.preprocessor import fit_bounds

        numeric = [c for c, k in kinds.items() if k == "numeric" and c not in dropped]
        for col in numeric:
            values = pd.to_numeric(train[col], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            b = fit_bounds(values[:, None], config.outlier_rule, config.outlier_threshold)
            low = -np.inf if b["low"][0] is None else b["low"][0]
            high = np.inf if b["high"][0] is None else b["high"][0]
            out = (values < low) | (values > high)
            if out.any():
                log.add("drop_outliers", col, f"{config.outlier_rule} x {config.outlier_threshold:g}: outside "
                        f"[{low:.4g}, {high:.4g}] (training rows only)", train.index[out & keep])
            keep &= ~out
    return dropped, train_rows[keep], log


def apply_category_maps(frame: pd.DataFrame, maps: dict[str, dict[str, str]]) -> pd.DataFrame:
    """Apply at prediction time the spelling merges learned in cleaning."""
    if not maps:
        return frame
    frame = frame.copy()
    for col, mapping in maps.items():
        if col in frame.columns:
            text = tidy_text(frame[col])  # the same tidying the map was learned on
            frame[col] = text.where(~text.isin(list(mapping)), text.map(mapping))
    return frame
