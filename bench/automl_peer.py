"""One peer system, one table, one budget, in its own process: the other side of the AutoML benchmark
(bench/automl.py launches it, once per run, and measures the whole process from outside).

    /work/benchvenv/bin/python bench/automl_peer.py flaml TRAIN.csv TEST.csv --target y --task binary \
        --budget 30 --out preds.csv --timing timing.json

Systems: ``flaml`` (flaml.automl.AutoML, time_budget = the budget, the benchmark's metric, seed 0, its default
n_jobs), ``autogluon`` (TabularPredictor, presets medium_quality, time_limit = the budget, the benchmark's
metric; its XGBoost models left out, as they cannot be saved in the peer environment), ``lightgbm``
(LGBMClassifier/LGBMRegressor with default parameters, text columns as pandas categories; it ignores the
budget). Each reads the CSV files itself and imports its library inside the process, so reading and import
count in the measured wall as they do for ``trainwright train``.

Writes the test rows' predictions as CSV in trainwright's format: ``prediction`` and, for classification, one
``proba_<class>`` column per class; and a timing JSON with wall-clock stamps (epoch seconds) at start, after
import, after fit and after predict, so the orchestrator can count only the training part against the budget.
"""

from __future__ import annotations

import time

STARTED = time.time()

import argparse
import json
import shutil
import tempfile
from pathlib import Path

FLAML_METRIC = {"binary": "roc_auc", "multiclass": "macro_f1", "regression": "rmse"}
AUTOGLUON_METRIC = {"binary": "roc_auc", "multiclass": "f1_macro", "regression": "root_mean_squared_error"}


def read(train_csv: Path, test_csv: Path, target: str, task: str):
    import pandas as pd

    dtype = {target: str} if task != "regression" else None  # class labels as text: proba_<class> names them
    train, test = pd.read_csv(train_csv, dtype=dtype), pd.read_csv(test_csv, dtype=dtype)
    return train, test.drop(columns=[target], errors="ignore")


def fit_flaml(train, target: str, task: str, budget: float):
    from flaml.automl import AutoML

    stamps["imported"] = time.time()
    automl = AutoML()
    automl.fit(X_train=train.drop(columns=[target]), y_train=train[target],
               task="regression" if task == "regression" else "classification",
               time_budget=budget, metric=FLAML_METRIC[task], seed=0, verbose=0)
    return automl, labels(getattr(automl, "classes_", None)), None


def fit_autogluon(train, target: str, task: str, budget: float):
    from autogluon.tabular import TabularPredictor

    stamps["imported"] = time.time()
    path = tempfile.mkdtemp(prefix="ag-")
    predictor = TabularPredictor(label=target, problem_type=task, eval_metric=AUTOGLUON_METRIC[task], path=path,
                                 verbosity=0)
    # XGB excluded: with xgboost-cpu 2.1.4 beside scikit-learn 1.9 every AutoGluon XGBoost model trains, then
    # fails to save ("_estimator_type undefined") and is dropped, so it would only spend AutoGluon's budget.
    predictor.fit(train, presets="medium_quality", time_limit=budget, excluded_model_types=["XGB"])
    return predictor, labels(predictor.class_labels), None


def fit_lightgbm(train, target: str, task: str, budget: float):
    import lightgbm

    stamps["imported"] = time.time()
    X = categorical(train.drop(columns=[target]))
    model = (lightgbm.LGBMRegressor if task == "regression" else lightgbm.LGBMClassifier)(verbose=-1)
    model.fit(X, train[target])
    return model, labels(getattr(model, "classes_", None)), lambda test: categorical(test, like=X)


def labels(classes) -> list[str]:
    return [] if classes is None else [str(c) for c in classes]


def categorical(X, like=None):
    """Text columns as pandas categories (LightGBM's native categorical handling), with the training levels."""
    import pandas as pd

    X = X.copy()
    for column in X.columns:
        if like is not None and isinstance(like[column].dtype, pd.CategoricalDtype):
            X[column] = pd.Categorical(X[column], categories=like[column].cat.categories)
        elif like is None and not pd.api.types.is_numeric_dtype(X[column]):
            X[column] = X[column].astype("category")
    return X


def predict(model, classes: list[str], test, task: str):
    import numpy as np
    import pandas as pd

    if task == "regression":
        return pd.DataFrame({"prediction": np.asarray(model.predict(test), dtype=float)})
    proba = model.predict_proba(test)
    if isinstance(proba, pd.DataFrame):  # AutoGluon: one column per class label
        classes, proba = [str(c) for c in proba.columns], proba.to_numpy()
    frame = pd.DataFrame({"prediction": np.asarray(model.predict(test)).astype(str)})
    for i, label in enumerate(classes):
        frame[f"proba_{label}"] = proba[:, i]
    return frame


stamps: dict[str, float] = {"started": STARTED}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("system", choices=["flaml", "autogluon", "lightgbm"])
    parser.add_argument("train", type=Path)
    parser.add_argument("test", type=Path)
    parser.add_argument("--target", required=True)
    parser.add_argument("--task", required=True, choices=["binary", "multiclass", "regression"])
    parser.add_argument("--budget", type=float, required=True, help="seconds (lightgbm ignores it)")
    parser.add_argument("--out", type=Path, required=True, help="predictions CSV")
    parser.add_argument("--timing", type=Path, help="timing JSON (epoch-second stamps)")
    args = parser.parse_args()

    train, test = read(args.train, args.test, args.target, args.task)
    stamps["read"] = time.time()
    fit = {"flaml": fit_flaml, "autogluon": fit_autogluon, "lightgbm": fit_lightgbm}[args.system]
    model, classes, transform = fit(train, args.target, args.task, args.budget)
    stamps["fitted"] = time.time()
    predictions = predict(model, classes, transform(test) if transform else test, args.task)
    predictions.to_csv(args.out, index=False)
    stamps["predicted"] = time.time()
    if args.system == "autogluon":
        shutil.rmtree(model.path, ignore_errors=True)
    if args.timing:
        args.timing.write_text(json.dumps(stamps) + "\n")


if __name__ == "__main__":
    main()
