"""The forecasting run (``task: forecast``), top to bottom: load, read the series, plan the backtest, backtest
every forecaster (the baselines always), keep the best (or the one asked for), fit it on every step, forecast
the horizon with conformal intervals, save, report.

Every input check (columns, times, the series being long enough for one backtest window) happens before the
run directory is created. Nothing fitted in a backtest window sees a step at or after its cutoff.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from trainwright.config.base import Decision
from trainwright.errors import DataError
from trainwright.pipeline.budget import Budget
from trainwright.pipeline.journal import Journal, Reporter

__all__ = ["Plan", "plan_forecast", "train_forecast", "BASELINES"]

BASELINES = ("seasonal_naive", "ets")


@dataclass(frozen=True)
class Plan:
    """What the run forecasts and how it is backtested (every ``auto`` settled, each in ``decisions``)."""

    season: int
    horizon: int
    stride: int
    cuts: tuple[int, ...]
    decisions: tuple[Decision, ...]


def plan_forecast(config, panel, *, file=None) -> Plan:
    """Settle the season, the horizon and the backtest's cutoffs for ``panel``.

    Raises:
        DataError: the series are too short for one backtest window of the horizon.
    """
    from trainwright.evaluate.backtest import cutoffs
    from trainwright.models.series import FORECASTER_CLASSES

    for cls in FORECASTER_CLASSES.values():
        cls.check_available()
    decisions = [Decision("time step", panel.grid.unit if panel.grid.unit != "step" else panel.grid.step,
                          f"the smallest difference between times in '{panel.grid.kind}'")]
    shortest = min(len(s.values) for s in panel.series)
    if all(np.ptp(s.values) == 0 for s in panel.series):
        where = f"{file}: " if file else ""
        raise DataError(f"{where}every value of the series is the same ({panel.series[0].values[0]:g}): there is nothing "
                        "to forecast but that value, and no error scale to judge a forecast by.",
                        file=None if file is None else str(file))
    season = panel.grid.season if config.season == "auto" else int(config.season)
    if config.season == "auto":
        decisions.append(Decision("forecast.season", season, f"one {panel.grid.unit} step"
                                  + (f": {season} steps make a season" if season > 1 else ": no season assumed")))
    if config.horizon == "auto":
        horizon = season if season > 1 else max(1, min(24, shortest // 10))
        decisions.append(Decision("forecast.horizon", horizon, "one season" if season > 1 else
                                  "10% of the shortest series (1-24 steps)"))
    else:
        horizon = int(config.horizon)
    bt = config.backtest
    stride = bt.stride or max(1, horizon // 2)
    need = max(2 * season + 2, 3 * horizon, 20)
    earliest = min(s.start for s in panel.series) + need + bt.gap
    cuts = cutoffs(panel.end, horizon, bt.windows, stride, earliest)
    if not cuts:
        where = f"{file}: " if file else ""
        raise DataError(f"{where}the longest series has {max(len(s.values) for s in panel.series)} steps; one "
                        f"backtest window of forecast.horizon={horizon} needs at least {need + bt.gap + horizon} "
                        f"({need} to fit on{f', a gap of {bt.gap}' if bt.gap else ''} and the horizon). Use a "
                        "shorter forecast.horizon, or more history.", file=None if file is None else str(file))
    if len(cuts) < bt.windows:
        decisions.append(Decision("forecast.backtest.windows", len(cuts), f"{bt.windows} windows {stride} steps "
                                  f"apart do not fit: each needs {need} steps before it"))
    return Plan(season, horizon, stride, tuple(cuts), tuple(decisions))


def train_forecast(rec, *, given: dict, out=None, runs_dir="runs", reporter: Reporter | None = None,
                   started: float | None = None):
    """Run a forecasting recipe and write its run directory; returns the run as a ``deploy.TrainedModel``."""
    from trainwright.data.columns import require_column
    from trainwright.data.series import read_series
    from trainwright.deploy.model import TrainedModel
    from trainwright.pipeline import stages
    from trainwright.runs import RunWriter
    from trainwright.runs.layout import check_new_run_dir

    started = time.monotonic() if started is None else started
    journal, budget = Journal(reporter, started=started), Budget(started, rec.train.time_budget,
                                                                report=rec.evaluate.report)
    check_new_run_dir(out, runs_dir)
    with journal.stage("load"):
        loaded = stages.load(rec.data)
        journal.decide(*loaded.decisions)
    with journal.stage("series"):
        for setting, column in (("split.time_column", rec.split.time_column),
                                ("forecast.series_column", rec.forecast.series_column)):
            if column is not None:
                require_column(loaded.frame, column, what="column", file=loaded.path, setting=setting)
        panel = read_series(loaded.frame, time=rec.split.time_column, target=rec.target,
                            series_column=rec.forecast.series_column, file=loaded.path)
        plan = plan_forecast(rec.forecast, panel, file=loaded.path)
        journal.decide(*plan.decisions)
        for note in panel.notes:
            journal.log(f"clean: {note}")
    writer = RunWriter.create(out, runs_dir=runs_dir, name=loaded.path.stem.replace(" ", "_")[:40] or "run",
                              info={"data": str(loaded.path), "target": rec.target, "task": "forecast"})
    journal.attach(writer)
    try:
        _run(rec, given, loaded, panel, plan, writer, journal, budget)
    except BaseException as exc:
        journal.log("interrupted (Ctrl-C)" if isinstance(exc, KeyboardInterrupt)
                    else f"failed: {type(exc).__name__}: {exc}")
        writer.failed(exc, time.monotonic() - started)
        raise
    return TrainedModel(writer.path)


def _run(rec, given, loaded, panel, plan: Plan, writer, journal: Journal, budget: Budget) -> None:
    from trainwright.pipeline import forecast_outputs as outputs

    outputs.write_inputs(writer, given=given, loaded=loaded, panel=panel)
    with journal.stage("backtest"):
        results = _backtests(rec, panel, plan, deadline=budget.fit_share(4, 5), log=journal.fit_log)
    chosen, why = _choose(rec.forecast.model, results, plan.horizon)
    journal.decide(Decision("forecast.model", chosen, why))
    with journal.stage("fit"):
        final = _make(rec, plan, chosen)().fit(list(panel.series), deadline=budget.fit_end())
        journal.log(f"{chosen} fitted on every step of {len(panel.series)} series")
    with journal.stage("save"):
        evaluation = outputs.save(writer, rec=rec, panel=panel, plan=plan, results=results, chosen=chosen,
                                  forecaster=final, decisions=journal.decisions, started=journal.started)
    if rec.evaluate.report:
        with journal.stage("report"):
            outputs.write_report(writer, evaluation)
    writer.completed(seconds=round(time.monotonic() - journal.started, 3))
    journal.log("run completed")


def _make(rec, plan: Plan, name: str, *, horizon: int | None = None):
    from trainwright.models.series import build_forecaster

    return lambda: build_forecaster(name, season=plan.season, horizon=horizon or plan.horizon, config=rec.forecast,
                                    seed=rec.seed)


def _backtests(rec, panel, plan: Plan, *, deadline: float | None, log) -> dict[str, dict[str, Any]]:
    """Each forecaster's backtest: its records, scores and seconds (a combination's: its members' summed). Under a
    deadline each forecaster that fits gets an equal share of what is left (seasonal naive needs none) and fits
    the latest windows first, so one that runs out of time is scored on the most recent windows it finished;
    one that cannot fit the windows at all is kept with the reason and not chosen."""
    from trainwright.evaluate.backtest import score
    from trainwright.models.series import FORECASTER_CLASSES

    bt, results = rec.forecast.backtest, {}
    run = {n: cls for n, cls in FORECASTER_CLASSES.items() if cls.in_auto or n == rec.forecast.model}
    timed = [n for n, cls in run.items() if n != "seasonal_naive" and not getattr(cls, "combines", ())]
    for name, cls in run.items():
        t0 = time.monotonic()
        if getattr(cls, "combines", ()):  # a mean of others: their windows' forecasts, averaged (no fitting)
            members = [results[m].get("records", []) for m in cls.combines]
            records = cls.backtest_from(members) if all(members) else []
            reason = f"a member of {' + '.join(cls.combines)} was not scored"
            t0 -= sum(results[m]["seconds"] for m in cls.combines)
        else:
            left = len(timed) - timed.index(name) if name in timed else 1
            share = None if deadline is None or name not in timed else t0 + max(0.0, deadline - t0) / left
            records, reason = _backtest_one(rec, panel, plan, name, share, log)
        seconds = round(time.monotonic() - t0, 3)
        if not records:
            results[name] = {"status": "not scored", "reason": reason, "seconds": seconds}
            log(f"backtest {name}: not scored ({reason})")
            continue
        scores = score(records, plan.horizon)
        results[name] = {"status": "scored", "records": records, **scores, "seconds": seconds}
        log(f"backtest {name}: MASE {scores['mase']:.4g}, sMAPE {scores['smape']:.4g}%, RMSE {scores['rmse']:.4g} "
            f"over {scores['windows']} of {len(plan.cuts)} windows")
    return results


def _backtest_one(rec, panel, plan: Plan, name: str, deadline: float | None, log) -> tuple[list, str]:
    """(the records of one forecaster's backtest, why there are none when there are none)."""
    from trainwright.evaluate.backtest import backtest

    bt = rec.forecast.backtest
    make = _make(rec, plan, name, horizon=plan.horizon + bt.gap)
    try:
        records = backtest(make, list(panel.series), horizon=plan.horizon, season=plan.season, cuts=list(plan.cuts),
                           gap=bt.gap, length=bt.length if bt.mode == "sliding" else None, deadline=deadline, log=log)
    except ValueError as exc:  # e.g. too few windows for gbdt to learn from
        return [], str(exc)
    return records, "the time budget ran out before its first window"


def _choose(asked: str, results: dict[str, dict[str, Any]], horizon: int) -> tuple[str, str]:
    """(the forecaster kept, why): the one asked for, or the lowest backtest MASE over the windows every scored
    forecaster finished (all of them, unless the time budget cut one short)."""
    from trainwright.evaluate.backtest import score

    scored = {n: r for n, r in results.items() if r["status"] == "scored"}
    if not scored:
        raise DataError("no forecaster could be backtested: " + "; ".join(f"{n}: {r['reason']}" for n, r in
                                                                           results.items()))
    common = set.intersection(*({rec.cutoff for rec in r["records"]} for r in scored.values()))
    mase = {n: score([rec for rec in r["records"] if rec.cutoff in common], horizon)["mase"] for n, r in scored.items()}
    mase = {n: m for n, m in mase.items() if m is not None and np.isfinite(m)}
    listed = ", ".join(f"{n} {m:.4g}" for n, m in sorted(mase.items(), key=lambda kv: kv[1]))
    on = f" on the {len(common)} most recent windows every forecaster finished" \
        if any(r["windows"] > len(common) for r in scored.values()) else ""
    if asked != "auto":
        if asked not in scored:
            raise DataError(f"forecast.model={asked} could not be backtested: {results[asked]['reason']}. Use "
                            "forecast.model=auto, a shorter horizon, or a larger --time-budget.")
        return asked, f"asked for (backtest MASE{on}: {listed})"
    best = min(mase, key=mase.get)
    return best, f"lowest backtest MASE{on} ({listed})"
