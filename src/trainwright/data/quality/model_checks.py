"""The model-based checks of the data audit, and the ``Context`` every check shares.

``Context`` holds the frame, its column kinds, the target, a seeded sample of at most
``config.max_rows`` rows and cached encodings (factorised text, row hashes, model input).
The checks here fit models on that sample: likely label errors (confident learning over
out-of-fold LightGBM probabilities), target leakage (one-column models), multivariate
outliers (IsolationForest) and split drift (adversarial validation). lightgbm, sklearn
and scipy are imported inside the functions, so importing the audit stays light. The
counting checks live in ``audit_checks.py``, which imports this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from trainwright.data.quality.config import AuditConfig
from trainwright.data.quality.findings import Finding
from trainwright.data.dates import epoch_seconds
from trainwright.data.schema import TRUE_WORDS, infer_column, infer_schema, infer_task
from trainwright.runtime import cpu_threads, quiet_openmp

__all__ = [
    "Context", "SkipCheck", "confident_learning", "out_of_fold_proba",
    "check_multivariate_outliers", "check_label_errors", "check_split_drift",
]

_MODEL_KINDS = ("numeric", "boolean", "categorical", "datetime")


class SkipCheck(Exception):
    """A check cannot run on this data; the message says why."""


def _ids(positions, k: int = 5) -> list[int]:
    return [int(p) for p in np.asarray(positions)[:k]]


def _normalised_text(values: pd.Index) -> pd.Index:
    """Case, surrounding and repeated whitespace removed: 'Male ' and ' male' become 'male'."""
    text = pd.Index(np.asarray(values, dtype=object)).astype(str)
    return text.str.lower().str.strip().str.replace(r"\s+", " ", regex=True)


@dataclass
class Context:
    """What every check shares: the frame, its column kinds, the target and cached encodings."""

    frame: pd.DataFrame
    target: object
    task: str | None
    features: list
    model_features: list  # the features the multivariate models use (a seeded sample of at most max_columns)
    kinds: dict
    sample: np.ndarray  # sorted row positions for the model-based checks
    splits: dict | None
    seed: int
    decimals: int
    threads: int = field(default_factory=cpu_threads)
    cache: dict = field(default_factory=dict)

    @classmethod
    def build(cls, frame, *, target, task, config: AuditConfig, splits, seed) -> "Context":
        n = len(frame)
        rng = np.random.default_rng(seed)
        sample = np.sort(rng.choice(n, config.max_rows, replace=False)) if n > config.max_rows else np.arange(n)
        if target is not None and task is None:
            task = infer_task(frame[target])[0]
        features = [c for c in frame.columns if target is None or c != target]
        model_features = features
        if len(features) > config.max_columns:
            keep = np.sort(rng.choice(len(features), config.max_columns, replace=False))
            model_features = [features[i] for i in keep]
        return cls(frame, target, task, features, model_features, _column_kinds(frame, sample), sample, splits,
                   seed, config.round_decimals)

    @property
    def n(self) -> int:
        return len(self.frame)

    def is_text(self, col) -> bool:
        s = self.frame[col]
        return not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_datetime64_any_dtype(s))

    def codes(self, col) -> tuple[np.ndarray, pd.Index]:
        """``pd.factorize`` of a column, cached: (codes with -1 for missing, distinct values)."""
        if ("codes", col) not in self.cache:
            codes, uniques = pd.factorize(self.frame[col], use_na_sentinel=True)
            self.cache[("codes", col)] = (codes.astype(np.int64), pd.Index(np.asarray(uniques, dtype=object)))
        return self.cache[("codes", col)]

    def numeric(self, col, rows=None) -> np.ndarray:
        """float64 values of a numeric or numbers-as-text column (NaN where missing or unparseable)."""
        s = self.frame[col]
        if pd.api.types.is_numeric_dtype(s):
            values = s.to_numpy(dtype=np.float64, na_value=np.nan)
            return values if rows is None else values[rows]
        codes, parsed = self.codes(col)[0], self.parsed(col)
        codes = codes if rows is None else codes[rows]
        return np.where(codes >= 0, parsed[np.maximum(codes, 0)] if parsed.size else np.nan, np.nan)

    def parsed(self, col) -> np.ndarray:
        """The distinct values of a text column parsed as numbers (NaN where they are not), cached."""
        if ("parsed", col) not in self.cache:
            text = self.codes(col)[1].astype(str).str.strip()
            self.cache[("parsed", col)] = pd.to_numeric(text, errors="coerce").to_numpy(np.float64)
        return self.cache[("parsed", col)]

    def encoded(self, col, rows: np.ndarray) -> np.ndarray:
        """One column as float64 model input for ``rows``: numbers, 0/1, category codes or epoch seconds."""
        s, kind = self.frame[col], self.kinds[col]
        if pd.api.types.is_datetime64_any_dtype(s):
            values = s.iloc[rows]
            if getattr(values.dt, "tz", None) is not None:
                values = values.dt.tz_convert(None)
            return np.where(values.isna(), np.nan, values.to_numpy("datetime64[s]").astype(np.int64))
        if pd.api.types.is_numeric_dtype(s) or kind == "numeric" or (kind == "identifier" and not self.is_text(col)):
            return self.numeric(col, rows)
        codes, uniques = self.codes(col)
        codes = codes[rows]
        if kind == "boolean":
            level = uniques.astype(str).str.strip().str.lower().isin(TRUE_WORDS).astype(np.float64)
        elif kind == "datetime":
            level = np.full(len(uniques), np.nan)
            used = np.unique(codes[codes >= 0])  # parse only the values these rows hold
            level[used] = epoch_seconds(pd.Series(uniques[used].astype(str)))
        else:
            level = np.arange(len(uniques), dtype=np.float64)
        return np.where(codes >= 0, np.asarray(level, np.float64)[np.maximum(codes, 0)] if len(level) else 0, np.nan)

    def matrix(self, rows: np.ndarray, kinds=_MODEL_KINDS) -> tuple[np.ndarray, list]:
        """(len(rows), n_features) float32 model input over the feature columns of the given kinds."""
        cols = [c for c in self.model_features if self.kinds[c] in kinds]
        if not cols:
            return np.empty((len(rows), 0), np.float32), []
        return np.column_stack([self.encoded(c, rows) for c in cols]).astype(np.float32), cols

    def exact_hash(self) -> np.ndarray:
        """(n,) uint64 hash of every whole row, target included."""
        if "exact" not in self.cache:
            self.cache["exact"] = pd.util.hash_pandas_object(self.frame, index=False).to_numpy()
        return self.cache["exact"]

    def feature_hash(self) -> np.ndarray:
        """(n,) uint64 hash of the features after normalising case, whitespace and float rounding."""
        if "features" not in self.cache:
            parts = {}
            for i, col in enumerate(self.features):
                s = self.frame[col]
                if pd.api.types.is_float_dtype(s):
                    parts[i] = np.round(s.to_numpy(np.float64, na_value=np.nan), self.decimals) + 0.0  # -0.0 -> 0.0
                elif self.is_text(col):
                    codes, uniques = self.codes(col)
                    normal = pd.factorize(_normalised_text(uniques))[0]
                    parts[i] = np.where(codes >= 0, normal[np.maximum(codes, 0)] if normal.size else -1, -1)
                else:
                    parts[i] = s.array
            frame = pd.DataFrame(parts) if parts else pd.DataFrame(index=range(self.n))
            self.cache["features"] = pd.util.hash_pandas_object(frame, index=False).to_numpy()
        return self.cache["features"]

    def labels(self) -> tuple[np.ndarray, list]:
        """Class codes of the target (-1 where missing) and the class names."""
        if "labels" not in self.cache:
            y = self.frame[self.target]
            try:
                codes, classes = pd.factorize(y, sort=True)
            except TypeError:  # values of mixed types cannot be sorted
                codes, classes = pd.factorize(y)
            self.cache["labels"] = (codes.astype(np.int64), list(classes))
        return self.cache["labels"]

    def need_target(self, task: str | None = None) -> None:
        if self.target is None:
            raise SkipCheck("no target given")
        if task is not None and self.task != task:
            raise SkipCheck(f"needs a {task} target (the task is {self.task})")


def _column_kinds(frame: pd.DataFrame, sample: np.ndarray) -> dict:
    """Column kinds from the sample; whole integer columns whose sampled values are distinct are re-checked
    in full, because a sample of a row-number column is not consecutive."""
    schema = infer_schema(frame.iloc[sample])
    kinds = {col: c.kind for col, c in zip(frame.columns, schema.columns)}
    for col, c in zip(frame.columns, schema.columns):
        if pd.api.types.is_integer_dtype(frame[col]) and c.kind == "numeric" and c.n_unique == len(sample) - c.n_missing:
            kinds[col] = infer_column(frame[col])[0]
    return kinds


# --- values: multivariate outliers --------------------------------------------------------------

def check_multivariate_outliers(ctx: Context, cfg: AuditConfig) -> list[Finding]:
    """Rows unusual in their combination of values (IsolationForest on the sampled feature rows)."""
    from scipy.stats import rankdata
    from sklearn.ensemble import IsolationForest

    X, cols = ctx.matrix(ctx.sample)
    if X.shape[1] < 2 or X.shape[0] < 100:
        raise SkipCheck("needs at least 2 usable feature columns and 100 rows")
    medians = np.nanmedian(np.where(np.isnan(X).all(axis=0), 0, X), axis=0) if X.size else 0
    # Ranks (ties averaged), so a long-tailed column's natural extremes do not crowd out rows whose values
    # are each ordinary but together unusual; IsolationForest's random cuts then fall evenly in rank space.
    X = rankdata(np.where(np.isnan(X), medians, X), axis=0) / X.shape[0]
    # contamination="auto" skips sklearn's scoring pass at fit; the rows are scored once, here
    forest = IsolationForest(n_estimators=100, random_state=ctx.seed, n_jobs=1).fit(X)
    score = -forest.score_samples(X)  # higher: easier to isolate
    flagged = np.flatnonzero(score > np.quantile(score, 1 - cfg.multivariate_contamination))
    if flagged.size == 0:
        return []
    flagged = flagged[np.argsort(-score[flagged], kind="stable")]
    m = len(ctx.sample)
    return [Finding(
        "multivariate_outliers", "info",
        f"{flagged.size:,} of {m:,} rows checked ({100 * flagged.size / m:.1f}%) are unusual combinations of "
        f"values (IsolationForest on ranks, expected share {cfg.multivariate_contamination:g})",
        None, int(flagged.size), _ids(ctx.sample[flagged]),
        "look at the example rows (most unusual first); fix or drop the ones that are errors",
        {"rows_checked": m, "columns": [str(c) for c in cols], "threshold_score": float(score[flagged].min())},
    )]


# --- the target: label errors, leakage ----------------------------------------------------------

def _lightgbm(ctx: Context, objective: str, n_estimators: int, n_rows: int):
    quiet_openmp()
    import lightgbm as lgb

    model = lgb.LGBMRegressor if objective == "regression" else lgb.LGBMClassifier
    return model(
        objective=objective, n_estimators=n_estimators, learning_rate=0.2, num_leaves=15, min_child_samples=10, max_bin=63,
        subsample=0.8, subsample_freq=1, colsample_bytree=0.8, random_state=ctx.seed,
        num_threads=ctx.threads if n_rows >= 20_000 else 1,  # on small data, thread start-up costs more than it saves
        deterministic=True, force_row_wise=True, verbose=-1,
    )


def out_of_fold_proba(ctx: Context, X: np.ndarray, y: np.ndarray, n_estimators: int = 50):
    """(n, n_classes) out-of-fold predicted probabilities from a seeded 5-fold LightGBM, and the models' gain."""
    from sklearn.model_selection import StratifiedKFold

    k = int(y.max()) + 1
    proba, gain = np.zeros((len(y), k)), np.zeros(X.shape[1])
    folds = StratifiedKFold(n_splits=min(5, int(np.bincount(y).min())), shuffle=True, random_state=ctx.seed)
    for train, held in folds.split(X, y):
        model = _lightgbm(ctx, "binary" if k == 2 else "multiclass", n_estimators, len(train)).fit(X[train], y[train])
        proba[held] = model.predict_proba(X[held])
        gain += model.booster_.feature_importance("gain")
    return proba, gain / max(gain.sum(), 1e-12)


def confident_learning(labels: np.ndarray, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Likely label errors by confident learning (Northcutt et al., 2021).

    A row is flagged when the probability of its given label is below that class's average
    self-confidence and some other class's probability reaches that class's average.

    Args:
        labels: (n,) given class codes 0..k-1.
        proba: (n, k) out-of-fold predicted probabilities.

    Returns:
        (flagged mask (n,), margin (n,)): margin = best other class probability minus the given one.

    Example:
        >>> p = np.array([[0.9, 0.1], [0.8, 0.2], [0.2, 0.8], [0.1, 0.9], [0.95, 0.05]])
        >>> confident_learning(np.array([0, 0, 1, 1, 1]), p)[0].tolist()
        [False, False, False, False, True]
    """
    n, k = proba.shape
    given = proba[np.arange(n), labels]
    thresholds = np.array([proba[labels == j, j].mean() if (labels == j).any() else 1.0 for j in range(k)])
    other = proba.copy()
    other[np.arange(n), labels] = -np.inf
    flagged = (given < thresholds[labels]) & (other >= thresholds).any(axis=1)
    return flagged, other.max(axis=1) - given


def check_label_errors(ctx: Context, cfg: AuditConfig) -> list[Finding]:
    """Likely mislabelled rows: confident learning on out-of-fold probabilities (classification)."""
    ctx.need_target("classification")
    labels, classes = ctx.labels()
    rows = ctx.sample[labels[ctx.sample] >= 0]
    counts = np.bincount(labels[rows], minlength=len(classes))
    rows = rows[counts[labels[rows]] >= 5]  # a class needs a row in each of 5 folds
    X, cols = ctx.matrix(rows)
    kept = np.flatnonzero(counts >= 5)
    if len(kept) < 2 or X.shape[1] == 0:
        raise SkipCheck("needs two classes with at least 5 rows each and a usable feature column")
    y = np.searchsorted(kept, labels[rows])
    proba, _ = out_of_fold_proba(ctx, X, y)
    flagged, margin = confident_learning(y, proba)
    hits = np.flatnonzero(flagged)
    if hits.size == 0:
        return []
    hits = hits[np.argsort(-margin[hits], kind="stable")]
    share = hits.size / len(rows)
    skill = float(np.mean([np.mean(proba[y == j].argmax(axis=1) == j) for j in range(len(kept))]))
    # Confident learning trusts the model; when the features barely predict the label, hard rows look mislabelled.
    caveat = (f"; the out-of-fold model is weak (balanced accuracy {skill:.2f}), so many may be hard cases rather "
              "than wrong labels" if skill < 0.7 else "")
    suggested = kept[np.argmax(np.where(np.eye(len(kept), dtype=bool)[y], -1, proba), axis=1)]
    return [Finding(
        "label_errors", "warning" if share >= cfg.label_error_share else "info",
        f"{hits.size:,} of {len(rows):,} labelled rows checked ({100 * share:.1f}%) look mislabelled: their "
        "out-of-fold probability of their own label is below the class's typical confidence while another class is "
        f"confident{caveat}",
        str(ctx.target), int(hits.size), _ids(rows[hits]),
        "review the example rows (most suspicious first) and correct their labels; the audit changes nothing",
        {"rows_checked": len(rows), "share": share, "model_balanced_accuracy": skill,
         "rows": [int(r) for r in rows[hits[:1000]]],  # all flagged rows, most suspicious first (at most 1,000)
         "examples": [{"row": int(rows[i]), "given": str(classes[kept[y[i]]]), "suggested": str(classes[suggested[i]]),
                       "margin": float(margin[i])} for i in hits[:5]]},
    )]


# --- splits: drift (adversarial validation) -----------------------------------------------------

def check_split_drift(ctx: Context, cfg: AuditConfig) -> list[Finding]:
    """Train and test rows a classifier can tell apart (adversarial validation): the split drifts."""
    from sklearn.metrics import roc_auc_score

    if not ctx.splits or "train" not in ctx.splits:
        raise SkipCheck("no train split given")
    rng, found = np.random.default_rng(ctx.seed), []
    for name in ("validation", "test"):
        other = ctx.splits.get(name)
        if other is None or other.size < 10 or ctx.splits["train"].size < 10:
            continue
        half = cfg.max_rows // 2
        a, b = (r if r.size <= half else rng.choice(r, half, replace=False) for r in (ctx.splits["train"], other))
        rows, y = np.concatenate([a, b]), np.r_[np.zeros(a.size, np.int64), np.ones(b.size, np.int64)]
        X, cols = ctx.matrix(rows)
        if X.shape[1] == 0:
            raise SkipCheck("no usable feature column")
        proba, gain = out_of_fold_proba(ctx, X, y, n_estimators=50)
        auc = float(roc_auc_score(y, proba[:, 1]))
        if auc < cfg.drift_auc:
            continue
        telling = np.argsort(-proba[y == 1, 1], kind="stable")
        top = np.argsort(-gain, kind="stable")[:5]
        found.append(Finding(
            "split_drift", "warning",
            f"a classifier tells {name} rows from train rows with a cross-validated AUC of {auc:.3f} "
            f"(0.5 means no difference; {b.size:,} {name} rows checked)",
            None, int(b.size), _ids(b[telling]),
            "unless the drift is intended (a time split), use a random or stratified split (split.method=random or split.method=stratified); "
            "details list the columns that differ most",
            {"split": name, "auc": auc, "top_columns": [[str(cols[i]), float(gain[i])] for i in top]},
        ))
    return found
