"""Speed of `trainwright.data.audit` on 1,000,000 rows x 50 columns, beside its closest peers.

Run:  .venv/bin/python bench/audit.py [--rows 1000000] [--seed 0]

The synthetic frame has 30 float columns (5 with missing values, one with planted
outliers), 5 integer columns, 12 text categorical columns (2 with missing values,
one with case/space variants of its levels), 2 boolean columns, one numbers-as-text
column with a few bad values, and a 3-class target that depends on the features,
with 2% of labels flipped and 1% of rows duplicated.

Peers, run in the same process on the same data:
- pandas `DataFrame.duplicated()` (exact duplicate rows only) beside the audit's
  duplicate check (exact and near-duplicates, via row hashes);
- cleanlab `filter.find_label_issues` on the same out-of-fold probabilities beside
  the audit's confident-learning rule (the model fit is shared, so only the
  filtering step is compared; cleanlab is a bench-only dependency).
Prints markdown tables: per-check seconds of the full audit, then the peer ratios.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from trainwright.data.quality import checks, model_checks  # noqa: E402
from trainwright.data.quality import AuditConfig, audit  # noqa: E402


def make_frame(n: int, seed: int) -> pd.DataFrame:
    """A mixed 50-column frame with a 3-class target (column 'label')."""
    rng = np.random.default_rng(seed)
    cols: dict[str, object] = {}
    floats = rng.normal(size=(n, 30)).astype(np.float64)
    floats[:, 10:20] = np.exp(floats[:, 10:20])  # skewed columns
    for j in range(30):
        cols[f"f{j}"] = floats[:, j]
    for j in range(5):
        cols[f"f{j}"] = np.where(rng.random(n) < 0.05 * (j + 1), np.nan, floats[:, j])
    cols["f29"] = np.where(rng.random(n) < 1e-4, 1e6, floats[:, 29])  # unit errors
    for j in range(5):
        cols[f"i{j}"] = rng.integers(0, 10 ** (j + 1), n)
    levels = np.array([f"level_{k}" for k in range(40)])
    for j in range(12):
        cols[f"c{j}"] = levels[rng.integers(0, 3 + 3 * j, n)]
    for j in range(2):
        cols[f"c{j}"] = np.where(rng.random(n) < 0.1, None, cols[f"c{j}"])
    cols["c11"] = np.where(rng.random(n) < 0.01, np.char.upper(cols["c11"].astype(str)), cols["c11"])
    cols["b0"], cols["b1"] = rng.random(n) < 0.3, rng.random(n) < 0.6
    amount = np.round(rng.gamma(2.0, 50.0, n), 2).astype(str)
    cols["amount_text"] = np.where(rng.random(n) < 0.001, "n/a", amount)
    score = floats[:, 5] + 0.8 * floats[:, 6] - 0.5 * np.log(floats[:, 12]) + (cols["c3"] == "level_1")
    label = np.digitize(score + rng.normal(scale=0.5, size=n), [-0.7, 0.7])
    flip = rng.random(n) < 0.02
    label[flip] = (label[flip] + rng.integers(1, 3, flip.sum())) % 3
    cols["label"] = np.array(["low", "mid", "high"])[label]
    frame = pd.DataFrame(cols)
    for c in [c for c in frame.columns if c.startswith("c") or c in ("amount_text", "label")]:
        frame[c] = frame[c].astype("str")
    order = np.arange(n)
    order[rng.choice(n, n // 100, replace=False)] = rng.choice(n, n // 100, replace=False)  # 1% copies
    return frame.iloc[order].reset_index(drop=True)


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    frame, build = timed(make_frame, args.rows, args.seed)
    print(f"frame: {frame.shape[0]:,} rows x {frame.shape[1]} columns, built in {build:.1f} s, "
          f"{frame.memory_usage(deep=True).sum() / 2**20:.0f} MiB\n")

    config = AuditConfig()
    report, total = timed(audit, frame, target="label", config=config, seed=args.seed)
    order = np.random.default_rng(args.seed).permutation(len(frame))
    cut = [int(0.7 * len(frame)), int(0.9 * len(frame))]
    splits = dict(zip(("train", "validation", "test"), np.split(order, cut)))
    with_splits, total_splits = timed(audit, frame, target="label", config=config, splits=splits, seed=args.seed)
    print(f"audit(): {total:.1f} s, worst={report.worst()}, {len(report.findings)} findings\n")
    print("| check | findings (severity: columns) | rows flagged |\n|---|---|---:|")
    for check in dict.fromkeys(f.check for f in report.findings):
        found = report.by_check(check)
        where = "; ".join(f"{f.severity}: {', '.join(str(g.column or '-') for g in found if g.severity == f.severity)}"
                          for f in {g.severity: g for g in found}.values())
        print(f"| {check} | {where} | {sum(f.count for f in found):,} |")

    # Per-check seconds, on a fresh context (caches such as codes and hashes are charged to the first user).
    ctx, prep = timed(model_checks.Context.build, frame, target="label", task=None, config=config,
                      splits=None, seed=args.seed)
    print(f"\n| step | seconds |\n|---|---:|\n| context (sample, column kinds) | {prep:.2f} |")
    for name, check in checks.CHECKS:
        try:
            _, sec = timed(check, ctx, config)
        except model_checks.SkipCheck:
            continue
        print(f"| {name} | {sec:.2f} |")

    # Peer 1: exact duplicates with pandas, beside the audit's duplicate check (exact + near).
    pandas_dups, t_pandas = timed(frame.duplicated)
    fresh = model_checks.Context.build(frame, target="label", task=None, config=config, splits=None, seed=args.seed)
    ours, t_ours = timed(checks.check_duplicates, fresh, config)
    ours_exact = next(f.count for f in ours if f.check == "exact_duplicates")
    assert ours_exact == int(pandas_dups.sum()), (ours_exact, int(pandas_dups.sum()))

    # Peer 2: the label-issue filter on the same out-of-fold probabilities.
    from cleanlab.filter import find_label_issues

    labels, _ = ctx.labels()
    rows = ctx.sample
    X, _ = ctx.matrix(rows)
    y = labels[rows]
    (proba, _), t_fit = timed(model_checks.out_of_fold_proba, ctx, X, y)
    (mask, _), t_cl_ours = timed(model_checks.confident_learning, y, proba)
    cl_mask, t_cl = timed(find_label_issues, y, proba, filter_by="confident_learning", n_jobs=1)
    cl_default, t_cl_default = timed(find_label_issues, y, proba, n_jobs=1)
    agree = (mask & cl_mask).sum() / max((mask | cl_mask).sum(), 1)

    print("\n| part | trainwright (s) | peer | peer (s) | peer / trainwright |\n|---|---:|---|---:|---:|")
    print(f"| whole audit, {args.rows:,} x 50 | {total:.2f} | - | - | - |")
    print(f"| whole audit with 70/20/10 splits (adds contamination and drift) | {total_splits:.2f} | - | - | - |")
    print(f"| duplicate rows (exact + near) | {t_ours:.2f} | pandas `duplicated()` (exact only) | "
          f"{t_pandas:.2f} | {t_pandas / t_ours:.2f} |")
    print(f"| label-issue filter on {len(rows):,} OOF probabilities | {t_cl_ours:.3f} | cleanlab "
          f"`find_label_issues(filter_by='confident_learning')` | {t_cl:.3f} | {t_cl / t_cl_ours:.1f} |")
    print(f"| same | {t_cl_ours:.3f} | cleanlab `find_label_issues()` (default prune_by_noise_rate) | "
          f"{t_cl_default:.3f} | {t_cl_default / t_cl_ours:.1f} |")
    drift = {f.details["split"]: round(f.details["auc"], 3) for f in with_splits.by_check("split_drift")}
    contamination = {f.details["split"]: f.count for f in with_splits.by_check("train_test_contamination")}
    print(f"\nwith random splits: contamination {contamination} (the planted 1% copies), drift findings {drift or 'none'}")
    print(f"exact duplicates: audit {ours_exact:,} = pandas {int(pandas_dups.sum()):,}; "
          f"5-fold LightGBM out-of-fold fit on {len(rows):,} rows: {t_fit:.1f} s; flagged: audit {mask.sum():,}, "
          f"cleanlab confident_learning {cl_mask.sum():,} (Jaccard {agree:.3f}), cleanlab default {cl_default.sum():,}")


if __name__ == "__main__":
    main()
