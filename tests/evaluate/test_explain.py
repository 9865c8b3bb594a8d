"""Explanations checked against the reference implementations they reproduce (shap, scikit-learn) and
against the mathematical properties they must have (additivity, completeness)."""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest

from tests.conftest import PENGUINS
from trainwright.data.features import FeaturesConfig, Preprocessor
from trainwright.deploy.predictor import Predictor
from trainwright.evaluate import attributions as at
from trainwright.evaluate import explain as ex
from trainwright.models.tabular.gbdt import LightGBMLearner
from trainwright.models.tabular.linear import LinearLearner
from trainwright.models.tabular.mlp import MLPLearner

KINDS = {"a": "numeric", "b": "numeric", "noise": "numeric", "c": "categorical", "flag": "boolean"}
MLP_TRAIN = {"epochs": 8, "optimizer": {"lr": 0.01}}


def _synthetic(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Columns a (strong), b (weaker), c (categorical), flag (boolean), noise (none); a regression target."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "a": rng.normal(size=n), "b": rng.normal(size=n), "noise": rng.normal(size=n),
        "c": rng.choice(["x", "y", "z"], size=n), "flag": rng.random(n) < 0.3,
    })
    frame.loc[rng.random(n) < 0.05, "b"] = np.nan
    frame.index = frame.index + 1000  # row ids are index labels, not positions
    y = 3 * frame["a"] + np.nan_to_num(frame["b"]) + frame["c"].map({"x": 0.0, "y": 1.0, "z": -1.0}) \
        + 0.5 * frame["flag"] + rng.normal(scale=0.3, size=n)
    return frame, y.to_numpy()


def _binary_labels(y: np.ndarray) -> np.ndarray:
    return np.where(y > np.median(y), "yes", "no")


def _penguins() -> tuple[pd.DataFrame, np.ndarray]:
    frame = pd.read_csv(PENGUINS)
    frame = frame[frame["species"].notna()]
    # Shuffled, so that the first rows hold every species; the index keeps the file's row numbers.
    frame = frame.iloc[np.random.default_rng(0).permutation(len(frame))]
    return frame.drop(columns=["species"]), frame["species"].to_numpy()


def _penguin_kinds(frame: pd.DataFrame) -> dict[str, str]:
    return {c: ("numeric" if pd.api.types.is_numeric_dtype(frame[c]) else "categorical") for c in frame.columns}


def _fit(frame, y, task, learner, kinds=KINDS, features=None) -> Predictor:
    pre = Preprocessor(kinds, features=features, task=task)
    X = pre.fit_transform(frame, y)
    learner.fit(X, y)
    return Predictor([(pre, learner)], task)


def _gbdt(task: str) -> LightGBMLearner:
    return LightGBMLearner(task=task, n_estimators=40, num_leaves=8, n_jobs=1)


def _assert_plain(value) -> None:
    """JSON-able plain Python all the way down (no numpy scalars, no NaN)."""
    assert not isinstance(value, np.generic), type(value)
    if isinstance(value, dict):
        for k, v in value.items():
            assert isinstance(k, str)
            _assert_plain(v)
    elif isinstance(value, list):
        for v in value:
            _assert_plain(v)
    else:
        assert value is None or type(value) in (str, int, float, bool), type(value)
    json.dumps(value, allow_nan=False)


class _SklearnWrapper:
    """A fitted predictor seen by scikit-learn as an estimator on raw frames."""

    def __init__(self, predictor: Predictor) -> None:
        self.predictor = predictor
        self._estimator_type = "classifier" if predictor.task == "classification" else "regressor"
        if predictor.task == "classification":
            self.classes_ = predictor.classes_

    def __sklearn_tags__(self):
        from sklearn.utils import ClassifierTags, RegressorTags, Tags, TargetTags

        classifier = self.predictor.task == "classification"
        return Tags(estimator_type=self._estimator_type, target_tags=TargetTags(required=True),
                    classifier_tags=ClassifierTags() if classifier else None,
                    regressor_tags=None if classifier else RegressorTags())

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def fit(self, X, y):
        return self

    def get_params(self, deep=True):
        return {"predictor": self.predictor}

    def predict_proba(self, X):
        return self.predictor.output(X, prepared=True)

    def predict(self, X):
        out = self.predictor.output(X, prepared=True)
        return self.predictor.classes_[out.argmax(1)] if self.predictor.task == "classification" else out


# --- permutation importance ---------------------------------------------------------------
def test_permutation_importance_agrees_with_sklearn_and_noise_is_zero():
    from sklearn.inspection import permutation_importance as sk_permutation

    frame, y = _synthetic()
    predictor = _fit(frame, y, "regression", _gbdt("regression"))
    test, y_test = _synthetic(300, seed=1)
    ours = ex.permutation_importance(predictor, test, y_test, "regression", "rmse", repeats=20, seed=0)
    _assert_plain(ours)

    def neg_rmse(estimator, X, y_true):
        return -float(np.sqrt(np.mean((estimator.predict(X) - y_true) ** 2)))

    ref = sk_permutation(_SklearnWrapper(predictor), test, y_test, scoring=neg_rmse, n_repeats=20, random_state=0)
    by_column = {c["column"]: c for c in ours["columns"]}
    assert [c["column"] for c in ours["columns"]][:2] == ["a", "b"]
    assert ours["baseline"] == pytest.approx(np.sqrt(np.mean((predictor.output(test, prepared=True) - y_test) ** 2)))
    for j, column in enumerate(test.columns):
        mean, sk_mean = by_column[column]["mean"], ref.importances_mean[j]
        # Different shuffles, same estimator: agree within sampling noise of 20 repeats.
        spread = by_column[column]["std"] + ref.importances_std[j]
        assert mean == pytest.approx(sk_mean, abs=4 * spread / np.sqrt(20) + 1e-3)
    assert abs(by_column["noise"]["mean"]) < 0.02 * by_column["a"]["mean"]


def test_permutation_importance_is_signed_so_positive_means_relied_on():
    frame, y = _synthetic()
    labels = _binary_labels(y)
    predictor = _fit(frame, labels, "classification", _gbdt("classification"))
    test, y_test = _synthetic(300, seed=2)
    for metric in ("log_loss", "accuracy"):  # lower is better, higher is better
        result = ex.permutation_importance(predictor, test, _binary_labels(y_test), "classification", metric,
                                           columns=["a", "noise"], seed=3)
        assert [c["column"] for c in result["columns"]] == ["a", "noise"]
        assert result["columns"][0]["mean"] > 0.1
    again = ex.permutation_importance(predictor, test, _binary_labels(y_test), "classification", "accuracy",
                                      columns=["a", "noise"], seed=3)
    assert again == result  # seeded


# --- TreeSHAP -------------------------------------------------------------------------------
@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_tree_shap_equals_shap_package_summed_by_source(task):
    import shap

    if task == "multiclass":
        frame, y = _penguins()
        kinds, features = _penguin_kinds(frame), None
        predictor = _fit(frame, y, "classification", _gbdt("classification"), kinds)
    else:
        frame, y = _synthetic()
        kinds = KINDS
        # Polynomial terms: a*b is its own (interaction) column; a*a belongs to a.
        features = FeaturesConfig(polynomial_degree=2, polynomial_columns=["a", "b"]) if task == "regression" else None
        y = y if task == "regression" else _binary_labels(y)
        t = "regression" if task == "regression" else "classification"
        predictor = _fit(frame, y, t, _gbdt(t), kinds, features)
    pre, learner = predictor.members[0]
    X = pre.transform(frame)
    result = at.tree_shap(learner, pre, X, frame, max_rows=120)
    _assert_plain(result)

    explainer = shap.TreeExplainer(learner.booster_)
    ref = np.asarray(explainer.shap_values(X[:120]))  # (rows, features) or (rows, features, classes)
    ref = ref[:, :, None] if ref.ndim == 2 else ref
    sources = pre.feature_sources()
    per_col = np.stack([ref[:, [s == c for s in sources], :].sum(axis=1) for c in result["columns"]], axis=1)
    raw = np.asarray(learner.booster_.predict(X[:120], raw_score=True)).reshape(120, -1)  # (rows, outputs)
    pick = raw.argmax(1) if raw.shape[1] > 1 else np.zeros(120, dtype=int)
    values = np.asarray(result["values"])
    assert values.shape == (120, len(result["columns"]))
    np.testing.assert_allclose(values, per_col[np.arange(120), :, pick], atol=1e-6)
    np.testing.assert_allclose(result["mean_abs"], np.abs(values).mean(0), atol=1e-6)
    np.testing.assert_allclose(result["base"], np.atleast_1d(explainer.expected_value), atol=1e-6)
    # Additivity: base + sum of contributions == the raw margin.
    np.testing.assert_allclose(np.asarray(result["base"])[pick] + values.sum(1), raw[np.arange(120), pick], atol=1e-6)
    assert result["space"] == {"binary": "log-odds", "multiclass": "raw score", "regression": "value"}[task]
    example = result["example"]
    assert example["row"] == frame.index[0]
    total = example["base"] + sum(c["contribution"] for c in example["contributions"])
    assert example["prediction"] == pytest.approx(total)
    magnitudes = [abs(c["contribution"]) for c in example["contributions"]]
    assert magnitudes == sorted(magnitudes, reverse=True)
    if task == "regression":
        assert "a*b" in result["columns"] and result["kinds"][result["columns"].index("a*b")] == "interaction"
        assert all(row[result["columns"].index("a*b")] is None for row in result["feature_values"])
        assert result["explained"] == [None] * 120 and result["example"]["probability"] is None
    if task == "multiclass":
        assert result["explained"] == learner.classes_[pick].tolist()
        for k, row in enumerate(result["mean_abs_by_class"]):  # over the rows predicted as class k
            np.testing.assert_allclose(row, np.abs(per_col[pick == k, :, k]).mean(0), atol=1e-6)
        adelie = np.flatnonzero(pick == 0)[:5]
        sub = at.tree_shap(learner, pre, X[adelie], frame.iloc[adelie])
        assert sub["explained"] == ["Adelie"] * 5 and sub["mean_abs_by_class"][1:] == [None, None]
        assert example["probability"] == pytest.approx(predictor.output(frame.iloc[:1], prepared=True).max())
        island = result["columns"].index("island")
        assert result["feature_values"][0][island] == frame["island"].iloc[0]
    if task == "binary":
        assert set(result["explained"]) == {"yes"}
        assert example["probability"] == pytest.approx(learner.predict_proba(X[:1])[0, 1])


# --- integrated gradients -------------------------------------------------------------------
def _riemann_ig(learner, x: np.ndarray, k: int, steps: int = 4000) -> np.ndarray:
    """Midpoint Riemann sum of IG from a zero baseline, written out by hand, for output k."""
    import torch

    net = copy.deepcopy(learner.net_).double()
    alphas = (np.arange(steps) + 0.5) / steps
    path = torch.tensor(alphas[:, None] * x[None, :], requires_grad=True)  # (steps, features)
    out = net(path)
    out = out[:, k] * learner.y_std_ if learner.task == "regression" else out[:, k]
    (grad,) = torch.autograd.grad(out.sum(), path)
    return x * grad.mean(0).numpy()


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_integrated_gradients_completeness_and_riemann(task):
    if task == "multiclass":
        frame, y = _penguins()
        kinds, t = _penguin_kinds(frame), "classification"
    else:
        frame, y = _synthetic(300)
        kinds, t = KINDS, "regression"
    learner = MLPLearner(task=t, hidden_sizes=[16, 16], train=MLP_TRAIN)
    predictor = _fit(frame, y, t, learner, kinds)
    pre = predictor.members[0][0]
    X = pre.transform(frame)
    result = at.integrated_gradients(learner, pre, X, frame, steps=64, max_rows=60)
    _assert_plain(result)
    values = np.asarray(result["values"])
    assert values.shape == (60, len(result["columns"]))
    assert result["space"] == ("logit" if t == "classification" else "value")

    import torch

    with torch.no_grad():
        out = learner.net_(torch.from_numpy(X[:60])).double().numpy()
        zero = learner.net_(torch.zeros(1, X.shape[1])).double().numpy()[0]
    if t == "regression":
        f, f0, pick = out[:, :1] * learner.y_std_ + learner.y_mean_, zero[:1] * learner.y_std_ + learner.y_mean_, \
            np.zeros(60, dtype=int)
        np.testing.assert_allclose(f[:, 0], predictor.output(frame.iloc[:60], prepared=True), atol=1e-4)
    else:
        f, f0, pick = out, zero, out.argmax(1)
    np.testing.assert_allclose(result["base"], f0, atol=1e-4)
    # Completeness: attributions add up to f(x) - f(baseline), up to the integration error.
    gap = f[np.arange(60), pick] - f0[pick] - values.sum(1)
    assert np.abs(gap).max() <= result["delta"] + 1e-4
    assert result["delta"] < 0.05 * np.abs(f[np.arange(60), pick] - f0[pick]).max()
    # One row against a hand-written Riemann sum.
    sources = pre.feature_sources()
    by_feature = _riemann_ig(learner, X[0].astype(np.float64), int(pick[0]))
    by_column = [by_feature[[s == c for s in sources]].sum() for c in result["columns"]]
    np.testing.assert_allclose(values[0], by_column, atol=0.02 * np.abs(by_column).max())


def test_integrated_gradients_binary_explains_log_odds_with_given_baseline():
    frame, y = _synthetic(300)
    labels = _binary_labels(y)
    learner = MLPLearner(task="classification", hidden_sizes=[8], train=MLP_TRAIN)
    predictor = _fit(frame, labels, "classification", learner)
    pre = predictor.members[0][0]
    X = pre.transform(frame)
    result = at.integrated_gradients(learner, pre, X, frame, max_rows=20, baseline=X.mean(0))
    proba = learner.predict_proba(X[:20])
    values = np.asarray(result["values"])
    assert result["space"] == "log-odds" and result["baseline"] == "given"
    np.testing.assert_allclose(result["base"][0] + values.sum(1), np.log(proba[:, 1] / proba[:, 0]),
                               atol=result["delta"] + 1e-3)
    assert result["example"]["probability"] == pytest.approx(proba[0, 1], abs=1e-5)


# --- partial dependence ---------------------------------------------------------------------
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_partial_dependence_matches_sklearn_brute(task):
    from sklearn.inspection import partial_dependence as sk_pd

    frame, y = _synthetic(300)
    predictor = _fit(frame, y if task == "regression" else _binary_labels(y), task, _gbdt(task))
    result = ex.partial_dependence(predictor, frame, "a", grid=10, rows=120, seed=4)
    _assert_plain(result)
    assert result["kind"] == "numeric" and len(result["grid"]) == 10
    lo, hi = np.quantile(frame["a"], [0.05, 0.95])
    assert lo - 1e-12 <= min(result["grid"]) and max(result["grid"]) <= hi + 1e-12
    rows = ex._sample(frame, 120, 4)
    ref = sk_pd(_SklearnWrapper(predictor), rows, ["a"], method="brute", custom_values={"a": result["grid"]},
                response_method="predict_proba" if task == "classification" else "auto", kind="both")
    if task == "classification":  # scikit-learn gives the positive class of a binary model
        average, ice = result["average"]["yes"], np.asarray(result["ice"]["yes"])
        assert np.allclose(np.asarray(result["average"]["no"]) + average, 1.0)
    else:
        average, ice = result["average"], np.asarray(result["ice"])
    np.testing.assert_allclose(average, ref["average"][0], atol=1e-9)
    assert ice.shape == (20, 10)
    np.testing.assert_allclose(ice, ref["individual"][0][:20], atol=1e-9)


def test_partial_dependence_categorical_uses_most_frequent_levels():
    frame, y = _synthetic(300)
    predictor = _fit(frame, y, "regression", _gbdt("regression"))
    result = ex.partial_dependence(predictor, frame, "c", grid=2)
    assert result["kind"] == "categorical" and result["ice"] is None
    assert result["grid"] == frame["c"].value_counts().index[:2].tolist()
    for level, average in zip(result["grid"], result["average"]):
        assert average == pytest.approx(predictor.output(frame.assign(c=level), prepared=True).mean())


# --- explain ----------------------------------------------------------------------------------
def test_explain_lightgbm_sections_and_plain_json():
    frame, y = _synthetic(600)
    labels = _binary_labels(y)
    predictor = _fit(frame, labels, "classification", _gbdt("classification"))
    result = ex.explain(predictor, frame, labels, "classification", "log_loss", rows=400, repeats=3, top=2)
    _assert_plain(result)
    assert result["rows"] == 400
    assert result["shap"] is not None and len(result["shap"]["values"]) == 400
    assert result["integrated_gradients"] is None and result["coefficients"] is None
    top = [c["column"] for c in result["permutation"]["columns"][:2]]
    assert top[0] == "a" and [p["column"] for p in result["partial_dependence"]] == top
    assert "400 test rows" in result["note"]


def test_explain_mlp_and_linear():
    frame, y = _penguins()
    kinds = _penguin_kinds(frame)
    mlp = _fit(frame, y, "classification", MLPLearner(task="classification", hidden_sizes=[8], train=MLP_TRAIN), kinds)
    result = ex.explain(mlp, frame, y, "classification", "accuracy", repeats=2, top=1)
    _assert_plain(result)
    assert result["integrated_gradients"]["space"] == "logit" and result["shap"] is None

    frame, values = _synthetic(300)
    linear = _fit(frame, values, "regression", LinearLearner(task="regression", alpha=0.01))
    result = ex.explain(linear, frame, values, "regression", "rmse", repeats=2, top=1)
    _assert_plain(result)
    coefficients = result["coefficients"]["columns"]
    assert coefficients[0]["column"] == "a" and coefficients[0]["value"] == pytest.approx(3.0, rel=0.1)
    assert result["shap"] is None and result["integrated_gradients"] is None


def test_explain_names_the_member_when_several():
    frame, y = _synthetic(200)
    members = [_fit(frame, y, "regression", _gbdt("regression")).members[0] for _ in range(2)]
    result = ex.explain(Predictor(members, "regression"), frame, y, "regression", "r2", repeats=1, top=0)
    assert "member 1 of 2 (multiple imputation)" in result["note"]
    assert result["partial_dependence"] == []


def test_module_imports_no_heavy_library():
    import subprocess
    import sys

    code = ("import sys, trainwright.evaluate.explain; "
            "print([m for m in ('pandas', 'sklearn', 'torch', 'captum', 'lightgbm') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
