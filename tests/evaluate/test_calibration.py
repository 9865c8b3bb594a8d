"""Probability calibration (evaluate/calibration.py) and ``evaluate.calibrate`` end to end."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from trainwright.evaluate.calibration import Calibrator, choose_calibrator
from trainwright.evaluate.metrics import classification_metrics


def overconfident(n: int, seed: int, classes: int = 2):
    """Probabilities sharpened by a temperature of 1/2.5 from the true ones, and labels drawn from the true ones."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, classes)) * 1.5
    true = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = (rng.uniform(size=(n, 1)) > true.cumsum(axis=1)).sum(axis=1)
    sharp = np.exp(2.5 * logits)
    return sharp / sharp.sum(axis=1, keepdims=True), y


@pytest.mark.parametrize("classes", [2, 4])
@pytest.mark.parametrize("method", ["temperature", "platt", "isotonic"])
def test_each_method_fixes_overconfidence_on_new_rows(method, classes):
    fit_p, fit_y = overconfident(3000, 0, classes)
    new_p, new_y = overconfident(3000, 1, classes)
    cal = Calibrator.fit(method, fit_p, fit_y)
    before = classification_metrics(new_y, new_p, classes)
    after = classification_metrics(new_y, cal.transform(new_p), classes)
    assert after["ece"] < 0.5 * before["ece"] and after["log_loss"] < before["log_loss"]
    assert np.allclose(cal.transform(new_p).sum(axis=1), 1.0)
    again = Calibrator.from_dict(json.loads(json.dumps(cal.to_dict())))  # saved as JSON, read back
    assert np.array_equal(again.transform(new_p), cal.transform(new_p))


def test_temperature_keeps_the_predicted_class():
    p, y = overconfident(500, 2, 3)
    cal = Calibrator.fit("temperature", p, y)
    assert np.array_equal(cal.transform(p).argmax(axis=1), p.argmax(axis=1))


def test_auto_calibrates_overconfident_probabilities_and_leaves_calibrated_ones():
    p, y = overconfident(2000, 3)
    chosen, measured = choose_calibrator("auto", p, y)
    losses = measured["cv_log_loss"]
    assert chosen is not None and losses[chosen.method] < 0.99 * losses["none"] and "isotonic" in losses
    rng = np.random.default_rng(4)
    q = rng.uniform(0.02, 0.98, 2000)
    honest = np.column_stack([1 - q, q])
    chosen, measured = choose_calibrator("auto", honest, (rng.uniform(size=2000) < q).astype(int))
    assert chosen is None  # calibrated already: nothing beats none by 1%
    small_p, small_y = overconfident(300, 5)
    assert "isotonic" not in choose_calibrator("auto", small_p, small_y)[1]["cv_log_loss"]  # needs 1,000 rows


def test_no_calibrator_without_every_class_and_isotonic_never_says_certain():
    """Found by a hostile review: isotonic fitted on validation rows of one class predicted that class for every
    row (test accuracy 0.98 -> 0.51); on 69 rows it set probabilities to exactly 0 for true classes."""
    p, y = overconfident(200, 6)
    for method in ("temperature", "platt", "isotonic", "auto"):
        chosen, measured = choose_calibrator(method, p, np.ones_like(y))
        assert chosen is None and "every class" in measured["why"]
    cal = Calibrator.fit("isotonic", p[:69], y[:69])
    out = cal.transform(p)
    assert out.min() > 0 and out.max() < 1


def test_calibration_end_to_end_is_saved_used_and_reported(data_dir, tmp_path):
    import trainwright

    run = trainwright.train(data_dir / "breast_cancer.csv", target="target", out=tmp_path / "run",
                            overrides=["model.type=mlp", "evaluate.calibrate=temperature", "evaluate.bootstrap=50",
                                       "evaluate.explain.rows=10", "train.epochs=30"])
    saved = json.loads((run.path / "calibration.json").read_text())
    assert saved["method"] == "temperature" and saved["params"]["temperature"] > 0
    metrics = run.metrics
    cal = metrics["calibration"]
    assert cal["method"] == "temperature" and cal["validation_rows"] == run.info["splits"]["validation"]
    assert metrics["test"]["log_loss"] == pytest.approx(cal["test"]["log_loss_after"])
    assert cal["validation"]["log_loss_after"] <= cal["validation"]["log_loss_before"] + 1e-9
    decisions = json.loads((run.path / "decisions.json").read_text())
    assert any(d["what"] == "evaluate.calibrate" and d["value"] == "temperature" for d in decisions)
    rows = pd.read_csv(data_dir / "breast_cancer.csv")
    test = rows.iloc[json.loads((run.path / "splits.json").read_text())["test"]]
    loaded = trainwright.load(run.path)
    assert loaded.predictor.calibrator is not None
    assert loaded.evaluate(test)["log_loss"] == pytest.approx(metrics["test"]["log_loss"], abs=1e-9)
    page = (run.path / "report.html").read_text()
    assert 'id="calibration"' in page and "Before calibration" in page


def test_a_damaged_calibrator_is_refused(auto_run, tmp_path):
    import shutil

    import trainwright
    from trainwright.errors import ArtifactError

    copy = tmp_path / "run"
    shutil.copytree(auto_run.path, copy)
    (copy / "calibration.json").write_text(json.dumps({"method": "magic", "params": {}}))
    with pytest.raises(ArtifactError, match="calibration.json is damaged"):
        trainwright.load(copy).predictor
