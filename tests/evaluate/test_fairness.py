import doctest
import json

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from trainwright.errors import DataError
from trainwright.evaluate import fairness
from trainwright.evaluate.fairness import fairness_audit, sensitive_groups


def _random_binary(seed=0, n=900):
    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b", "c"], size=n, p=[0.5, 0.3, 0.2])
    y = rng.integers(0, 2, n)
    # Predictions that depend on the group, so the differences are not all near zero.
    p_right = np.select([group == "a", group == "b"], [0.85, 0.7], 0.6)
    pred = np.where(rng.random(n) < p_right, y, 1 - y)
    return group, y, pred


def test_differences_match_fairlearn():
    import fairlearn.metrics as fm  # a dev dependency: a missing one must fail, not skip
    group, y, pred = _random_binary()
    col = fairness_audit({"g": pd.Series(group)}, y, pred, task="classification", classes=["no", "yes"])["columns"][0]
    d = col["differences"]
    for name in ("demographic_parity_difference", "demographic_parity_ratio", "equalized_odds_difference",
                 "equal_opportunity_difference"):
        assert d[name] == pytest.approx(getattr(fm, name)(y, pred, sensitive_features=group)), name
    frame = fm.MetricFrame(
        metrics={"sel": fm.selection_rate, "tpr": fm.true_positive_rate, "fpr": fm.false_positive_rate,
                 "acc": skm.accuracy_score, "prec": skm.precision_score, "f1": skm.f1_score},
        y_true=y, y_pred=pred, sensitive_features=group,
    )
    assert d["accuracy_difference"] == pytest.approx(frame.difference()["acc"])
    assert col["positive"] == "yes" and col["binned"] is False
    assert [g["group"] for g in col["groups"]] == ["a", "b", "c"]  # most common first
    for g in col["groups"]:
        expected = frame.by_group.loc[g["group"]]
        assert g["selection_rate"] == pytest.approx(expected["sel"])
        assert g["tpr"] == pytest.approx(expected["tpr"])
        assert g["fpr"] == pytest.approx(expected["fpr"])
        assert g["accuracy"] == pytest.approx(expected["acc"])
        assert g["precision"] == pytest.approx(expected["prec"])
        assert g["f1"] == pytest.approx(expected["f1"])
        assert g["base_rate"] == pytest.approx(np.mean(y[group == g["group"]]))
        assert g["n"] == int(np.sum(group == g["group"]))
    assert sum(g["share"] for g in col["groups"]) == pytest.approx(1.0)
    assert col["overall"]["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert col["overall"]["n"] == len(y)


def test_multiclass_one_vs_rest_matches_fairlearn_per_class():
    import fairlearn.metrics as fm  # a dev dependency: a missing one must fail, not skip
    rng = np.random.default_rng(3)
    n = 600
    group = rng.choice(["x", "y"], size=n)
    y = rng.integers(0, 3, n)
    pred = np.where(rng.random(n) < np.where(group == "x", 0.8, 0.55), y, rng.integers(0, 3, n))
    proba = rng.dirichlet([1, 1, 1], n)
    audit = fairness_audit({"g": group}, y, pred, task="classification", classes=["a", "b", "c"], proba=proba)
    col = audit["columns"][0]
    assert col["positive"] is None
    by_class = col["differences"]["by_class"]
    for c, label in enumerate(["a", "b", "c"]):
        yc, pc = (y == c).astype(int), (pred == c).astype(int)
        assert by_class[label]["demographic_parity_difference"] == pytest.approx(
            fm.demographic_parity_difference(yc, pc, sensitive_features=group))
        assert by_class[label]["equalized_odds_difference"] == pytest.approx(
            fm.equalized_odds_difference(yc, pc, sensitive_features=group))
        g = col["groups"][0]
        mask = group == g["group"]
        assert g["by_class"][label]["mean_score"] == pytest.approx(proba[mask, c].mean())
    assert col["differences"]["equalized_odds_difference"] == pytest.approx(
        max(v["equalized_odds_difference"] for v in by_class.values()))
    assert col["groups"][0]["selection_rate"] is None
    first = group == col["groups"][0]["group"]
    assert col["groups"][0]["f1"] == pytest.approx(skm.f1_score(y[first], pred[first], average="macro"))
    # The model is much worse for group "y": flagged on accuracy.
    flagged = {b["group"]: b["reasons"] for b in col["behind"]}
    assert "y" in flagged and any("accuracy" in r for r in flagged["y"])


def test_regression_per_group_matches_sklearn():
    rng = np.random.default_rng(1)
    n = 400
    group = rng.choice(["north", "south"], size=n)
    y = rng.normal(10, 3, n)
    pred = y + rng.normal(0, np.where(group == "north", 0.5, 2.0))
    col = fairness_audit({"region": group}, y, pred, task="regression")["columns"][0]
    for g in col["groups"]:
        m = group == g["group"]
        assert g["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y[m], pred[m])))
        assert g["mae"] == pytest.approx(skm.mean_absolute_error(y[m], pred[m]))
        assert g["r2"] == pytest.approx(skm.r2_score(y[m], pred[m]))
        assert g["mean_actual"] == pytest.approx(y[m].mean())
        assert g["mean_prediction"] == pytest.approx(pred[m].mean())
    maes = [g["mae"] for g in col["groups"]]
    assert col["differences"]["mae_difference"] == pytest.approx(max(maes) - min(maes))
    assert col["positive"] is None
    assert [b["group"] for b in col["behind"]] == ["south"]
    assert "MAE" in col["behind"][0]["reasons"][0]


def test_numeric_column_is_binned_with_missing_group():
    rng = np.random.default_rng(2)
    n = 400
    age = pd.Series(rng.integers(18, 80, n).astype(float))
    age[:20] = np.nan
    y = rng.integers(0, 2, n)
    col = fairness_audit({"age": age}, y, y, task="classification")["columns"][0]
    labels = [g["group"] for g in col["groups"]]
    assert col["binned"] is True
    assert len(labels) == 5 and labels[-1] == "(missing)"
    assert labels[0].startswith("[18, ") and labels[0].endswith(")") and labels[3].endswith("79]")
    assert col["groups"][-1]["n"] == 20
    assert sum(g["n"] for g in col["groups"]) == n
    # Perfect predictions: no differences in accuracy or TPR, so no group is behind; only the four-fifths
    # rule can list a group (base rates differ), and it does so apart from "behind".
    assert col["differences"]["accuracy_difference"] == 0.0
    assert col["differences"]["equal_opportunity_difference"] == 0.0
    assert col["behind"] == []
    # Few distinct numbers are groups of their own, not bins.
    few = fairness_audit({"kids": np.array([0, 1, 2] * 40)}, y[:120], y[:120], task="classification")["columns"][0]
    assert few["binned"] is False and [g["group"] for g in few["groups"]] == ["0", "1", "2"]


def test_disadvantaged_group_flagged_and_small_group_not():
    rng = np.random.default_rng(4)
    group = np.array(["a"] * 200 + ["b"] * 200 + ["tiny"] * 8)
    y = rng.integers(0, 2, len(group))
    pred = y.copy()
    b = np.flatnonzero(group == "b")
    pred[b[y[b] == 1][: int(0.7 * np.sum(y[b] == 1))]] = 0  # "b" positives mostly missed
    pred[group == "tiny"] = 1 - y[group == "tiny"]  # every "tiny" row wrong
    col = fairness_audit({"g": group}, y, pred, task="classification", classes=[0, 1])["columns"][0]
    flagged = {x["group"]: x["reasons"] for x in col["behind"]}
    assert set(flagged) == {"b"}
    text = " ".join(flagged["b"])
    assert "accuracy" in text and "true positive rate" in text
    # Selected positive far less often: reported beside, not as "behind" (base rates can explain it).
    assert [x["group"] for x in col["selection_disparity"]] == ["b"]
    assert "four-fifths" in col["selection_disparity"][0]["reasons"][0]
    tiny = next(g for g in col["groups"] if g["group"] == "tiny")
    assert tiny["small"] is True and tiny["accuracy"] == 0.0
    assert any("'tiny' (8)" in w and "30" in w for w in col["warnings"])
    # Differences are over the large groups only.
    large = [g for g in col["groups"] if not g["small"]]
    assert col["differences"]["accuracy_difference"] == pytest.approx(
        max(g["accuracy"] for g in large) - min(g["accuracy"] for g in large))


def test_missing_sensitive_column_names_setting_and_suggests():
    frame = pd.DataFrame({"sex": ["f", "m"], "island": ["Dream", "Biscoe"]})
    with pytest.raises(DataError, match=r"evaluate\.sensitive.*'sexx'.*Did you mean 'sex'") as info:
        sensitive_groups(frame, ["sexx"])
    assert info.value.column == "sexx"
    assert list(sensitive_groups(frame, "island")) == ["island"]
    with pytest.raises(DataError, match=r"evaluate\.sensitive"):
        fairness_audit({"sex": None}, [0, 1], [0, 1], task="classification")
    with pytest.raises(DataError, match="3 values"):
        fairness_audit({"sex": ["f", "m", "f"]}, [0, 1], [0, 1], task="classification")


def test_result_is_plain_json():
    group, y, pred = _random_binary(seed=5, n=300)
    group = pd.Series(group).where(np.arange(300) % 50 != 0)  # some missing -> "(missing)", small
    proba = np.column_stack([1 - pred * 0.8, pred * 0.8])
    audit = fairness_audit({"g": group, "score": np.linspace(0, 1, 300)}, y, pred, task="classification",
                           proba=proba, min_group=10)
    json.dumps(audit, allow_nan=False)
    reg = fairness_audit({"g": group}, y.astype(float), pred.astype(float), task="regression")
    json.dumps(reg, allow_nan=False)


def test_docstring_examples_run():
    assert doctest.testmod(fairness).failed == 0
