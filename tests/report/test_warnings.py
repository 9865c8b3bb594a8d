"""The summary's plain-language warnings, and the review's regressions: runs with lag features get a report,
sensitive columns cannot be the target, accuracy's interval stays honest on a perfect test set."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.conftest import run_cli
from trainwright.report.evaluation import clopper_pearson, warnings
from trainwright.report.render import format_number


def ev(task="classification", **parts):
    base = {"task": task, "classes": ["no", "yes"], "metric": "log_loss", "threshold": None,
            "performance": {"n_test": 500, "test": {"accuracy": 0.8, "roc_auc": 0.8, "ece": 0.02},
                            "train": {"accuracy": 0.82}, "confusion": {"counts": [[200, 50], [50, 200]]},
                            "intervals": {}},
            "training": {"history": {}}, "data_section": {"audit": {"findings": []}, "decisions": []},
            "fairness": None, "split_method": "stratified"}
    for key, value in parts.items():
        base[key] = {**base[key], **value} if isinstance(base.get(key), dict) else value
    return base


def titles(e) -> list[str]:
    return [w["title"] for w in warnings(e)]


def test_a_healthy_run_has_no_warning():
    assert titles(ev()) == []


def test_one_class_and_chance():
    e = ev(performance={"n_test": 500, "test": {"accuracy": 0.9, "roc_auc": 0.49, "ece": 0.01}, "train": {},
                        "confusion": {"counts": [[450, 0], [50, 0]]}, "intervals": {}})
    assert {"One class only", "No better than chance"} <= set(titles(e))
    assert "'no' for every test row" in warnings(e)[0]["text"]


def test_regression_worse_than_the_mean():
    e = ev(task="regression", performance={"n_test": 500, "test": {"r2": -0.2}, "train": {"r2": -0.1}})
    assert titles(e) == ["No better than the mean"]


def test_unreached_threshold_target():
    e = ev(threshold={"method": "precision", "target": 0.99, "threshold": 0.2, "precision": 0.33, "recall": 0.1,
                      "reached": False})
    [w] = warnings(e)
    assert w["title"] == "Threshold target not reached" and "precision 0.99" in w["text"] and "0.330" in w["text"]


def test_overfitting_on_a_group_split_mentions_the_shift():
    e = ev(task="regression", performance={"n_test": 500, "test": {"r2": 0.2}, "train": {"r2": 0.9}},
           split_method="group")
    [w] = warnings(e)
    assert w["title"] == "Overfitting" and "groups the model never saw" in w["text"]


def test_a_dropped_leak_says_it_was_dropped():
    finding = {"check": "target_leakage", "severity": "error", "column": "carat", "message": "carat predicts price",
               "remedy": "drop it: set clean.drop_leaking=true"}
    e = ev(data_section={"audit": {"findings": [finding]},
                         "decisions": [{"what": "column 'carat' dropped", "value": "leak", "reason": "..."}]})
    [w] = warnings(e)
    assert "was dropped" in w["text"] and "clean.drop_leaking=false" in w["text"] and "=true" not in w["text"]


def test_no_calibration_verdict_on_a_handful_of_rows():
    e = ev(performance={"n_test": 12, "test": {"accuracy": 0.8, "roc_auc": 0.8, "ece": 0.3}, "train": {},
                        "confusion": {"counts": [[5, 1], [1, 5]]}, "intervals": {}})
    assert titles(e) == ["Small test set"]
    e["performance"]["n_test"] = 500
    assert titles(e) == ["Calibration"]


def test_exact_interval_matches_statsmodels():
    from statsmodels.stats.proportion import proportion_confint

    for k, n in ((34, 34), (0, 20), (17, 40)):
        low, high = clopper_pearson(k, n, 0.95)
        ref = proportion_confint(k, n, alpha=0.05, method="beta")
        assert low == pytest.approx(ref[0], abs=1e-9) and high == pytest.approx(ref[1], abs=1e-9)
    assert clopper_pearson(34, 34, 0.95)[0] < 0.92  # 34 of 34 right is not certainty


def test_large_numbers_read_plainly():
    assert format_number(3712.4, 3) == "3,712" and format_number(3712.4) == "3712" and format_number(0.12345) == "0.1235" and format_number(None) == "–"


def test_lag_features_get_a_report(tmp_path):
    rng = np.random.default_rng(0)
    n = 400
    days = pd.date_range("2024-01-01", periods=n, freq="D")
    temp = 15 + 8 * np.sin(np.arange(n) * 2 * np.pi / 365) + rng.normal(0, 2, n)
    pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "rain": rng.gamma(1, 2, n), "temp": temp}).to_csv(
        tmp_path / "weather.csv", index=False)
    out = tmp_path / "run"
    run_cli("train", tmp_path / "weather.csv", "--target", "temp", "--set", "split.method=time", "--set",
            "split.time_column=date", "--set", "features.lags={temp: [1, 7]}", "--set", "features.order_by=date",
            "--set", "evaluate.bootstrap=100", "--out", out, cwd=tmp_path, check=True)
    info = json.loads((out / "run.json").read_text())
    assert "report_error" not in info and (out / "report.html").is_file()
    assert json.loads((out / "evaluation.json").read_text())["cost"]["batch_rows"] == 1000


def test_target_cannot_be_a_sensitive_column(tmp_path, penguins_csv):
    proc = run_cli("train", penguins_csv, "--target", "species", "--out", tmp_path / "r", "--set",
                   "evaluate.sensitive=[species]", cwd=tmp_path)
    assert proc.returncode == 2 and "evaluate.sensitive names the target 'species'" in proc.stderr
    assert not (tmp_path / "r").exists()
