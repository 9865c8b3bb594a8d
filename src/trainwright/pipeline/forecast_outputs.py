"""What a forecasting run writes: its inputs, the forecaster and its predictor, the backtest's metrics and
leaderboard, the final forecast, ``evaluation.json`` (everything the report shows) and the report."""

from __future__ import annotations

import time
from typing import Any

from trainwright.runs import layout

__all__ = ["write_inputs", "save", "write_report", "FORECAST_CSV", "PLOTTED_SERIES"]

FORECAST_CSV = "forecast.csv"
PLOTTED_SERIES = 6  # the report draws this many series (the longest); the table and forecast.csv hold all


def write_inputs(writer, *, given: dict, loaded, panel) -> None:
    """The recipe as given and the data's fingerprint (content hash, shape, series)."""
    import yaml

    writer.write_text(layout.RECIPE, "# The recipe as given (file, command-line arguments and --set overrides).\n"
                      + yaml.safe_dump(given, sort_keys=False, allow_unicode=True))
    writer.write_json(layout.FINGERPRINT, {
        "file": str(loaded.path), "sha256": loaded.sha256, "bytes": loaded.path.stat().st_size,
        "rows": int(loaded.frame.shape[0]), "columns": int(loaded.frame.shape[1]),
        "series": len(panel.series), "grid": panel.grid.to_dict()})


def save(writer, *, rec, panel, plan, results: dict, chosen: str, forecaster, decisions, started: float) -> dict:
    """The predictor (model/), forecast.csv, metrics, leaderboard, decisions, resolved recipe, environment and
    run.json; returns the evaluation (what the report shows)."""
    from trainwright.deploy.forecast import ForecastPredictor
    from trainwright.evaluate.backtest import coverage, interval_quantiles
    from trainwright.runs import environment

    level = rec.forecast.interval
    records = results[chosen]["records"]
    predictor = ForecastPredictor(forecaster, panel.grid, {"time": rec.split.time_column, "target": rec.target,
                                                           "series": rec.forecast.series_column},
                                  horizon=plan.horizon, season=plan.season,
                                  quantiles=interval_quantiles(records, plan.horizon, level), level=level)
    predictor.save(writer.path / layout.MODEL_DIR)
    table = predictor.forecast_panel(panel)
    writer.write_text(FORECAST_CSV, table.to_csv(index=False))
    board = [{"model": n, **{k: v for k, v in r.items() if k not in ("records", "per_step")}} for n, r in results.items()]
    writer.write_json(layout.LEADERBOARD, {"metric": "mase", "candidates": board, "chosen": chosen})
    covered = coverage(records, plan.horizon, level)
    writer.write_json(layout.METRICS, {"backtest": {n: _scores(r) for n, r in results.items()},
                                       "coverage": covered})
    writer.write_json(layout.DECISIONS, [d.as_dict() for d in decisions])
    writer.write_text(layout.RESOLVED_RECIPE, _resolved(rec, plan, chosen, decisions))
    writer.write_json(layout.ENVIRONMENT, environment(rec.seed))
    writer.write_info(saved=True, task="forecast", model=chosen, metric="mase", horizon=plan.horizon,
                      season=plan.season, series=len(panel.series), time_column=rec.split.time_column,
                      series_column=rec.forecast.series_column, seconds=round(time.monotonic() - started, 3))
    evaluation = _evaluation(rec, panel, plan, results, chosen, predictor, table, covered, decisions)
    evaluation["run"] = writer.path.name
    writer.write_json(layout.EVALUATION, evaluation)
    return evaluation


def write_report(writer, evaluation: dict) -> None:
    """report.html from the evaluation."""
    from trainwright.report.render import render_report

    writer.write_text(layout.REPORT, render_report(evaluation))


def _scores(result: dict) -> dict:
    return {k: v for k, v in result.items() if k != "records"}


def _resolved(rec, plan, chosen: str, decisions) -> str:
    from pathlib import Path

    from trainwright.config.io import dump_config, parse_config, with_values

    values = {"forecast.horizon": plan.horizon, "forecast.season": plan.season, "forecast.model": chosen,
              "forecast.backtest.stride": plan.stride, "forecast.backtest.windows": len(plan.cuts),
              "data.path": str(Path(rec.data.path).resolve())}
    resolved = parse_config(type(rec), with_values(rec.model_dump(mode="json"), values), what="resolved recipe")
    header = "# Resolved recipe: every default and every automatic decision written out.\n"
    return dump_config(resolved, header + "".join(f"# {d}\n" for d in decisions))


def _evaluation(rec, panel, plan, results, chosen, predictor, table, covered, decisions) -> dict[str, Any]:
    """Everything the forecast report shows, as JSON."""
    grid = panel.grid
    models = {n: _scores(r) for n, r in results.items()}
    naive = models["seasonal_naive"].get("mase")
    best_baseline = min((models[n]["mase"], n) for n in ("seasonal_naive", "ets") if models[n].get("mase") is not None)
    from trainwright.report.evaluation import EVALUATION_FORMAT_VERSION

    return {
        "format_version": EVALUATION_FORMAT_VERSION, "task": "forecast", "model": chosen, "target": rec.target, "run": None, "data": str(rec.data.path),
        "created": time.strftime("%Y-%m-%d %H:%M"), "time_column": rec.split.time_column,
        "series_column": rec.forecast.series_column, "unit": grid.unit, "season": plan.season,
        "horizon": plan.horizon, "level": predictor.level,
        "series": {"count": len(panel.series), "steps": sum(len(s.values) for s in panel.series),
                   "filled": sum(s.filled for s in panel.series), "first": grid.time_of(min(s.start for s in panel.series)),
                   "last": grid.time_of(panel.end - 1), "notes": panel.notes},
        "backtest": {"cutoffs": [grid.time_of(c) for c in plan.cuts], "gap": rec.forecast.backtest.gap,
                     "mode": rec.forecast.backtest.mode, "models": models, "chosen": chosen,
                     "beats_naive": naive is not None and models[chosen]["mase"] < naive,
                     "best_baseline": {"model": best_baseline[1], "mase": best_baseline[0]}},
        "coverage": covered, "quantiles": predictor.quantiles,
        "plots": _plots(panel, plan, results[chosen]["records"], table, rec.forecast.series_column),
        "forecast": table.head(500).to_dict(orient="records"), "forecast_rows": len(table),
        "decisions": [d.as_dict() for d in decisions],
    }


def _plots(panel, plan, records, table, series_column) -> list[dict[str, Any]]:
    """Per plotted series: its recent history, each backtest window's forecast, the forecast and its interval."""
    grid, out = panel.grid, []
    first_cut = min(plan.cuts)
    for s in sorted(panel.series, key=lambda s: -len(s.values))[:PLOTTED_SERIES]:
        start = max(s.start, first_cut - 3 * plan.horizon)
        mine = table if series_column is None else table[table[series_column] == s.key]
        out.append({
            "series": s.key,
            "history": {"x": list(range(start, s.end)), "y": s.between(start, s.end).tolist()},
            "windows": [{"cutoff": r.cutoff, "x": list(range(r.cutoff, r.cutoff + len(r.forecast))),
                         "y": r.forecast.tolist()} for r in records if r.key == s.key],
            "forecast": {"x": list(range(s.end, s.end + plan.horizon)), "y": mine["prediction"].tolist(),
                         "lower": mine["lower"].tolist(), "upper": mine["upper"].tolist()},
            "ticks": {str(p): str(grid.time_of(p)) for p in range(start, s.end + plan.horizon)},
        })
    return out
