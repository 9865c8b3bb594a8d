"""The boosters' early-stopping tolerance on a regression table, measured against the first round's validation
loss (the rule before 2026-12-01) and against the best loss so far (the rule for regression since): one
LightGBM with the portfolio's tolerance (1e-3) and one CatBoost with its default (1e-3), each fitted on 80% of the
training file and early-stopped on the other 20% (one-hot categorical columns), scored on the bench's test rows.

    .venv/bin/python bench/early_stopping.py --table diamonds     # regression tables of bench/tables.py
"""

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from tables import CACHE, cached
from trainwright.models.tabular.catboost_trees import CatBoostLearner
from trainwright.models.tabular.gbdt import LightGBMLearner, ToleranceStop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", default="diamonds")
    parser.add_argument("--cache", type=Path, default=CACHE)
    args = parser.parse_args()
    meta, train, test = cached(args.table, args.cache)
    y, yt = (f.pop(meta["target"]).to_numpy(dtype=float) for f in (train, test))
    X = pd.get_dummies(train, dtype=float)
    Xt = pd.get_dummies(test, dtype=float).reindex(columns=X.columns, fill_value=0.0).to_numpy()
    X = X.to_numpy()
    order = np.random.default_rng(0).permutation(len(X))
    valid, fit = order[:len(X) // 5], order[len(X) // 5:]
    learners = {"lightgbm (tol 1e-3)": lambda: LightGBMLearner(task="regression", early_stopping_tol=1e-3),
                "catboost (default)": lambda: CatBoostLearner(task="regression")}
    kept = ToleranceStop.for_task  # the rule in force: the best loss so far for regression
    rules = {"first round's loss": lambda task: "first", "best loss so far": kept}
    print(f"{args.table}: {len(fit)} rows fitted, {len(valid)} to stop on, {len(Xt)} test rows")
    for name, make in learners.items():
        for rule, choose in rules.items():
            ToleranceStop.for_task = staticmethod(choose)
            started = time.perf_counter()
            model = make().fit(X[fit], y[fit], X_valid=X[valid], y_valid=y[valid])
            seconds = time.perf_counter() - started
            rmse = float(np.sqrt(np.mean((model.predict(Xt) - yt) ** 2)))
            print(f"{name:20s} relative to the {rule:18s}: test RMSE {rmse:8.1f}, {model.best_iteration_:5d} "
                  f"rounds kept, stopped by {model.stopped_by_}, {seconds:.1f} s")
    ToleranceStop.for_task = staticmethod(kept)


if __name__ == "__main__":
    main()
