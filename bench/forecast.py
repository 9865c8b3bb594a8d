"""Forecasting: trainwright's backtests against statsmodels' Holt-Winters and pmdarima's auto-ARIMA, on the same
rolling-origin windows of seven real series.

    .venv/bin/python bench/forecast.py                  # everything (about 15 minutes on 2 cores)
    .venv/bin/python bench/forecast.py --series airpassengers,nile
    .venv/bin/python bench/forecast.py --markdown-only  # the tables again from bench/results/forecast.json
    .venv/bin/python bench/forecast.py --add-gru        # the gru forecaster added to those results

Series (../shared/DATASETS.md): statsmodels' sunspots (yearly), nile (yearly), co2 (weekly, 59 missing weeks),
macrodata's realgdp (quarterly) and elnino (monthly, its 12 month columns as one series); pmdarima's airpassengers
and wineind (monthly), written by bench/forecast_peer.py in the peer environment. CSV files under
/tmp/trainwright-bench-series.

- trainwright, from the CLI as a user would: ``trainwright train S.csv --target Y --task forecast --set
  split.time_column=T`` with every default (horizon one season, or 10% of the series up to 24 steps; 8 windows
  half a horizon apart), and again with ``--set forecast.strategy=direct`` for the direct gbdt row. Its
  metrics.json holds each forecaster's backtest MASE (seasonal naive, ets, gbdt, combined: the mean of ets and
  gbdt) and the one ``auto`` kept (the lowest of them).
  Wall is the train command, start-up to report.
- The peers are fitted here on exactly those windows (the cutoffs of ``pipeline.forecast.plan_forecast`` with the
  defaults), on the steps before each cutoff only, and scored by the same ``evaluate.backtest.score``:
  statsmodels ``ExponentialSmoothing(trend="add", seasonal="add", seasonal_periods=m)`` (seasonal only when
  m > 1) as most people write it, and ``pmdarima.auto_arima(seasonal=True, m=m)`` (stepwise) in
  /work/benchvenv through bench/forecast_peer.py. auto-ARIMA is not run on weekly co2 (m = 52): one fit on 1,500
  weeks did not finish in 5 minutes here.

Writes bench/results/forecast.json and bench/results/forecast.md and prints the tables.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = Path("/tmp/trainwright-bench-series")
RESULTS = ROOT / "bench" / "results" / "forecast.json"
PEER_PYTHON = Path("/work/benchvenv/bin/python")
SERIES = {  # name -> (file, time column, value column)
    "airpassengers": ("airpassengers.csv", "month", "passengers"),
    "wineind": ("wineind.csv", "month", "sales"),
    "elnino": ("elnino.csv", "month", "temperature"),
    "co2": ("co2.csv", "week", "co2"),
    "realgdp": ("realgdp.csv", "quarter", "realgdp"),
    "sunspots": ("sunspots.csv", "YEAR", "SUNACTIVITY"),
    "nile": ("nile.csv", "year", "volume"),
}
SYSTEMS = ("seasonal naive", "statsmodels Holt-Winters", "pmdarima auto-ARIMA", "trainwright ets",
           "trainwright gbdt (recursive)", "trainwright gbdt (direct)", "trainwright combined", "trainwright gru",
           "trainwright auto")


def write_series() -> None:
    """The seven CSV files (statsmodels here, pmdarima's two through the peer environment)."""
    import calendar

    import statsmodels.api as sm

    DATA.mkdir(parents=True, exist_ok=True)
    sun = sm.datasets.sunspots.load_pandas().data
    sun.assign(YEAR=sun["YEAR"].astype(int)).to_csv(DATA / "sunspots.csv", index=False)
    nile = sm.datasets.nile.load_pandas().data
    nile.assign(year=nile["year"].astype(int)).to_csv(DATA / "nile.csv", index=False)
    sm.datasets.co2.load_pandas().data.rename_axis("week").reset_index().to_csv(DATA / "co2.csv", index=False)
    macro = sm.datasets.macrodata.load_pandas().data
    macro["quarter"] = pd.PeriodIndex.from_fields(year=macro.year.astype(int), quarter=macro.quarter.astype(int),
                                                  freq="Q").start_time.date
    macro[["quarter", "realgdp"]].to_csv(DATA / "realgdp.csv", index=False)
    nino = sm.datasets.elnino.load_pandas().data.melt(id_vars="YEAR", var_name="mon", value_name="temperature")
    months = {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m}
    nino["month"] = pd.to_datetime(dict(year=nino.YEAR.astype(int), month=nino.mon.map(months), day=1)).dt.date
    nino.sort_values("month")[["month", "temperature"]].to_csv(DATA / "elnino.csv", index=False)
    subprocess.run([str(PEER_PYTHON), str(ROOT / "bench" / "forecast_peer.py"), "--dump", str(DATA)], check=True)


def run_trainwright(name: str, strategy: str, model: str = "auto") -> dict:
    """The CLI with every default (and the gbdt strategy, the forecaster): wall seconds and metrics.json."""
    file, time_column, target = SERIES[name]
    out = DATA / "runs" / f"{name}-{strategy}-{model}"
    subprocess.run(["rm", "-rf", str(out)], check=True)
    cli = str(Path(sys.executable).with_name("trainwright"))
    t0 = time.perf_counter()
    subprocess.run([cli, "train", str(DATA / file), "--target", target, "--task", "forecast",
                    "--set", f"split.time_column={time_column}", "--set", f"forecast.strategy={strategy}",
                    "--set", f"forecast.model={model}", "--out", str(out)], check=True, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    info = json.loads((out / "run.json").read_text())
    return {"wall": wall, "metrics": json.loads((out / "metrics.json").read_text()), "kept": info["model"],
            "horizon": info["horizon"], "season": info["season"]}


def windows(name: str):
    """(the series, its season, horizon and cutoffs) exactly as the CLI plans them with the defaults."""
    from trainwright.data.series import read_series
    from trainwright.models.series.config import ForecastConfig
    from trainwright.pipeline.forecast import plan_forecast

    file, time_column, target = SERIES[name]
    panel = read_series(pd.read_csv(DATA / file), time=time_column, target=target)
    plan = plan_forecast(ForecastConfig(), panel)
    return panel.series[0], plan.season, plan.horizon, list(plan.cuts)


def holt_winters(series, season: int, horizon: int, cuts: list[int]) -> dict:
    """statsmodels' ExponentialSmoothing as most people write it, refitted at each cutoff."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    forecasts, t0 = [], time.perf_counter()
    for cut in cuts:
        y = series.before(cut).values
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitted = ExponentialSmoothing(y, trend="add", seasonal="add" if season > 1 else None,
                                          seasonal_periods=season if season > 1 else None,
                                          initialization_method="estimated").fit()
        forecasts.append(np.asarray(fitted.forecast(horizon), float))
    return {"forecasts": forecasts, "seconds": time.perf_counter() - t0}


def auto_arima(series, season: int, horizon: int, cuts: list[int]) -> dict | None:
    """pmdarima's auto_arima in the peer environment (None for a weekly season: too slow to finish)."""
    if season > 24:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        job, out = Path(tmp) / "in.json", Path(tmp) / "out.json"
        job.write_text(json.dumps({"values": series.values.tolist(), "cuts": [c - series.start for c in cuts],
                                   "horizon": horizon, "season": season}))
        subprocess.run([str(PEER_PYTHON), str(ROOT / "bench" / "forecast_peer.py"), str(job), str(out)], check=True)
        result = json.loads(out.read_text())
    return {"forecasts": [np.asarray(f, float) for f in result["forecasts"]], "seconds": sum(result["seconds"]),
            "orders": result["orders"]}


def peer_score(series, season: int, horizon: int, cuts: list[int], forecasts) -> float:
    """MASE by trainwright's own definition (scale from each window's training steps)."""
    from trainwright.evaluate.backtest import Record, mase_scale, score

    records = [Record(cut, None, np.asarray(f)[: len(series.between(cut, cut + horizon))],
                      series.between(cut, cut + horizon), mase_scale(series.before(cut).values, season))
               for cut, f in zip(cuts, forecasts)]
    return score(records, horizon)["mase"]


def bench_one(name: str) -> dict:
    """Every system's backtest MASE on one series (and wall seconds)."""
    recursive, direct = run_trainwright(name, "recursive"), run_trainwright(name, "direct")
    series, season, horizon, cuts = windows(name)
    assert horizon == recursive["horizon"] and season == recursive["season"]
    bt = recursive["metrics"]["backtest"]
    row = {"steps": len(series.values), "season": season, "horizon": horizon, "windows": len(cuts),
           "kept": recursive["kept"], "wall": {"trainwright auto": recursive["wall"]},
           "coverage": recursive["metrics"]["coverage"]["coverage"],
           "mase": {"seasonal naive": bt["seasonal_naive"]["mase"], "trainwright ets": bt["ets"]["mase"],
                    "trainwright gbdt (recursive)": bt["gbdt"].get("mase"),
                    "trainwright gbdt (direct)": direct["metrics"]["backtest"]["gbdt"].get("mase"),
                    "trainwright combined": bt["combined"].get("mase"),
                    "trainwright auto": bt[recursive["kept"]]["mase"]}}
    hw = holt_winters(series, season, horizon, cuts)
    row["mase"]["statsmodels Holt-Winters"] = peer_score(series, season, horizon, cuts, hw["forecasts"])
    row["wall"]["statsmodels Holt-Winters"] = hw["seconds"]
    arima = auto_arima(series, season, horizon, cuts)
    row["mase"]["pmdarima auto-ARIMA"] = None if arima is None else peer_score(series, season, horizon, cuts,
                                                                               arima["forecasts"])
    if arima is not None:
        row["wall"]["pmdarima auto-ARIMA"] = arima["seconds"]
    return row


def add_gru(names: list[str]) -> None:
    """The ``gru`` forecaster's backtest MASE (``forecast.model=gru``: the same windows) added to the results."""
    result = json.loads(RESULTS.read_text())
    for name in names:
        run = run_trainwright(name, "recursive", "gru")
        row = result["series"][name]
        row["mase"]["trainwright gru"] = run["metrics"]["backtest"]["gru"].get("mase")
        row["wall"]["trainwright gru"] = run["wall"]
        print(name, "gru", row["mase"]["trainwright gru"], round(run["wall"], 1), flush=True)
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    result["gru"] = {"commit": commit.stdout.strip(), "date": dt.date.today().isoformat()}
    RESULTS.write_text(json.dumps(result, indent=2))
    RESULTS.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))


def markdown(result: dict) -> str:
    """The table: MASE per series and system, the best marked, and the ratios of trainwright auto to the peers."""
    rows = result["series"]
    lines = [f"Backtest MASE (lower is better; 1 = the in-sample seasonal naive error), the same rolling-origin "
             f"windows for every system. trainwright {result['commit']}, {result['date']}, {result['machine']}.", "",
             "| series | steps | m | h | windows | " + " | ".join(SYSTEMS) + " | auto kept | auto / best peer |",
             "|---|---:|---:|---:|---:|" + "---:|" * len(SYSTEMS) + "---|---:|"]
    peers = ("seasonal naive", "statsmodels Holt-Winters", "pmdarima auto-ARIMA")
    for name, r in rows.items():
        values = [r["mase"].get(s) for s in SYSTEMS]
        best = min(v for v in values if v is not None)
        cells = ["–" if v is None else (f"**{v:.3f}**" if v == best else f"{v:.3f}") for v in values]
        best_peer = min(r["mase"][p] for p in peers if r["mase"].get(p) is not None)
        lines.append(f"| {name} | {r['steps']} | {r['season']} | {r['horizon']} | {r['windows']} | "
                     + " | ".join(cells) + f" | {r['kept']} | {r['mase']['trainwright auto'] / best_peer:.2f} |")
    means = {s: np.mean([r["mase"][s] for r in rows.values() if r["mase"].get(s) is not None]) for s in SYSTEMS}
    lines.append("| mean (over the series each ran) | | | | | " + " | ".join(f"{means[s]:.3f}" for s in SYSTEMS)
                 + " | | |")
    wins = {s: sum(r["mase"].get(s) is not None and r["mase"][s] <= min(
        r["mase"][p] for p in peers if r["mase"].get(p) is not None) for r in rows.values()) for s in SYSTEMS[3:]}
    lines += ["", "Series where each trainwright forecaster is at or below every peer: "
              + ", ".join(f"{s} {n}/{len(rows)}" for s, n in wins.items()) + ".",
              "Recursive gbdt below direct gbdt on " + str(sum(
                  r["mase"]["trainwright gbdt (recursive)"] < r["mase"]["trainwright gbdt (direct)"]
                  for r in rows.values())) + f"/{len(rows)} series.", "",
              "| series | trainwright auto wall s | Holt-Winters s | auto-ARIMA s | 90% interval coverage (auto) |",
              "|---|---:|---:|---:|---:|"]
    for name, r in rows.items():
        w = r["wall"]
        arima = w.get("pmdarima auto-ARIMA")
        lines.append(f"| {name} | {w['trainwright auto']:.1f} | {w['statsmodels Holt-Winters']:.1f} | "
                     f"{'–' if arima is None else f'{arima:.1f}'} | {r['coverage']:.1%} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", default=",".join(SERIES), help="comma-separated names")
    parser.add_argument("--markdown-only", action="store_true")
    parser.add_argument("--add-gru", action="store_true", help="add the gru forecaster's row to the results (runs "
                                                               "trainwright with forecast.model=gru only)")
    args = parser.parse_args()
    if args.add_gru:
        add_gru(args.series.split(","))
        return
    if args.markdown_only:
        result = json.loads(RESULTS.read_text())
        RESULTS.with_suffix(".md").write_text(markdown(result))
        print(markdown(result))
        return
    write_series()
    os.environ.setdefault("TRAINWRIGHT_CACHE", str(DATA / "cache"))
    rows = {}
    for name in args.series.split(","):
        rows[name] = bench_one(name)
        print(name, {k: None if v is None else round(v, 3) for k, v in rows[name]["mase"].items()}, flush=True)
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    result = {"commit": commit.stdout.strip(), "date": dt.date.today().isoformat(),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores", "series": rows}
    RESULTS.write_text(json.dumps(result, indent=2))
    RESULTS.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
