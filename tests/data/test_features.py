import json

import numpy as np
import pandas as pd
import pytest

from trainwright.data.features import FeaturesConfig, PreprocessConfig, Preprocessor
from trainwright.data.schema import infer_schema
from trainwright.errors import DataError, NotFittedError


@pytest.fixture()
def penguins(penguins_csv):
    return pd.read_csv(penguins_csv)


def kinds_of(frame, target="species"):
    return {c.name: c.kind for c in infer_schema(frame).columns if c.name != target}


def round_trip(pre):
    return Preprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))


@pytest.mark.parametrize("strategy", ["median", "mean", "most_frequent", "constant", "knn", "iterative"])
def test_fit_sees_only_the_rows_it_is_given(penguins, strategy):
    """Leakage check: making the other rows extreme must not change anything fitted."""
    cfg = PreprocessConfig(numeric_impute=strategy, missing_indicators="all")
    feats = FeaturesConfig(target_encoding=["island"], polynomial_degree=2)
    train, rest = penguins.iloc[:240], penguins.iloc[240:].copy()
    y = train["species"].to_numpy()
    pre = Preprocessor(kinds_of(penguins), cfg, feats, task="classification", clip=("iqr", 3.0)).fit(train, y)
    rest["body_mass_g"] = 1e9
    rest["bill_length_mm"] = np.nan
    rest["island"] = "Atlantis"
    rest["species"] = "Emperor"
    both = pd.concat([train, rest])
    pre2 = Preprocessor(kinds_of(penguins), cfg, feats, task="classification", clip=("iqr", 3.0))
    pre2.fit(both.iloc[:240], both["species"].to_numpy()[:240])
    assert pre.to_dict() == pre2.to_dict()
    j = pre.numeric_names_.index("body_mass_g")
    assert pre.mean_[j] == pytest.approx(train["body_mass_g"].mean(), rel=0.01)
    X = pre.transform(rest)
    assert np.isfinite(X).all()


def test_transform_shapes_names_and_scaling(penguins):
    pre = Preprocessor(kinds_of(penguins), PreprocessConfig(missing_indicators="all")).fit(penguins)
    X = pre.transform(penguins)
    assert X.dtype == np.float32 and X.shape == (344, len(pre.feature_names_))
    col = pre.feature_names_.index("flipper_length_mm")
    assert abs(X[:, col].mean()) < 1e-5 and abs(X[:, col].std() - 1) < 1e-4
    assert "sex=__missing__" in pre.feature_names_ and "bill_length_mm__missing" in pre.feature_names_
    assert not np.isnan(X).any()


def test_any_column_order_extra_columns_unseen_levels(penguins):
    pre = Preprocessor(kinds_of(penguins)).fit(penguins)
    shuffled = penguins[penguins.columns[::-1]].assign(extra=1)
    assert np.array_equal(pre.transform(shuffled), pre.transform(penguins))
    X = pre.transform(penguins.head(2).assign(island="Atlantis"))
    island = [i for i, n in enumerate(pre.feature_names_) if n.startswith("island=")]
    assert X[:, island].sum() == 0  # an unseen level sets no island column


def test_rare_levels_share_other():
    frame = pd.DataFrame({"c": list("aaaabbbcd")})
    pre = Preprocessor({"c": "categorical"}, PreprocessConfig(max_categories=2), FeaturesConfig(target_encoding=[])).fit(frame)
    assert pre.feature_names_ == ["c=a", "c=b", "c=__other__"]
    assert pre.transform(pd.DataFrame({"c": ["d", "zzz"]}))[:, 2].tolist() == [1.0, 1.0]


def test_ordinal_encoding_and_most_frequent_category_fill():
    cfg = PreprocessConfig(categorical_encoding="ordinal", categorical_impute="most_frequent")
    pre = Preprocessor({"c": "categorical"}, cfg).fit(pd.DataFrame({"c": ["a", "a", "b", None]}))
    assert pre.transform(pd.DataFrame({"c": ["a", "b", "new", None]}))[:, 0].tolist() == [0.0, 1.0, 2.0, 0.0]


def test_imputation_strategies_fill_as_documented():
    train = pd.DataFrame({"a": [1.0, 2.0, 2.0, 10.0, np.nan], "b": [2.0, 4.0, 4.0, 20.0, 8.0]})
    new = pd.DataFrame({"a": [np.nan], "b": [4.0]})
    expect = {"median": 2.0, "mean": 3.75, "most_frequent": 2.0, "constant": -1.0}
    for strategy, value in expect.items():
        cfg = PreprocessConfig(numeric_impute=strategy, fill_value=-1.0, scale="none", missing_indicators="none")
        pre = Preprocessor({"a": "numeric", "b": "numeric"}, cfg).fit(train)
        assert pre.transform(new)[0, 0] == pytest.approx(value), strategy
    # b = 2a exactly: the iterative (regression) imputer recovers a = b / 2, KNN averages the neighbours with b = 4
    line = pd.DataFrame({"a": np.r_[np.arange(1.0, 41.0), np.nan], "b": np.r_[np.arange(2.0, 82.0, 2.0), 8.0]})
    it = Preprocessor({"a": "numeric", "b": "numeric"}, PreprocessConfig(numeric_impute="iterative", scale="none")).fit(line)
    assert it.transform(new)[0, 0] == pytest.approx(2.0, abs=0.1)
    knn = Preprocessor({"a": "numeric", "b": "numeric"},
                       PreprocessConfig(numeric_impute="knn", knn_neighbors=2, scale="none")).fit(train)
    assert knn.transform(new)[0, 0] == pytest.approx(2.0)


def test_auto_indicators_only_where_missingness_carries_signal():
    rng = np.random.default_rng(0)
    n = 600
    y = rng.integers(0, 2, n)
    signal = rng.normal(size=n)
    signal[(y == 1) & (rng.random(n) < 0.5)] = np.nan  # missing mostly in class 1
    noise = rng.normal(size=n)
    noise[rng.random(n) < 0.3] = np.nan  # missing at random
    frame = pd.DataFrame({"signal": signal, "noise": noise})
    pre = Preprocessor({"signal": "numeric", "noise": "numeric"}, task="classification").fit(frame, y)
    assert "signal__missing" in pre.feature_names_ and "noise__missing" not in pre.feature_names_


def test_target_encoding_is_out_of_fold_on_training_rows():
    rng = np.random.default_rng(1)
    n = 2000
    ids = rng.integers(0, 500, n).astype(str)  # high cardinality, label pure noise
    y = rng.integers(0, 2, n)
    frame = pd.DataFrame({"shop": ids})
    pre = Preprocessor({"shop": "categorical"}, PreprocessConfig(max_categories=20), task="classification")
    X_oof = pre.fit_transform(frame, y)
    assert pre.feature_names_ == ["shop__te_1"]
    X_in = pre.transform(frame)
    # in-sample encodings correlate with the (noise) label; out-of-fold ones do not
    assert np.corrcoef(X_in[:, 0], y)[0, 1] > 0.3
    assert abs(np.corrcoef(X_oof[:, 0], y)[0, 1]) < 0.1
    assert pre.transform(pd.DataFrame({"shop": ["never-seen"]}))[0, 0] == pytest.approx(y.mean(), abs=1e-6)


def test_polynomial_fourier_datetime_cyclical():
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "z": [0.5, 1.0, 2.0], "hour": [0.0, 6.0, 12.0],
                          "when": ["2021-03-04 10:00", "2022-12-25 00:00", "2020-06-01 18:00"]})
    feats = FeaturesConfig(polynomial_degree=2, polynomial_columns=["x", "z"], fourier={"hour": 24})
    cfg = PreprocessConfig(scale="none")
    pre = Preprocessor({"x": "numeric", "z": "numeric", "hour": "numeric", "when": "datetime"}, cfg, feats).fit(frame)
    X = pd.DataFrame(pre.transform(frame), columns=pre.feature_names_)
    assert X["x*z"].tolist() == [0.5, 2.0, 6.0] and X["x*x"].tolist() == [1.0, 4.0, 9.0]
    assert X["hour__sin"].round(6).tolist() == [0.0, 1.0, 0.0] and X["hour__cos"].round(6).tolist() == [1.0, 0.0, -1.0]
    assert X["when__month"].tolist() == [3, 12, 6] and "when__hour__sin" in X
    assert np.allclose(round_trip(pre).transform(frame), pre.transform(frame))


def test_capping_bounds_come_from_training_rows():
    train = pd.DataFrame({"v": np.r_[np.arange(20.0), 1000.0]})
    pre = Preprocessor({"v": "numeric"}, PreprocessConfig(scale="none"), clip=("iqr", 1.5)).fit(train)
    high = pre.bounds_["high"][0]
    assert 20 < high < 100
    assert pre.transform(pd.DataFrame({"v": [5.0, 1e6]}))[:, 0].tolist() == [5.0, pytest.approx(high)]


def test_missing_column_is_named(penguins):
    pre = Preprocessor(kinds_of(penguins)).fit(penguins)
    with pytest.raises(DataError, match=r"model input column .sex. not found") as info:
        pre.transform(penguins.drop(columns="sex"))
    assert info.value.column == "sex"


def test_json_round_trip_is_exact(penguins):
    for strategy in ("median", "knn", "iterative"):
        pre = Preprocessor(kinds_of(penguins), PreprocessConfig(numeric_impute=strategy)).fit(penguins)
        assert np.array_equal(pre.transform(penguins), round_trip(pre).transform(penguins))


def test_datetime_text_boolean():
    frame = pd.DataFrame({
        "when": ["2021-03-04 10:00", "2022-12-25 00:00", None],
        "note": ["short", "a much longer note here", None],
        "ok": ["yes", "no", "yes"],
    })
    kinds = {"when": "datetime", "note": "text", "ok": "boolean"}
    pre = Preprocessor(kinds, PreprocessConfig(scale="none"), FeaturesConfig(text="stats")).fit(frame)
    X = pd.DataFrame(pre.transform(frame), columns=pre.feature_names_)
    assert X["when__year"].tolist() == [2021, 2022, 2021.5]  # missing filled with the median
    assert X["when__month"].tolist()[:2] == [3, 12]
    assert X["note__words"].tolist()[:2] == [1, 5]
    assert X["ok"].tolist() == [1, 0, 1]
    words = Preprocessor(kinds, PreprocessConfig(scale="none")).fit(frame)  # the default: the note's words
    assert "note__words" not in words.feature_names_ and {"note~short", "note~longer note"} <= set(words.feature_names_)


def test_not_fitted():
    with pytest.raises(NotFittedError):
        Preprocessor({"a": "numeric"}).transform(pd.DataFrame({"a": [1]}))
