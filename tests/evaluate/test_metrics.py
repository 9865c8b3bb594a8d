import numpy as np
import pytest
from sklearn import metrics as skm

from trainwright.evaluate.metrics import better, primary_metric, score
from trainwright.errors import ConfigError


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


def test_binary_auc_and_absent_class():
    y = np.array([0, 1, 1, 0])
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7]])
    assert score("classification", y, proba, [0, 1])["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba[:, 1]))
    assert score("classification", np.array([0, 0]), proba[:2], [0, 1])["roc_auc"] is None


def test_regression_matches_sklearn():
    rng = np.random.default_rng(1)
    y, p = rng.normal(size=100), rng.normal(size=100)
    m = score("regression", y, p)
    assert m["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y, p)))
    assert m["mae"] == pytest.approx(skm.mean_absolute_error(y, p))
    assert m["r2"] == pytest.approx(skm.r2_score(y, p))


def test_primary_metric_and_direction():
    assert primary_metric("classification") == "log_loss" and primary_metric("regression") == "rmse"
    assert primary_metric("classification", "f1") == "f1"
    with pytest.raises(ConfigError, match="does not apply to regression"):
        primary_metric("regression", "accuracy")
    assert better("log_loss", 0.1, 0.2) and better("accuracy", 0.9, 0.8) and not better("r2", None, 0.1)
