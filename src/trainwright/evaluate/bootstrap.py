"""Percentile bootstrap confidence intervals of an evaluation's metrics.

A resample is a weight per row (how often the resample drew it), and the
metrics are weighted sums over rows, so a block of resamples is scored at once
by the same weighted core that gives the point values (``_confusion._ClassRows``;
``_RegRows`` here for regression).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from trainwright.evaluate._confusion import _ClassRows, _dot
from trainwright.evaluate.metrics import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    _check_classification,
    _check_regression,
    mape_rows,
    classification_metrics,
    regression_metrics,
)

__all__ = ["bootstrap_intervals"]

_CHUNK = 1 << 19  # cells of one (resamples, rows) weight block: 4 MiB of float64, near the caches


def bootstrap_intervals(task: str, y, output, names, *, n: int = 1000, level: float = 0.95, seed: int = 0,
                        threshold: float | None = None) -> dict[str, dict[str, Any]]:
    """Percentile bootstrap confidence intervals of metrics, resampling rows.

    Each resample draws len(y) rows with replacement, as multinomial counts per row
    (``np.bincount`` of drawn indices), and every metric is a weighted sum over rows
    (confusion counts, rank statistics, per-row losses), computed for a block of
    resamples at once. No subsampling: each resample is the full-size one. A resample
    where a metric is undefined (a class absent for roc_auc) is skipped for that
    metric; ``n_boot`` counts the ones kept. The interval is the (1 - level) / 2 and
    (1 + level) / 2 quantiles of the kept values.

    Args:
        task: "classification" or "regression".
        y: encoded labels 0..K-1 or true values, shape (rows,).
        output: probabilities (rows, K) or predicted values (rows,).
        names: metric names of the task (``CLASSIFICATION_METRICS`` or ``REGRESSION_METRICS``).
        n: number of resamples; <= 0 gives no interval.
        level: confidence level, in (0, 1).
        seed: seed of the resampling.
        threshold: binary only, as in ``classification_metrics``.

    Returns:
        {name: {"value": value on all rows or None, "low": float or None, "high": float or None,
        "n_boot": int}}; low and high are None when n <= 0, with fewer than 2 rows, or when
        no resample defines the metric.

    Raises:
        ConfigError: an unknown metric name or a level outside (0, 1).

    >>> iv = bootstrap_intervals("regression", [1.0, 2, 3, 4], [1.1, 2, 2.9, 4.2], ["mae"], n=200)
    >>> iv["mae"]["low"] <= iv["mae"]["value"] <= iv["mae"]["high"]
    True
    """
    names = list(names)
    _check_request(task, names, level)
    point, rows = _point_and_rows(task, y, output, threshold)
    out = {m: {"value": point[m], "low": None, "high": None, "n_boot": 0} for m in names}
    if n <= 0 or rows.n < 2 or not names:
        return out
    draws = _resample(lambda w: rows.values(w, names), rows.n, n, seed)
    for m in names:
        kept = draws[m][np.isfinite(draws[m])]
        if kept.size:
            low, high = np.quantile(kept, [(1 - level) / 2, (1 + level) / 2])
            out[m].update(low=float(low), high=float(high), n_boot=int(kept.size))
    return out


def _check_request(task: str, names: list[str], level: float) -> None:
    """Raise ConfigError for a metric name the task does not have or a level outside (0, 1)."""
    from trainwright.errors import ConfigError

    allowed = CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS
    unknown = [m for m in names if m not in allowed]
    if unknown:
        raise ConfigError(f"cannot bootstrap {unknown} for {task}; use names from: {', '.join(allowed)}",
                          path="evaluate.metrics")
    if not 0.0 < level < 1.0:
        raise ConfigError(f"evaluate.confidence must be within (0, 1), got {level}", path="evaluate.confidence")


def _point_and_rows(task: str, y, output, threshold: float | None
                    ) -> tuple[dict[str, float | None], _ClassRows | _RegRows]:
    """The metrics on all rows, and the rows prepared once for weighted scoring of the resamples."""
    if task == "classification":
        y, output = _check_classification(y, output)
        return classification_metrics(y, output, output.shape[1], threshold), _ClassRows(y, output, threshold)
    y, output = _check_regression(y, output)
    return regression_metrics(y, output), _RegRows(y, output)


def _resample(stat: Callable[[np.ndarray], dict[str, np.ndarray]], rows: int, n: int, seed: int
              ) -> dict[str, np.ndarray]:
    """Run ``stat`` on ``n`` multinomial row weightings, in blocks of about ``_CHUNK`` cells."""
    rng = np.random.default_rng(seed)
    block = max(1, _CHUNK // rows)
    parts = []
    for start in range(0, n, block):
        b = min(block, n - start)
        drawn = rng.integers(0, rows, size=(b, rows))
        drawn += np.arange(b)[:, None] * rows  # resample i counts into cells i*rows .. (i+1)*rows - 1
        w = np.bincount(drawn.ravel(), minlength=b * rows).reshape(b, rows).astype(np.float64)
        parts.append(stat(w))
    return {m: np.concatenate([p[m] for p in parts]) for m in parts[0]}


class _RegRows:
    """A regression sample prepared for weighted scoring (see ``_confusion._ClassRows``)."""

    def __init__(self, y: np.ndarray, pred: np.ndarray) -> None:
        err = pred - y
        self.n, self.sq, self.abs = len(y), err**2, np.abs(err)
        ok = mape_rows(y)
        self.ok = ok.astype(np.float64)
        self.ape = np.divide(self.abs, np.abs(y), out=np.zeros_like(y), where=ok)
        self.yc = y - y.mean()  # centred once, so the weighted variance below loses little to rounding
        self.constant = bool(np.all(y == y[0]))

    def values(self, w: np.ndarray, names) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        mse = _dot(w, self.sq) / self.n
        out.update(mse=mse, rmse=np.sqrt(mse))
        if "mae" in names:
            out["mae"] = _dot(w, self.abs) / self.n
        if "mape" in names:
            with np.errstate(invalid="ignore", divide="ignore"):
                out["mape"] = _dot(w, self.ape) / _dot(w, self.ok)
        if "r2" in names:
            s1, s2 = _dot(w, self.yc), _dot(w, self.yc**2)
            ss_tot = s2 - s1**2 / self.n
            with np.errstate(invalid="ignore", divide="ignore"):
                r2 = 1.0 - mse * self.n / ss_tot
            # A resample that drew one value only has no variance; rounding leaves ~1e-16 * s2.
            r2[(ss_tot <= 1e-10 * s2) | self.constant] = np.nan
            out["r2"] = r2
        return out
