import json

import numpy as np
import pandas as pd
import pytest

from trainwright.data.features import Preprocessor
from trainwright.data.schema import infer_schema
from trainwright.errors import DataError, NotFittedError


@pytest.fixture()
def penguins(penguins_csv):
    return pd.read_csv(penguins_csv)


def kinds_of(frame, target="species"):
    return {c.name: c.kind for c in infer_schema(frame).columns if c.name != target}


def test_fit_sees_only_the_rows_it_is_given(penguins):
    """Leakage check: making the other rows extreme must not change anything fitted."""
    train, rest = penguins.iloc[:240], penguins.iloc[240:].copy()
    pre = Preprocessor(kinds_of(penguins)).fit(train)
    rest["body_mass_g"] = 1e9
    rest["island"] = "Atlantis"
    pre2 = Preprocessor(kinds_of(penguins)).fit(pd.concat([train, rest]).iloc[:240])
    assert pre.to_dict() == pre2.to_dict()
    mass = next(o for c in pre.columns_ for o in c.get("outputs", []) if o["name"] == "body_mass_g")
    assert mass["fill"] == pytest.approx(train["body_mass_g"].median())
    assert mass["mean"] < 1e5


def test_transform_shapes_names_and_scaling(penguins):
    pre = Preprocessor(kinds_of(penguins)).fit(penguins)
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
    new = penguins.head(2).assign(island="Atlantis")
    X = pre.transform(new)
    island = [i for i, n in enumerate(pre.feature_names_) if n.startswith("island=")]
    assert X[:, island].sum() == 0  # an unseen level sets no island column


def test_rare_levels_share_other():
    frame = pd.DataFrame({"c": list("aaaabbbcd")})
    pre = Preprocessor({"c": "categorical"}, max_categories=2).fit(frame)
    assert pre.feature_names_ == ["c=a", "c=b", "c=__other__"]
    assert pre.transform(pd.DataFrame({"c": ["d", "zzz"]}))[:, 2].tolist() == [1.0, 1.0]


def test_ordinal_encoding():
    pre = Preprocessor({"c": "categorical"}, categorical_encoding="ordinal").fit(pd.DataFrame({"c": list("aab")}))
    assert pre.transform(pd.DataFrame({"c": ["a", "b", "new"]}))[:, 0].tolist() == [0.0, 1.0, 2.0]


def test_missing_column_is_named(penguins):
    pre = Preprocessor(kinds_of(penguins)).fit(penguins)
    with pytest.raises(DataError, match=r"lacks column\(s\) the model was trained on: sex") as info:
        pre.transform(penguins.drop(columns="sex"))
    assert info.value.column == "sex"


def test_json_round_trip_is_exact(penguins):
    pre = Preprocessor(kinds_of(penguins)).fit(penguins)
    again = Preprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    assert np.array_equal(pre.transform(penguins), again.transform(penguins))


def test_datetime_text_boolean():
    frame = pd.DataFrame({
        "when": ["2021-03-04 10:00", "2022-12-25 00:00", None],
        "note": ["short", "a much longer note here", None],
        "ok": ["yes", "no", "yes"],
    })
    pre = Preprocessor({"when": "datetime", "note": "text", "ok": "boolean"}, scale="none").fit(frame)
    X = pd.DataFrame(pre.transform(frame), columns=pre.feature_names_)
    assert X["when__year"].tolist() == [2021, 2022, 2021.5]  # missing filled with the median
    assert X["when__month"].tolist()[:2] == [3, 12]
    assert X["note__words"].tolist()[:2] == [1, 5]
    assert X["ok"].tolist() == [1, 0, 1]


def test_not_fitted():
    with pytest.raises(NotFittedError):
        Preprocessor({"a": "numeric"}).transform(pd.DataFrame({"a": [1]}))
