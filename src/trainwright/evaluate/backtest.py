"""Rolling-origin backtests of forecasters: never a fitted number from the future.

Each window has a cutoff on the shared time grid: the forecaster is built new, fitted on the steps before
``cutoff - gap`` of every series (expanding, or the last ``length`` of them with sliding windows) and
forecasts ``gap + horizon`` steps, of which the last ``horizon`` are scored against what happened. The
scale of MASE (the in-sample mean absolute seasonal difference) is also computed on the window's training
steps only. Prediction intervals are conformal: the ``level`` quantile of the scaled absolute errors at each
horizon step; their coverage is measured on each window with the quantiles of the windows before it only.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

__all__ = ["Record", "cutoffs", "backtest", "mase_scale", "score", "interval_quantiles", "coverage"]


@dataclass(frozen=True)
class Record:
    """One series in one window: the cutoff (first forecast position), the forecast, what happened, the scale."""

    cutoff: int
    key: str | None
    forecast: np.ndarray
    truth: np.ndarray
    scale: float

    def as_dict(self) -> dict[str, Any]:
        """The JSON form kept in ``evaluation.json``."""
        return {"cutoff": self.cutoff, "series": self.key, "forecast": self.forecast.tolist(),
                "truth": self.truth.tolist(), "scale": self.scale}


def cutoffs(end: int, horizon: int, windows: int, stride: int, earliest: int) -> list[int]:
    """The cutoffs of ``windows`` windows ``stride`` apart, the last one ``horizon`` steps before ``end``;
    those before ``earliest`` (too little history) are left out.

    Example:
        >>> cutoffs(144, 12, 3, 12, 60)
        [108, 120, 132]
        >>> cutoffs(144, 12, 5, 12, 100)
        [108, 120, 132]
    """
    last = end - horizon
    return [c for c in (last - (windows - 1 - i) * stride for i in range(windows)) if c >= earliest]


def mase_scale(values: np.ndarray, season: int) -> float:
    """Mean absolute difference between each value and the one a season earlier (one step when the series
    is shorter than two seasons): the error of the in-sample seasonal naive forecast.

    Example:
        >>> mase_scale(np.array([1.0, 2.0, 4.0, 7.0]), 1)
        2.0
    """
    m = season if len(values) > season else 1
    if len(values) <= m:
        return float("nan")
    diffs = np.abs(values[m:] - values[:-m])
    scale = float(diffs.mean())
    if scale == 0 and m > 1:
        scale = float(np.abs(np.diff(values)).mean())
    return scale if scale > 0 else float("nan")


def backtest(make: Callable[[], Any], series, *, horizon: int, season: int, cuts: list[int], gap: int = 0,
             length: int | None = None, deadline: float | None = None, log: Callable[[str], None] | None = None,
             ) -> list[Record]:
    """Fit a new forecaster (``make()``) per cutoff on the steps before ``cutoff - gap`` only, forecast, and
    keep each series' forecast and truth (in time order). ``length``: sliding windows of that many steps.

    The latest window is fitted first: when ``deadline`` passes, no further window starts, and the records kept
    are those of the most recent windows (``score`` says how many). A window the forecaster cannot fit (too
    little history before its cutoff: ``ValueError``) is skipped and logged.
    """
    records = []
    for cut in sorted(cuts, reverse=True):
        if deadline is not None and time.monotonic() > deadline:
            break
        pairs = [(s, _history(s, cut - gap, length)) for s in series]
        pairs = [(s, h) for s, h in pairs if len(h.values) >= 2]
        if not pairs:
            continue
        t0 = time.monotonic()
        train = [h for _, h in pairs]
        try:
            forecaster = make().fit(train, deadline=deadline)
        except ValueError as exc:  # e.g. too few windows to learn from before this cutoff: the window is skipped
            if log is not None:
                log(f"backtest cutoff {cut}: skipped ({exc})")
            continue
        predicted = forecaster.forecast(train, gap + horizon)[:, gap:]
        for (s, fitted_on), forecast in zip(pairs, predicted):
            truth = s.between(cut, cut + horizon)
            if truth.size:
                records.append(Record(cut, s.key, forecast[: truth.size], truth, mase_scale(fitted_on.values, season)))
        if log is not None:
            log(f"backtest {getattr(forecaster, 'name', 'forecaster')} cutoff {cut}: fitted on {len(train)} series "
                f"in {time.monotonic() - t0:.2f}s")
    return sorted(records, key=lambda r: r.cutoff)


def _history(s, stop: int, length: int | None):
    """The steps of ``s`` before ``stop`` (the last ``length`` of them for sliding windows)."""
    before = s.before(stop)
    if length is None or len(before.values) <= length:
        return before
    return type(s)(s.key, before.end - length, before.values[-length:], s.filled)


def score(records: list[Record], horizon: int) -> dict[str, Any]:
    """MASE, sMAPE (percent) and RMSE over every scored step, and per horizon step.

    Example:
        >>> r = [Record(10, None, np.array([2.0, 2.0]), np.array([1.0, 3.0]), 2.0)]
        >>> s = score(r, 2); s["mase"], s["rmse"], s["per_step"]["mase"]
        (0.5, 1.0, [0.5, 0.5])
    """
    err = [[] for _ in range(horizon)]
    for r in records:
        for h, (f, y) in enumerate(zip(r.forecast, r.truth)):
            err[h].append((f - y, abs(f - y) / r.scale if np.isfinite(r.scale) else math.nan,
                           0.0 if f == y == 0 else 200 * abs(f - y) / (abs(f) + abs(y))))
    flat = [e for step in err for e in step]

    def stats(rows):
        if not rows:
            return None, None, None
        e = np.array(rows, float)
        return float(np.nanmean(e[:, 1])), float(np.mean(e[:, 2])), float(np.sqrt(np.mean(e[:, 0] ** 2)))

    mase, smape, rmse = stats(flat)
    per = [stats(step) for step in err]
    return {"mase": mase, "smape": smape, "rmse": rmse, "windows": len({r.cutoff for r in records}),
            "forecasts": len(records),
            "per_step": {"mase": [p[0] for p in per], "smape": [p[1] for p in per], "rmse": [p[2] for p in per]}}


def interval_quantiles(records: list[Record], horizon: int, level: float) -> list[float | None]:
    """Per horizon step, the half-width of the conformal interval in units of the series' scale.

    Errors (|error| / scale) are divided by their step's mean, so that every step's errors can be pooled (a
    few windows give a few errors per step, too few for a quantile of their own), the ceil((n + 1) level)-th
    smallest of the n pooled errors is taken (the largest when n is too small for that rank), and multiplied
    back by each step's mean: wider where the backtest erred more. None for a step with no error.

    Example:
        >>> rs = [Record(c, None, np.zeros(2), np.array([1.0, 2.0]) * c, 1.0) for c in (1, 2, 3)]
        >>> interval_quantiles(rs, 2, 0.5)
        [2.0, 4.0]
    """
    errors = [np.array([abs(r.forecast[h] - r.truth[h]) / r.scale for r in records
                        if len(r.truth) > h and np.isfinite(r.scale)]) for h in range(horizon)]
    means = [float(e.mean()) if e.size else None for e in errors]
    pooled = np.sort(np.concatenate([e / m for e, m in zip(errors, means) if m]) if any(means) else np.zeros(0))
    if pooled.size == 0:
        return [None if m is None else 0.0 for m in means]
    q = float(pooled[min(pooled.size, math.ceil((pooled.size + 1) * level)) - 1])
    return [None if m is None else q * m for m in means]


def coverage(records: list[Record], horizon: int, level: float) -> dict[str, Any]:
    """The share of truths inside the intervals, each window's intervals from the errors of the windows whose
    every true value lies before its cutoff (nothing it could not have known).

    Example:
        >>> rs = [Record(c, None, np.array([0.0]), np.array([float(c)]), 1.0) for c in (1, 2, 3)]
        >>> coverage(rs, 1, 0.9)["covered"], coverage(rs, 1, 0.9)["scored"]
        (0, 2)
    """
    cuts = sorted({r.cutoff for r in records})
    inside = total = 0
    for cut in cuts[1:]:
        q = interval_quantiles([r for r in records if r.cutoff + len(r.truth) <= cut], horizon, level)
        for r in (r for r in records if r.cutoff == cut and np.isfinite(r.scale)):
            for h, (f, y) in enumerate(zip(r.forecast, r.truth)):
                if q[h] is not None:
                    total += 1
                    inside += abs(f - y) <= q[h] * r.scale
    return {"level": level, "covered": int(inside), "scored": int(total),
            "coverage": inside / total if total else None}
