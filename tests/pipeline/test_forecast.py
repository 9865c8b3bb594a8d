"""Forecasting end to end, from the CLI and from Python, on real series: train, the run's files, the report,
predict from history; and every bad input refused before a run directory is written."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

import trainwright
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def sunspots_run(series_dir, tmp_path_factory):
    """The CLI on yearly sunspots, as the README shows it."""
    cwd = tmp_path_factory.mktemp("forecast-cli")
    proc = run_cli("train", series_dir / "sunspots.csv", "--target", "SUNACTIVITY", "--task", "forecast",
                   "--set", "split.time_column=YEAR", "--set", "forecast.horizon=10", "--out", "sun", cwd=cwd,
                   check=True)
    return cwd, cwd / "sun", proc


def test_the_cli_trains_backtests_and_says_what_it_kept(sunspots_run):
    _, run, proc = sunspots_run
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "completed" and info["task"] == "forecast" and info["horizon"] == 10
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["backtest"]) == {"seasonal_naive", "ets", "gbdt", "combined"}
    kept = min((m["mase"], n) for n, m in metrics["backtest"].items())[1]
    assert info["model"] == kept and f"{kept} (kept)" in proc.stdout
    assert metrics["backtest"][kept]["mase"] < metrics["backtest"]["seasonal_naive"]["mase"]
    assert 0 < metrics["coverage"]["scored"] and 0 <= metrics["coverage"]["coverage"] <= 1
    forecast = pd.read_csv(run / "forecast.csv")
    assert forecast["time"].tolist() == list(range(2009, 2019)) and forecast["step"].tolist() == list(range(1, 11))
    assert (forecast["lower"] <= forecast["prediction"]).all() and (forecast["prediction"] <= forecast["upper"]).all()
    decisions = {d["what"]: d for d in json.loads((run / "decisions.json").read_text())}
    assert decisions["forecast.season"]["value"] == 1 and decisions["forecast.model"]["value"] == kept
    resolved = yaml.safe_load((run / "recipe.resolved.yaml").read_text())
    assert resolved["task"] == "forecast"
    assert {k: resolved["forecast"][k] for k in ("model", "horizon", "season")} == {"model": kept, "horizon": 10,
                                                                                    "season": 1}
    assert resolved["forecast"]["backtest"]["stride"] == 5


def test_predict_from_the_cli_forecasts_after_the_history_it_is_given(sunspots_run, series_dir):
    cwd, run, _ = sunspots_run
    full = run_cli("predict", run, series_dir / "sunspots.csv", "-o", "again.csv", cwd=cwd, check=True)
    assert "10 predictions written" in full.stderr
    assert pd.read_csv(cwd / "again.csv").equals(pd.read_csv(run / "forecast.csv"))
    pd.read_csv(series_dir / "sunspots.csv").head(200).to_csv(cwd / "older.csv", index=False)
    older = run_cli("predict", run, "older.csv", cwd=cwd, check=True)
    assert pd.read_csv(pd.io.common.StringIO(older.stdout))["time"].tolist() == list(range(1900, 1910))


def test_the_report_shows_the_backtest_and_the_forecast(sunspots_run):
    html = (sunspots_run[1] / "report.html").read_text()
    assert 'id="backtest-table"' in html and 'id="forecast-table"' in html and html.count("<svg") >= 2
    assert "seasonal_naive" in html and "(kept)" in html
    assert "Beats the baselines." in html  # the kept forecaster's MASE is below seasonal naive's and ets's


@pytest.mark.parametrize("kept, mase, coverage, says", [
    ("gbdt", 0.5, 0.88, ["Beats the baselines."]),
    ("gbdt", 50.0, 0.88, ["Does not beat the baselines."]),
    ("ets", None, 0.88, ["A baseline won."]),
    ("gbdt", 0.5, 0.5, ["Intervals too narrow.", "only 50.0%"]),
])
def test_the_report_says_whether_the_forecast_beats_the_baselines_and_whether_its_intervals_cover(
        sunspots_run, kept, mase, coverage, says):
    from trainwright.report.render import render_report

    ev = json.loads((sunspots_run[1] / "evaluation.json").read_text())
    ev["model"] = kept
    if mase is not None:
        ev["backtest"]["models"][kept]["mase"] = mase
    ev["backtest"]["beats_naive"] = ev["backtest"]["models"][kept]["mase"] < ev["backtest"]["models"][
        "seasonal_naive"]["mase"]
    ev["coverage"]["coverage"] = coverage
    html = render_report(ev)
    assert all(s in html for s in says)
    assert ("Intervals too narrow." in html) == (coverage < 0.8)


def test_many_series_from_python(series_dir, tmp_path):
    run = trainwright.train(series_dir / "macro.csv", target="value", task="forecast", out=tmp_path / "macro",
                            overrides=["split.time_column=quarter_start", "forecast.series_column=series",
                                       "forecast.backtest.windows=3", "forecast.model=combined"])
    assert run.info["series"] == 4 and run.info["horizon"] == 4 and run.info["season"] == 4
    assert run.info["model"] == "combined"  # named: kept, with the baselines still backtested beside it
    assert set(run.metrics["backtest"]) == {"seasonal_naive", "ets", "gbdt", "combined"}
    out = run.predict(pd.read_csv(series_dir / "macro.csv"))
    assert out.groupby("series").size().to_dict() == {"realcons": 4, "realgdp": 4, "realgovt": 4, "realinv": 4}
    assert out["time"].iloc[0] == "2009-10-01"
    assert trainwright.load(run.path).predict(pd.read_csv(series_dir / "macro.csv")).equals(out)  # loaded: the same
    with pytest.raises(trainwright.DataError, match="scored by its backtests"):
        run.evaluate(pd.read_csv(series_dir / "macro.csv"))


def test_the_gru_forecaster_is_backtested_when_asked_for(series_dir, tmp_path):
    run = trainwright.train(series_dir / "macro.csv", target="value", task="forecast", out=tmp_path / "gru",
                            overrides=["split.time_column=quarter_start", "forecast.series_column=series",
                                       "forecast.backtest.windows=1", "forecast.model=gru"])
    assert run.info["model"] == "gru" and set(run.metrics["backtest"]) == {"seasonal_naive", "ets", "gbdt",
                                                                           "combined", "gru"}
    out = run.predict(pd.read_csv(series_dir / "macro.csv"))
    assert trainwright.load(run.path).predict(pd.read_csv(series_dir / "macro.csv")).equals(out)


@pytest.mark.parametrize("args, words", [
    (["--task", "forecast"], ["task=forecast needs split.time_column"]),
    (["--task", "forecast", "--set", "split.time_column=YAER"], ["'YAER' not found", "Did you mean 'YEAR'"]),
    (["--task", "forecast", "--set", "split.time_column=YEAR", "--set", "forecast.horizon=200"],
     ["forecast.horizon=200", "needs at least"]),
    (["--task", "forecast", "--set", "split.time_column=YEAR", "--set", "forecast.model=prophet"],
     ["forecast.model"]),
    (["--task", "forecast", "--set", "split.time_column=YEAR", "--set", "forecast.horizon=0"],
     ["forecast.horizon", "greater than or equal to 1"]),
    (["--task", "forecast", "--set", "split.time_column=YEAR", "--set", "forecast.series_column=region"],
     ["forecast.series_column names column 'region' not found"]),
])
def test_bad_forecast_settings_exit_2_before_any_run_is_written(series_dir, tmp_path, args, words):
    proc = run_cli("train", series_dir / "sunspots.csv", "--target", "SUNACTIVITY", *args, "--out", "r",
                   "--set", "evaluate.report=false", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert all(w in proc.stderr for w in words), proc.stderr
    assert '{"' not in proc.stderr  # the message, not the whole recipe echoed back
    assert not (tmp_path / "r").exists()


def test_predict_with_history_that_lacks_the_value_column_exits_2(sunspots_run):
    cwd, run, _ = sunspots_run
    pd.DataFrame({"YEAR": [2000, 2001]}).to_csv(cwd / "no_values.csv", index=False)
    proc = run_cli("predict", run, "no_values.csv", cwd=cwd)
    assert proc.returncode == 2 and "'SUNACTIVITY' not found" in proc.stderr, proc.stderr


def test_tune_and_evaluate_say_what_a_forecast_uses_instead(sunspots_run, series_dir):
    cwd, run, _ = sunspots_run
    tune = run_cli("tune", series_dir / "sunspots.csv", "--target", "SUNACTIVITY", "--task", "forecast",
                   "--set", "split.time_column=YEAR", cwd=cwd)
    assert tune.returncode == 2 and "backtests every forecaster" in tune.stderr
    evaluate = run_cli("evaluate", run, series_dir / "sunspots.csv", cwd=cwd)
    assert evaluate.returncode == 2 and "scored by its backtests" in evaluate.stderr
    compare = run_cli("compare", run, run, "-o", "c.html", cwd=cwd)
    assert compare.returncode == 2 and "is a forecast" in compare.stderr
    recompute = run_cli("report", run, "--recompute", cwd=cwd)
    assert recompute.returncode == 2 and "no --recompute" in recompute.stderr
    rebuilt = run_cli("report", run, "-o", "again.html", cwd=cwd, check=True)
    assert (cwd / "again.html").read_text().count('id="backtest-table"') == 1, rebuilt.stdout
    listed = run_cli("runs", "--dir", ".", cwd=cwd, check=True)
    assert "backtest_mase" in listed.stdout


def test_without_statsmodels_the_run_stops_before_any_work_naming_the_install(series_dir, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "statsmodels.tsa.holtwinters", None)  # as if it were not installed
    with pytest.raises(trainwright.ConfigError, match=r"pip install 'trainwright\[series\]'"):
        trainwright.train(series_dir / "sunspots.csv", target="SUNACTIVITY", task="forecast", out=tmp_path / "r",
                          overrides=["split.time_column=YEAR"])
    assert not (tmp_path / "r").exists()


def test_a_forecaster_cut_short_by_the_budget_is_compared_on_the_windows_all_finished():
    """gbdt finished only the latest window (where it is best); over all windows seasonal naive is ahead, but the
    choice is made on the window both finished, and says so."""
    import numpy as np

    from trainwright.evaluate.backtest import Record, score
    from trainwright.pipeline.forecast import _choose

    def result(errors):
        records = [Record(c, None, np.array([e]), np.array([0.0]), 1.0) for c, e in errors.items()]
        return {"status": "scored", "records": records, **score(records, 1)}

    results = {"seasonal_naive": result({10: 0.1, 20: 0.1, 30: 2.0}), "gbdt": result({30: 1.0}),
               "ets": {"status": "not scored", "reason": "the time budget ran out before its first window"}}
    chosen, why = _choose("auto", results, 1)
    assert chosen == "gbdt" and "on the 1 most recent windows every forecaster finished" in why
    with pytest.raises(trainwright.DataError, match="forecast.model=ets could not be backtested"):
        _choose("ets", results, 1)


def test_a_constant_series_is_refused_before_any_work(tmp_path):
    pd.DataFrame({"month": pd.date_range("2000-01-01", periods=60, freq="MS").date, "v": 5.0}).to_csv(
        tmp_path / "flat.csv", index=False)
    proc = run_cli("train", "flat.csv", "--target", "v", "--task", "forecast", "--set", "split.time_column=month",
                   "--out", "r", cwd=tmp_path)
    assert proc.returncode == 2 and "every value of the series is the same (5)" in proc.stderr
    assert not (tmp_path / "r").exists()


def test_a_window_too_short_for_gbdt_is_skipped_not_the_whole_backtest(series_dir):
    """The first windows of a 40-year series leave gbdt under 20 rows to learn from: those windows are skipped,
    the later ones scored."""
    from trainwright.data.series import read_series
    from trainwright.evaluate.backtest import backtest, cutoffs
    from trainwright.models.series import BoostedForecaster

    panel = read_series(pd.read_csv(series_dir / "sunspots.csv").head(40), time="YEAR", target="SUNACTIVITY")
    cuts = cutoffs(panel.end, 4, 8, 2, 20)
    records = backtest(lambda: BoostedForecaster(horizon=4), list(panel.series), horizon=4, season=1, cuts=cuts)
    assert 0 < len(records) < len(cuts) and records[-1].cutoff == cuts[-1]
