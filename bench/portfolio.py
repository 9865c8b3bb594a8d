"""What does each entry of the ``model.type: auto`` portfolio (``models.auto.PORTFOLIO``) buy per CPU-second, and
what does it cost relative to LightGBM? The measurement behind the order of ``DEFAULT_PORTFOLIO`` and ``COST``.

    .venv/bin/python bench/portfolio.py                                     # every cached table, every entry
    .venv/bin/python bench/portfolio.py --tables wine,mpg --entries lightgbm,linear,knn
    .venv/bin/python bench/portfolio.py --summary-only                      # the tables again from --out

Reads the cached benchmark tables of bench/tables.py (/tmp/trainwright-bench-tables/<name>/train.csv and
meta.json; the test rows are not used). Tables with more than 10,000 rows (diamonds, diamonds_fair, randhie:
16,000) are subsampled to 5,000 rows with seed 0 (stratified by class for classification) to keep the run
short; the subsample is written under /tmp/trainwright-bench-portfolio/. The pipeline's cleaning then drops
duplicate rows as ``trainwright train`` would (randhie and fair hold many), so "rows" is what is left.

Per table the rows go through the pipeline's own stages (``pipeline.stages``: load, frame_target, clean; then
``clean_after_split`` fitted on each fold's training rows, which gives the feature kinds), and a 3-fold
cross-validation (stratified for classification, seed 0) over them. For each portfolio entry,
``pipeline.fit.candidates`` builds its ``Candidate`` and ``fitting.fit_member`` fits it on two folds with the
third as its validation rows (early stopping on them, exactly as ``search.automl`` bags an entry: so scores of
iterative learners, LightGBM and the MLP, are slightly optimistic, as they are in ``fit_auto``'s out-of-fold
predictions), seed 0 + fold, no deadline, one fit at a time, threads as the library sets them
(``runtime.quiet_openmp`` as the CLI does). Each fit's CPU seconds (``time.process_time``, all threads) and
wall seconds are measured around ``fit_member`` alone: the learner's imports are paid before, and every entry
is fitted once on a small table first (not measured) so one-time start-up costs are not charged to it.

Scores are of the out-of-fold predictions of all rows (the three held-out folds together): log_loss (what
``auto`` selects by) and ROC-AUC (binary) or macro-F1 (multiclass) for classification, RMSE for regression.
Per table each entry's score is normalised to the best entry: best/score for log_loss and RMSE, score/best for
AUC and F1 (1.00 = best entry). Per entry, over tables:

- norm: mean normalised score (selection metric: log_loss / RMSE; and AUC-F1 / RMSE);
- cpu s, wall s: mean seconds of one fit (on two thirds of the rows);
- rel cpu, rel wall: mean and geometric mean over tables of (seconds / LightGBM's seconds on that table),
  to compare with ``models.auto.COST`` (where lightgbm is 2.0);
- gain/cpu-s: (normalised score - the table's worst normalised score) / CPU seconds of one fit, averaged
  over tables; and pooled (summed gains / summed CPU seconds), which the smallest tables dominate less.

Combining: per table, the equal-weight average of every entry's out-of-fold predictions against the best single
entry, greedy ensemble selection (``search.ensemble.greedy_weights``, 25 rounds, in-sample on the same
out-of-fold rows, so optimistic), and every pair's 50/50 average (normalised to the best single entry: above
1.00 the pair beats the best single entry).

Order: greedy ensemble selection is also run on every subset of the entries, so any order can be scored as
``auto`` would combine its first k entries: per k, the mean over tables of the ensemble's normalised score and of
the first k entries' summed CPU seconds / LightGBM's. Three orders are shown: the current ``DEFAULT_PORTFOLIO``;
"quality", each step adding the entry that most raises the ensemble's mean normalised score; and "per cost",
each step adding the entry with the largest rise per unit of relative CPU cost (from the table's worst single
entry for the first step).

Prints the tables and writes bench/results/portfolio.json and bench/results/portfolio.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import math
import platform
import sys
import time
import traceback
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "src"))
# The folder only: loading the tables needs the peer environment.
from tables import CACHE

SCRATCH = Path("/tmp/trainwright-bench-portfolio")
OUT = ROOT / "bench" / "results" / "portfolio.json"
MAX_ROWS = 5_000  # tables of more than SUBSAMPLE_ABOVE rows are subsampled to this many
SUBSAMPLE_ABOVE = 10_000
FOLDS = 3
SEED = 0
WARMUP_TABLE = "wine"
RANK_METRIC = {"binary": "roc_auc", "multiclass": "macro_f1", "regression": "rmse"}
LOWER = {"log_loss", "rmse"}


# ----------------------------------------------------------------------------- data


def table_file(name: str) -> tuple[Path, dict, int, bool]:
    """(the CSV to train on, meta, rows in the cached train.csv, subsampled?)."""
    from sklearn.model_selection import train_test_split

    meta = json.loads((CACHE / name / "meta.json").read_text())
    path = CACHE / name / "train.csv"
    frame = pd.read_csv(path)
    if len(frame) <= SUBSAMPLE_ABOVE:
        return path, meta, len(frame), False
    stratify = frame[meta["target"]] if meta["task"] != "regression" else None
    sample, _ = train_test_split(frame, train_size=MAX_ROWS, random_state=SEED, stratify=stratify)
    out = SCRATCH / name / "train.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    sample.reset_index(drop=True).to_csv(out, index=False)
    return out, meta, len(frame), True


def recipe_of(path: Path, meta: dict, entry: str):
    from trainwright.pipeline.recipe import Recipe

    task = "regression" if meta["task"] == "regression" else "classification"
    return Recipe(data={"path": str(path)}, target=meta["target"], task=task, seed=SEED,
                  model={"type": "auto", "candidates": [entry]})


def prepared(path: Path, meta: dict, entry: str):
    """The pipeline's stages up to the folds: (recipe, cleaned, task, folds, [(kinds, train rows) per fold])."""
    from trainwright.fitting.cv import make_folds
    from trainwright.pipeline import stages

    recipe = recipe_of(path, meta, entry)
    loaded = stages.load(recipe.data)
    framed = stages.frame_target(recipe, loaded)
    cleaned = stages.clean(recipe, framed, loaded.path)
    task = framed.task
    cv = SimpleNamespace(method="stratified" if task == "classification" else "kfold", n_splits=FOLDS, n_repeats=1)
    folds = make_folds(np.arange(len(cleaned.frame)), cv, task=task, y=cleaned.y, groups=None, seed=SEED)
    refined = [stages.clean_after_split(recipe, cleaned, train, None) for train, _ in folds]
    return recipe, cleaned, task, folds, [(r.kinds, r.train) for r in refined]


# ----------------------------------------------------------------------------- fitting


def fit_entry(entry: str, path: Path, meta: dict, data, *, measure: bool = True) -> dict:
    """Fit one entry on every fold; its out-of-fold output, classes, and per-fold seconds."""
    from trainwright.fitting import fit_member
    from trainwright.fitting.member import import_requirements
    from trainwright.pipeline.fit import candidates

    _, cleaned, task, folds, refined = data
    recipe = recipe_of(path, meta, entry)
    oof, classes, cpu, wall, iters, stopped = None, None, [], [], [], []
    for k, ((_, valid), (kinds, train)) in enumerate(zip(folds, refined)):
        candidate = candidates(recipe, kinds, task)[0]
        import_requirements(candidate.spec.learner)
        c0, w0 = time.process_time(), time.perf_counter()
        member = fit_member(candidate.spec, cleaned.frame, cleaned.y, train, valid, seed=SEED + k, deadline=None)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
        out = np.asarray(member.valid_output, dtype=np.float64)
        if task == "classification":
            if classes is None:
                classes = list(member.classes)
            elif list(member.classes) != classes:  # a fold that lacks a class: align columns by label
                aligned = np.zeros((len(valid), len(classes)))
                for j, c in enumerate(member.classes):
                    aligned[:, classes.index(c)] = out[:, j]
                out = aligned
        if oof is None:
            oof = np.zeros((len(cleaned.y),) + out.shape[1:])
        oof[valid] = out
        iters.append(getattr(member.learner, "best_iteration_", None))
        stopped.append(getattr(member.learner, "stopped_by_", None))
    if not measure:
        return {}
    return {"ok": True, "oof": oof, "classes": classes, "cpu": cpu, "wall": wall,
            "best_iteration": [None if i is None else int(i) for i in iters], "stopped_by": stopped}


def scores(task: str, y, output, classes) -> dict:
    from trainwright.evaluate.scoring import score_output

    m = score_output(task, y, output, classes)
    if task == "classification":
        m["macro_f1"] = m["f1"]  # trainwright's f1 is the macro average over classes
    keep = ("log_loss", "roc_auc", "macro_f1", "accuracy") if task == "classification" else ("rmse", "mae", "r2")
    return {k: (None if m.get(k) is None else float(m[k])) for k in keep if k in m}


def run_table(name: str, entries: list[str], log) -> dict:
    path, meta, file_rows, subsampled = table_file(name)
    data = prepared(path, meta, entries[0])
    _, cleaned, task, folds, refined = data
    y = cleaned.y
    sel = "log_loss" if task == "classification" else "rmse"
    rank = RANK_METRIC[meta["task"]]
    record = {"table": name, "task": meta["task"], "file_rows": file_rows, "rows": len(y),
              "subsampled": subsampled, "features": len(refined[0][0]), "folds": len(folds),
              "selection_metric": sel, "rank_metric": rank, "entries": {}}
    log(f"{name}: {meta['task']}, {len(y)} rows{f' (subsample of {file_rows})' if subsampled else ''}, "
        f"{len(refined[0][0])} features, {len(folds)} folds")
    fitted = {}
    for entry in entries:
        try:
            r = fit_entry(entry, path, meta, data)
        except Exception as exc:  # noqa: BLE001 (an entry that fails is a result: recorded, the run goes on)
            tail = traceback.format_exc().strip().splitlines()[-3:]
            record["entries"][entry] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:500], "trace": tail}
            log(f"  {entry:<15} FAILED {type(exc).__name__}: {str(exc)[:200]}")
            continue
        fitted[entry] = r
        s = scores(task, y, r["oof"], r["classes"])
        record["entries"][entry] = {"ok": True, "scores": s, "cpu": r["cpu"], "wall": r["wall"],
                                    "cpu_per_fit": float(np.mean(r["cpu"])), "wall_per_fit": float(np.mean(r["wall"])),
                                    "best_iteration": r["best_iteration"], "stopped_by": r["stopped_by"]}
        shown = ", ".join(f"{k}={v:.4g}" for k, v in s.items() if v is not None)
        log(f"  {entry:<15} {shown}; cpu {np.mean(r['cpu']):.2f}s wall {np.mean(r['wall']):.2f}s per fit; "
            f"iterations {r['best_iteration']}")
    record.update(combined(task, y, fitted, sel))
    return record


def combined(task: str, y, fitted: dict, sel: str) -> dict:
    """Scores of the equal-weight average of every entry, greedy ensemble selection, and every 50/50 pair."""
    from trainwright.evaluate.scoring import encode_targets

    try:
        from trainwright.search.ensemble import greedy_weights, loss_function
    except ImportError:  # before tune/ became search/
        from trainwright.tune.ensemble import greedy_weights, loss_function

    names = list(fitted)
    if len(names) < 2:
        return {"average_all": None, "greedy": None, "pairs": {}}
    classes = fitted[names[0]]["classes"]
    same = all(fitted[n]["classes"] == classes for n in names)
    if not same:
        return {"average_all": None, "greedy": None, "pairs": {}, "combine_error": "entries disagree on classes"}
    outs = [fitted[n]["oof"] for n in names]
    average = scores(task, y, np.mean(outs, axis=0), classes)
    loss = loss_function(task, encode_targets(task, y, classes), sel, classes)
    weights, _ = greedy_weights(outs, loss, 25)
    greedy = {"weights": {n: round(float(w), 4) for n, w in zip(names, weights) if w > 0},
              "scores": scores(task, y, np.tensordot(weights, np.stack(outs), axes=1), classes)}
    pairs = {f"{a}+{b}": scores(task, y, (fitted[a]["oof"] + fitted[b]["oof"]) / 2, classes)
             for a, b in itertools.combinations(names, 2)}
    subsets = {}
    for k in range(1, len(names) + 1):
        for subset in itertools.combinations(range(len(names)), k):
            _, trace = greedy_weights([outs[i] for i in subset], loss, 25)
            subsets["+".join(names[i] for i in subset)] = float(min(trace))
    return {"average_all": average, "greedy": greedy, "pairs": pairs, "subsets": subsets}


# ----------------------------------------------------------------------------- summary


def norm(value, best, metric) -> float | None:
    if value is None or best is None:
        return None
    if metric in LOWER:
        return best / value if value > 0 else 1.0
    return value / best if best > 0 else None


def best_of(values: list, metric: str):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return min(values) if metric in LOWER else max(values)


def geomean(xs: list[float]) -> float | None:
    xs = [x for x in xs if x is not None and x > 0]
    return float(math.exp(np.mean(np.log(xs)))) if xs else None


def mean(xs: list) -> float | None:
    xs = [x for x in xs if x is not None]
    return float(np.mean(xs)) if xs else None


def summarise(records: list[dict], entries: list[str]) -> dict:
    per_entry = {e: {"norm_sel": [], "norm_rank": [], "cpu": [], "wall": [], "rel_cpu": [], "rel_wall": [],
                     "rel_cpu_big": [], "rel_wall_big": [], "gain_sel": [], "gain_rank": [], "gsum": 0.0,
                     "csum": 0.0, "worst": 0, "best": 0, "failed": []} for e in entries}
    per_table, pair_norm = [], {}
    for rec in records:
        ok = {e: r for e, r in rec["entries"].items() if r.get("ok")}
        for e, r in rec["entries"].items():
            if not r.get("ok") and e in per_entry:
                per_entry[e]["failed"].append(rec["table"])
        if not ok:
            continue
        sel, rank = rec["selection_metric"], rec["rank_metric"]
        best_sel = best_of([r["scores"][sel] for r in ok.values()], sel)
        best_rank = best_of([r["scores"].get(rank) for r in ok.values()], rank)
        n_sel = {e: norm(r["scores"][sel], best_sel, sel) for e, r in ok.items()}
        n_rank = {e: norm(r["scores"].get(rank), best_rank, rank) for e, r in ok.items()}
        worst_sel = min(v for v in n_sel.values() if v is not None)
        worst_rank = min((v for v in n_rank.values() if v is not None), default=None)
        lgb = ok.get("lightgbm")
        big = rec["rows"] >= 2000
        for e, r in ok.items():
            p = per_entry[e]
            cpu, wall = r["cpu_per_fit"], r["wall_per_fit"]
            p["norm_sel"].append(n_sel[e])
            p["norm_rank"].append(n_rank[e])
            p["cpu"].append(cpu)
            p["wall"].append(wall)
            if lgb is not None:
                p["rel_cpu"].append(cpu / lgb["cpu_per_fit"])
                p["rel_wall"].append(wall / lgb["wall_per_fit"])
                if big:
                    p["rel_cpu_big"].append(cpu / lgb["cpu_per_fit"])
                    p["rel_wall_big"].append(wall / lgb["wall_per_fit"])
            p["gain_sel"].append((n_sel[e] - worst_sel) / max(cpu, 1e-3))
            if n_rank[e] is not None and worst_rank is not None:
                p["gain_rank"].append((n_rank[e] - worst_rank) / max(cpu, 1e-3))
            p["gsum"] += n_sel[e] - worst_sel
            p["csum"] += cpu
            p["worst"] += int(n_sel[e] == worst_sel and len(ok) > 1)
            p["best"] += int(n_sel[e] == 1.0)
        single_best = min(ok, key=lambda e: -n_sel[e])
        row = {"table": rec["table"], "task": rec["task"], "rows": rec["rows"], "metric": sel,
               "best_entry": single_best, "best": best_sel, "best_rank_metric": best_rank,
               "worst_entry": min(ok, key=lambda e: n_sel[e]),
               "lightgbm_cpu": lgb["cpu_per_fit"] if lgb else None}
        if rec.get("average_all"):
            row["average_all"] = rec["average_all"][sel]
            row["average_vs_best"] = norm(rec["average_all"][sel], best_sel, sel)
            row["average_rank_vs_best"] = norm(rec["average_all"].get(rank), best_rank, rank)
            row["greedy"] = rec["greedy"]["scores"][sel]
            row["greedy_vs_best"] = norm(rec["greedy"]["scores"][sel], best_sel, sel)
            row["greedy_weights"] = rec["greedy"]["weights"]
            pn = {pair: norm(s[sel], best_sel, sel) for pair, s in rec["pairs"].items()}
            for pair, v in pn.items():
                pair_norm.setdefault(pair, []).append(v)
            top = sorted(pn, key=lambda k: -pn[k])[:3]
            row["best_pairs"] = [(k, round(pn[k], 4)) for k in top]
        per_table.append(row)
    entry_rows = []
    for e, p in per_entry.items():
        if not p["cpu"]:
            entry_rows.append({"entry": e, "tables": 0, "failed": p["failed"]})
            continue
        entry_rows.append({
            "entry": e, "tables": len(p["cpu"]), "failed": p["failed"],
            "norm_sel": mean(p["norm_sel"]), "norm_rank": mean(p["norm_rank"]),
            "cpu": mean(p["cpu"]), "wall": mean(p["wall"]),
            "rel_cpu": mean(p["rel_cpu"]), "rel_cpu_geo": geomean(p["rel_cpu"]),
            "rel_wall": mean(p["rel_wall"]), "rel_wall_geo": geomean(p["rel_wall"]),
            "rel_cpu_big_geo": geomean(p["rel_cpu_big"]), "rel_wall_big_geo": geomean(p["rel_wall_big"]),
            "gain_per_cpu_s": mean(p["gain_sel"]), "gain_per_cpu_s_rank": mean(p["gain_rank"]),
            "gain_pooled": p["gsum"] / p["csum"] if p["csum"] > 0 else None,
            "times_best": p["best"], "times_worst": p["worst"],
        })
    entry_rows.sort(key=lambda r: -(r.get("gain_per_cpu_s") or -1e9))
    pairs = sorted(({"pair": k, "mean_vs_best_single": mean(v), "tables": len(v),
                     "beats_best_single": int(sum(x > 1.0 for x in v if x is not None))}
                    for k, v in pair_norm.items()), key=lambda r: -(r["mean_vs_best_single"] or 0))
    return {"entries": entry_rows, "tables": per_table, "pairs": pairs, "order": order_analysis(records, entries)}


def order_analysis(records: list[dict], entries: list[str]) -> dict:
    """Mean normalised ensemble score and relative CPU cost of the first k entries of three orders."""
    from trainwright.models.auto import DEFAULT_PORTFOLIO

    usable = []
    for rec in records:
        ok = [e for e, r in rec["entries"].items() if r.get("ok")]
        if set(entries) <= set(ok) and rec.get("subsets") and "lightgbm" in ok:
            sel = rec["selection_metric"]
            singles = {e: rec["entries"][e]["scores"][sel] for e in ok}
            ref = best_of(list(singles.values()), sel)
            usable.append({"ok": ok, "sel": sel, "ref": ref, "subsets": rec["subsets"],
                           "worst": min(norm(v, ref, sel) for v in singles.values()),
                           "rel": {e: rec["entries"][e]["cpu_per_fit"] / rec["entries"]["lightgbm"]["cpu_per_fit"]
                                   for e in ok}})
    if not usable:
        return {}

    def value(chosen: list[str]) -> float:
        if not chosen:
            return float(np.mean([t["worst"] for t in usable]))
        out = []
        for t in usable:
            key = "+".join(e for e in t["ok"] if e in chosen)
            out.append(norm(t["subsets"][key], t["ref"], t["sel"]))
        return float(np.mean(out))

    def cost(e: str) -> float:
        return float(np.mean([t["rel"][e] for t in usable]))

    def curve(order: list[str]) -> list[dict]:
        return [{"k": k, "added": order[k - 1], "ensemble_norm": round(value(order[:k]), 4),
                 "cumulative_rel_cpu": round(sum(cost(e) for e in order[:k]), 3)} for k in range(1, len(order) + 1)]

    def greedy(per_cost: bool) -> list[str]:
        order: list[str] = []
        while len(order) < len(entries):
            base = value(order)
            rest = [e for e in entries if e not in order]
            order.append(max(rest, key=lambda e: (value(order + [e]) - base) / (cost(e) if per_cost else 1.0)))
        return order

    current = [e for e in DEFAULT_PORTFOLIO if e in entries] + [e for e in entries if e not in DEFAULT_PORTFOLIO]
    return {"tables": len(usable), "orders": {"current DEFAULT_PORTFOLIO": curve(current),
                                              "quality": curve(greedy(False)), "per cost": curve(greedy(True))}}


def fmt(v, spec=".3f") -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return format(v, spec)
    return str(v)


def markdown(summary: dict, header: str) -> str:
    from trainwright.models.auto import COST, DEFAULT_PORTFOLIO

    lines = [header, "", "## Entries, by gain per CPU-second", "",
             ("norm: mean normalised score (1 = best entry on the table) on the selection metric (log_loss / RMSE) "
              "and on AUC-F1 / RMSE; cpu, wall: mean seconds of one fit; rel: seconds / LightGBM's on the same "
              "table (mean, geometric mean, geometric mean on the tables of >= 2,000 rows); gain: (norm - the "
              "table's worst norm) / cpu seconds, mean over tables, and pooled (sum of gains / sum of cpu seconds)."),
             "",
             ("| entry | tables | norm (sel) | norm (AUC-F1/RMSE) | cpu s | wall s | rel cpu mean | rel cpu geo "
              "| rel wall geo | rel cpu geo (big) | rel wall geo (big) | gain/cpu-s | gain/cpu-s (AUC-F1) | gain pooled "
              "| best | worst | COST now | failed |"),
             "|" + "---|" * 18]
    for r in summary["entries"]:
        lines.append("| " + " | ".join([
            r["entry"], str(r["tables"]), fmt(r.get("norm_sel")), fmt(r.get("norm_rank")), fmt(r.get("cpu"), ".2f"),
            fmt(r.get("wall"), ".2f"), fmt(r.get("rel_cpu"), ".2f"), fmt(r.get("rel_cpu_geo"), ".2f"),
            fmt(r.get("rel_wall_geo"), ".2f"), fmt(r.get("rel_cpu_big_geo"), ".2f"),
            fmt(r.get("rel_wall_big_geo"), ".2f"), fmt(r.get("gain_per_cpu_s"), ".4f"),
            fmt(r.get("gain_per_cpu_s_rank"), ".4f"), fmt(r.get("gain_pooled"), ".4f"), fmt(r.get("times_best")),
            fmt(r.get("times_worst")), fmt(COST.get(r["entry"])), ", ".join(r["failed"]) or "-"]) + " |")
    lines += ["", f"DEFAULT_PORTFOLIO now: {', '.join(DEFAULT_PORTFOLIO)}", "",
              "## Tables: best single entry, equal-weight average of all entries, greedy ensemble selection", "",
              ("avg/best and greedy/best: score normalised to the best single entry (above 1 = better than it); "
               "greedy is in-sample on the same out-of-fold rows."), "",
              ("| table | task | rows | metric | best entry | best | worst entry | avg all | avg/best | avg/best "
               "(AUC-F1) | greedy/best | greedy weights | best pairs (vs best single) | lightgbm cpu s |"),
              "|" + "---|" * 14]
    for t in summary["tables"]:
        weights = ", ".join(f"{k} {v:.2f}" for k, v in (t.get("greedy_weights") or {}).items())
        pairs = "; ".join(f"{k} {v:.3f}" for k, v in t.get("best_pairs", []))
        lines.append("| " + " | ".join([
            t["table"], t["task"], str(t["rows"]), t["metric"], t["best_entry"], fmt(t["best"], ".4g"),
            t["worst_entry"], fmt(t.get("average_all"), ".4g"), fmt(t.get("average_vs_best")),
            fmt(t.get("average_rank_vs_best")), fmt(t.get("greedy_vs_best")), weights or "-", pairs or "-",
            fmt(t.get("lightgbm_cpu"), ".2f")]) + " |")
    order = summary.get("order") or {}
    if order:
        lines += ["", f"## Orders: greedy ensemble of the first k entries ({order['tables']} tables)", "",
                  ("ens: mean over tables of the ensemble's score normalised to the best single entry (log_loss / "
                   "RMSE; in-sample greedy selection on the out-of-fold rows); cost: summed CPU seconds of the first "
                   "k entries / LightGBM's, mean over tables."), "",
                  "| k | " + " | ".join(f"{name}: added, ens, cost" for name in order["orders"]) + " |",
                  "|" + "---|" * (len(order["orders"]) + 1)]
        curves = list(order["orders"].values())
        for i in range(len(curves[0])):
            lines.append(f"| {i + 1} | " + " | ".join(f"{c[i]['added']}, {c[i]['ensemble_norm']:.4f}, "
                                                     f"{c[i]['cumulative_rel_cpu']:.2f}" for c in curves) + " |")
    lines += ["", "## Pairs: 50/50 average, normalised to the best single entry of each table", "",
              "| pair | mean vs best single | tables where it beats the best single |", "|---|---|---|"]
    for p in summary["pairs"]:
        lines.append(f"| {p['pair']} | {fmt(p['mean_vs_best_single'], '.4f')} | "
                     f"{p['beats_best_single']} of {p['tables']} |")
    return "\n".join(lines) + "\n"


def per_table_scores(records: list[dict]) -> str:
    """A table of every entry's selection-metric score and CPU seconds per table (printed, and in the markdown)."""
    entries = sorted({e for r in records for e in r["entries"]}, key=lambda e: list(records[0]["entries"]).index(e)
                     if e in records[0]["entries"] else 99)
    lines = ["## Scores per table (selection metric; cpu seconds per fit)", "",
             "| table | metric | " + " | ".join(entries) + " |", "|" + "---|" * (len(entries) + 2)]
    for r in records:
        cells = []
        for e in entries:
            x = r["entries"].get(e)
            if x is None:
                cells.append("-")
            elif not x["ok"]:
                cells.append("FAILED")
            else:
                cells.append(f"{x['scores'][r['selection_metric']]:.4g} ({x['cpu_per_fit']:.2f}s)")
        lines.append(f"| {r['table']} | {r['selection_metric']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- main


def report(saved: dict, good: list[dict]) -> str:
    """The markdown of a saved run: header, summary tables, scores per table."""
    subsampled = ", ".join(r["table"] for r in good if r["subsampled"]) or "none"
    header = (f"# Portfolio benchmark\n\n`.venv/bin/python bench/portfolio.py` on {saved['date']}, "
              f"{saved.get('source', 'commit unknown')}, {saved.get('machine', 'this machine')}, {saved['threads']} "
              f"threads, {saved['seconds'] / 60:.1f} min. {saved['folds']}-fold out-of-fold scores; tables over "
              f"{saved.get('subsample_above', SUBSAMPLE_ABOVE):,} rows subsampled to {saved['max_rows']:,} (seed "
              f"{saved['seed']}): {subsampled}; rows are those left after the pipeline's cleaning (duplicates "
              "dropped).")
    return markdown(saved["summary"], header) + "\n" + per_table_scores(good)


def source() -> str:
    """The commit of the checkout, and whether src/ had uncommitted changes (the numbers depend on them)."""
    import subprocess

    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "src"], cwd=ROOT, capture_output=True, text=True,
                               check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "commit unknown"
    return f"commit {rev}{' with uncommitted changes in src/' if dirty else ''}"


def main() -> None:
    from trainwright.runtime import cpu_threads, quiet_openmp

    quiet_openmp()  # as the CLI does, before torch or LightGBM load
    from trainwright.models.auto import PORTFOLIO

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    available = sorted(p.name for p in CACHE.iterdir() if (p / "meta.json").is_file() and (p / "train.csv").is_file()) \
        if CACHE.is_dir() else []
    parser.add_argument("--tables", default=",".join(available), help="comma-separated (default: every cached table)")
    parser.add_argument("--entries", default=",".join(PORTFOLIO), help="comma-separated portfolio entries (default: all)")
    parser.add_argument("--out", type=Path, default=OUT, help="the JSON file (the markdown is written beside it)")
    parser.add_argument("--summary-only", action="store_true", help="print and rewrite the markdown from --out")
    args = parser.parse_args()
    if args.summary_only:
        saved = json.loads(args.out.read_text())
        good = [r for r in saved["records"] if "error" not in r]
        saved["summary"] = summarise(good, saved["entries"])
        text = report(saved, good)
        print(text)
        args.out.write_text(json.dumps(saved, indent=1, default=str) + "\n")
        args.out.with_suffix(".md").write_text(text)
        return
    tables = [t for t in args.tables.split(",") if t]
    entries = [e for e in args.entries.split(",") if e]
    if not tables:
        parser.error(f"no cached tables under {CACHE}; write them with bench/tables.py")
    unknown = sorted(set(tables) - set(available))
    if unknown:
        parser.error(f"tables not cached: {unknown}; cached: {', '.join(available)}")

    def log(message: str) -> None:
        print(message, flush=True)

    started = time.perf_counter()
    log(f"{len(tables)} tables x {len(entries)} entries x {FOLDS} folds; {cpu_threads()} threads; "
        f"warming up every entry on {WARMUP_TABLE} (not measured)")
    warm = WARMUP_TABLE if WARMUP_TABLE in available else tables[0]
    path, meta, _, _ = table_file(warm)
    data = prepared(path, meta, entries[0])
    for entry in entries:
        try:
            fit_entry(entry, path, meta, data, measure=False)
        except Exception as exc:  # noqa: BLE001 (the measured fits will record it)
            log(f"  warm-up of {entry} failed: {type(exc).__name__}: {str(exc)[:200]}")
    records = []
    for name in tables:
        t0 = time.perf_counter()
        try:
            records.append(run_table(name, entries, log))
        except Exception as exc:  # noqa: BLE001 (a table that fails is recorded; the others still run)
            log(f"{name}: FAILED before fitting: {type(exc).__name__}: {str(exc)[:300]}")
            records.append({"table": name, "error": f"{type(exc).__name__}: {exc}"[:500], "entries": {}})
            continue
        log(f"  ({time.perf_counter() - t0:.0f}s)")
    good = [r for r in records if "error" not in r]
    summary = summarise(good, entries)
    total = time.perf_counter() - started
    saved = {"date": str(dt.date.today()), "source": source(), "machine": platform.node() or "this machine",
             "seconds": round(total, 1), "folds": FOLDS, "max_rows": MAX_ROWS, "subsample_above": SUBSAMPLE_ABOVE,
             "seed": SEED, "threads": cpu_threads(), "entries": entries, "records": records, "summary": summary}
    text = report(saved, good)
    print("\n" + text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(saved, indent=1, default=str) + "\n")
    args.out.with_suffix(".md").write_text(text)
    log(f"written {args.out} and {args.out.with_suffix('.md')} ({total / 60:.1f} min)")


if __name__ == "__main__":
    main()
