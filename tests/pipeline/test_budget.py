"""The time budget: each stage's deadline, and what a stage does when its deadline has passed (it cuts its
work and says what it cut). Wall times against budgets are measured in bench/budget.py, not asserted here."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from trainwright.data.quality import audit
from trainwright.pipeline.budget import REPORT_FLOOR, Budget


def test_deadlines_share_the_budget():
    now = time.monotonic()
    b = Budget(started=now, seconds=40.0, report=True)
    assert b.end == now + 40 and b.fit_end() == now + 30  # a quarter kept for evaluation and the report
    assert now < b.audit_deadline() <= now + 6.0 + 0.1
    assert b.fit_share(1, 4) - time.monotonic() == pytest.approx((b.fit_end() - time.monotonic()) / 4, abs=0.01)
    assert Budget(started=now, seconds=4.0).fit_end() == now + 4.0 - REPORT_FLOOR
    assert Budget(started=now, seconds=40.0, report=False).fit_end() == now + 38.0
    none = Budget(started=now, seconds=None)
    assert none.audit_deadline() is none.fit_end() is none.report_deadline() is none.fit_share(1, 2) is None


def test_an_audit_past_its_deadline_skips_its_checks_and_says_so():
    frame = pd.DataFrame({"x": np.arange(60.0), "y": ["a", "b"] * 30})
    report = audit(frame, target="y", deadline=time.monotonic() - 1)
    assert report.findings == () and len(report.skipped) >= 10
    assert all("time budget" in s for s in report.skipped)


def test_a_report_past_its_deadline_leaves_explanations_out_and_says_so(tmp_path, penguins_csv):
    import trainwright
    from trainwright.report.evaluation import build_evaluation

    run = trainwright.train(penguins_csv, target="species", out=tmp_path / "r", overrides=["evaluate.report=false"])
    frame = pd.read_csv(penguins_csv).dropna(subset=["species"])
    parts = {p: (frame.iloc[:60], frame["species"].to_numpy()[:60]) for p in ("train", "validation", "test")}
    recipe = trainwright.Recipe(target="species")
    ev = build_evaluation(run.path, run.info, run.predictor, parts, recipe.evaluate, deadline=time.monotonic())
    assert "explanations (no time left in the budget)" in ev["left_out"]
    assert any(w["title"] == "Cut to fit the time budget" for w in ev["warnings"])
    assert ev["cost"]["latency_row_ms"] is None and ev["performance"]["test"]["accuracy"] > 0.5
