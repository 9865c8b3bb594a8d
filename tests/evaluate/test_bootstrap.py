"""Bootstrap intervals: the weighted core scores a resample exactly, intervals cover and narrow, bad settings fail."""

import numpy as np
import pytest

from tests.evaluate.synthetic import labelled_proba
from trainwright.errors import ConfigError
from trainwright.evaluate.bootstrap import _RegRows, bootstrap_intervals
from trainwright.evaluate.metrics import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    _ClassRows,
    classification_metrics,
    regression_metrics,
)


@pytest.mark.parametrize("k", [2, 3])
def test_weighted_core_equals_metrics_of_resampled_rows(k):
    """A bootstrap weight vector scores exactly like the rows it draws, duplicates and ties included."""
    rng = np.random.default_rng(9)
    y, proba = labelled_proba(rng, 150, k, decimals=1)
    rows = _ClassRows(y, proba, 0.4 if k == 2 else None)
    for _ in range(3):
        idx = rng.integers(0, len(y), len(y))
        w = np.bincount(idx, minlength=len(y)).astype(float)[None]
        got = rows.values(w, CLASSIFICATION_METRICS)
        want = classification_metrics(rows.y[idx], rows.proba[idx], k, threshold=0.4 if k == 2 else None)
        for name in CLASSIFICATION_METRICS:
            assert got[name][0] == pytest.approx(want[name], abs=1e-12), name
    yr, pr = rng.normal(size=150), rng.normal(size=150)
    reg = _RegRows(yr, pr)
    idx = rng.integers(0, 150, 150)
    got = reg.values(np.bincount(idx, minlength=150).astype(float)[None], REGRESSION_METRICS)
    want = regression_metrics(yr[idx], pr[idx])
    assert {m: got[m][0] for m in REGRESSION_METRICS} == pytest.approx(want)


def test_bootstrap_contains_the_value_and_narrows_with_more_rows():
    rng = np.random.default_rng(10)
    names = ["accuracy", "f1", "roc_auc", "log_loss", "pr_auc", "ece", "mcc"]
    widths = []
    for n_rows in (200, 5000):
        y, proba = labelled_proba(rng, n_rows, 3)
        iv = bootstrap_intervals("classification", y, proba, names, n=300, seed=1)
        point = classification_metrics(y, proba, 3)
        for name in names:
            assert iv[name]["value"] == point[name]
            assert iv[name]["low"] <= iv[name]["value"] <= iv[name]["high"], name
            assert iv[name]["n_boot"] == 300
        widths.append(iv["accuracy"]["high"] - iv["accuracy"]["low"])
    assert widths[1] < widths[0] / 3  # about sqrt(25) = 5 times narrower
    assert bootstrap_intervals("classification", y, proba, names, n=300, seed=1) == \
        bootstrap_intervals("classification", y, proba, names, n=300, seed=1)


def test_bootstrap_regression_and_no_interval_cases():
    rng = np.random.default_rng(11)
    y = rng.normal(size=400)
    p = y + rng.normal(scale=0.5, size=400)
    iv = bootstrap_intervals("regression", y, p, ["rmse", "mae", "r2", "mape"], n=200)
    for name, value in regression_metrics(y, p).items():
        if name in iv:
            assert iv[name]["low"] <= value <= iv[name]["high"] and iv[name]["value"] == value
    assert bootstrap_intervals("regression", y, p, ["rmse"], n=0)["rmse"] == \
        {"value": regression_metrics(y, p)["rmse"], "low": None, "high": None, "n_boot": 0}
    one = bootstrap_intervals("regression", y[:1], p[:1], ["mae"], n=100)["mae"]
    assert one["low"] is None and one["value"] == pytest.approx(abs(y[0] - p[0]))
    # A resample that draws only the 0.1 rows has no variance: its r2 is skipped, not a huge negative number.
    few = bootstrap_intervals("regression", [0.1, 0.1, 0.1, 0.7], [0.2, 0.1, 0.0, 0.6], ["r2"], n=200)["r2"]
    assert 100 < few["n_boot"] < 180 and few["low"] > -100
    const = bootstrap_intervals("regression", np.ones(50), p[:50], ["r2", "mae"], n=50)
    assert const["r2"] == {"value": None, "low": None, "high": None, "n_boot": 0}
    assert const["mae"]["n_boot"] == 50


def test_bootstrap_skips_resamples_where_a_metric_is_undefined():
    y = np.array([0] * 18 + [1, 1])
    proba = np.column_stack([np.linspace(0.9, 0.1, 20), np.linspace(0.1, 0.9, 20)])
    iv = bootstrap_intervals("classification", y, proba, ["roc_auc", "accuracy"], n=400, seed=2)
    # A resample misses both positives with probability (18/20)^20, about 12 %.
    assert 300 < iv["roc_auc"]["n_boot"] < 400
    assert iv["accuracy"]["n_boot"] == 400


def test_bootstrap_rejects_bad_settings():
    y, p = np.arange(5.0), np.arange(5.0)
    with pytest.raises(ConfigError) as err:
        bootstrap_intervals("regression", y, p, ["accuracy"])
    assert err.value.path == "evaluate.metrics"
    with pytest.raises(ConfigError) as err:
        bootstrap_intervals("regression", y, p, ["rmse"], level=1.0)
    assert err.value.path == "evaluate.confidence"


def test_bootstrap_of_100k_rows_completes():
    rng = np.random.default_rng(12)
    y, proba = labelled_proba(rng, 100_000, 2)
    iv = bootstrap_intervals("classification", y, proba, ["accuracy", "f1", "roc_auc", "log_loss"], n=1000)
    for name, entry in iv.items():
        assert entry["n_boot"] == 1000
        assert entry["low"] < entry["value"] < entry["high"] < entry["low"] + 0.02, name
    yr = rng.normal(size=100_000)
    iv = bootstrap_intervals("regression", yr, yr + rng.normal(size=100_000), ["rmse", "mae", "r2"], n=1000)
    assert all(e["n_boot"] == 1000 and e["low"] < e["value"] < e["high"] for e in iv.values())
    assert iv["rmse"]["high"] - iv["rmse"]["low"] < 0.02
