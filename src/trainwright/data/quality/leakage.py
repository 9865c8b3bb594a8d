"""The target-leakage check: a column that knows the target in a way no feature should.

A column leaks when it alone predicts the target almost perfectly and better than all the other columns
together, copies it (an association near 1, or the target's own labels in most rows), or alone does far
better than all the other columns together and than a shuffled copy of itself. The comparison keeps strong
genuine features (iris's petal length predicts the species alone, but so do the other columns) from being
flagged, and finds a leak that is only strong next to weak features (a column agreeing with the target 93% of
the time where the rest reach 0.70). Leaks found by copying are left out of the "other columns", so two
leaks do not hide each other.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from trainwright.data.quality.config import AuditConfig
from trainwright.data.quality.findings import Finding
from trainwright.data.quality.model_checks import _MODEL_KINDS, Context, SkipCheck, _lightgbm

__all__ = ["check_target_leakage"]


def _bins(values: np.ndarray, categorical: bool, n_bins: int = 32) -> np.ndarray:
    """Small integer codes: quantile bins of numbers, or the most frequent categories; missing is its own bin."""
    missing = np.isnan(values)
    if categorical or np.unique(values[~missing][:50_000]).size <= n_bins:
        codes = pd.factorize(values)[0]  # -1 for missing
        top = np.argsort(-np.bincount(codes[codes >= 0]), kind="stable")[: 2 * n_bins]
        remap = np.full(codes.max() + 2, len(top))
        remap[top] = np.arange(len(top))
        out = remap[codes]
    else:
        edges = np.unique(np.quantile(values[~missing], np.linspace(0, 1, n_bins + 1)[1:-1]))
        out = np.searchsorted(edges, values, side="right")
    return np.where(missing, out.max(initial=0) + 1, out)


def _one_column_score(bins: np.ndarray, y: np.ndarray, fold: np.ndarray, task: str) -> float:
    """Out-of-fold score of the per-bin prediction: balanced accuracy, or R^2 for regression (2 folds)."""
    n_bins = int(bins.max()) + 1
    predicted = np.empty(len(y))
    for f in (0, 1):
        train, held = fold != f, fold == f
        if task == "classification":
            k = int(y.max()) + 1
            table = np.bincount(bins[train] * k + y[train], minlength=n_bins * k).reshape(n_bins, k)
            # P(bin | class): argmax maximises balanced accuracy; unseen bins fall back to the largest class
            likelihood = table / np.maximum(table.sum(axis=0), 1)
            best = np.where(table.sum(axis=1) > 0, likelihood.argmax(axis=1), np.bincount(y[train]).argmax())
        else:
            sums = np.bincount(bins[train], weights=y[train], minlength=n_bins)
            size = np.bincount(bins[train], minlength=n_bins)
            best = np.where(size > 0, sums / np.maximum(size, 1), y[train].mean())
        predicted[held] = best[bins[held]]
    if task == "classification":
        recalls = [np.mean(predicted[y == j] == j) for j in np.unique(y)]
        return float(np.mean(recalls))
    return float(1 - np.sum((y - predicted) ** 2) / max(np.sum((y - y.mean()) ** 2), 1e-12))


def _near_copy(values: np.ndarray, y: np.ndarray, bins: np.ndarray, task: str) -> float | None:
    """|Spearman| with a numeric target, or Cramer's V of a column with few levels with the classes."""
    if task == "regression":
        ok = ~np.isnan(values)
        if ok.sum() < 10 or np.ptp(values[ok]) == 0:
            return None
        return float(abs(pd.Series(values[ok]).rank().corr(pd.Series(y[ok]).rank())))
    k, levels = int(y.max()) + 1, int(bins.max()) + 1
    if levels > 2 * k or levels < 2:
        return None
    table = np.bincount(bins * k + y, minlength=levels * k).reshape(levels, k).astype(np.float64)
    table = table[table.sum(axis=1) > 0]
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    chi2 = np.sum((table - expected) ** 2 / np.maximum(expected, 1e-12))
    return float(np.sqrt(chi2 / (table.sum() * max(min(table.shape) - 1, 1))))


ALONE_BETTER = 0.02  # a nearly perfect column must beat all the others together by this much to be a leak


def check_target_leakage(ctx: Context, cfg: AuditConfig) -> list[Finding]:
    """Columns that leak the target (see the module's description; thresholds in ``AuditConfig``)."""
    rows, y = _leak_rows(ctx)
    fold = np.random.default_rng(ctx.seed).permutation(len(rows)) % 2
    n_bins = int(np.clip(len(rows) // 10, 4, 32))  # about 10 rows a bin or more: its answer is learnt, not guessed
    metric = "balanced accuracy" if ctx.task == "classification" else "R^2"
    scored, copies = {}, {}
    for col in ctx.features:
        if ctx.kinds[col] not in _MODEL_KINDS and not (ctx.kinds[col] == "identifier" and not ctx.is_text(col)):
            continue
        values = ctx.encoded(col, rows)
        bins = _bins(values, categorical=ctx.kinds[col] == "categorical", n_bins=n_bins)
        scored[col] = (bins, {"score": _one_column_score(bins, y, fold, ctx.task), "metric": metric,
                              "near_copy": _near_copy(values, y, bins, ctx.task)})
        copied = _copies(ctx, col, rows, scored[col][1], cfg)
        if copied:
            copies[col] = copied
    found = dict(copies)
    for col in sorted(set(scored) - set(copies), key=lambda c: -scored[c][1]["score"]):
        why = _alone(ctx, col, scored[col], rows, y, fold, cfg, exclude=set(found))
        if why:
            found[col] = why
    return [Finding("target_leakage", "error", f"column '{col}' {why} ({len(rows):,} rows checked)", str(col),
                    len(rows), [], "if it is only known after the outcome, or derived from it, drop it: set "
                    f"clean.drop_leaking=true or add '{col}' to preprocess.drop_columns", scored[col][1])
            for col, why in sorted(found.items(), key=lambda item: list(scored).index(item[0]))]


def _copies(ctx: Context, col, rows: np.ndarray, details: dict, cfg: AuditConfig) -> str | None:
    """Why the column is a copy of the target (an association near 1, or its labels in most rows), or None."""
    copy = details["near_copy"]
    if copy is not None and copy >= (cfg.near_copy_rank if ctx.task == "regression" else cfg.near_copy):
        return f"is a near-copy of the target (association {copy:.3f})"
    agreement = _label_agreement(ctx, col, rows)
    if agreement is not None and agreement >= cfg.label_copy:
        details["label_agreement"] = agreement
        return f"holds the target's own labels, equal to the target in {agreement:.1%} of rows"
    return None


def _alone(ctx: Context, col, scored: tuple, rows, y, fold, cfg: AuditConfig, exclude: set) -> str | None:
    """Why the column alone knows more than the others (the absolute and the comparative tests), or None."""
    bins, details = scored
    score, metric = details["score"], details["metric"]
    if score >= cfg.leakage_score:
        rest = _rest_score(ctx, exclude | {col}, rows, y, fold)
        if rest is not None and score - rest >= ALONE_BETTER:
            details["rest"] = rest
            return (f"predicts the target on its own with an out-of-fold {metric} of {score:.3f}, better than all "
                    f"the other columns together ({rest:.3f})")
    compared = _beats_the_rest(ctx, col, bins, rows, y, fold, score, cfg, exclude)
    if compared is None:
        return None
    details.update(compared)
    return (f"predicts the target on its own with an out-of-fold {metric} of {score:.3f}, far above what all the "
            f"other columns reach together ({compared['rest']:.3f}) and a shuffled copy of it ({compared['shuffled']:.3f})")


def _label_agreement(ctx: Context, col, rows: np.ndarray) -> float | None:
    """Share of rows where a column equals the target, when it holds exactly the target's class labels (as text:
    "yes"/"no", or 0/1 beside a 0/1 target); else None."""
    if ctx.task != "classification":
        return None
    present = ctx.frame[col].iloc[rows].notna().to_numpy()
    if present.sum() < 20:
        return None
    values = _as_label_text(ctx.frame[col].iloc[rows][present])
    target = _as_label_text(ctx.frame[ctx.target].iloc[rows][present])
    if set(values) != set(target):
        return None
    return float(np.mean(values.to_numpy() == target.to_numpy()))


def _as_label_text(series: pd.Series) -> pd.Series:
    """Labels compared as text: 1.0 and 1 are the same label."""
    if pd.api.types.is_float_dtype(series) and np.all(np.mod(series.to_numpy(), 1) == 0):
        series = series.astype(np.int64)
    return series.astype(str).str.strip()


def _leak_rows(ctx: Context) -> tuple[np.ndarray, np.ndarray]:
    """(sampled rows with a target, their targets: class codes or values)."""
    ctx.need_target()
    if ctx.task == "classification":
        labels, _ = ctx.labels()
        rows = ctx.sample[labels[ctx.sample] >= 0]
        y = pd.factorize(labels[rows], sort=True)[0]
        if np.unique(y).size < 2:
            raise SkipCheck("the target holds a single class")
    else:
        target = pd.to_numeric(ctx.frame[ctx.target].iloc[ctx.sample], errors="coerce").to_numpy(np.float64)
        rows, y = ctx.sample[~np.isnan(target)], target[~np.isnan(target)]
    if len(rows) < 20:
        raise SkipCheck("needs at least 20 rows with a target")
    return rows, y


def _beats_the_rest(ctx: Context, col, bins, rows, y, fold, score: float, cfg: AuditConfig,
                    exclude: set) -> dict | None:
    """{"rest", "shuffled"} when the column alone beats both by audit.leakage_margin, else None. The model on
    the other columns is only fitted for a column that passes the cheaper tests first."""
    if score < cfg.leakage_floor:
        return None
    shuffled = _one_column_score(bins[np.random.default_rng(ctx.seed + 1).permutation(len(bins))], y, fold, ctx.task)
    if score - shuffled < cfg.leakage_margin:
        return None
    rest = _rest_score(ctx, exclude | {col}, rows, y, fold)
    if rest is None or score - rest < cfg.leakage_margin:
        return None
    return {"rest": rest, "shuffled": shuffled}


def _rest_score(ctx: Context, leave_out: set, rows: np.ndarray, y: np.ndarray, fold: np.ndarray) -> float | None:
    """Out-of-fold score (same folds and metric as the one-column score) of the better of a LightGBM and a linear
    model on every other column (trees alone undersell small tables, a linear model alone undersells others)."""
    key = ("matrix", len(rows))
    if key not in ctx.cache:
        ctx.cache[key] = ctx.matrix(rows)
    X, cols = ctx.cache[key]
    keep = [j for j, c in enumerate(cols) if c not in leave_out]
    if not keep:
        return None
    X = X[:, keep]
    return max(_oof_score(lambda n: _lightgbm(ctx, _objective(ctx.task, y), 100, n), X, y, fold, ctx.task),
               _oof_score(lambda n: _linear(ctx.task), _standardised(X), y, fold, ctx.task))


def _objective(task: str, y: np.ndarray) -> str:
    return "regression" if task == "regression" else ("binary" if int(y.max()) == 1 else "multiclass")


def _linear(task: str):
    from sklearn.linear_model import LogisticRegression, Ridge

    return LogisticRegression(max_iter=500) if task == "classification" else Ridge(alpha=1.0)


def _standardised(X: np.ndarray) -> np.ndarray:
    """Missing (and infinite) values at the column mean, then each column divided by its largest magnitude and
    standardised (for the linear model; values near float64's limit stay finite)."""
    import warnings

    X = np.asarray(X, dtype=np.float64)
    X = np.where(np.isfinite(X), X, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a column with no value at all: scale 1, mean 0
        scale = np.nanmax(np.abs(X), axis=0) if len(X) else np.ones(X.shape[1])
        X = X / np.where((scale > 0) & np.isfinite(scale), scale, 1.0)
        mean = np.nan_to_num(np.nanmean(X, axis=0)) if len(X) else np.zeros(X.shape[1])
    X = np.where(np.isnan(X), mean, X)
    std = X.std(axis=0)
    return (X - X.mean(axis=0)) / np.where(std > 0, std, 1.0)


def _oof_score(make, X: np.ndarray, y: np.ndarray, fold: np.ndarray, task: str) -> float:
    """Balanced accuracy (classification) or R^2 of a model's two-fold out-of-fold predictions."""
    import warnings

    predicted = np.zeros(len(y))
    for f in (0, 1):
        train, held = fold != f, fold == f
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence warnings of a quick check
            predicted[held] = make(int(train.sum())).fit(X[train], y[train]).predict(X[held])
    if task == "classification":
        return float(np.mean([np.mean(predicted[y == j] == j) for j in np.unique(y)]))
    return float(1 - np.sum((y - predicted) ** 2) / max(np.sum((y - y.mean()) ** 2), 1e-12))
