"""The refit against the fold models, over seeds: `trainwright train` with `model.refit=true` and `false` on the
bench tables (bench/tables.py), each seed a different split of the training file and different folds, scored
on the bench's test rows like bench/automl.py. The small tables' runs end long before the budget, so a seed gives
the same score every time.

    .venv/bin/python bench/refit_seeds.py --tables diabetes,breast_cancer,anes96,fair,penguins --seeds 1 2 3
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from automl import score
from tables import CACHE, cached


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default="diabetes,breast_cancer,anes96,fair,penguins")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--budget", type=float, default=30.0)
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--trainwright", default=str(Path(sys.executable).with_name("trainwright")))
    args = parser.parse_args()
    better = worse = 0
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.tables.split(","):
            meta, _, _ = cached(name, args.cache)
            table = {**meta, "folder": str(args.cache / name)}
            task = "regression" if meta["task"] == "regression" else "classification"
            for seed in args.seeds:
                scores = {}
                for refit in ("true", "false"):
                    run = Path(scratch) / f"{name}-{seed}-{refit}"
                    subprocess.run([args.trainwright, "train", str(args.cache / name / "train.csv"), "--target",
                                    meta["target"], "--task", task, "--seed", str(seed), "--time-budget",
                                    str(args.budget), "--out", str(run), "--set", f"model.refit={refit}"],
                                   check=True, capture_output=True)
                    subprocess.run([args.trainwright, "predict", str(run), str(args.cache / name / "test.csv"),
                                    "-o", str(run / "predictions.csv")], check=True, capture_output=True)
                    scores[refit] = score(table, run / "predictions.csv")
                lower = meta["task"] == "regression"
                gain = (scores["true"] - scores["false"]) * (1 if lower else -1)  # > 0: the fold models are better
                better, worse = better + (gain > 0), worse + (gain < 0)
                print(f"{name:14s} seed {seed}: refit {scores['true']:.4f}, fold models {scores['false']:.4f}",
                      flush=True)
    print(f"fold models better in {better}, worse in {worse}, equal in the rest")


if __name__ == "__main__":
    main()
