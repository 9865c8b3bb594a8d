"""How does ``trainwright train --time-budget S`` compare with AutoML peers at the same budget? Test score, wall
time and peak memory of trainwright, FLAML, AutoGluon (medium_quality) and plain LightGBM (defaults, no search)
on the offline tables of bench/tables.py, each system a fresh process per (table, budget), one at a time.

    /work/benchvenv/bin/python bench/automl.py                                  # every table, budgets 30 and 60
    /work/benchvenv/bin/python bench/automl.py --budgets 10 --tables breast_cancer,penguins,diabetes
    /work/benchvenv/bin/python bench/automl.py --repeat-from                    # resume: skip runs already in --out
    /work/benchvenv/bin/python bench/automl.py --summary-only                   # print the tables from --out again

The peers run in the peer environment (bench/peers-requirements.txt, default /work/benchvenv), trainwright from
the checkout's .venv. trainwright: ``trainwright train TRAIN.csv --target T --task {classification,regression}
--seed 0 --time-budget S --out RUN`` (its own 70/20/10 split inside the training rows), then ``trainwright
predict RUN TEST.csv`` as a second process whose time is recorded apart. Peers: bench/automl_peer.py fits and
predicts in one process; the time after the fit (predict, write) is recorded apart the same way. Wall is
measured from before the process starts (interpreter start, imports and reading the CSV count); peak RSS is
``/usr/bin/time -v``'s maximum resident set size (the largest single process), and the sampled sum over the
process tree where psutil is installed. A run that exits non-zero or passes 3 x budget + 60 s is recorded with
its stderr tail and scored as missing.

Scores on the test rows: ROC-AUC (binary), macro-F1 (multiclass), RMSE (regression). Normalised per table and
budget: score / best (AUC, F1) or best / score (RMSE), so 1.00 is the best system on that table. Prints, per
budget, one row per table (score, normalised, train wall, peak RSS per system) and one row per system: mean
normalised score (a missing run counts 0), tables won (ties count for each), failed runs, largest wall / budget,
largest RSS, and ratios to AutoGluon: mean normalised score, and the geometric mean of the per-table wall
ratios. Writes the results as JSON (--out, appended as each run ends) and the tables as markdown beside it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
SYSTEMS = ("trainwright", "flaml", "autogluon", "lightgbm")
sys.path.insert(0, str(BENCH))
# Names and folder only: loading the tables needs the peer environment.
from tables import CACHE, TABLES

METRIC = {"binary": "roc_auc", "multiclass": "macro_f1", "regression": "rmse"}
GNU_TIME = Path("/usr/bin/time")
PREDICT_TIMEOUT = 600

# Without /usr/bin/time: a fresh Python process runs the command and reports its children's peak RSS.
RUSAGE_WRAPPER = """
import json, resource, subprocess, sys
code = subprocess.call(sys.argv[2:])
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
open(sys.argv[1], "w").write(f"Maximum resident set size (kbytes): {peak}\\n")
sys.exit(code)
"""


# ---------------------------------------------------------------------------------------------- running one process


def measured(cmd: list[str], folder: Path, name: str, timeout: float, env: dict) -> dict:
    """Run cmd as a fresh process (its own process group) under /usr/bin/time -v; wall, peak RSS, exit, stderr."""
    timefile = folder / f"{name}.time"
    if GNU_TIME.is_file():
        wrapped = [str(GNU_TIME), "-v", "-o", str(timefile), *cmd]
    else:
        wrapped = [sys.executable, "-c", RUSAGE_WRAPPER, str(timefile), *cmd]
    try:
        import psutil
    except ImportError:
        psutil = None
    tree_peak = 0
    with open(folder / f"{name}.stdout", "wb") as out, open(folder / f"{name}.stderr", "wb") as err:
        launched = time.time()
        t0 = time.monotonic()
        proc = subprocess.Popen(wrapped, stdout=out, stderr=err, env=env, start_new_session=True)
        timed_out = False
        parent = psutil.Process(proc.pid) if psutil else None
        while proc.poll() is None:
            if time.monotonic() - t0 > timeout:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                break
            if parent is not None:
                tree_peak = max(tree_peak, _tree_rss(parent, psutil))
            time.sleep(0.2)
        wall = time.monotonic() - t0
    text = timefile.read_text() if timefile.is_file() else ""
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    stderr = (folder / f"{name}.stderr").read_text(errors="replace")
    return {"launched": launched, "wall_s": wall, "rc": proc.returncode, "timed_out": timed_out,
            "rss_mb": int(found.group(1)) / 1024 if found else None,
            "tree_rss_mb": tree_peak / 2**20 if tree_peak else None,
            "stderr_tail": stderr[-1500:]}


def _tree_rss(parent, psutil) -> int:
    total = 0
    try:
        for p in [parent, *parent.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
    except psutil.Error:
        pass
    return total


# ---------------------------------------------------------------------------------------------------- the systems


def run_trainwright(table: dict, budget: float, folder: Path, args, env: dict) -> dict:
    train, test = Path(table["folder"]) / "train.csv", Path(table["folder"]) / "test.csv"
    run_dir, predictions = folder / "run", folder / "predictions.csv"
    task = "regression" if table["task"] == "regression" else "classification"
    extra = [a for kv in args.trainwright_set for a in ("--set", kv)]
    fit = measured([str(args.trainwright), "train", str(train), "--target", table["target"], "--task", task,
                    "--seed", "0", "--time-budget", str(budget), "--out", str(run_dir), *extra],
                   folder, "train", timeout(budget), env)
    record = {**fit, "train_wall_s": fit["wall_s"], "predict_s": None}
    if fit["rc"] != 0 or fit["timed_out"]:
        return record
    pred = measured([str(args.trainwright), "predict", str(run_dir), str(test), "-o", str(predictions)],
                    folder, "predict", PREDICT_TIMEOUT, env)
    record["predict_s"] = pred["wall_s"]
    record["predict_rss_mb"] = pred["rss_mb"]
    if pred["rc"] != 0 or pred["timed_out"]:
        record.update(rc=pred["rc"], timed_out=pred["timed_out"], stderr_tail="predict: " + pred["stderr_tail"])
    return record


def run_peer(system: str, table: dict, budget: float, folder: Path, args, env: dict) -> dict:
    train, test = Path(table["folder"]) / "train.csv", Path(table["folder"]) / "test.csv"
    timing = folder / "timing.json"
    run = measured([str(args.peer_python), str(BENCH / "automl_peer.py"), system, str(train), str(test),
                    "--target", table["target"], "--task", table["task"], "--budget", str(budget),
                    "--out", str(folder / "predictions.csv"), "--timing", str(timing)],
                   folder, "run", timeout(budget), env)
    record = {**run, "train_wall_s": run["wall_s"], "predict_s": None}
    if timing.is_file():  # count only up to the end of the fit against the budget, like trainwright train
        stamps = json.loads(timing.read_text())
        record["train_wall_s"] = stamps["fitted"] - run["launched"]
        record["predict_s"] = run["wall_s"] - record["train_wall_s"]
        record["import_s"] = stamps.get("imported", stamps["read"]) - stamps["read"]
    return record


def timeout(budget: float) -> float:
    return 3 * budget + 60


# ---------------------------------------------------------------------------------------------------- scoring


def _labels(values: pd.Series) -> pd.Series:
    """Class labels as text, with 1.0 and 1 the same label."""
    text = values.astype(str)
    numbers = pd.to_numeric(text, errors="coerce")
    if numbers.notna().all() and (numbers == numbers.round()).all():
        return numbers.astype("int64").astype(str)
    return text


def score(table: dict, predictions: Path) -> float:
    from sklearn.metrics import f1_score, roc_auc_score

    target, task = table["target"], table["task"]
    truth = pd.read_csv(Path(table["folder"]) / "test.csv", dtype={target: str} if task != "regression" else None)
    pred = pd.read_csv(predictions, dtype={"prediction": str} if task != "regression" else None)
    if len(pred) != len(truth):
        raise ValueError(f"{len(pred)} predictions for {len(truth)} test rows")
    if task == "regression":
        return float(np.sqrt(np.mean((truth[target].to_numpy(float) - pred["prediction"].to_numpy(float)) ** 2)))
    if task == "multiclass":
        return float(f1_score(_labels(truth[target]), _labels(pred["prediction"]), average="macro",
                              labels=table["classes"]))
    columns = {_labels(pd.Series([c[len("proba_"):]])).iloc[0]: c for c in pred.columns if c.startswith("proba_")}
    positive = columns.get(table["positive"])
    if positive is None:
        raise ValueError(f"no proba_{table['positive']} column among {list(pred.columns)}")
    return float(roc_auc_score(_labels(truth[target]) == table["positive"], pred[positive]))


# ---------------------------------------------------------------------------------------------------- the loop


def prepare_tables(names: list[str], args) -> dict[str, dict]:
    metas = {n: args.cache / n / "meta.json" for n in names}
    if not all(p.is_file() for p in metas.values()):
        subprocess.run([str(args.peer_python), str(BENCH / "tables.py"), "--tables", ",".join(names),
                        "--cache", str(args.cache), "--quiet"], check=True)
    tables = {}
    for name, path in metas.items():
        tables[name] = {**json.loads(path.read_text()), "folder": str(args.cache / name)}
    return tables


def versions(args) -> dict:
    code = ("import importlib.metadata as m, json\nout = {}\n"
            "for p in ['flaml', 'autogluon.tabular', 'lightgbm', 'catboost', 'xgboost-cpu', 'xgboost', "
            "'scikit-learn', 'torch', 'trainwright']:\n"
            "    try: out[p] = m.version(p)\n    except m.PackageNotFoundError: pass\nprint(json.dumps(out))")
    found = {}
    for label, python in (("peers", args.peer_python), ("trainwright", args.trainwright.parent / "python")):
        try:
            found[label] = json.loads(subprocess.run([str(python), "-c", code], capture_output=True, text=True,
                                                     timeout=60, check=False).stdout)
        except (OSError, ValueError, subprocess.SubprocessError) as e:
            found[label] = {"error": str(e)}
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            check=False)
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "src"], capture_output=True, text=True,
                           check=False)
    found["trainwright_commit"] = commit.stdout.strip() + (" (src modified)" if dirty.stdout.strip() else "")
    return found


def load_results(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {"meta": {}, "runs": []}


def save_results(path: Path, results: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(results, indent=1) + "\n")
    tmp.replace(path)


def run_one(system: str, table: dict, budget: float, args, env: dict) -> dict:
    folder = args.work / f"{budget:g}" / table["name"] / system
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    load = os.getloadavg()[0]
    if system == "trainwright":
        record = run_trainwright(table, budget, folder, args, env)
    else:
        record = run_peer(system, table, budget, folder, args, env)
    record.update(system=system, table=table["name"], budget=budget, task=table["task"], metric=METRIC[table["task"]],
                  load_before=round(load, 2), finished=dt.datetime.now().isoformat(timespec="seconds"),
                  score=None)
    if record["timed_out"]:
        record["status"] = "timeout"
    elif record["rc"] != 0:
        record["status"] = "failed"
    else:
        try:
            record["score"] = score(table, folder / "predictions.csv")
            record["status"] = "ok"
        except Exception as e:  # noqa: BLE001 (a broken prediction file is the system's failure, not the harness's)
            record.update(status="failed", stderr_tail=f"scoring: {type(e).__name__}: {e}")
    if record["status"] == "ok":
        record.pop("stderr_tail", None)
    record.pop("launched", None)
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    return record


# ---------------------------------------------------------------------------------------------------- the summary


def summarise(runs: list[dict], budgets: list[float], tables: list[str], systems: list[str]) -> tuple[str, str]:
    """The printed text and the markdown: per budget, the table x system grid and the per-system summary."""
    text, md = [], []
    frame = pd.DataFrame(runs)
    if frame.empty:
        return "no results\n", "no results\n"
    frame = frame[frame.budget.isin(budgets) & frame.table.isin(tables) & frame.system.isin(systems)].copy()
    frame["peak_mb"] = frame[["rss_mb", "tree_rss_mb"]].max(axis=1) if "tree_rss_mb" in frame else frame["rss_mb"]
    for budget in budgets:
        rows = frame[frame.budget == budget].drop_duplicates(["system", "table"], keep="last")
        if rows.empty:
            continue
        rows = rows.assign(norm=np.nan)
        for table, group in rows.groupby("table"):
            ok = group[group.status == "ok"]
            if ok.empty:
                continue
            lower = ok.metric.iloc[0] == "rmse"
            best = ok.score.min() if lower else ok.score.max()
            norm = (best / ok.score) if lower else (ok.score / best)
            rows.loc[ok.index, "norm"] = norm
        present = [s for s in systems if s in set(rows.system)]
        names = [t for t in tables if t in set(rows.table)]
        cell = {(r.table, r.system): r for r in rows.itertuples()}

        def fmt(r) -> str:
            if r is None:
                return "-"
            if r.status != "ok":
                return f"{r.status} {r.train_wall_s:.0f}s"
            return f"{r.score:.4g} ({r.norm:.2f}) {r.train_wall_s:.0f}s {r.peak_mb:.0f}MB"

        title = f"budget {budget:g} s: score (normalised) train wall, peak RSS"
        width = 30
        text.append(f"\n== {title}\n{'table':<14} {'metric':<8} " + " ".join(f"{s:<{width}}" for s in present))
        md.append(f"\n### Budget {budget:g} s\n\nScore on the test rows (normalised: 1.00 = best on the table), "
                  f"train wall time, peak RSS.\n\n| table | metric | " + " | ".join(present) + " |\n|---|---|"
                  + "---|" * len(present))
        for t in names:
            metric = rows[rows.table == t].metric.iloc[0]
            cells = [fmt(cell.get((t, s))) for s in present]
            text.append(f"{t:<14} {metric:<8} " + " ".join(f"{c:<{width}}" for c in cells))
            md.append(f"| {t} | {metric} | " + " | ".join(cells) + " |")

        stats = {}
        for s in present:
            mine = rows[rows.system == s].set_index("table").reindex(names)
            ok = mine[mine.status == "ok"]
            stats[s] = {
                "mean_norm": float(mine.norm.fillna(0).mean()),
                "won": int((ok.norm >= 1 - 1e-9).sum()),
                "failed": int((mine.status != "ok").sum()),
                "max_ratio": float((mine.train_wall_s / budget).max()),
                "max_rss": float(mine.peak_mb.max()),
                "walls": mine.train_wall_s.where(mine.status == "ok"),
            }
        ag = stats.get("autogluon")
        text.append(f"\n{'system':<12} {'mean norm':>9} {'won':>4} {'failed':>6} {'max wall/budget':>15} "
                    f"{'max RSS MB':>10} {'score vs AG':>11} {'wall vs AG':>10}")
        md.append(f"\n| system | mean normalised | tables won (of {len(names)}) | failed | max wall / budget | "
                  "max RSS (MB) | score vs AutoGluon | wall vs AutoGluon |\n|---|---|---|---|---|---|---|---|")
        for s in present:
            st = stats[s]
            score_ratio = wall_ratio = "-"
            if ag is not None and ag["mean_norm"] > 0:
                score_ratio = f"{st['mean_norm'] / ag['mean_norm']:.3f}"
                both = (st["walls"] / ag["walls"]).dropna()
                if len(both):
                    wall_ratio = f"{math.exp(np.log(both).mean()):.2f}"
            text.append(f"{s:<12} {st['mean_norm']:>9.3f} {st['won']:>4} {st['failed']:>6} {st['max_ratio']:>15.2f} "
                        f"{st['max_rss']:>10.0f} {score_ratio:>11} {wall_ratio:>10}")
            md.append(f"| {s} | {st['mean_norm']:.3f} | {st['won']} | {st['failed']} | {st['max_ratio']:.2f} | "
                      f"{st['max_rss']:.0f} | {score_ratio} | {wall_ratio} |")
        failures = rows[rows.status != "ok"]
        for r in failures.itertuples():
            tail = (r.stderr_tail or "").strip().splitlines()[-1:] if isinstance(r.stderr_tail, str) else []
            text.append(f"  {r.system} on {r.table}: {r.status} (exit {r.rc}) {tail[0][:200] if tail else ''}")
    return "\n".join(text) + "\n", "\n".join(md) + "\n"


def markdown(results: dict, body: str) -> str:
    meta = results.get("meta", {})
    v = meta.get("versions", {})
    peers = v.get("peers", {})
    libraries = ", ".join(f"{k} {peers[k]}" for k in ("flaml", "autogluon.tabular", "lightgbm", "catboost",
                                                       "xgboost-cpu", "xgboost") if k in peers)
    head = [
        "## AutoML peers (bench/automl.py)",
        "",
        f"`{meta.get('command', 'bench/automl.py')}`, {meta.get('started', '')}, {meta.get('machine', '')}.",
        f"trainwright {v.get('trainwright', {}).get('trainwright', '?')} ({v.get('trainwright_commit', '?')}), "
        + f"{libraries}.",
        ("Wall is the training process only (trainwright train; the peers up to the end of their fit, imports "
         "included); predict is timed apart. Mean normalised counts a missing run as 0; the wall ratio to "
         "AutoGluon is the geometric mean over the tables both finished."),
    ]
    return "\n".join(head) + "\n" + body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", type=float, nargs="+",
                        help="seconds (default 30 60; with --summary-only: those in --out)")
    parser.add_argument("--tables", default=",".join(TABLES), help="comma-separated (default: all of bench/tables.py)")
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=SYSTEMS)
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "automl.json",
                        help="results JSON; the markdown goes beside it as .md")
    parser.add_argument("--repeat-from", type=Path, nargs="?", const=True, default=None, metavar="JSON",
                        help="keep the runs in this JSON (default: --out) and skip the (system, table, budget) it "
                             "already has; without it --out starts afresh (the old file kept as .bak)")
    parser.add_argument("--retry-failed", action="store_true", help="with --repeat-from: rerun failed runs")
    parser.add_argument("--summary-only", action="store_true", help="print the tables from --out, run nothing")
    parser.add_argument("--peer-python", type=Path, default=Path("/work/benchvenv/bin/python"))
    parser.add_argument("--trainwright", type=Path, default=ROOT / ".venv" / "bin" / "trainwright")
    parser.add_argument("--trainwright-set", action="append", default=[], metavar="KEY=VALUE",
                        help="extra --set for trainwright train, e.g. model.type=auto (repeatable)")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="environment for every system's process, e.g. OMP_WAIT_POLICY=PASSIVE (repeatable)")
    parser.add_argument("--cache", type=Path, default=CACHE, help=f"table CSV files (default {CACHE})")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "trainwright-bench-automl")
    parser.add_argument("--keep", action="store_true", help="keep run folders, predictions and logs under --work")
    args = parser.parse_args()
    tables = [t for t in args.tables.split(",") if t]
    unknown = sorted(set(tables) - set(TABLES))
    if unknown:
        parser.error(f"unknown tables {unknown}; known: {', '.join(TABLES)}")

    if args.summary_only:
        results = load_results(args.out)
        budgets = args.budgets or sorted({float(r["budget"]) for r in results["runs"]})
        text, md = summarise(results["runs"], budgets, tables, args.systems)
        print(text)
        args.out.with_suffix(".md").write_text(markdown(results, md))
        return

    args.budgets = args.budgets or [30.0, 60.0]
    if args.repeat_from is not None:
        source = args.out if args.repeat_from is True else args.repeat_from
        results = load_results(source)
    else:
        if args.out.is_file():
            args.out.replace(args.out.with_name(args.out.name + ".bak"))
        results = {"meta": {}, "runs": []}
    results["meta"].update(
        command="python bench/automl.py " + " ".join(sys.argv[1:]),
        started=results["meta"].get("started") or dt.datetime.now().isoformat(timespec="seconds"),
        machine=f"{os.cpu_count()} cores, {platform.machine()}, Linux {platform.release()}",
        versions=versions(args), env=args.env, trainwright_set=args.trainwright_set,
    )
    done = {(r["system"], r["table"], float(r["budget"])) for r in results["runs"]
            if r["status"] == "ok" or not args.retry_failed}
    results["runs"] = [r for r in results["runs"] if (r["system"], r["table"], float(r["budget"])) in done]

    table_meta = prepare_tables(tables, args)
    env = {**os.environ, **dict(kv.split("=", 1) for kv in args.env)}
    todo = [(b, t, s) for b in args.budgets for t in tables for s in args.systems if (s, t, float(b)) not in done]
    print(f"{len(todo)} runs ({len(done)} already in {args.out}); results appended to {args.out}", flush=True)
    for i, (budget, table, system) in enumerate(todo, 1):
        record = run_one(system, table_meta[table], budget, args, env)
        results["runs"].append(record)
        save_results(args.out, results)
        shown = f"{record['score']:.4f}" if record["score"] is not None else record["status"]
        rss = max(x for x in (record.get("rss_mb"), record.get("tree_rss_mb"), 0) if x is not None)
        wall = record["train_wall_s"]
        print(f"[{i}/{len(todo)}] budget {budget:g} {table:<14} {system:<12} {shown:<8} train {wall:.1f}s "
              f"(x{wall / budget:.2f}) predict {record['predict_s'] or 0:.1f}s {rss:.0f} MB "
              f"load {record['load_before']}", flush=True)

    text, md = summarise(results["runs"], args.budgets, tables, args.systems)
    print(text)
    args.out.with_suffix(".md").write_text(markdown(results, md))
    print(f"results: {args.out}, markdown: {args.out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
