"""CatBoost's defaults against LightGBM's defaults, one model each, on the bench tables (``bench/tables.py``):
both fitted on the same random 70% of each table's training file (trainwright's training share), scored on its
test file (ROC-AUC / macro-F1 / RMSE). CatBoost reads the text columns as its own categoricals here; ``--onehot``
gives it one-hot columns instead, as trainwright's preprocessor does.

    python bench/families.py --tables diamonds,randhie,anes96   # the peer environment (or .venv[catboost])
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from catboost import CatBoostClassifier, CatBoostRegressor
from sklearn.metrics import f1_score, mean_squared_error, roc_auc_score


def score(meta, model, X, y):
    if meta["task"] == "regression":
        return mean_squared_error(y, model.predict(X)) ** 0.5
    if meta["task"] == "binary":
        column = list(map(str, model.classes_)).index(meta["positive"])
        return roc_auc_score((y.astype(str) == meta["positive"]).astype(int), model.predict_proba(X)[:, column])
    return f1_score(y, np.asarray(model.predict(X)).ravel(), average="macro")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default="breast_cancer,digits,diabetes,penguins,fair,randhie,anes96,diamonds,"
                                            "diamonds_fair")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "trainwright-bench-tables")
    parser.add_argument("--onehot", action="store_true")
    args = parser.parse_args()
    for name in args.tables.split(","):
        meta = json.loads((args.cache / name / "meta.json").read_text())
        train, test = (pd.read_csv(args.cache / name / f"{p}.csv") for p in ("train", "test"))
        X, y = train.drop(columns=meta["target"]), train[meta["target"]]
        Xt, yt = test.drop(columns=meta["target"]), test[meta["target"]]
        cats = [c for c in X if not pd.api.types.is_numeric_dtype(X[c]) and not pd.api.types.is_bool_dtype(X[c])]
        for c in cats:
            X[c], Xt[c] = X[c].fillna("NA"), Xt[c].fillna("NA")
        rows = np.random.default_rng(0).permutation(len(X))[: int(0.7 * len(X))]
        Xl, Xtl = X.copy(), Xt.copy()
        for c in cats:
            Xl[c] = Xl[c].astype("category")
            Xtl[c] = pd.Categorical(Xtl[c], categories=Xl[c].cat.categories)
        out = []
        start = time.perf_counter()
        model = (lgb.LGBMRegressor if meta["task"] == "regression" else lgb.LGBMClassifier)(verbose=-1)
        model.fit(Xl.iloc[rows], y.iloc[rows])
        out.append(("lightgbm", score(meta, model, Xtl, yt), time.perf_counter() - start))
        if args.onehot:
            both = pd.get_dummies(pd.concat([X, Xt]), dummy_na=True).astype("float32")
            X, Xt, cats = both.iloc[: len(X)], both.iloc[len(X):], []
        start = time.perf_counter()
        model = (CatBoostRegressor if meta["task"] == "regression" else CatBoostClassifier)(
            verbose=0, thread_count=2, allow_writing_files=False)
        model.fit(X.iloc[rows], y.iloc[rows], cat_features=cats)
        out.append(("catboost", score(meta, model, Xt, yt), time.perf_counter() - start))
        print(f"{name:<14} {meta['task']:<10} {len(rows):>6} rows  "
              + "  ".join(f"{system} {value:.4g} ({seconds:.1f} s)" for system, value, seconds in out), flush=True)


if __name__ == "__main__":
    main()
