"""The leakage check compares: a column is a leak when it alone knows far more than all the other columns
together (or copies the target), so planted leaks are found and strong genuine features are not flagged."""

from __future__ import annotations

import numpy as np
import pytest

from tests.data.leaks import clean_tables, plant
from trainwright.data.quality import AuditConfig
from trainwright.data.quality import model_checks as mc
from trainwright.data.quality.leakage import check_target_leakage

TABLES = clean_tables()


def leaks(frame, target) -> dict:
    ctx = mc.Context.build(frame, target=target, task=None, config=AuditConfig(), splits=None, seed=42)
    return {f.column: f for f in check_target_leakage(ctx, AuditConfig())}


@pytest.mark.parametrize("name", ["iris", "wine", "breast_cancer", "diabetes", "penguins", "fair", "randhie"])
def test_no_false_alarm_on_clean_tables(name):
    assert leaks(*TABLES[name]) == {}


@pytest.mark.parametrize("name, kind, why", [
    ("fair", "copy-2", "a near-copy of the target"),
    ("fair", "copy-10", "holds the target's own labels"),
    ("fair", "coded-14", "far above what all the other columns reach together"),  # agrees ~93%: the case
    ("fair", "post-outcome-date", "better than all the other columns"),
    ("breast_cancer", "copy-5", ""),
    ("penguins", "copy-10", "holds the target's own labels"),
    ("diabetes", "monotone", ""),
])
def test_planted_leaks_are_found(name, kind, why):
    frame, target = TABLES[name]
    found = leaks(plant(frame, target, kind), target)
    assert list(found) == ["leak"] and found["leak"].severity == "error"
    assert why in found["leak"].message


def test_the_comparison_names_what_the_others_reach():
    frame, target = TABLES["fair"]
    finding = leaks(plant(frame, target, "coded-14"), target)["leak"]
    assert finding.details["score"] - finding.details["rest"] >= AuditConfig().leakage_margin
    assert finding.details["score"] - finding.details["shuffled"] >= AuditConfig().leakage_margin
    assert 0.5 < finding.details["rest"] < 0.8 and np.isfinite(finding.details["score"])
