import numpy as np
import pandas as pd

from trainwright.data.schema import Schema, infer_schema, infer_task


def test_kinds_on_a_mixed_frame():
    n = 60
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "customer_id": np.arange(1000, 1000 + n),
        "row": np.arange(n),
        "code": [f"K{i:05d}" for i in range(n)],
        "amount": rng.normal(size=n),
        "amount_text": [f"{v:.2f}" for v in rng.normal(size=n)],
        "flag": rng.integers(0, 2, n),
        "answer": rng.choice(["yes", "no"], n),
        "city": rng.choice(["Oslo", "Lima", "Pune"], n),
        "when": pd.date_range("2020-01-01", periods=n, freq="D").astype(str),
        "review": [f"this product was fine number {i} overall" for i in range(n)],
        "nothing": [None] * n,
    })
    kinds = {c.name: c.kind for c in infer_schema(frame).columns}
    assert kinds == {
        "customer_id": "identifier", "row": "identifier", "code": "identifier", "amount": "numeric",
        "amount_text": "numeric", "flag": "boolean", "answer": "boolean", "city": "categorical",
        "when": "datetime", "review": "text", "nothing": "empty",
    }


def test_schema_round_trips_and_records_counts(penguins_csv):
    schema = infer_schema(pd.read_csv(penguins_csv))
    assert schema["sex"].n_missing == 11 and schema["species"].n_unique == 3
    assert Schema.from_dict(schema.to_dict()) == schema
    assert schema.names("categorical") == ["species", "island", "sex"]


def test_infer_task():
    assert infer_task(pd.Series(["a", "b"] * 10))[0] == "classification"
    assert infer_task(pd.Series([0, 1] * 10))[0] == "classification"
    assert infer_task(pd.Series([3, 4, 5, 6] * 10))[0] == "classification"
    assert infer_task(pd.Series(np.linspace(0, 1, 50)))[0] == "regression"
    assert infer_task(pd.Series(np.arange(100)))[0] == "regression"
