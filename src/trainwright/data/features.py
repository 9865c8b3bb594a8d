"""The preprocessor: raw columns in, a float32 feature matrix out, fitted on training rows only.

Per column kind: numeric (impute, missing indicator, scale), boolean (0/1),
categorical (one-hot or ordinal over the most frequent levels, '__other__' for
the rest and for levels never seen in training), datetime (year, month, day,
weekday, hour), free text (length and word count). Everything it learns is
plain numbers and strings, saved as JSON.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from trainwright.errors import DataError, NotFittedError, did_you_mean

__all__ = ["Preprocessor", "PREPROCESSOR_FORMAT_VERSION"]

PREPROCESSOR_FORMAT_VERSION = 1
_TRUE = {"1", "1.0", "true", "t", "yes", "y"}
# feature suffix -> pandas .dt accessor
_DATE_PARTS = {"year": "year", "month": "month", "day": "day", "dayofweek": "day_of_week", "hour": "hour"}


class Preprocessor:
    """Turns raw rows into model features. ``fit`` sees training rows only.

    Args:
        kinds: column name -> kind ("numeric", "categorical", "boolean", "datetime", "text").
        numeric_impute: "median" or "mean".
        scale: "standard" or "none".
        categorical_encoding: "onehot" or "ordinal".
        max_categories: most frequent levels kept per categorical column.
        missing_indicators: add a 0/1 feature for each input that had missing values in training.

    Example:
        >>> frame = pd.DataFrame({"x": [1.0, None, 3.0], "c": ["a", "b", "a"]})
        >>> p = Preprocessor({"x": "numeric", "c": "categorical"}).fit(frame)
        >>> p.feature_names_
        ['x', 'x__missing', 'c=a', 'c=b']
    """

    def __init__(
        self,
        kinds: dict[str, str],
        numeric_impute: str = "median",
        scale: str = "standard",
        categorical_encoding: str = "onehot",
        max_categories: int = 20,
        missing_indicators: bool = True,
    ) -> None:
        self.kinds = dict(kinds)
        self.numeric_impute = numeric_impute
        self.scale = scale
        self.categorical_encoding = categorical_encoding
        self.max_categories = max_categories
        self.missing_indicators = missing_indicators

    # --- fitting ------------------------------------------------------------
    def fit(self, frame: pd.DataFrame) -> "Preprocessor":
        """Learn imputation values, scales and category levels from ``frame`` (training rows)."""
        self._check_columns(frame)
        self.columns_: list[dict[str, Any]] = []
        for name, kind in self.kinds.items():
            spec: dict[str, Any] = {"column": name, "kind": kind}
            if kind == "categorical":
                spec.update(self._fit_categorical(frame[name]))
            else:
                if kind == "boolean":
                    spec["true_values"] = sorted(_TRUE)
                raw = _numeric_parts(frame[name], spec)
                spec["outputs"] = [self._fit_numeric(key, values) for key, values in raw.items()]
            self.columns_.append(spec)
        self.feature_names_ = self._feature_names()
        return self

    def _fit_numeric(self, key: str, values: np.ndarray) -> dict[str, Any]:
        present = values[~np.isnan(values)]
        if len(present) == 0:
            fill = 0.0
        else:
            fill = float(np.median(present) if self.numeric_impute == "median" else np.mean(present))
        filled = np.where(np.isnan(values), fill, values)
        std = float(filled.std()) if self.scale == "standard" else 1.0
        return {
            "name": key,
            "fill": fill,
            "mean": float(filled.mean()) if self.scale == "standard" else 0.0,
            "std": std if std > 0 and np.isfinite(std) else 1.0,
            "indicator": bool(self.missing_indicators and np.isnan(values).any()),
        }

    def _fit_categorical(self, series: pd.Series) -> dict[str, Any]:
        values = _category_strings(series)
        counts = values.value_counts(sort=True)
        levels = [str(v) for v in counts.index[: self.max_categories]]
        return {"levels": levels, "other": bool(len(counts) > len(levels)), "encoding": self.categorical_encoding}

    def _feature_names(self) -> list[str]:
        names = []
        for spec in self.columns_:
            if spec["kind"] == "categorical":
                if spec["encoding"] == "ordinal":
                    names.append(spec["column"])
                else:
                    names += [f"{spec['column']}={lv}" for lv in spec["levels"]]
                    names += [f"{spec['column']}=__other__"] if spec["other"] else []
                continue
            for out in spec["outputs"]:
                names.append(out["name"])
                if out["indicator"]:
                    names.append(f"{out['name']}__missing")
        return names

    # --- transforming ---------------------------------------------------------
    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Features for ``frame``: shape (rows, len(feature_names_)), float32.

        Columns may come in any order; extra columns are ignored; missing values are filled.

        Raises:
            DataError: a column used in training is absent.
        """
        if not hasattr(self, "columns_"):
            raise NotFittedError("this Preprocessor is not fitted yet; call fit first")
        self._check_columns(frame)
        blocks: list[np.ndarray] = []
        for spec in self.columns_:
            if spec["kind"] == "categorical":
                blocks.append(_encode_categorical(frame[spec["column"]], spec))
                continue
            raw = _numeric_parts(frame[spec["column"]], spec)
            for out in spec["outputs"]:
                values = raw[out["name"]]
                missing = np.isnan(values)
                blocks.append(((np.where(missing, out["fill"], values) - out["mean"]) / out["std"])[:, None])
                if out["indicator"]:
                    blocks.append(missing.astype(np.float64)[:, None])
        if not blocks:
            return np.zeros((len(frame), 0), dtype=np.float32)
        return np.hstack(blocks).astype(np.float32)

    def fit_transform(self, frame: pd.DataFrame) -> np.ndarray:
        return self.fit(frame).transform(frame)

    @property
    def required_columns(self) -> list[str]:
        """The raw columns ``transform`` needs."""
        return list(self.kinds)

    def _check_columns(self, frame: pd.DataFrame) -> None:
        missing = [c for c in self.kinds if c not in frame.columns]
        if missing:
            hints = "".join(did_you_mean(c, frame.columns) for c in missing[:3])
            raise DataError(
                f"the data lacks column(s) the model was trained on: {', '.join(missing)}.{hints} "
                f"Columns present: {', '.join(map(str, frame.columns[:30]))}. Add the missing columns "
                "(values may be empty) or rename them to match the training data.",
                column=missing[0],
            )

    # --- artifacts ------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Everything needed to rebuild the fitted preprocessor, as plain JSON data."""
        if not hasattr(self, "columns_"):
            raise NotFittedError("this Preprocessor is not fitted yet; call fit first")
        return {
            "format_version": PREPROCESSOR_FORMAT_VERSION,
            "params": {
                "kinds": self.kinds, "numeric_impute": self.numeric_impute, "scale": self.scale,
                "categorical_encoding": self.categorical_encoding, "max_categories": self.max_categories,
                "missing_indicators": self.missing_indicators,
            },
            "columns": self.columns_,
            "feature_names": self.feature_names_,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Preprocessor":
        from trainwright.errors import ArtifactError

        if data.get("format_version") != PREPROCESSOR_FORMAT_VERSION:
            raise ArtifactError(
                f"preprocessor format version {data.get('format_version')} is not readable by this "
                f"trainwright (reads {PREPROCESSOR_FORMAT_VERSION})"
            )
        pre = cls(**data["params"])
        pre.columns_ = data["columns"]
        pre.feature_names_ = data["feature_names"]
        return pre


def _category_strings(series: pd.Series) -> pd.Series:
    """Values as stripped strings; whole floats lose their '.0' so 3 and 3.0 are one level."""
    if pd.api.types.is_float_dtype(series):
        arr = series.to_numpy(dtype=np.float64, na_value=np.nan)
        whole = np.isfinite(arr) & (np.mod(arr, 1) == 0)
        text = series.astype(object).map(str).to_numpy(dtype=object)
        text[whole] = arr[whole].astype(np.int64).astype(str)
        values = pd.Series(text, index=series.index, dtype=object)
    else:
        values = series.astype(object).map(str).str.strip()
    return values.where(series.notna(), "__missing__")


def _encode_categorical(series: pd.Series, spec: dict[str, Any]) -> np.ndarray:
    levels = spec["levels"]
    codes = pd.Index(levels).get_indexer(_category_strings(series)).astype(np.int64)
    unseen = codes < 0  # a level not kept in training: rare, new, or missing when training had none
    if spec["encoding"] == "ordinal":
        return np.where(unseen, len(levels), codes).astype(np.float64)[:, None]
    width = len(levels) + (1 if spec["other"] else 0)
    out = np.zeros((len(series), width), dtype=np.float64)
    rows = np.flatnonzero(~unseen)
    out[rows, codes[rows]] = 1.0
    if spec["other"]:
        out[unseen, len(levels)] = 1.0
    return out


def _numeric_parts(series: pd.Series, spec: dict[str, Any]) -> dict[str, np.ndarray]:
    """The raw numbers a non-categorical column contributes, NaN where missing."""
    name, kind = spec["column"], spec["kind"]
    if kind == "numeric":
        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        return {name: np.where(np.isfinite(values), values, np.nan)}
    if kind == "boolean":
        text = series.astype(object).map(str).str.strip().str.lower()
        values = np.where(text.isin(spec["true_values"]), 1.0, 0.0)
        return {name: np.where(series.isna().to_numpy(), np.nan, values)}
    if kind == "datetime":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stamps = pd.to_datetime(series, errors="coerce", format="mixed") \
                if not pd.api.types.is_datetime64_any_dtype(series) else series
        parts = {p: getattr(stamps.dt, a).to_numpy(dtype=np.float64, na_value=np.nan) for p, a in _DATE_PARTS.items()}
        return {f"{name}__{p}": v for p, v in parts.items()}
    if kind == "text":
        text = series.astype("string")
        return {
            f"{name}__chars": text.str.len().to_numpy(dtype=np.float64, na_value=np.nan),
            f"{name}__words": text.str.split().str.len().to_numpy(dtype=np.float64, na_value=np.nan),
        }
    raise ValueError(f"column '{name}': kind '{kind}' cannot be turned into features")
