"""The drift reference and tests (evaluate/drift.py): false alarms, power, and the statistics against scipy's."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from trainwright.evaluate.drift import compare, estimated_accuracy, profile

RNG = np.random.default_rng(0)
TRAIN = pd.DataFrame({"x": RNG.lognormal(size=5000), "c": RNG.choice(list("abcd"), 5000, p=[.4, .3, .2, .1]),
                      "k": RNG.integers(0, 3, 5000), "t": ["word " * int(n) for n in RNG.integers(1, 30, 5000)]})
KINDS = {"x": "numeric", "c": "categorical", "k": "numeric", "t": "text"}
REF = profile(TRAIN, KINDS)


def draw(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.lognormal(shift, size=n), "c": rng.choice(list("abcd"), n, p=[.4, .3, .2, .1]),
                         "k": rng.integers(0, 3, n), "t": ["word " * int(m) for m in rng.integers(1, 30, n)]})


def test_the_reference_is_small_and_holds_no_rows():
    text = json.dumps(REF)
    assert len(text) < 12_000  # four columns of 5,000 rows
    assert "word word" not in text  # text columns are kept as word-count statistics
    assert REF["columns"]["k"]["type"] == "categorical"  # 3 distinct numbers: compared as levels, not by KS


@pytest.mark.parametrize("n", [300, 5000])
def test_few_false_alarms_on_rows_from_the_same_distribution(n):
    """KS / chi-squared (small) and the distances (large) flag rows drawn like the training rows rarely."""
    alarms = {c: 0 for c in KINDS}
    for seed in range(40):
        result = compare(REF, draw(n, seed + 1))
        for c in KINDS:
            alarms[c] += result["columns"][c]["drift"]
    assert all(v <= 5 for v in alarms.values()), alarms  # at most 12.5% of 40 (the tests' level is 5%)


def test_a_shift_is_found_by_the_test_for_its_size():
    small = compare(REF, draw(300, 7, shift=0.3))["columns"]["x"]
    large = compare(REF, draw(5000, 7, shift=0.3))["columns"]["x"]
    assert small["test"] == "Kolmogorov-Smirnov" and small["drift"] and small["p_value"] < 0.05
    assert large["test"] == "Wasserstein (normed)" and large["drift"] and large["distance"] > 0.1
    assert large["psi"] > 0.05


def test_ks_against_the_sketch_agrees_with_scipy_on_the_rows():
    """The reference keeps 101 quantiles, not rows: its KS statistic is within 0.01 of scipy's two-sample one."""
    for shift in (0.0, 0.1, 0.3):
        new = draw(500, 3, shift)
        ours = compare(REF, new)["columns"]["x"]["statistic"]
        theirs = stats.ks_2samp(new["x"], TRAIN["x"]).statistic
        assert ours == pytest.approx(theirs, abs=0.01)


def test_categories_missing_values_and_unseen_values():
    new = draw(400, 5)
    new.loc[:199, "c"] = "e"  # half the rows a value never seen in training
    new.loc[:59, "x"] = np.nan  # 15% missing where training had none
    result = compare(REF, new.drop(columns="t"))
    c, x, t = result["columns"]["c"], result["columns"]["x"], result["columns"]["t"]
    assert c["drift"] and c["unseen"] == ["e"] and c["unseen_share"] == 0.5 and c["test"] == "chi-squared"
    assert x["missing_changed"] and x["drift"] and x["missing_rate"] == pytest.approx(0.15)
    assert t["missing_rate"] == 1.0 and t["drift"]  # an absent column is all missing
    assert set(result["summary"]["drifted"]) == {"c", "x", "t"} and result["summary"]["share"] == 0.75


def test_wasserstein_from_the_sketch_is_close_to_scipys_on_the_rows():
    """Normed by the reference's standard deviation, from 99 quantiles, as scipy's on all 10,000 rows."""
    from scipy.stats import wasserstein_distance

    for shift in (0.0, 0.3):
        new = draw(5000, 11, shift)
        ours = compare(REF, new)["columns"]["x"]["distance"]
        exact = wasserstein_distance(new["x"], TRAIN["x"]) / TRAIN["x"].std(ddof=0)
        assert abs(ours - exact) <= 0.02 + 0.2 * exact  # the 1% tails left out: 0.27 for scipy's 0.31 at 0.3


def test_jensen_shannon_on_many_rows_matches_scipy():
    rng = np.random.default_rng(2)
    new = pd.DataFrame({"c": rng.choice(list("abcd"), 5000, p=[.25, .25, .25, .25])})
    got = compare({"columns": {"c": REF["columns"]["c"]}}, new)["columns"]["c"]
    from scipy.spatial.distance import jensenshannon

    shares = new["c"].value_counts(normalize=True).reindex(list(REF["columns"]["c"]["shares"])).to_numpy()
    expected = jensenshannon(list(REF["columns"]["c"]["shares"].values()) + [0.0], list(shares) + [0.0], base=2)
    assert got["test"] == "Jensen-Shannon" and got["distance"] == pytest.approx(expected, abs=1e-9) and got["drift"]


def test_estimated_accuracy_covers_the_truth_when_probabilities_are_calibrated():
    rng = np.random.default_rng(4)
    covered = 0
    for _ in range(50):
        p = rng.uniform(0.5, 1.0, 1000)
        proba = np.column_stack([p, 1 - p])
        correct = rng.uniform(size=1000) < p  # calibrated: right with the stated probability
        est = estimated_accuracy(proba, np.zeros(1000, dtype=int))
        covered += est["low"] <= correct.mean() <= est["high"]
    assert covered >= 44  # a 95% interval: about 47.5 of 50
