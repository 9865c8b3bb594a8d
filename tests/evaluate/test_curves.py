import json

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from tests.evaluate.synthetic import labelled_proba
from trainwright.errors import ConfigError, DataError
from trainwright.evaluate.curves import (
    _thin,
    calibration_bins,
    confusion,
    pr_curves,
    regression_curves,
    roc_curves,
    threshold_curve,
)


def _plain_only(obj):
    """True when obj holds nothing but dict, list, str, int, float, bool and None (no numpy types)."""
    if isinstance(obj, dict):
        return all(type(k) is str and _plain_only(v) for k, v in obj.items())
    if isinstance(obj, list):
        return all(_plain_only(v) for v in obj)
    return obj is None or type(obj) in (str, int, float, bool)


def _on_curve(xs, ys, ref_x, ref_y):
    ref = set(zip(np.round(ref_x, 12), np.round(ref_y, 12)))
    return all((round(x, 12), round(y, 12)) in ref for x, y in zip(xs, ys))


@pytest.mark.parametrize("k", [2, 3])
def test_roc_curves_match_sklearn(k):
    rng = np.random.default_rng(k)
    y, proba = labelled_proba(rng, 300, k, decimals=2)
    curves = roc_curves(y, proba, list("abc")[:k])
    assert [c["class"] for c in curves] == (["b"] if k == 2 else ["a", "b", "c"])
    for c in curves:
        col = "abc".index(c["class"])
        fpr, tpr, _ = skm.roc_curve(y == col, proba[:, col], drop_intermediate=False)
        assert c["auc"] == pytest.approx(skm.roc_auc_score(y == col, proba[:, col]), abs=1e-12)
        assert (c["fpr"][0], c["tpr"][0], c["fpr"][-1], c["tpr"][-1]) == (0.0, 0.0, 1.0, 1.0)
        assert _on_curve(c["fpr"], c["tpr"], fpr, tpr)
        assert np.all(np.diff(c["fpr"]) >= 0) and np.all(np.diff(c["tpr"]) >= 0)
        # Only collinear points were dropped, so the area under the kept points is exact.
        assert np.trapezoid(c["tpr"], c["fpr"]) == pytest.approx(c["auc"], abs=1e-12)


def test_points_on_a_straight_segment_are_dropped():
    y = np.array([0, 0, 0, 1, 1, 1])
    p1 = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    roc = roc_curves(y, np.column_stack([1 - p1, p1]), [0, 1])[0]
    assert (roc["fpr"], roc["tpr"], roc["auc"]) == ([0.0, 0.0, 1.0], [0.0, 1.0, 1.0], 1.0)


def test_curves_are_thinned_keeping_ends_and_exact_area():
    rng = np.random.default_rng(4)
    y, proba = labelled_proba(rng, 20_000, 2)
    roc = roc_curves(y, proba, [0, 1], max_points=50)[0]
    pr = pr_curves(y, proba, [0, 1], max_points=50)[0]
    assert len(roc["fpr"]) <= 50 and len(pr["recall"]) <= 50 and len(roc["fpr"]) > 25
    assert roc["auc"] == pytest.approx(skm.roc_auc_score(y, proba[:, 1]), abs=1e-12)
    assert pr["ap"] == pytest.approx(skm.average_precision_score(y, proba[:, 1]), abs=1e-12)
    assert (roc["fpr"][-1], roc["tpr"][-1], pr["recall"][0], pr["precision"][0], pr["recall"][-1]) == (1, 1, 0, 1, 1)
    fpr, tpr, _ = skm.roc_curve(y, proba[:, 1], drop_intermediate=False)
    assert _on_curve(roc["fpr"], roc["tpr"], fpr, tpr)
    assert np.trapezoid(roc["tpr"], roc["fpr"]) == pytest.approx(roc["auc"], abs=5e-3)  # the shape survives


@pytest.mark.parametrize("k", [2, 4])
def test_pr_curves_match_sklearn(k):
    rng = np.random.default_rng(5 + k)
    y, proba = labelled_proba(rng, 300, k, decimals=2)
    for c in pr_curves(y, proba, list(range(k))):
        col = c["class"]
        precision, recall, _ = skm.precision_recall_curve(y == col, proba[:, col])
        assert c["recall"] == pytest.approx(recall[::-1].tolist())  # nothing thinned at 300 rows
        assert c["precision"] == pytest.approx(precision[::-1].tolist())
        assert c["ap"] == pytest.approx(skm.average_precision_score(y == col, proba[:, col]), abs=1e-12)
        assert c["prevalence"] == pytest.approx(np.mean(y == col))


def test_thinning_keeps_ends_and_spreads_points():
    t = np.linspace(0, np.pi / 2, 1000)
    x, y = np.sin(t), 1 - np.cos(t)
    idx = _thin(x, y, 30)
    assert idx[0] == 0 and idx[-1] == 999 and len(idx) == 30
    steps = np.hypot(np.diff(x[idx]), np.diff(y[idx]))
    assert steps.max() < 1.2 * steps.min()
    assert _thin(x[:10], y[:10], 30).tolist() == list(range(10))


def test_absent_class_gives_empty_curves():
    rng = np.random.default_rng(8)
    y, proba = labelled_proba(rng, 100, 3)
    y[y == 2] = 0
    roc, pr = roc_curves(y, proba, [0, 1, 2]), pr_curves(y, proba, [0, 1, 2])
    assert roc[2] == {"class": 2, "fpr": [], "tpr": [], "auc": None}
    assert pr[2] == {"class": 2, "recall": [], "precision": [], "ap": None, "prevalence": 0.0}
    assert roc[0]["auc"] is not None and pr[1]["ap"] is not None
    only = roc_curves(np.zeros(5, int), proba[:5, :2] / proba[:5, :2].sum(1, keepdims=True), [0, 1])
    assert only[0]["auc"] is None


def test_calibration_bins_match_sklearn_binary():
    rng = np.random.default_rng(9)
    y, proba = labelled_proba(rng, 1000, 2)
    edge = np.linspace(0, 1, 11)[3]
    proba[:5, 1], proba[:5, 0] = edge, 1 - edge  # values on a bin edge fall in the lower bin
    out = calibration_bins(y, proba, n_bins=10)
    prob_true, prob_pred = calibration_curve(y, proba[:, 1], n_bins=10)
    full = [b for b in out["bins"] if b["count"]]
    assert [b["observed"] for b in full] == pytest.approx(prob_true)
    assert [b["mean_predicted"] for b in full] == pytest.approx(prob_pred)
    assert len(out["bins"]) == 10 and sum(b["count"] for b in out["bins"]) == 1000
    assert (out["bins"][0]["lo"], out["bins"][-1]["hi"]) == (0.0, 1.0)
    assert out["bins"][2]["count"] == np.sum((proba[:, 1] > out["bins"][2]["lo"]) & (proba[:, 1] <= edge))
    empty = [b for b in out["bins"] if not b["count"]]
    assert all(b["observed"] is None and b["mean_predicted"] is None for b in empty)
    ece = sum(b["count"] * abs(b["observed"] - b["mean_predicted"]) for b in full) / 1000
    assert out["ece"] == pytest.approx(ece)


def test_calibration_bins_multiclass_is_top_label():
    rng = np.random.default_rng(10)
    y, proba = labelled_proba(rng, 600, 4)
    out = calibration_bins(y, proba, n_bins=8)
    correct, conf = proba.argmax(1) == y, proba.max(1)
    prob_true, prob_pred = calibration_curve(correct, conf, n_bins=8)
    full = [b for b in out["bins"] if b["count"]]
    assert [b["observed"] for b in full] == pytest.approx(prob_true)
    assert [b["mean_predicted"] for b in full] == pytest.approx(prob_pred)
    assert all(b["count"] == 0 for b in out["bins"] if b["hi"] <= 0.25)  # top-label confidence >= 1/4
    with pytest.raises(ConfigError):
        calibration_bins(y, proba, n_bins=0)


def test_confusion_matches_sklearn():
    rng = np.random.default_rng(11)
    y, pred = rng.integers(0, 3, 200), rng.integers(0, 3, 200)
    y[y == 1] = 0  # class 1 has no true rows: its normalised row stays zeros
    out = confusion(y, pred, 4)
    assert out["counts"] == skm.confusion_matrix(y, pred, labels=range(4)).tolist()
    normalized = np.array(out["normalized"])
    assert np.allclose(normalized, skm.confusion_matrix(y, pred, labels=range(4), normalize="true"))
    assert normalized[1].tolist() == [0.0, 0.0, 0.0, 0.0] and normalized[0].sum() == pytest.approx(1)
    assert type(out["counts"][0][0]) is int
    with pytest.raises(DataError):
        confusion([0, 5], [0, 1], 3)


def test_threshold_curve_matches_sklearn():
    rng = np.random.default_rng(12)
    y, proba = labelled_proba(rng, 400, 2, decimals=2)
    p1 = proba[:, 1]
    out = threshold_curve(y, p1)
    assert len(out["threshold"]) == 101 and out["threshold"][7] == 0.07
    for t, prec, rec, f1 in zip(out["threshold"], out["precision"], out["recall"], out["f1"]):
        pred = p1 >= t
        assert rec == pytest.approx(skm.recall_score(y, pred))
        assert f1 == pytest.approx(skm.f1_score(y, pred, zero_division=0))
        if pred.any():
            assert prec == pytest.approx(skm.precision_score(y, pred))
        else:
            assert prec is None
    assert out["recall"][0] == 1.0 and out["precision"][-1] is None  # nothing reaches p1 >= 1 here
    none_pos = threshold_curve([0, 0], [0.2, 0.6], max_points=3)
    assert none_pos["recall"] == [None, None, None] and none_pos["f1"] == [0.0, 0.0, None]


def test_regression_curves():
    rng = np.random.default_rng(13)
    y = rng.normal(size=5000)
    p = y + rng.normal(scale=0.3, size=5000)
    out = regression_curves(y, p, max_points=500, seed=3)
    assert len(out["actual"]) == len(out["predicted"]) == len(out["residual"]) == 500
    a, pr, r = (np.array(out[k]) for k in ("actual", "predicted", "residual"))
    assert np.allclose(a - pr, r)
    rows = np.flatnonzero(np.isin(y, a))
    assert len(rows) == 500 and np.array_equal(y[rows], a)  # real rows, original order
    counts, edges = np.histogram(y - p, bins=30)
    assert out["histogram"] == {"counts": counts.tolist(), "edges": edges.tolist()}
    assert regression_curves(y, p, max_points=500, seed=3) == out
    assert regression_curves(y, p, max_points=500, seed=4)["actual"] != out["actual"]
    small = regression_curves(y[:20], p[:20])
    assert small["actual"] == y[:20].tolist()


def test_everything_is_plain_json():
    rng = np.random.default_rng(14)
    y, proba = labelled_proba(rng, 500, 3)
    yr = rng.normal(size=100)
    outputs = [
        roc_curves(y, proba, np.array(["x", "y", "z"])),
        pr_curves(y, proba, np.array([1, 2, 3])),
        calibration_bins(y, proba),
        confusion(y, proba.argmax(1), 3),
        threshold_curve((y == 1).astype(np.int64), proba[:, 1]),
        regression_curves(yr, yr * 0.9),
    ]
    for out in outputs:
        assert _plain_only(out)
        json.dumps(out)


def test_max_points_must_keep_both_ends():
    with pytest.raises(ConfigError) as err:
        roc_curves([0, 1], [[0.6, 0.4], [0.3, 0.7]], [0, 1], max_points=1)
    assert err.value.path == "max_points"
    with pytest.raises(DataError):
        threshold_curve([0, 2], [0.1, 0.9])
