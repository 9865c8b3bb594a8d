"""What AutoGluon's ensemble is made of on one table of bench/tables.py: the same fit as bench/automl.py's
AutoGluon run (``presets="medium_quality"``, XGBoost excluded), then its leaderboard scored on the test rows
and the weights of its weighted ensemble. Run in the peer environment:

    /work/benchvenv/bin/python bench/autogluon_leaderboard.py --table diamonds --budget 30
"""

import argparse
import json
import tempfile
from pathlib import Path

import pandas as pd
from autogluon.tabular import TabularPredictor

METRIC = {"binary": "roc_auc", "multiclass": "f1_macro", "regression": "root_mean_squared_error"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", default="diamonds")
    parser.add_argument("--budget", type=float, default=30.0)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "trainwright-bench-tables")
    args = parser.parse_args()
    meta = json.loads((args.cache / args.table / "meta.json").read_text())
    target, task = meta["target"], meta["task"]
    dtype = {target: str} if task != "regression" else None
    train, test = (pd.read_csv(args.cache / args.table / f"{p}.csv", dtype=dtype) for p in ("train", "test"))
    predictor = TabularPredictor(label=target, problem_type=task, eval_metric=METRIC[task],
                                 path=tempfile.mkdtemp(prefix="ag-"), verbosity=0)
    predictor.fit(train, presets="medium_quality", time_limit=args.budget, excluded_model_types=["XGB"])
    board = predictor.leaderboard(test, extra_info=False)
    print(board[["model", "score_test", "score_val", "fit_time"]].to_string(index=False))
    weights = predictor._trainer.load_model(predictor.model_best)._get_model_weights()
    print(f"{predictor.model_best}: " + ", ".join(f"{m} {w:.2f}" for m, w in weights.items()))


if __name__ == "__main__":
    main()
