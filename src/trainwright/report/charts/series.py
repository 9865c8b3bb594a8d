"""Charts of a forecast: the series with its backtest windows and forecast, and the error per horizon step."""

from __future__ import annotations

import numpy as np

from trainwright.report.charts._render import _GREY, _INK, PALETTE, _figure, _legend, _style, _svg, _vline

__all__ = ["forecast_plot", "step_errors"]


def forecast_plot(plot: dict, *, level: float, title: str) -> str:
    """The recent history (grey), each backtest window's forecast (dashed, from its cutoff) and the forecast
    after the last value with its interval band; x labelled with the times.

    Args:
        plot: {"history": {"x", "y"}, "windows": [{"cutoff", "x", "y"}], "forecast": {"x", "y", "lower",
            "upper"}, "ticks": {position: time}} (positions on the run's time grid).
        level: the interval's nominal coverage (its label).
        title: title of the chart.

    Example:
        >>> p = {"history": {"x": [0, 1, 2], "y": [1.0, 2.0, 3.0]}, "windows": [{"cutoff": 2, "x": [2], "y": [2.5]}],
        ...      "forecast": {"x": [3], "y": [4.0], "lower": [3.0], "upper": [5.0]}, "ticks": {"0": "a", "3": "d"}}
        >>> forecast_plot(p, level=0.9, title="sales")[:4]
        '<svg'
    """
    with _style():
        fig = _figure(7.2, 3.4)
        ax = fig.add_subplot()
        h, f = plot["history"], plot["forecast"]
        ax.plot(h["x"], h["y"], color=_GREY, linewidth=1.3, label="actual")
        for i, w in enumerate(plot["windows"]):
            ax.plot(w["x"], w["y"], color=PALETTE[1], linestyle="--", linewidth=1.3,
                    label="backtest forecasts" if i == 0 else None)
            ax.axvline(w["cutoff"] - 0.5, color=PALETTE[1], linestyle=":", linewidth=0.8, alpha=0.6)
        lower, upper = np.asarray(f["lower"], float), np.asarray(f["upper"], float)
        if np.isfinite(lower).all() and np.isfinite(upper).all():
            ax.fill_between(f["x"], lower, upper, color=PALETTE[0], alpha=0.15, linewidth=0,
                            label=f"{level:.0%} interval")
        ax.plot(f["x"], f["y"], color=PALETTE[0], linewidth=1.8, label="forecast")
        if f["x"]:
            _vline(ax, f["x"][0] - 0.5, "forecast starts", color=_INK)
        ticks = plot.get("ticks") or {}
        positions = sorted(int(k) for k in ticks)
        if positions:
            shown = positions[:: max(1, len(positions) // 6)]
            ax.set_xticks(shown, [str(ticks[str(p)]) for p in shown])
        ax.set_title(title)
        _legend(ax)
        return _svg(fig, title)


def step_errors(per_step: dict[str, list], *, unit: str) -> str:
    """MASE at each horizon step, one line per forecaster (1 = the in-sample seasonal naive's error).

    Example:
        >>> step_errors({"gbdt": [0.5, 0.7], "seasonal_naive": [1.0, 1.1]}, unit="month")[:4]
        '<svg'
    """
    with _style():
        fig = _figure(6.4, 3.0)
        ax = fig.add_subplot()
        for i, (name, values) in enumerate(per_step.items()):
            y = np.array([np.nan if v is None else v for v in values], float)
            ax.plot(np.arange(1, len(y) + 1), y, marker="o", markersize=3, color=PALETTE[i % len(PALETTE)],
                    label=name)
        ax.axhline(1.0, color=_GREY, linestyle=":", linewidth=1)
        ax.set_xlabel(f"steps ahead ({unit}s)")
        ax.set_ylabel("MASE")
        ax.set_title("Backtest error by horizon step")
        _legend(ax)
        return _svg(fig, "Backtest error by horizon step")
