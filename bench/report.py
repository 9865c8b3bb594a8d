"""The evaluation report on a 100,000-row test set: time per step, file sizes, and two peers.

Run:  .venv/bin/python bench/report.py [--rows 125000] [--seed 0]

A synthetic table (8 numeric columns, 2 categorical, a binary target that depends on
them, 5% label noise) is trained with LightGBM by ``trainwright.train`` with the split
10/10/80, so the test set has 100,000 rows. The run writes ``evaluation.json`` and
``report.html`` as every run does; the script prints the time of each report step
(from the run's log), the report's size, and two peers on the same data:

- bootstrap intervals (1,000 resamples) of accuracy, F1, ROC-AUC and log loss:
  ``trainwright.evaluate.bootstrap.bootstrap_intervals`` against the plain loop a user
  would write with scikit-learn (the loop is timed on 50 resamples and scaled, since
  1,000 take minutes);
- SHAP values of 2,000 rows: LightGBM's TreeSHAP (``pred_contrib=True``, what the
  report uses) against ``shap.TreeExplainer`` (dev/bench dependency).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def make_frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 8))
    city = rng.choice(["north", "south", "east", "west", "centre"], size=n)
    plan = rng.choice(["basic", "plus", "pro"], size=n, p=[0.6, 0.3, 0.1])
    logit = X[:, 0] - 0.8 * X[:, 1] + 0.5 * X[:, 2] * X[:, 3] + (city == "north") * 0.7 + (plan == "pro") * 1.0
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    flip = rng.random(n) < 0.05
    y = np.where(flip, ~y, y)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(8)])
    frame["city"], frame["plan"] = city, plan
    frame["churned"] = np.where(y, "yes", "no")
    return frame


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=125_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import trainwright

    tmp = Path(tempfile.mkdtemp(prefix="bench-report-"))
    data = tmp / "churn.csv"
    make_frame(args.rows, args.seed).to_csv(data, index=False)
    t0 = time.perf_counter()
    run = trainwright.train(data, target="churned", out=tmp / "run",
                            overrides=["model.type=lightgbm", "split.train=0.1", "split.validation=0.1",
                                       "split.test=0.8", "evaluate.sensitive=[city]"])
    total = time.perf_counter() - t0
    log = (run.path / "log.txt").read_text()
    steps = re.findall(r"report: (.+?) in ([0-9.]+)s", log)
    stage = re.search(r"stage report done in ([0-9.]+)s", log)
    html, ev = run.path / "report.html", run.path / "evaluation.json"
    print(f"## Report of a run with {run.info['splits']['test']:,} test rows ({args.rows:,} rows in all)\n")
    print("| step | seconds |\n|---|---|")
    for name, sec in steps:
        print(f"| {name} | {float(sec):.2f} |")
    print(f"| rendering (charts + HTML) | {float(stage.group(1)) - sum(float(s) for _, s in steps):.2f} |")
    print(f"| **report stage in all** | **{float(stage.group(1)):.2f}** |")
    print(f"| whole `train` (load to report) | {total:.2f} |\n")
    print(f"report.html: {html.stat().st_size / 1e6:.2f} MB; evaluation.json: {ev.stat().st_size / 1e6:.2f} MB\n")

    test_ids = json.loads((run.path / "splits.json").read_text())["test"]  # file row numbers
    rows = pd.read_csv(data).loc[test_ids]
    proba = run.predictor.output(rows)
    y = run.predictor.members[0][1].encode_labels(rows["churned"].to_numpy())
    peers_bootstrap(y, proba)
    peers_shap(run, rows)


def peers_bootstrap(y: np.ndarray, proba: np.ndarray, n: int = 1000, loop_n: int = 50) -> None:
    from sklearn import metrics as skm

    from trainwright.evaluate.bootstrap import bootstrap_intervals

    t0 = time.perf_counter()
    bootstrap_intervals("classification", y, proba, ["accuracy", "f1", "roc_auc", "log_loss"], n=n, seed=0)
    ours = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    for _ in range(loop_n):
        idx = rng.integers(0, len(y), len(y))
        yy, pp = y[idx], proba[idx]
        pred = pp.argmax(1)
        skm.accuracy_score(yy, pred), skm.f1_score(yy, pred, average="macro")
        skm.roc_auc_score(yy, pp[:, 1]), skm.log_loss(yy, pp, labels=[0, 1])
    loop = (time.perf_counter() - t0) * n / loop_n
    print(f"## Bootstrap intervals, {n:,} resamples of {len(y):,} rows (accuracy, F1, ROC-AUC, log loss)\n")
    print("| implementation | seconds | ratio |\n|---|---|---|")
    print(f"| trainwright `bootstrap_intervals` | {ours:.2f} | 1.0 |")
    print(f"| scikit-learn metrics in a loop (timed on {loop_n}, scaled) | {loop:.1f} | {loop / ours:.1f}x |\n")


def peers_shap(run, rows, n: int = 2000) -> None:
    import shap

    pre, learner = run.predictor.members[0]
    X = pre.transform(run.predictor.prepare(rows.iloc[:n]))
    t0 = time.perf_counter()
    ours = learner.booster_.predict(X, pred_contrib=True)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    theirs = shap.TreeExplainer(learner.booster_).shap_values(X)
    t_shap = time.perf_counter() - t0
    theirs = theirs[1] if isinstance(theirs, list) else theirs
    agree = float(np.max(np.abs(ours[:, :-1] - theirs)))
    print(f"## SHAP values of {n:,} rows, {X.shape[1]} features, {learner.booster_.num_trees()} trees\n")
    print("| implementation | seconds | ratio |\n|---|---|---|")
    print(f"| LightGBM TreeSHAP (`pred_contrib`, used by the report) | {t_ours:.3f} | 1.0 |")
    print(f"| shap `TreeExplainer` | {t_shap:.3f} | {t_shap / t_ours:.1f}x |")
    print(f"\nlargest difference between the two: {agree:.2e}")


if __name__ == "__main__":
    main()
