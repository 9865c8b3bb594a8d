"""The preprocessor: raw columns in, a float32 feature matrix out, fitted on training rows only.

Per column kind: numeric (optional Fourier terms), boolean (0/1), datetime
(year, month, day, weekday, hour, and their sine/cosine), free text (length and
word count) all become numeric outputs that are capped (optional), imputed
(mean, median, most frequent, constant, KNN or iterative), scaled, optionally
multiplied into polynomial terms, and flagged by missing-value indicators;
categorical columns are one-hot, ordinal or target encoded; free text becomes
TF-IDF of its word (and character) n-grams instead (``features.text``).
Everything learned is plain numbers and strings, saved as JSON.
"""

from __future__ import annotations

import warnings
from itertools import combinations, combinations_with_replacement
from typing import Any

import numpy as np
import pandas as pd

from trainwright.config.base import Decision
from trainwright.data.columns import missing_columns
from trainwright.data.dates import parse_dates
import trainwright.data.features.encode as encode
import trainwright.data.features.text as text_features
import trainwright.data.features.tokens as tokens
from trainwright.data.features.config import FeaturesConfig, PreprocessConfig
from trainwright.data.features.impute import NumericImputer, mean_std
from trainwright.data.schema import TRUE_WORDS
from trainwright.errors import DataError, NotFittedError, check_format_version, did_you_mean

__all__ = ["Preprocessor", "PreprocessConfig", "FeaturesConfig", "PREPROCESSOR_FORMAT_VERSION"]

PREPROCESSOR_FORMAT_VERSION = 2
# feature suffix -> pandas .dt accessor
_DATE_PARTS = {"year": "year", "month": "month", "day": "day", "dayofweek": "day_of_week", "hour": "hour"}
_CYCLES = {"month": 12.0, "dayofweek": 7.0, "hour": 24.0}


class Preprocessor:
    """Turns raw rows into model features. ``fit`` sees training rows only.

    Args:
        kinds: column name -> kind ("numeric", "categorical", "boolean", "datetime", "text", "image").
        config: imputation, scaling and encoding settings.
        features: feature engineering settings.
        task: "classification" or "regression"; needed for target encoding and 'auto' indicators.
        clip: ("iqr" | "zscore", threshold) to cap numeric values at bounds fitted on training rows.
        seed: seed of out-of-fold target encoding, KNN reference sampling and posterior noise.
        sample_posterior: iterative imputation adds residual noise (one copy of multiple imputation).

    Example:
        >>> frame = pd.DataFrame({"x": [1.0, None, 3.0], "c": ["a", "b", "a"]})
        >>> Preprocessor({"x": "numeric", "c": "categorical"}, PreprocessConfig(missing_indicators="all")).fit(frame).feature_names_
        ['x', 'x__missing', 'c=a', 'c=b']
    """

    def __init__(self, kinds: dict[str, str], config: PreprocessConfig | None = None,
                 features: FeaturesConfig | None = None, *, task: str | None = None,
                 clip: tuple[str, float] | None = None, seed: int = 0, sample_posterior: bool = False) -> None:
        self.kinds = dict(kinds)
        self.config = config or PreprocessConfig()
        self.features = features or FeaturesConfig()
        self.task = task
        self.clip = tuple(clip) if clip else None
        self.seed = seed
        self.sample_posterior = sample_posterior

    # --- fitting ------------------------------------------------------------------
    def fit(self, frame: pd.DataFrame, y=None) -> "Preprocessor":
        """Learn everything from ``frame`` (training rows) and, when given, their targets ``y``."""
        self._check_columns(frame)
        cfg = self.config
        y = None if y is None else np.asarray(y)
        self.classes_ = sorted(np.unique(y).tolist()) if y is not None and self.task == "classification" else None
        self.columns_: list[dict[str, Any]] = []
        te = self._target_encoded(frame)
        for name, kind in self.kinds.items():
            spec: dict[str, Any] = {"column": name, "kind": kind}
            if kind == "categorical":
                values = encode.category_strings(frame[name])
                if name in te:
                    spec["encoding"] = "target"
                    spec.update(encode.fit_target_encoding(values, y, self.task, self.classes_, self.features.target_smoothing))
                else:
                    spec["encoding"] = cfg.categorical_encoding
                    spec.update(encode.fit_levels(values, cfg.max_categories, cfg.categorical_impute))
            else:
                if kind == "image":
                    spec.update(_image_size(frame[name], self.features.image_size))
                if kind == "text" and self.features.text == "embeddings":
                    spec.update(_embeddings_spec())
                elif kind == "text" and self.features.text in ("tokens", "encoder_tokens"):
                    spec.update(tokens.fit_tokens(frame[name], self.features.text_vocabulary,
                                                  pretrained=self.features.text == "encoder_tokens"))
                elif kind == "text" and self.features.text != "stats":
                    spec.update(_text_terms(frame[name], self.features))
                spec["outputs"] = list(_numeric_parts(frame[name], spec, self.features))
            self.columns_.append(spec)
        self.numeric_names_ = [o for c in self.columns_ for o in c.get("outputs", [])]
        R = self._raw_numeric(frame)
        self.bounds_ = fit_bounds(R, *self.clip) if self.clip else None
        R = self._apply_bounds(R)
        imputer = NumericImputer(cfg.numeric_impute, fill_value=cfg.fill_value, n_neighbors=cfg.knn_neighbors,
                                 sample_posterior=self.sample_posterior, seed=self.seed)
        self.imputer_ = imputer.fit(R)
        F = self.imputer_.transform(R)
        scaled = cfg.scale == "standard" and len(F) > 0
        mean, std = mean_std(F) if scaled else (np.zeros(F.shape[1]), np.ones(F.shape[1]))
        self.mean_ = mean
        self.std_ = np.where((std > 0) & np.isfinite(std), std, 1.0)
        pixels = np.array([c["kind"] == "image" for c in self.columns_ for _ in c.get("outputs", [])], dtype=bool)
        if pixels.any():  # pixels go to [0, 1] whole: scaling each pixel apart would erase the image's contrasts
            self.mean_, self.std_ = np.where(pixels, 0.0, self.mean_), np.where(pixels, 255.0, self.std_)
        self.indicators_ = self._choose_indicators(np.isnan(R), y)
        self.poly_ = self._choose_polynomial()
        self.feature_names_ = self._feature_names()
        return self

    def fit_transform(self, frame: pd.DataFrame, y=None) -> np.ndarray:
        """Fit, then transform the same rows; target-encoded columns get out-of-fold values."""
        X = self.fit(frame, y).transform(frame)
        start = 0
        for spec, width in self._block_layout():
            if spec is not None and spec.get("encoding") == "target":
                values = encode.category_strings(frame[spec["column"]])
                X[:, start:start + width] = encode.target_encode_out_of_fold(
                    values, np.asarray(y), self.task, self.classes_, self.features.target_smoothing, self.seed)
            start += width
        return X

    def _target_encoded(self, frame) -> set[str]:
        te = self.features.target_encoding
        cats = [c for c, k in self.kinds.items() if k == "categorical"]
        if te == "auto":
            chosen = {c for c in cats if frame[c].nunique(dropna=False) > self.config.max_categories}
        else:
            unknown = [c for c in te if c not in cats]
            if unknown:
                raise DataError(f"features.target_encoding names {', '.join(unknown)}, which are not categorical "
                                f"feature columns; categorical columns: {', '.join(cats)}", column=unknown[0])
            chosen = set(te)
        if chosen and self.task is None:
            return set()
        return chosen

    def _choose_indicators(self, missing: np.ndarray, y) -> list[int]:
        mode = self.config.missing_indicators
        candidates = [j for j in range(missing.shape[1]) if missing[:, j].any() and not missing[:, j].all()]
        if mode == "none":
            return []
        if mode == "all" or y is None or self.task is None:
            return candidates
        return [j for j in candidates if _missingness_signal(missing[:, j], y, self.task) < 0.01]

    def _choose_polynomial(self) -> list[list[int]]:
        f = self.features
        if f.polynomial_degree < 2:
            return []
        names = self.numeric_names_
        if f.polynomial_columns:
            pick = []
            for col in f.polynomial_columns:
                found = [i for i, n in enumerate(names) if n == col or n.startswith(f"{col}__")]
                if not found:
                    raise DataError(f"features.polynomial_columns names '{col}', not a numeric feature."
                                    f"{did_you_mean(col, names)}", column=col)
                pick += found
        else:
            pick = list(range(min(10, len(names))))
        combos = combinations if f.interaction_only else combinations_with_replacement
        return [list(c) for d in range(2, f.polynomial_degree + 1) for c in combos(pick, d)]

    def _feature_names(self) -> list[str]:
        names = list(self.numeric_names_)
        names += ["*".join(self.numeric_names_[i] for i in combo) for combo in self.poly_]
        names += [f"{self.numeric_names_[j]}__missing" for j in self.indicators_]
        for spec in self.columns_:
            col, enc = spec["column"], spec.get("encoding")
            if enc == "ordinal":
                names.append(col)
            elif enc == "onehot":
                names += [f"{col}={lv}" for lv in spec["levels"]] + ([f"{col}=__other__"] if spec["other"] else [])
            elif enc == "target":
                labels = ["mean"] if spec["width"] == 1 and self.task == "regression" else (
                    self.classes_[1:] if spec["width"] == 1 else self.classes_)
                names += [f"{col}__te_{lab}" for lab in labels]
            elif enc == "tfidf":
                names += text_features.tfidf_names(col, spec["tfidf"])
            elif enc == "tokens":
                names += tokens.tokens_names(col, spec)
            names += [f"{col}~e{i}" for i in range(spec.get("dim", 0))]  # embeddings (after the terms, if any)
        return names

    def feature_sources(self) -> list[str]:
        """The raw column behind each output feature, in ``feature_names_`` order.

        Datetime parts, missing indicators and encoded levels map to their column; a
        polynomial term of several columns maps to those columns joined by ``*``.
        Additive attributions (SHAP, integrated gradients) summed by source are per raw column.
        """
        owner = [c["column"] for c in self.columns_ for _ in c.get("outputs", [])]
        out = list(owner)
        out += ["*".join(dict.fromkeys(owner[i] for i in combo)) for combo in self.poly_]
        out += [owner[j] for j in self.indicators_]
        for spec, width in list(self._block_layout())[1:]:
            out += [spec["column"]] * width
        return out

    def decisions(self) -> list[Decision]:
        """What fitting chose from the data: the size images are resized to, the terms each text column keeps."""
        out = []
        for c in self.columns_:
            if c["kind"] == "image":
                out.append(Decision(f"features.image_size ({c['column']})", f"{c['side']}x{c['side']}x{c['channels']}",
                                    c["why"]))
            elif c.get("encoding") == "tfidf":
                words, chars = (len(c["tfidf"][a]["terms"]) for a in ("word", "char"))
                kept = f"{words} word n-grams" + (f" and {chars} character n-grams" if chars else "")
                out.append(Decision(f"features.text_max_features ({c['column']})", kept, c["why"]))
            if "dim" in c:  # the sentence encoder's embeddings, alone or after the terms
                out.append(Decision(f"features.text ({c['column']})", f"embeddings, {c['dim']} dimensions", _EMBEDDED))
            elif c.get("encoding") == "tokens":
                out.append(Decision(f"features.text ({c['column']})", f"tokens: {c['vocabulary']} pieces, "
                                    f"{c['length']} per text", c["why"]))
        return out

    # --- transforming --------------------------------------------------------------
    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Features for ``frame``: shape (rows, len(feature_names_)), float32.

        Columns may come in any order; extra columns are ignored; missing values are filled.

        Raises:
            DataError: a column used in training is absent.
        """
        if not hasattr(self, "columns_"):
            raise NotFittedError("this Preprocessor is not fitted yet; call fit first")
        self._check_columns(frame)
        if len(frame) == 0:
            return np.zeros((0, len(self.feature_names_)), dtype=np.float32)
        R = self._apply_bounds(self._raw_numeric(frame))
        missing = np.isnan(R)
        scaled = (self.imputer_.transform(R) - self.mean_) / self.std_
        blocks = [scaled]
        blocks += [np.prod(scaled[:, combo], axis=1)[:, None] for combo in self.poly_]
        blocks += [missing[:, self.indicators_].astype(np.float64)]
        for spec, _ in list(self._block_layout())[1:]:
            if spec["kind"] == "text":
                blocks.append(_encode_text(frame[spec["column"]], spec))
                continue
            values = encode.category_strings(frame[spec["column"]])
            if spec["encoding"] == "target":
                blocks.append(encode.encode_target(values, spec))
            else:
                blocks.append(encode.encode_levels(values, spec, spec["encoding"]))
        out = np.empty((len(frame), len(self.feature_names_)), dtype=np.float32)  # no float64 copy of a wide block
        start = 0
        for block in blocks:
            block = block.reshape(len(frame), -1)
            out[:, start:start + block.shape[1]] = block
            start += block.shape[1]
        return out

    def _block_layout(self):
        """(encoded column's spec or None, width) of each block, in transform's order: the numeric block, then
        each categorical and TF-IDF encoded text column."""
        yield None, len(self.numeric_names_) + len(self.poly_) + len(self.indicators_)
        for spec in self.columns_:
            if spec.get("encoding") in ("tfidf", "embeddings"):  # terms, embeddings (``dim``) or both
                yield spec, (text_features.tfidf_width(spec["tfidf"]) if "tfidf" in spec else 0) + spec.get("dim", 0)
            elif spec.get("encoding") == "tokens":
                yield spec, spec["length"]
            elif spec["kind"] == "categorical":
                if spec["encoding"] == "target":
                    yield spec, spec["width"]
                elif spec["encoding"] == "ordinal":
                    yield spec, 1
                else:
                    yield spec, len(spec["levels"]) + (1 if spec["other"] else 0)

    def categorical_groups(self) -> list[list[int]]:
        """Feature positions of each one-hot or ordinal encoded column (for SMOTE-NC)."""
        groups, start = [], 0
        for spec, width in self._block_layout():
            if spec is not None and spec["kind"] == "categorical" and spec["encoding"] != "target":
                groups.append(list(range(start, start + width)))
            start += width
        return groups

    def _raw_numeric(self, frame: pd.DataFrame) -> np.ndarray:
        """(rows, numeric outputs) float64, NaN where missing. Plain numeric columns are read as one block (a
        table of 10,000 columns costs one conversion, not 10,000)."""
        specs = [c for c in self.columns_ if c["kind"] != "categorical" and c.get("outputs", True)]
        if not specs:
            return np.zeros((len(frame), 0))
        plain = [c["column"] for c in specs if c["kind"] == "numeric" and c["column"] not in self.features.fourier]
        block = {}
        if plain:
            sub = frame[plain]
            if not all(pd.api.types.is_numeric_dtype(t) for t in sub.dtypes):
                sub = sub.apply(pd.to_numeric, errors="coerce")
            values = sub.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
            values[~np.isfinite(values)] = np.nan
            block = dict(zip(plain, values.T))
        columns = []
        for spec in specs:
            if spec["column"] in block:
                columns.append(block[spec["column"]])
            else:
                columns += list(_numeric_parts(frame[spec["column"]], spec, self.features).values())
        return np.column_stack(columns)

    def _apply_bounds(self, R: np.ndarray) -> np.ndarray:
        if not self.bounds_:
            return R
        low = np.array(self.bounds_["low"], dtype=np.float64)   # None -> nan -> open
        high = np.array(self.bounds_["high"], dtype=np.float64)
        return np.clip(R, np.where(np.isnan(low), -np.inf, low), np.where(np.isnan(high), np.inf, high))

    def capped_rows(self, frame: pd.DataFrame) -> list[tuple[str, float | None, float | None, pd.Index]]:
        """Where capping (``clean.outliers: cap``) changes ``frame``: (numeric output, low, high, row labels)
        for each output with a value outside its bounds."""
        if not self.bounds_:
            return []
        R, out = self._raw_numeric(frame), []
        for j, name in enumerate(self.numeric_names_):
            low, high = self.bounds_["low"][j], self.bounds_["high"][j]
            outside = ((R[:, j] < low) if low is not None else False) | ((R[:, j] > high) if high is not None else False)
            if np.any(outside):
                out.append((name, low, high, frame.index[np.asarray(outside)]))
        return out

    @property
    def required_columns(self) -> list[str]:
        """The raw columns ``transform`` needs."""
        return list(self.kinds)

    def _check_columns(self, frame: pd.DataFrame) -> None:
        missing = [c for c in self.kinds if c not in frame.columns]
        if missing:
            raise missing_columns(missing, frame.columns, what="model input column",
                                  fix="Add the missing columns (values may be empty) or rename them to match the "
                                      "training data.")

    # --- artifacts --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Everything needed to rebuild the fitted preprocessor, as plain JSON data."""
        if not hasattr(self, "columns_"):
            raise NotFittedError("this Preprocessor is not fitted yet; call fit first")
        return {
            "format_version": PREPROCESSOR_FORMAT_VERSION,
            "params": {"kinds": self.kinds, "config": self.config.model_dump(), "features": self.features.model_dump(),
                       "task": self.task, "clip": list(self.clip) if self.clip else None, "seed": self.seed,
                       "sample_posterior": self.sample_posterior},
            "state": {"columns": self.columns_, "classes": self.classes_, "numeric_names": self.numeric_names_,
                      "bounds": self.bounds_, "imputer": self.imputer_.to_dict(), "mean": self.mean_.tolist(),
                      "std": self.std_.tolist(), "indicators": self.indicators_, "poly": self.poly_},
            "feature_names": self.feature_names_,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Preprocessor":
        check_format_version(data, PREPROCESSOR_FORMAT_VERSION, "the saved preprocessor", "Train the model again.")
        p = data["params"]
        pre = cls(p["kinds"], PreprocessConfig(**p["config"]), FeaturesConfig(**p["features"]), task=p["task"],
                  clip=p["clip"], seed=p["seed"], sample_posterior=p["sample_posterior"])
        s = data["state"]
        pre.columns_, pre.classes_, pre.numeric_names_ = s["columns"], s["classes"], s["numeric_names"]
        pre.bounds_, pre.indicators_, pre.poly_ = s["bounds"], s["indicators"], s["poly"]
        pre.imputer_ = NumericImputer.from_dict(s["imputer"])
        pre.mean_, pre.std_ = np.asarray(s["mean"]), np.asarray(s["std"])
        pre.feature_names_ = data["feature_names"]
        return pre


def _numeric_parts(series: pd.Series, spec: dict[str, Any], features: FeaturesConfig) -> dict[str, np.ndarray]:
    """The raw numbers a non-categorical column contributes, NaN where missing, by output name."""
    name, kind = spec["column"], spec["kind"]
    if kind == "numeric":
        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        out = {name: np.where(np.isfinite(values), values, np.nan)}
        if name in features.fourier:
            out.update(_fourier(name, out[name], features.fourier[name]))
        return out
    if kind == "boolean":
        text = series.astype(object).map(str).str.strip().str.lower()
        return {name: np.where(series.isna().to_numpy(), np.nan, np.where(text.isin(TRUE_WORDS), 1.0, 0.0))}
    if kind == "datetime":
        stamps = parse_dates(series)
        out = {f"{name}__{p}": getattr(stamps.dt, a).to_numpy(dtype=np.float64, na_value=np.nan)
               for p, a in _DATE_PARTS.items()}
        if features.datetime_cyclical:
            for part, period in _CYCLES.items():
                out.update(_fourier(f"{name}__{part}", out[f"{name}__{part}"], period))
        return out
    if kind == "image":  # pixels in [0, 255], channel-major (fit scales them to [0, 1] as a whole)
        from trainwright.data.images import load_pixels

        pixels = load_pixels(series, spec["side"], spec["channels"])
        shape = (spec["channels"], spec["side"], spec["side"])
        return {f"{name}[{c},{i},{j}]": pixels[:, n] for n, (c, i, j) in enumerate(np.ndindex(*shape))}
    if kind == "text":
        if spec.get("encoding") in ("tfidf", "embeddings", "tokens"):
            # Its words only: beside thousands of small TF-IDF values, two standardised columns are what an L2
            # penalty favours (70 BBC News articles, logistic regression: 0.86 with them, 0.92 without).
            return {}
        text = series.astype("string")
        return {f"{name}__chars": text.str.len().to_numpy(dtype=np.float64, na_value=np.nan),
                f"{name}__words": text.str.split().str.len().to_numpy(dtype=np.float64, na_value=np.nan)}
    raise ValueError(f"column '{name}': kind '{kind}' cannot be turned into features")


def _text_terms(texts: pd.Series, features: FeaturesConfig) -> dict[str, Any]:
    """The TF-IDF state of a text column (``features.text``), or nothing when the training rows hold no term
    (the column then gives its length and word count)."""
    size, why = text_features.text_vocabulary_size(features.text_max_features, len(texts))
    analyzers = ("word", "char") if features.text == "words+chars" else ("word",)
    state = text_features.fit_tfidf(texts, size, analyzers)
    out = {"encoding": "tfidf", "tfidf": state, "why": why} if text_features.tfidf_width(state) else {}
    if features.text == "words+embeddings":  # the embeddings beside the terms (alone when there is no term)
        out = {**out, "dim": _embeddings_spec()["dim"]} if out else _embeddings_spec()
    return out


_EMBEDDED = "all-MiniLM-L6-v2 sentence embeddings (pretrained, frozen: nothing fitted)"


def _embeddings_spec() -> dict[str, Any]:
    from trainwright.data.features.sentence_encoder import encoder

    return {"encoding": "embeddings", "dim": encoder().dim, "why": _EMBEDDED}


def _encode_text(texts: pd.Series, spec: dict[str, Any]) -> np.ndarray:
    """The block of a text column: its TF-IDF, its sentence embeddings, or both side by side (missing text:
    empty text)."""
    if spec["encoding"] == "tokens":
        return tokens.encode_tokens(texts, spec)
    from trainwright.data.features.sentence_encoder import encoder

    blocks = [text_features.encode_tfidf(texts, spec["tfidf"])] if spec["encoding"] == "tfidf" else []
    if "dim" in spec:
        blocks.append(encoder().encode(text_features.text_strings(texts)))
    return blocks[0] if len(blocks) == 1 else np.hstack(blocks)


def _image_size(paths: pd.Series, setting) -> dict[str, Any]:
    """The square side and channels images of a column are resized to, and why (``features.image_size``)."""
    from trainwright.data.images import choose_size

    side, channels, why = choose_size(paths)
    if setting != "auto":
        side, why = int(setting), f"features.image_size; {why.split('; ')[-1]}"
    return {"side": side, "channels": channels, "why": why}


def _fourier(name: str, values: np.ndarray, period: float) -> dict[str, np.ndarray]:
    angle = 2.0 * np.pi * values / period
    return {f"{name}__sin": np.sin(angle), f"{name}__cos": np.cos(angle)}


def fit_bounds(R: np.ndarray, rule: str, threshold: float) -> dict[str, list[float]]:
    """Capping bounds per numeric output: quartiles +- threshold*IQR, or median +- threshold*robust std."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if rule == "iqr":
            q1, q3 = np.nanpercentile(R, 25, axis=0), np.nanpercentile(R, 75, axis=0)
            low, high = q1 - threshold * (q3 - q1), q3 + threshold * (q3 - q1)
        else:
            med = np.nanmedian(R, axis=0)
            mad = 1.4826 * np.nanmedian(np.abs(R - med), axis=0)
            low, high = med - threshold * mad, med + threshold * mad
    # A column with no spread (or no values) is not capped.
    open_ = ~np.isfinite(low) | ~np.isfinite(high) | (high <= low)
    # JSON has no infinity: an open bound is null.
    return {"low": [None if o else float(v) for o, v in zip(open_, low)],
            "high": [None if o else float(v) for o, v in zip(open_, high)]}


def _missingness_signal(missing: np.ndarray, y: np.ndarray, task: str) -> float:
    """p-value of the association between a column being missing and the target."""
    from scipy import stats

    if task == "classification":
        table = pd.crosstab(missing, y).to_numpy()
        if table.shape[0] < 2 or table.shape[1] < 2:
            return 1.0
        return float(stats.chi2_contingency(table)[1])
    y = y.astype(np.float64)
    if missing.sum() < 2 or (~missing).sum() < 2:
        return 1.0
    return float(stats.mannwhitneyu(y[missing], y[~missing]).pvalue)
