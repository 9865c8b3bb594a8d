import math

import numpy as np
import pytest
from sklearn import metrics as skm

from tests.evaluate.synthetic import labelled_proba
from trainwright.errors import ConfigError, DataError
from trainwright.evaluate.metrics import (
    CLASSIFICATION_METRICS,
    LOWER_IS_BETTER,
    REGRESSION_METRICS,
    better,
    choose_threshold,
    classification_metrics,
    per_class_metrics,
    primary_metric,
    regression_metrics,
    residual_stats,
    score,
)


def _specificity(y, pred, k):
    mcm = skm.multilabel_confusion_matrix(y, pred, labels=np.arange(k))  # (k, 2, 2): [[tn, fp], [fn, tp]]
    tn, fp = mcm[:, 0, 0], mcm[:, 0, 1]
    return np.divide(tn, tn + fp, out=np.zeros(k), where=(tn + fp) > 0)


def _ece(y, proba, bins=15):
    conf, hit = proba.max(1), proba.argmax(1) == y
    ids = np.maximum(np.ceil(conf * bins).astype(int) - 1, 0)  # bins (lo, hi], the first one closed
    return sum(abs(hit[ids == b].sum() - conf[ids == b].sum()) for b in range(bins)) / len(y)


def test_classification_matches_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 200)
    proba = rng.dirichlet([1, 1, 1], 200)
    proba[np.arange(200), y] += 0.5
    proba /= proba.sum(1, keepdims=True)
    m = score("classification", y, proba, ["a", "b", "c"])
    pred = proba.argmax(1)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert m["precision"] == pytest.approx(skm.precision_score(y, pred, average="macro"))
    assert m["recall"] == pytest.approx(skm.recall_score(y, pred, average="macro"))
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba, multi_class="ovr"))
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, proba))


@pytest.mark.parametrize("k", [2, 3, 5])
@pytest.mark.parametrize("decimals", [None, 1])
def test_every_classification_metric_matches_sklearn(k, decimals):
    rng = np.random.default_rng(k)
    y, proba = labelled_proba(rng, 400, k, decimals)
    pred = proba.argmax(1)
    m = classification_metrics(y, proba, k)
    assert tuple(m) == CLASSIFICATION_METRICS
    if k == 2:
        auc, ap = skm.roc_auc_score(y, proba[:, 1]), skm.average_precision_score(y, proba[:, 1])
        brier = skm.brier_score_loss(y, proba[:, 1])
    else:
        auc = skm.roc_auc_score(y, proba, multi_class="ovr")
        ap = skm.average_precision_score(y, proba, average="macro")
        brier = skm.brier_score_loss(y, proba, labels=np.arange(k))  # sum over classes, not halved
        assert brier == pytest.approx(np.mean(((np.eye(k)[y] - proba) ** 2).sum(1)))
    spec = _specificity(y, pred, k)
    support = np.bincount(y, minlength=k)
    expected = {
        "accuracy": skm.accuracy_score(y, pred),
        "balanced_accuracy": skm.balanced_accuracy_score(y, pred),
        "precision": skm.precision_score(y, pred, average="macro", zero_division=0),
        "recall": skm.recall_score(y, pred, average="macro", zero_division=0),
        "f1": skm.f1_score(y, pred, average="macro", zero_division=0),
        "precision_weighted": skm.precision_score(y, pred, average="weighted", zero_division=0),
        "recall_weighted": skm.recall_score(y, pred, average="weighted", zero_division=0),
        "f1_weighted": skm.f1_score(y, pred, average="weighted", zero_division=0),
        "specificity": spec.mean(),
        "specificity_weighted": np.average(spec, weights=support),
        "roc_auc": auc,
        "pr_auc": ap,
        "log_loss": skm.log_loss(y, proba),
        "brier": brier,
        "ece": _ece(y, proba),
        "mcc": skm.matthews_corrcoef(y, pred),
    }
    assert set(expected) == set(CLASSIFICATION_METRICS)
    for name, value in expected.items():
        assert m[name] == pytest.approx(value, abs=1e-12), name
        assert type(m[name]) is float


def test_threshold_moves_the_predictions():
    rng = np.random.default_rng(3)
    y, proba = labelled_proba(rng, 300, 2)
    m = classification_metrics(y, proba, 2, threshold=0.3)
    pred = (proba[:, 1] >= 0.3).astype(int)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert m["mcc"] == pytest.approx(skm.matthews_corrcoef(y, pred))
    plain = classification_metrics(y, proba, 2)
    for name in ("roc_auc", "pr_auc", "log_loss", "brier", "ece"):  # the threshold moves labels, not probabilities
        assert m[name] == plain[name], name
    assert m["accuracy"] != classification_metrics(y, proba, 2)["accuracy"]
    assert score("classification", y, proba, [0, 1], threshold=0.3) == m
    with pytest.raises(ConfigError) as err:
        classification_metrics(*labelled_proba(rng, 30, 3), 3, threshold=0.5)
    assert err.value.path == "evaluate.threshold"
    with pytest.raises(ConfigError, match="within"):
        classification_metrics(y, proba, 2, threshold=1.5)


def test_binary_auc_and_absent_class():
    y = np.array([0, 1, 1, 0])
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7]])
    assert score("classification", y, proba, [0, 1])["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba[:, 1]))
    m = score("classification", np.array([0, 0]), proba[:2], [0, 1])
    assert m["roc_auc"] is None and m["pr_auc"] is None and m["accuracy"] == 0.5
    ones = score("classification", np.array([1, 1]), proba[2:], [0, 1])  # no class 0: AP would be a trivial 1
    assert ones["roc_auc"] is None and ones["pr_auc"] is None and ones["accuracy"] == 1.0


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_multiclass_absent_class():
    rng = np.random.default_rng(4)
    y, proba = labelled_proba(rng, 200, 4)
    keep = y != 2
    y, proba = y[keep], proba[keep]
    pred = proba.argmax(1)
    m = classification_metrics(y, proba, 4)
    assert m["roc_auc"] is None and m["pr_auc"] is None
    # Averages over the classes present in y or predicted, as scikit-learn's.
    assert m["f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert m["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, proba, labels=np.arange(4)))
    assert m["mcc"] == pytest.approx(skm.matthews_corrcoef(y, pred))


def test_bad_classification_input_is_a_data_error():
    with pytest.raises(DataError, match="encoded"):
        classification_metrics([0, 3], [[0.5, 0.5], [0.5, 0.5]], 2)
    with pytest.raises(DataError, match="columns"):
        classification_metrics([0, 1], [[0.5, 0.5], [0.5, 0.5]], 3)
    with pytest.raises(DataError, match="NaN"):
        classification_metrics([0, 1], [[np.nan, 0.5], [0.5, 0.5]], 2)


@pytest.mark.parametrize("k", [2, 4])
def test_per_class_matches_sklearn(k):
    rng = np.random.default_rng(5 + k)
    y, proba = labelled_proba(rng, 300, k, decimals=1)
    labels = [f"c{i}" for i in range(k)]
    rows = per_class_metrics(y, proba, labels)
    pred = proba.argmax(1)
    p, r, f, s = skm.precision_recall_fscore_support(y, pred, labels=np.arange(k), zero_division=0)
    spec = _specificity(y, pred, k)
    assert [row["class"] for row in rows] == labels
    for i, row in enumerate(rows):
        assert row["support"] == s[i] and type(row["support"]) is int
        assert (row["precision"], row["recall"], row["f1"], row["specificity"]) == pytest.approx(
            (p[i], r[i], f[i], spec[i]))
        assert row["roc_auc"] == pytest.approx(skm.roc_auc_score(y == i, proba[:, i]))
        assert row["pr_auc"] == pytest.approx(skm.average_precision_score(y == i, proba[:, i]))


def test_per_class_absent_class_and_plain_labels():
    rng = np.random.default_rng(6)
    y, proba = labelled_proba(rng, 100, 3)
    y[y == 1] = 0
    rows = per_class_metrics(y, proba, np.array([10, 20, 30]))
    assert [r["class"] for r in rows] == [10, 20, 30] and type(rows[0]["class"]) is int
    absent = rows[1]
    assert absent["support"] == 0 and absent["recall"] == 0.0
    assert absent["roc_auc"] is None and absent["pr_auc"] is None
    assert rows[0]["roc_auc"] is not None


def test_regression_matches_sklearn():
    rng = np.random.default_rng(1)
    y, p = rng.normal(size=100), rng.normal(size=100)
    m = score("regression", y, p)
    assert m["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y, p)))
    assert m["mae"] == pytest.approx(skm.mean_absolute_error(y, p))
    assert m["r2"] == pytest.approx(skm.r2_score(y, p))


def test_every_regression_metric_matches_sklearn():
    rng = np.random.default_rng(7)
    y = rng.lognormal(size=300)
    p = y * rng.normal(1, 0.2, 300)
    m = regression_metrics(y, p)
    assert tuple(m) == REGRESSION_METRICS
    assert m["mse"] == pytest.approx(skm.mean_squared_error(y, p))
    assert m["rmse"] == pytest.approx(skm.root_mean_squared_error(y, p))
    assert m["mae"] == pytest.approx(skm.mean_absolute_error(y, p))
    assert m["mape"] == pytest.approx(skm.mean_absolute_percentage_error(y, p))
    assert m["r2"] == pytest.approx(skm.r2_score(y, p))


def test_mape_skips_zero_targets_and_r2_of_a_constant_target():
    y = np.array([0.0, 2.0, 0.0, 4.0, 1e-20])
    p = np.array([1.0, 1.0, -1.0, 5.0, 0.0])
    m = regression_metrics(y, p)
    nonzero = slice(1, 4, 2)
    assert m["mape"] == pytest.approx(skm.mean_absolute_percentage_error(y[nonzero], p[nonzero]))
    assert regression_metrics(np.zeros(3), np.ones(3))["mape"] is None
    const = regression_metrics(np.full(3, 0.1), np.array([0.1, 0.2, 0.3]))  # 0.1 has no exact mean
    assert const["r2"] is None and const["rmse"] > 0
    with pytest.raises(DataError, match="NaN"):
        regression_metrics([1.0, np.nan], [1.0, 2.0])


def test_residual_stats():
    rng = np.random.default_rng(8)
    y, p = rng.normal(size=500), rng.normal(size=500)
    r = y - p
    s = residual_stats(y, p)
    assert s == pytest.approx({"mean": r.mean(), "std": r.std(), "median": np.median(r),
                               "q05": np.quantile(r, 0.05), "q95": np.quantile(r, 0.95),
                               "max_abs": np.abs(r).max(), "n": 500})
    assert type(s["n"]) is int


def test_primary_metric_and_direction():
    assert primary_metric("classification") == "log_loss" and primary_metric("regression") == "rmse"
    assert primary_metric("classification", "f1") == "f1"
    with pytest.raises(ConfigError, match="does not apply to regression"):
        primary_metric("regression", "accuracy")
    assert better("log_loss", 0.1, 0.2) and better("accuracy", 0.9, 0.8) and not better("r2", None, 0.1)


def test_primary_metric_accepts_the_full_set():
    for name in CLASSIFICATION_METRICS:
        assert primary_metric("classification", name) == name
    for name in REGRESSION_METRICS:
        assert primary_metric("regression", name) == name
    with pytest.raises(ConfigError) as err:
        primary_metric("classification", "mape")
    assert err.value.path == "evaluate.metric"
    assert LOWER_IS_BETTER == {"log_loss", "brier", "ece", "mse", "rmse", "mae", "mape"}
    assert better("ece", 0.01, 0.02) and better("mcc", 0.5, 0.2) and better("pr_auc", 0.9, None)


def test_choose_threshold_on_a_hand_made_example():
    # Scores descending: 0.8+ 0.7- 0.6+ 0.5+ 0.4- 0.3+ 0.2- 0.1-; four positives.
    y = [0, 0, 1, 0, 1, 1, 0, 1]
    p = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
    best = choose_threshold(y, p, "f1")
    assert (best["threshold"], best["precision"], best["recall"], best["f1"]) == pytest.approx((0.3, 4 / 6, 1, 0.8))
    assert best["reached"] and best["note"] is None and best["target"] is None
    prec = choose_threshold(y, p, "precision", 0.7)
    assert (prec["threshold"], prec["precision"], prec["recall"]) == pytest.approx((0.5, 0.75, 0.75))
    assert choose_threshold(y, p, "precision", 0.75)["threshold"] == 0.5  # reached exactly
    assert choose_threshold(y, p, "precision", 0.9)["threshold"] == 0.8
    assert choose_threshold(y, p, "recall", 0.75)["threshold"] == 0.5
    assert choose_threshold(y, p, "recall", 0.5)["threshold"] == 0.6
    assert choose_threshold(y, p, "recall", 1.0)["threshold"] == 0.3


def test_choose_threshold_unreachable_target():
    out = choose_threshold([0, 1, 0, 1], [0.9, 0.8, 0.7, 0.6], "precision", 0.8)
    # Highest precision is 0.5, at 0.8 and at 0.6; the lower threshold keeps more recall.
    assert not out["reached"] and out["threshold"] == 0.6 and out["precision"] == 0.5 and out["recall"] == 1.0
    assert "no threshold reaches precision 0.8" in out["note"]


def test_choose_threshold_f1_matches_sklearn_curve():
    rng = np.random.default_rng(13)
    y, proba = labelled_proba(rng, 500, 2, decimals=2)
    prec, rec, thr = skm.precision_recall_curve(y, proba[:, 1])
    f1 = np.divide(2 * prec * rec, prec + rec, out=np.zeros_like(prec), where=(prec + rec) > 0)[:-1]
    out = choose_threshold(y, proba[:, 1], "f1")
    assert out["f1"] == pytest.approx(f1.max())
    assert out["f1"] == pytest.approx(skm.f1_score(y, proba[:, 1] >= out["threshold"]))
    assert math.isclose(out["threshold"], thr[np.flatnonzero(np.isclose(f1, f1.max()))].max())


def test_choose_threshold_errors():
    with pytest.raises(ConfigError) as err:
        choose_threshold([0, 1], [0.2, 0.8], "youden")
    assert err.value.path == "evaluate.threshold.choose"
    with pytest.raises(ConfigError) as err:
        choose_threshold([0, 1], [0.2, 0.8], "precision")
    assert err.value.path == "evaluate.threshold.target"
    with pytest.raises(ConfigError):
        choose_threshold([0, 1], [0.2, 0.8], "recall", 1.5)
    with pytest.raises(DataError, match="no positive"):
        choose_threshold([0, 0], [0.2, 0.8], "f1")
    with pytest.raises(DataError):
        choose_threshold([0, 2], [0.2, 0.8], "f1")


def test_specificity_is_undefined_without_negatives():
    from trainwright.evaluate.metrics import classification_metrics, per_class_metrics

    proba = [[0.2, 0.8], [0.6, 0.4], [0.1, 0.9]]
    per = {row["class"]: row for row in per_class_metrics([1, 1, 1], proba, ["a", "b"])}
    assert per["b"]["specificity"] is None and per["a"]["specificity"] == pytest.approx(2 / 3)
    assert classification_metrics([1, 1, 1], proba, 2)["specificity_weighted"] is None
