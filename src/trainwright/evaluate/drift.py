"""Drift: reference statistics of a run's inputs and predictions (kept in the run, no raw rows), and new rows
compared with them.

The reference (``profile``) holds, per input column, its missing rate and either 101 quantiles and the shares of
20 quantile bins (numbers; text columns by their word counts) or the shares of its 50 most frequent values
(categories, and numeric columns of 20 distinct values or fewer), and the same for the predictions on the validation and
test rows: a few kilobytes.

``compare`` tests each column by its type and the number of new rows, as Evidently does: up to 1,000 new rows,
a two-sample Kolmogorov-Smirnov test against the reference's distribution (numbers; its p-value counts the
reference's rows too) or a chi-squared test of the two samples' category counts, drift at p < 0.05; above that, where any small difference is significant, the Wasserstein distance
(between the 1st and 99th percentiles, from the quantiles) divided by the reference's standard deviation (numbers) or the Jensen-Shannon distance (categories), drift at
0.1. The population stability index (PSI) of the same bins is reported beside them (0.1-0.2: moderate, above
0.2: large). A missing rate that moved by 10 points or more, and values never seen in training, are findings
of their own; values of a numeric column that are not numbers count as missing (the model reads them so).

Example:
    >>> rng = np.random.default_rng(0)
    >>> train = pd.DataFrame({"x": rng.normal(size=2000), "c": rng.choice(["a", "b"], 2000)})
    >>> ref = profile(train, {"x": "numeric", "c": "categorical"})
    >>> same = compare(ref, pd.DataFrame({"x": rng.normal(size=500), "c": rng.choice(["a", "b"], 500)}))
    >>> moved = compare(ref, pd.DataFrame({"x": rng.normal(1.0, size=500), "c": rng.choice(["a", "b"], 500)}))
    >>> same["columns"]["x"]["drift"], moved["columns"]["x"]["drift"], moved["columns"]["x"]["test"]
    (False, True, 'Kolmogorov-Smirnov')
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["profile", "compare", "estimated_accuracy", "SMALL", "THRESHOLDS"]

QUANTILES = np.linspace(0.0, 1.0, 101)
BINS = 20
TOP = 50
FEW = 20  # a numeric column with at most this many distinct values is compared as categories
SMALL = 1000  # up to this many new rows: statistical tests; above: distances
THRESHOLDS = {"p_value": 0.05, "wasserstein": 0.1, "jensen_shannon": 0.1, "missing_change": 0.10}
_NUMERIC = ("numeric",)
_CATEGORIES = ("categorical", "boolean")


def profile(frame: pd.DataFrame, kinds: dict[str, str], predictions=None, *, task: str | None = None) -> dict[str, Any]:
    """The reference statistics of ``frame``'s columns (by ``kinds``), and of ``predictions`` when given (class
    labels for classification, values for regression)."""
    columns = {col: _profile(frame[col], kind) for col, kind in kinds.items() if col in frame.columns}
    out = {"format_version": 1, "rows": int(len(frame)), "columns": columns}
    if predictions is not None:
        kind = "categorical" if task == "classification" else "numeric"
        out["prediction"] = _profile(pd.Series(np.asarray(predictions)), kind)
    return out


def _profile(values: pd.Series, kind: str) -> dict[str, Any]:
    missing = float(values.isna().mean()) if len(values) else 0.0
    if kind in _NUMERIC or kind == "text":
        numbers = _numbers(values, kind)
        if len(numbers) == 0:
            return {"type": "empty", "missing_rate": missing}
        if kind in _NUMERIC and len(np.unique(numbers)) <= FEW:  # a distribution test of steps flags ties
            return {**_profile(_as_levels(numbers), "categorical"), "missing_rate": missing, "levels_of": "numbers"}
        q = np.quantile(numbers, QUANTILES)
        edges = np.unique(np.quantile(numbers, np.linspace(0, 1, BINS + 1)[1:-1]))
        return {"type": "numeric", "of": "word count" if kind == "text" else "value", "n": int(len(numbers)),
                "missing_rate": missing, "quantiles": _round(q), "edges": _round(edges),
                "shares": _round(_bin_shares(numbers, edges)), "std": float(np.std(numbers))}
    if kind in _CATEGORIES:
        counts = values.dropna().astype(str).value_counts()
        n = int(counts.sum())
        top = counts.iloc[:TOP]
        return {"type": "categorical", "n": n, "missing_rate": missing,
                "shares": {str(k): v / max(n, 1) for k, v in top.items()},
                "other": float(counts.iloc[TOP:].sum() / max(n, 1)), "complete": len(counts) <= TOP}
    return {"type": "not compared", "kind": kind, "missing_rate": missing}


def _as_levels(numbers: np.ndarray) -> pd.Series:
    """Numbers as category labels that read the same whatever their dtype (2007, 2007.0: "2007")."""
    return pd.Series([f"{v:.12g}" for v in numbers], dtype=object)


def _numbers(values: pd.Series, kind: str) -> np.ndarray:
    if kind == "text":
        return values.dropna().astype(str).str.split().str.len().to_numpy(dtype=float)
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    return x[np.isfinite(x)]


def _round(a: np.ndarray) -> list[float]:
    return [float(f"{v:.6g}") for v in np.asarray(a, dtype=float)]


def _bin_shares(x: np.ndarray, edges) -> np.ndarray:
    counts = np.bincount(np.searchsorted(np.asarray(edges), x, side="right"), minlength=len(edges) + 1)
    return counts / max(len(x), 1)


def compare(reference: dict[str, Any], frame: pd.DataFrame, predictions=None) -> dict[str, Any]:
    """Every column of ``reference`` tested on ``frame`` (a column absent from ``frame`` is all missing), and the
    predictions when given and profiled; ``summary`` says how many columns drifted."""
    columns = {col: _compare(ref, frame[col] if col in frame.columns else pd.Series([None] * len(frame)))
               for col, ref in reference["columns"].items()}
    out = {"rows": int(len(frame)), "columns": columns}
    if predictions is not None and "prediction" in reference:
        out["prediction"] = _compare(reference["prediction"], pd.Series(np.asarray(predictions)))
    tested = [c for c in columns.values() if "drift" in c]
    drifted = [name for name, c in columns.items() if c.get("drift")]
    out["summary"] = {"columns": len(tested), "drifted": drifted,
                      "share": len(drifted) / len(tested) if tested else 0.0,
                      "prediction_drift": bool(out.get("prediction", {}).get("drift", False))}
    return out


def _compare(ref: dict[str, Any], values: pd.Series) -> dict[str, Any]:
    numeric = ref.get("of") == "value" or ref.get("levels_of") == "numbers"
    missing, not_numbers = _missing(values, numeric)
    out: dict[str, Any] = {"type": ref["type"], "missing_rate": missing, "reference_missing_rate": ref["missing_rate"]}
    if not_numbers:
        out["not_numbers"] = not_numbers  # counted as missing, as the model reads them
    if ref["type"] == "numeric":
        out.update(_numeric(ref, _numbers(values, "text" if ref.get("of") == "word count" else "numeric")))
    elif ref["type"] == "categorical":
        levels = _as_levels(_numbers(values, "numeric")) if ref.get("levels_of") == "numbers" else values.dropna().astype(str)
        out.update(_categorical(ref, levels))
    else:
        return out
    out["missing_changed"] = abs(missing - ref["missing_rate"]) >= THRESHOLDS["missing_change"]
    out["drift"] = bool(out.get("distribution_drift") or out["missing_changed"])
    return out


def _missing(values: pd.Series, numeric: bool) -> tuple[float, float]:
    """(share missing, share of present values that are not numbers) of a column, the second only for numbers."""
    if len(values) == 0:
        return 0.0, 0.0
    absent = values.isna()
    if not numeric or pd.api.types.is_numeric_dtype(values):
        return float(absent.mean()), 0.0
    bad = ~absent & ~np.isfinite(pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan))
    return float((absent | bad).mean()), float(bad.mean())


def _numeric(ref: dict[str, Any], x: np.ndarray) -> dict[str, Any]:
    if len(x) == 0:
        return {"n": 0}
    q = np.asarray(ref["quantiles"])
    shares = _bin_shares(x, ref["edges"])
    out: dict[str, Any] = {"n": int(len(x)), "psi": _psi(np.asarray(ref["shares"]), shares),
                           "median": float(np.median(x)), "reference_median": float(q[50])}
    if len(x) <= SMALL:
        from scipy import stats

        d = _ks_statistic(q, np.sort(x))
        p = float(stats.kstwo.sf(d, max(1, round(ref["n"] * len(x) / (ref["n"] + len(x))))))
        out.update(test="Kolmogorov-Smirnov", statistic=d, p_value=p, threshold=THRESHOLDS["p_value"],
                   distribution_drift=p < THRESHOLDS["p_value"])
    else:
        gap = np.abs(np.quantile(x, QUANTILES) - q)[1:-1]  # between the 1st and 99th percentiles: the extremes
        distance = float((gap[:-1] + gap[1:]).sum() / 2 * 0.01) / max(ref["std"], 1e-12)  # are single rows
        out.update(test="Wasserstein (normed)", distance=distance, threshold=THRESHOLDS["wasserstein"],
                   distribution_drift=distance > THRESHOLDS["wasserstein"])
    return out


def _ks_statistic(q: np.ndarray, x: np.ndarray) -> float:
    """The two-sample Kolmogorov-Smirnov statistic of sorted new values ``x`` against the reference known by its
    quantiles ``q``: both distribution functions right-continuous, compared at every jump of either (ties in
    either sample count as the steps they are) and just before each new value."""
    points = np.union1d(x, q)
    new_right = np.searchsorted(x, points, side="right") / len(x)
    new_left = np.searchsorted(x, x, side="left") / len(x)
    gaps = np.abs(new_right - _reference_cdf(q, points))
    return float(max(gaps.max(), np.max(_reference_cdf(q, x, left=True) - new_left, initial=0.0)))


def _reference_cdf(q: np.ndarray, v: np.ndarray, *, left: bool = False) -> np.ndarray:
    """The reference's distribution function from its 101 quantiles: a step at a value several quantiles share
    (a tie), linear between distinct ones; ``left``: the limit from below."""
    v = np.asarray(v, dtype=float)
    side = "left" if left else "right"
    idx = np.searchsorted(q, v, side=side)  # quantiles <= v (right) or < v (left)
    below = QUANTILES[np.clip(idx - 1, 0, 100)]
    lo, hi = q[np.clip(idx - 1, 0, 100)], q[np.clip(idx, 0, 100)]
    inside = (idx > 0) & (idx <= 100) & (hi > lo)
    slope = np.where(inside, (v - lo) / np.where(hi > lo, hi - lo, 1.0), 0.0)
    f = np.where(idx == 0, 0.0, below + 0.01 * np.clip(slope, 0, 1))
    return np.where(idx > 100, 1.0, f)


def _psi(ref: np.ndarray, new: np.ndarray, eps: float = 1e-4) -> float:
    ref, new = np.clip(ref, eps, None), np.clip(new, eps, None)
    return float(np.sum((new - ref) * np.log(new / ref)))


def _categorical(ref: dict[str, Any], values: pd.Series) -> dict[str, Any]:
    n = len(values)
    if n == 0:
        return {"n": 0}
    known = list(ref["shares"])
    counts = values.value_counts()
    observed = np.array([counts.get(k, 0) for k in known] + [n - counts.reindex(known).fillna(0).sum()], float)
    expected = np.array([ref["shares"][k] for k in known] + [ref["other"]])
    unseen = [str(k) for k in counts.index if k not in ref["shares"]] if ref["complete"] else []
    out: dict[str, Any] = {"n": n, "psi": _psi(expected, observed / n),
                           "unseen": unseen[:20], "unseen_share": float(counts[unseen].sum() / n) if unseen else 0.0}
    if n <= SMALL:
        from scipy import stats

        table = np.array([expected * ref["n"], observed])
        table = table[:, table.sum(axis=0) > 0]
        if table.shape[1] < 2:  # one value on both sides: nothing can differ
            stat, p = 0.0, 1.0
        else:
            stat, p = (float(v) for v in stats.chi2_contingency(table, correction=False)[:2])
        out.update(test="chi-squared", statistic=stat, p_value=p, threshold=THRESHOLDS["p_value"],
                   distribution_drift=p < THRESHOLDS["p_value"])
    else:
        from scipy.spatial.distance import jensenshannon

        distance = float(jensenshannon(expected, observed / n, base=2))
        out.update(test="Jensen-Shannon", distance=distance, threshold=THRESHOLDS["jensen_shannon"],
                   distribution_drift=distance > THRESHOLDS["jensen_shannon"])
    return out


def estimated_accuracy(proba: np.ndarray, predicted: np.ndarray, confidence: float = 0.95) -> dict[str, float]:
    """Accuracy expected from the probabilities alone (confidence-based performance estimation): each row is
    right with the probability of the class predicted for it, so the mean of those is the expected accuracy,
    with a normal interval from the rows' Bernoulli variances. Only as good as the probabilities' calibration.

    Args:
        proba: (rows, classes) probabilities; predicted: the column of the class predicted for each row.
    """
    from scipy import stats

    p = proba[np.arange(len(proba)), predicted]
    n = len(p)
    value = float(p.mean()) if n else float("nan")
    half = float(stats.norm.ppf(0.5 + confidence / 2) * np.sqrt(np.sum(p * (1 - p))) / n) if n else float("nan")
    return {"value": value, "low": max(0.0, value - half), "high": min(1.0, value + half), "rows": n}
