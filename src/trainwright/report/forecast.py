"""The forecast report: the same page style as the model report, from a forecasting run's evaluation."""

from __future__ import annotations

from typing import Any

__all__ = ["render_forecast"]


def render_forecast(ev: dict[str, Any], *, environment, css, version: str) -> str:
    """The report page of a forecasting run (``task: forecast``), from its evaluation, in the report's Jinja2
    ``environment`` and stylesheet (``css``, markup)."""
    from markupsafe import Markup

    from trainwright.report import charts as ch

    models = ev["backtest"]["models"]
    scored = {n: m for n, m in models.items() if m.get("status") == "scored"}
    plots = [Markup(ch.forecast_plot(p, level=ev["level"], title=_title(ev, p))) for p in ev["plots"]]
    steps = Markup(ch.step_errors({n: m["per_step"]["mase"] for n, m in scored.items()}, unit=ev["unit"])) \
        if ev["horizon"] > 1 else None
    columns = [c for c in (ev.get("series_column"), "time", "step", "prediction", "lower", "upper") if c]
    return environment.get_template("forecast.html.j2").render(
        ev=ev, css=css, plots=plots, step_chart=steps, columns=columns, version=version,
        chosen=models[ev["model"]], naive=models.get("seasonal_naive") or {})


def _title(ev: dict[str, Any], plot: dict[str, Any]) -> str:
    name = f"{ev['target']}" + (f" of {ev['series_column']} {plot['series']}" if plot.get("series") is not None else "")
    return f"{name}: backtest windows and the next {ev['horizon']} {ev['unit']}s"
