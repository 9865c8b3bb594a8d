"""The leakage check compares: a column is a leak when it alone knows far more than all the other columns
together (or copies the target), so planted leaks are found and strong genuine features are not flagged."""

from __future__ import annotations

import numpy as np
import pandas as pd
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


def test_a_strong_monotone_feature_of_a_price_is_not_a_leak():
    # diamonds' shape: price grows with carat (|Spearman| 0.96), x/y/z measure the same stone, and cut, colour and
    # clarity move the price too. A model needs carat; the audit must not drop it (it did at near_copy 0.95).
    rng = np.random.default_rng(0)
    n = 3000
    carat = rng.lognormal(-0.4, 0.45, n)
    clarity = rng.integers(0, 8, n)
    price = 4000 * carat ** 1.7 * (1 + 0.08 * clarity) * rng.lognormal(0, 0.18, n)
    size = carat ** (1 / 3) * 6.4
    frame = pd.DataFrame({"carat": carat, "x": size + rng.normal(0, 0.05, n), "y": size + rng.normal(0, 0.05, n),
                          "clarity": clarity.astype(str), "depth": rng.normal(61.7, 1.4, n), "price": price})
    assert 0.93 < frame["carat"].corr(frame["price"], method="spearman") < 0.99
    assert leaks(frame, "price") == {}


def test_the_comparison_names_what_the_others_reach():
    frame, target = TABLES["fair"]
    finding = leaks(plant(frame, target, "coded-14"), target)["leak"]
    assert finding.details["score"] - finding.details["rest"] >= AuditConfig().leakage_margin
    assert finding.details["score"] - finding.details["shuffled"] >= AuditConfig().leakage_margin
    assert 0.5 < finding.details["rest"] < 0.8 and np.isfinite(finding.details["score"])
