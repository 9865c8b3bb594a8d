import doctest
import json
import math

import numpy as np
import pandas as pd
import pytest

from trainwright.errors import ConfigError, DataError
from trainwright.evaluate import slices
from trainwright.evaluate.slices import largest_losses, row_losses, worst_slices


def test_row_losses_by_hand():
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.0, 1.0, 0.0]])
    got = row_losses([0, 1, 1], proba, "classification")
    assert got == pytest.approx([-math.log(0.7), -math.log(0.1), 0.0])
    assert row_losses([0], [[1.0, 0.0]], "classification") == pytest.approx([0.0])
    assert row_losses([1], [[1.0, 0.0]], "classification") == pytest.approx([-math.log(1e-15)])  # clipped
    assert row_losses([1.0, -2.0], [3.0, -2.5], "regression") == pytest.approx([4.0, 0.25])
    assert all(type(v) is float for v in got)
    with pytest.raises(ConfigError, match="task"):
        row_losses([0], [[1.0]], "ranking")


def test_largest_losses_order_and_values():
    frame = pd.DataFrame(
        {"island": pd.Categorical(["Dream", "Biscoe", None, "Dream"]),
         "mass": [3500.0, np.nan, 4200.0, 3900.0],
         "alive": [True, False, True, True],
         "when": pd.to_datetime(["2020-01-01", "2020-02-01", None, "2020-03-01"])},
        index=[7, 3, 12, 40],
    )
    y_raw = pd.Series(["adelie", "gentoo", "adelie", "chinstrap"], index=[7, 3, 12, 40])
    classes = ["adelie", "chinstrap", "gentoo"]
    proba = np.array([[0.8, 0.1, 0.1], [0.5, 0.3, 0.2], [0.1, 0.6, 0.3], [0.4, 0.4, 0.2]])
    rows = largest_losses(frame, y_raw, proba, "classification", classes=classes, k=3)
    # Losses: -log .8, -log .2, -log .1, -log .4 -> rows 12, 3, 40 first.
    assert [r["row"] for r in rows] == [12, 3, 40]
    assert [r["loss"] for r in rows] == pytest.approx([-math.log(0.1), -math.log(0.2), -math.log(0.4)])
    first = rows[0]
    assert first["actual"] == "adelie" and first["predicted"] == "chinstrap"
    assert first["confidence"] == pytest.approx(0.6)
    assert first["features"] == {"island": None, "mass": 4200.0, "alive": True, "when": None}
    assert rows[1]["features"]["mass"] is None and rows[1]["features"]["island"] == "Biscoe"
    assert rows[1]["features"]["when"] == "2020-02-01T00:00:00"
    assert rows[2]["predicted"] == "adelie"  # a tie in probability goes to the first class, like argmax
    json.dumps(rows, allow_nan=False)


def test_largest_losses_regression():
    frame = pd.DataFrame({"x": [1, 2, 3]}, index=["r1", "r2", "r3"])
    rows = largest_losses(frame, [10.0, 20.0, 30.0], np.array([11.0, 25.0, 30.0]), "regression")
    assert [r["row"] for r in rows] == ["r2", "r1", "r3"]
    assert rows[0] == {"row": "r2", "actual": 20.0, "predicted": 25.0, "confidence": None, "loss": 25.0,
                       "features": {"x": 2.0}}


def _penguin_like(n=400, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "island": rng.choice(["Biscoe", "Dream", "Torgersen"], n, p=[0.45, 0.35, 0.2]),
        "bill_length_mm": rng.normal(44, 5, n).round(1),
        "sex": pd.Series(rng.choice(["male", "female"], n)).where(rng.random(n) > 0.1),
        "when": pd.Series(pd.date_range("2021-01-01", periods=n, freq="D")),
    })
    y = rng.integers(0, 3, n)
    return frame, y, rng


def test_worst_slice_is_found_first_classification():
    frame, y, rng = _penguin_like()
    classes = np.array(["adelie", "chinstrap", "gentoo"])
    right = np.where(frame["island"] == "Dream", rng.random(len(y)) < 0.4, rng.random(len(y)) < 0.95)
    pred = np.where(right, y, (y + 1) % 3)
    proba = np.full((len(y), 3), 0.1)
    proba[np.arange(len(y)), pred] = 0.8
    found = worst_slices(frame, classes[y], proba, "classification", classes=list(classes))
    assert found["metric"] == "accuracy"
    assert found["overall"]["value"] == pytest.approx(np.mean(right))
    assert found["overall"]["log_loss"] == pytest.approx(np.mean(-np.log(proba[np.arange(len(y)), y])))
    top = found["slices"][0]
    assert top["slice"] == "island = Dream" and top["column"] == "island" and top["group"] == "Dream"
    dream = (frame["island"] == "Dream").to_numpy()
    assert top["n"] == int(dream.sum())
    assert top["value"] == pytest.approx(np.mean(right[dream]))
    assert top["gap"] == pytest.approx(np.mean(right) - np.mean(right[dream]))
    assert top["log_loss"] == pytest.approx(np.mean(-np.log(proba[dream][np.arange(dream.sum()), y[dream]])))
    assert all(s["gap"] > 0 for s in found["slices"])
    assert [s["gap"] for s in found["slices"]] == sorted((s["gap"] for s in found["slices"]), reverse=True)
    assert len(found["slices"]) <= 10
    json.dumps(found, allow_nan=False)


def test_worst_slice_regression_numeric_bin():
    frame, _, rng = _penguin_like(seed=1)
    y = rng.normal(0, 1, len(frame))
    long_bill = frame["bill_length_mm"].to_numpy() >= np.quantile(frame["bill_length_mm"], 0.75, method="higher")
    pred = y + np.where(long_bill, 3.0, 0.2) * rng.choice([-1, 1], len(y))
    found = worst_slices(frame, y, pred, "regression", k=3)
    assert found["metric"] == "mae" and len(found["slices"]) <= 3
    top = found["slices"][0]
    assert top["column"] == "bill_length_mm" and top["slice"].startswith("bill_length_mm in [")
    assert top["slice"].endswith("]")  # the last bin is closed
    assert top["value"] == pytest.approx(3.0) and top["rmse"] == pytest.approx(3.0)
    assert top["gap"] == pytest.approx(3.0 - found["overall"]["value"])
    assert found["overall"]["rmse"] == pytest.approx(np.sqrt(np.mean((pred - y) ** 2)))


def test_missing_values_form_a_slice():
    frame, y, _ = _penguin_like(seed=2)
    missing = frame["sex"].isna().to_numpy()
    pred = np.where(missing, y + 5.0, y + 0.1)
    found = worst_slices(frame, y.astype(float), pred, "regression")
    assert found["slices"][0]["slice"] == "sex is missing"
    assert found["slices"][0]["n"] == int(missing.sum())


def test_datetime_column_is_binned_by_time():
    frame, y, _ = _penguin_like(seed=3)
    late = np.arange(len(y)) >= 300  # the last quarter of the dates
    pred = np.where(late, y + 2.0, y)
    found = worst_slices(frame, y.astype(float), pred, "regression")
    top = found["slices"][0]
    assert top["column"] == "when" and top["n"] == 100
    assert top["slice"] == "when in [2021-10-28, 2022-02-04]"


def test_min_rows_other_levels_and_nothing_worse():
    rng = np.random.default_rng(5)
    n = 1000
    frame = pd.DataFrame({"code": [f"c{i % 40}" for i in range(n)]})
    y = rng.normal(size=n)
    # Everything is equally good: no slice is worse than overall.
    assert worst_slices(frame, y, y, "regression")["slices"] == []
    # Level c39 (25 rows) is bad; with max_levels=5 it is pooled into the rest.
    pred = np.where(frame["code"] == "c39", y + 10, y)
    found = worst_slices(frame, y, pred, "regression", max_levels=5)
    assert found["slices"][0]["group"] == "(other)"
    assert found["slices"][0]["slice"] == "code is none of its 5 most common values"
    # All 40 levels kept: min_rows defaults to max(10, 2% of rows) = 20, so c39 (25 rows) shows; 30 hides it.
    found = worst_slices(frame, y, pred, "regression", max_levels=40)
    assert found["slices"][0]["slice"] == "code = c39" and found["slices"][0]["n"] == 25
    assert worst_slices(frame, y, pred, "regression", max_levels=40, min_rows=30)["slices"] == []


def test_bad_inputs():
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    with pytest.raises(ConfigError, match="classes"):
        worst_slices(frame, ["a", "b"], [[0.5, 0.5]] * 2, "classification")
    with pytest.raises(DataError, match="2 rows"):
        worst_slices(frame, [1.0, 2.0, 3.0], [1.0, 2.0, 3.0], "regression")
    empty = worst_slices(frame.iloc[:0], [], [], "regression")
    assert empty == {"metric": "mae", "overall": {"n": 0, "value": None, "rmse": None}, "slices": []}


def test_docstring_examples_run():
    assert doctest.testmod(slices).failed == 0
