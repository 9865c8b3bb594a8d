"""How the CLI's OpenMP setting changes LightGBM's speed: 300 boosting rounds of trainwright's LightGBM learner
on 8,950 rows of diamonds (bench/tables.py's training file, categorical columns as codes), each setting in a
fresh process, the median of --repeats fits, ratios to the setting with no OpenMP variables.

    .venv/bin/python bench/openmp.py [--repeats 3]

Settings: none (libgomp's default spin, then sleep), ``OMP_WAIT_POLICY=PASSIVE`` (threads sleep at once: what
``runtime.quiet_openmp`` set alone before 2026-11-30), and PASSIVE with ``GOMP_SPINCOUNT=10000`` (what it sets
now). Needs the table cache (/tmp/trainwright-bench-tables, written by bench/tables.py).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

FIT = """
import statistics, sys, time
import numpy as np, pandas as pd
from trainwright.models.tabular.gbdt import LightGBMLearner
df = pd.read_csv("/tmp/trainwright-bench-tables/diamonds/train.csv")
y = df.pop("price").to_numpy(float)
for c in df.select_dtypes(exclude="number").columns:
    df[c] = df[c].astype("category").cat.codes
X = df.to_numpy(float)
seconds = []
for _ in range(int(sys.argv[1])):
    t0 = time.perf_counter()
    LightGBMLearner(task="regression", n_estimators=300, early_stopping_rounds=1000).fit(
        X[:8950], y[:8950], X_valid=X[8950:11188], y_valid=y[8950:11188])
    seconds.append(time.perf_counter() - t0)
print(statistics.median(seconds))
"""

SETTINGS = {"none": {}, "PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"},
            "PASSIVE + GOMP_SPINCOUNT=10000": {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "10000"}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    times = {}
    for name, extra in SETTINGS.items():
        out = subprocess.run([sys.executable, "-c", FIT, str(args.repeats)], env={**base, **extra},
                             capture_output=True, text=True, check=True)
        times[name] = float(out.stdout.split()[-1])
    print(f"{'setting':32s} {'s / 300 rounds':>15s} {'x none':>8s}")
    for name, seconds in times.items():
        print(f"{name:32s} {seconds:15.3f} {seconds / times['none']:8.2f}")


if __name__ == "__main__":
    main()
