"""End to end: every train writes evaluation.json and report.html; the numbers agree with scikit-learn and
fairlearn recomputed from the run's own test rows; each section has real content; report and compare CLIs."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from tests.conftest import run_cli


def read_test_rows(run):
    """The run's test rows, read back from its data file with the row numbers in splits.json."""
    frame = pd.read_csv(run.info["data"])
    ids = json.loads((run.path / "splits.json").read_text())["test"]
    return frame.loc[ids]


def evaluation(run) -> dict:
    return json.loads((run.path / "evaluation.json").read_text())


def html(run) -> str:
    return (run.path / "report.html").read_text()


SECTIONS = ("1. Summary", "2. Data", "3. Training", "4. Performance", "5. Error analysis", "6. Explanations",
            "7. Fairness", "8. Cost")


@pytest.mark.parametrize("name", ["multiclass_run", "binary_run", "regression_run"])
def test_every_section_has_content(name, request):
    run = request.getfixturevalue(name)
    page = html(run)
    for title in SECTIONS[1:]:
        assert f">{title}<" in page, title
    assert page.count("<svg") >= 8
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org", "")
    assert "https://" not in page
    ev = evaluation(run)
    assert ev["errors"]["largest_losses"] and ev["explanations"]["permutation"]["columns"]
    assert ev["explanations"]["partial_dependence"]
    assert ev["cost"]["parameters"] > 0 and ev["cost"]["model_bytes"] > 0 and ev["cost"]["latency_row_ms"] > 0
    assert ev["cost"]["peak_rss_mb"] > 50
    assert ev["fairness"]["columns"]
    assert (run.path / "report.html").stat().st_size < 5_000_000


def test_multiclass_metrics_match_sklearn(multiclass_run):
    run = multiclass_run
    rows = read_test_rows(run)
    pred = run.predict(rows)
    y = rows["species"].to_numpy()
    proba = pred[[f"proba_{c}" for c in run.info["classes"]]].to_numpy()
    test = evaluation(run)["performance"]["test"]
    assert test["accuracy"] == pytest.approx(skm.accuracy_score(y, pred["prediction"]))
    assert test["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred["prediction"]))
    assert test["f1_weighted"] == pytest.approx(skm.f1_score(y, pred["prediction"], average="weighted"))
    assert test["mcc"] == pytest.approx(skm.matthews_corrcoef(y, pred["prediction"]))
    assert test["log_loss"] == pytest.approx(skm.log_loss(y, proba, labels=run.info["classes"]), rel=1e-6)
    assert test["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba, multi_class="ovr", labels=run.info["classes"]))
    assert run.metrics["test"]["accuracy"] == test["accuracy"]
    cm = evaluation(run)["performance"]["confusion"]["counts"]
    assert cm == skm.confusion_matrix(y, pred["prediction"], labels=run.info["classes"]).tolist()
    page = html(run)
    assert "SHAP" in page and "Confusion matrix" in page and "Reliability" in page and "Partial dependence" in page


def test_binary_threshold_is_chosen_on_validation_and_used(binary_run):
    run = binary_run
    chosen = run.info["threshold"]
    assert chosen["method"] == "f1" and 0 < chosen["threshold"] < 1
    rows = read_test_rows(run)
    pred = run.predict(rows)
    positive = run.info["classes"][1]
    expected = np.where(pred[f"proba_{positive}"] >= chosen["threshold"], positive, run.info["classes"][0])
    assert (pred["prediction"].to_numpy() == expected).all()
    test = evaluation(run)["performance"]["test"]
    y = rows["had_affair"].to_numpy()
    assert test["f1"] == pytest.approx(skm.f1_score(y, pred["prediction"], average="macro"))
    assert test["brier"] == pytest.approx(skm.brier_score_loss(y == positive, pred[f"proba_{positive}"]))
    assert test["pr_auc"] == pytest.approx(skm.average_precision_score(y == positive, pred[f"proba_{positive}"]))
    decisions = json.loads((run.path / "decisions.json").read_text())
    assert any(d["what"] == "evaluate.threshold" for d in decisions)


def test_binary_fairness_matches_fairlearn(binary_run):
    from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference

    run = binary_run
    rows = read_test_rows(run)
    pred = run.predict(rows)
    positive = run.info["classes"][1]
    y, p = (rows["had_affair"] == positive).to_numpy(), (pred["prediction"] == positive).to_numpy()
    col = next(c for c in evaluation(run)["fairness"]["columns"] if c["column"] == "religious")
    groups = rows["religious"].astype(str).str.replace(r"\.0$", "", regex=True).to_numpy()
    assert col["differences"]["demographic_parity_difference"] == pytest.approx(
        demographic_parity_difference(y, p, sensitive_features=groups))
    assert col["differences"]["equalized_odds_difference"] == pytest.approx(
        equalized_odds_difference(y, p, sensitive_features=groups))
    age = next(c for c in evaluation(run)["fairness"]["columns"] if c["column"] == "age")
    assert sum(g["n"] for g in age["groups"]) == len(rows)
    assert "religious" in html(run) and "demographic parity difference" in html(run)


def test_regression_metrics_and_sections(regression_run):
    run = regression_run
    rows = read_test_rows(run)
    pred = run.predict(rows)["prediction"].to_numpy()
    y = rows["target"].to_numpy()
    ev = evaluation(run)
    test = ev["performance"]["test"]
    assert test["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y, pred)), rel=1e-6)
    assert test["mae"] == pytest.approx(skm.mean_absolute_error(y, pred), rel=1e-6)
    assert test["r2"] == pytest.approx(skm.r2_score(y, pred), rel=1e-6)
    assert test["mape"] == pytest.approx(skm.mean_absolute_percentage_error(y, pred), rel=1e-6)
    ci = ev["performance"]["intervals"]["rmse"]
    assert ci["low"] <= test["rmse"] <= ci["high"]
    assert ev["explanations"]["integrated_gradients"]["columns"]
    page = html(run)
    assert "Integrated gradients" in page and "Residuals" in page and "Learning rate" in page


def test_report_cli_rebuilds_and_recomputes(multiclass_run, tmp_path):
    run = multiclass_run
    before = evaluation(run)
    out = tmp_path / "again.html"
    proc = run_cli("report", run.path, "-o", out, cwd=tmp_path, check=True)
    assert out.stat().st_size > 10_000 and "wrote" in proc.stderr
    assert run_cli("report", run.path, "-o", out, cwd=tmp_path).returncode == 2  # never replaced without --force
    run_cli("report", run.path, "--recompute", cwd=tmp_path, check=True)
    after = evaluation(run)
    assert after["performance"]["test"] == before["performance"]["test"]
    assert after["explanations"]["permutation"] == before["explanations"]["permutation"]


def test_report_cli_errors(tmp_path, multiclass_run):
    proc = run_cli("report", tmp_path, cwd=tmp_path)
    assert proc.returncode == 2 and "not a trainwright run directory" in proc.stderr
    proc = run_cli("compare", multiclass_run.path, cwd=tmp_path)
    assert proc.returncode == 2 and "two or more" in proc.stderr


def test_compare_cli(multiclass_run, regression_run, tmp_path, penguins_csv):
    other = tmp_path / "mlp"
    run_cli("train", penguins_csv, "--target", "species", "--out", other, "--set", "model.type=linear",
            "--set", "evaluate.bootstrap=50", cwd=tmp_path, check=True)
    proc = run_cli("compare", multiclass_run.path, other, "-o", tmp_path / "c.html", cwd=tmp_path, check=True)
    page = (tmp_path / "c.html").read_text()
    assert "Radar" in page and "specificity" in page and "lightgbm" in page and "linear" in page
    assert "same test rows" in page  # same file, same seed, same split
    proc = run_cli("compare", multiclass_run.path, regression_run.path, "-o", tmp_path / "d.html", cwd=tmp_path)
    assert proc.returncode == 2 and "one task" in proc.stderr and not (tmp_path / "d.html").exists()


def test_bad_sensitive_column_fails_before_any_run(tmp_path, penguins_csv):
    proc = run_cli("train", penguins_csv, "--target", "species", "--out", tmp_path / "r", "--set",
                   "evaluate.sensitive=[gender]", cwd=tmp_path)
    assert proc.returncode == 2 and "evaluate.sensitive" in proc.stderr and "gender" in proc.stderr
    assert not (tmp_path / "r").exists()


def test_report_can_be_turned_off(tmp_path, penguins_csv):
    import trainwright

    run = trainwright.train(penguins_csv, target="species", out=tmp_path / "r",
                            overrides=["model.type=linear", "evaluate.report=false"])
    assert not (run.path / "report.html").exists() and not (run.path / "evaluation.json").exists()
    proc = run_cli("report", run.path, cwd=tmp_path)
    assert proc.returncode == 2 and "--recompute" in proc.stderr
    run_cli("report", run.path, "--recompute", cwd=tmp_path, check=True)
    assert re.search(r">4\. Performance<", (run.path / "report.html").read_text())


def test_cross_validation_and_file_modes(tmp_path, penguins_csv):
    import os
    import stat

    import trainwright

    run = trainwright.train(penguins_csv, target="species", out=tmp_path / "cv",
                            overrides=["model.type=linear", "split.cv.method=stratified", "split.cv.n_splits=3",
                                       "evaluate.bootstrap=0"])
    page = html(run)
    assert "Cross-validation (stratified, 3 folds)" in page
    ev = evaluation(run)
    assert ev["cross_validation"]["accuracy"]["mean"] > 0.9 and ev["performance"]["intervals"] is None
    umask = os.umask(0)
    os.umask(umask)
    mode = stat.S_IMODE((run.path / "report.html").stat().st_mode)
    assert mode == 0o666 & ~umask  # shareable like any file the user writes, not mkstemp's 0600


def test_threshold_on_a_multiclass_target_fails_before_any_run(tmp_path, penguins_csv):
    proc = run_cli("train", penguins_csv, "--target", "species", "--out", tmp_path / "r", "--set",
                   "evaluate.threshold.choose=f1", cwd=tmp_path)
    assert proc.returncode == 2 and "evaluate.threshold.choose=f1 applies to binary" in proc.stderr
    assert "3 classes" in proc.stderr and not (tmp_path / "r").exists()


def test_an_evaluation_of_another_format_is_refused(multiclass_run, tmp_path):
    import shutil

    copy = tmp_path / "old"
    shutil.copytree(multiclass_run.path, copy)
    ev = json.loads((copy / "evaluation.json").read_text())
    ev["format_version"] = 99
    (copy / "evaluation.json").write_text(json.dumps(ev))
    proc = run_cli("report", copy, cwd=tmp_path)
    assert proc.returncode == 2 and "written in format 99" in proc.stderr and "--recompute" in proc.stderr
