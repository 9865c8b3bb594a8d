"""How much a table's test rows repeat its training rows, and what memorising them is worth: the share of test
rows whose feature values appear as such in the training file, and the test RMSE of one LightGBM on the whole
training file with its defaults, with small leaves (min_child_samples 1-5, 31-2047 leaves), and of the mean
target of each test row's exact feature row in training, shrunk towards LightGBM's prediction by k pseudo-rows.

    .venv/bin/python bench/repeats.py --table randhie     # regression tables of bench/tables.py
"""

import argparse
from pathlib import Path

import lightgbm as lgb
import numpy as np
from tables import CACHE, cached


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", default="randhie")
    parser.add_argument("--cache", type=Path, default=CACHE)
    args = parser.parse_args()
    meta, train, test = cached(args.table, args.cache)
    X, y = train.drop(columns=meta["target"]), train[meta["target"]].astype(float)
    Xt, yt = test.drop(columns=meta["target"]), test[meta["target"]].astype(float)

    def rmse(p) -> float:
        return float(np.sqrt(np.mean((yt.to_numpy() - p) ** 2)))

    key, test_key = (f.astype(str).agg("|".join, axis=1) for f in (X, Xt))
    groups = y.groupby(key).agg(["mean", "count"])
    seen_mean, count = test_key.map(groups["mean"]), test_key.map(groups["count"]).fillna(0)
    print(f"{args.table}: {len(X)} training rows, {len(groups)} distinct feature rows; "
          f"{seen_mean.notna().mean():.1%} of {len(Xt)} test rows seen in training")
    base = lgb.LGBMRegressor(verbose=-1, n_estimators=300, learning_rate=0.05).fit(X, y).predict(Xt)
    print(f"LightGBM defaults (300 rounds, learning rate 0.05): {rmse(base):.4f}")
    for leaf in (1, 2, 5):
        for leaves in (31, 255, 2047):
            model = lgb.LGBMRegressor(verbose=-1, n_estimators=300, learning_rate=0.05, min_child_samples=leaf,
                                      num_leaves=leaves, min_child_weight=0).fit(X, y)
            print(f"min_child_samples {leaf}, {leaves} leaves: {rmse(model.predict(Xt)):.4f}")
    for k in (1, 3, 10, 30):
        shrunk = (count * seen_mean.fillna(0) + k * base) / (count + k)
        print(f"seen rows' mean target, shrunk by {k} pseudo-rows: {rmse(shrunk.to_numpy()):.4f}")


if __name__ == "__main__":
    main()
