"""Drift on real tables: alarms on a filtered subgroup the model never saw, and none on random halves.

    .venv/bin/python bench/drift.py                 # about 4 minutes on 2 cores
    .venv/bin/python bench/drift.py --markdown-only

Three tables of ../shared/DATASETS.md: the affairs survey (statsmodels ``fair``, 6,366 rows), diabetes (scikit-learn,
442 rows) and breast cancer (scikit-learn, 569 rows). For each:

- shift: the run is trained (``model.type=linear``) on one subgroup (affairs: age under 32; diabetes: BMI at most
  27; breast cancer: mean radius at most 14) and ``check_drift`` is given the other subgroup with its labels;
- same population: 10 random halves (seeds 0-9): trained on one half, checked on the other. Every alarm there is a
  false alarm (the halves come from one table).

Per case: how often drift was declared (exit code 3), the share of columns flagged (mean), whether the predictions
drifted, the test applied, and the seconds ``check_drift`` took. Writes bench/results/drift.json and .md.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def tables() -> dict[str, tuple[pd.DataFrame, str, str]]:
    """name -> (rows, target, subgroup query the champion trains on)."""
    import statsmodels.api as sm
    from sklearn.datasets import load_breast_cancer, load_diabetes

    fair = sm.datasets.fair.load_pandas().data
    fair["had_affair"] = (fair.pop("affairs") > 0).map({True: "yes", False: "no"})
    diabetes = load_diabetes(as_frame=True, scaled=False).frame
    cancer = load_breast_cancer(as_frame=True).frame
    return {"affairs": (fair, "had_affair", "age < 32"), "diabetes": (diabetes, "target", "bmi <= 27"),
            "breast cancer": (cancer, "target", "`mean radius` <= 14")}


def check(train_rows: pd.DataFrame, new_rows: pd.DataFrame, target: str, folder: Path) -> dict:
    import trainwright
    from trainwright.deploy.drift import check_drift

    path = folder / f"train-{len(list(folder.iterdir()))}.csv"
    train_rows.to_csv(path, index=False)
    run = trainwright.train(str(path), target=target, out=folder / f"run-{path.stem}",
                            overrides=["model.type=linear", "evaluate.report=false"])
    started = time.perf_counter()
    result = check_drift(run, new_rows)
    seconds = time.perf_counter() - started
    tests = sorted({c.get("test") for c in result["columns"].values() if c.get("test")})
    return {"drift": result["drift"], "share": result["summary"]["share"], "drifted": result["summary"]["drifted"],
            "prediction_drift": result["summary"]["prediction_drift"], "tests": tests, "rows": len(new_rows),
            "seconds": round(seconds, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown-only", action="store_true")
    args = parser.parse_args()
    if not args.markdown_only:
        results = {"when": time.strftime("%Y-%m-%d"), "command": "python bench/drift.py", "tables": {}}
        with tempfile.TemporaryDirectory() as tmp:
            for name, (rows, target, query) in tables().items():
                inside = rows.query(query)
                shift = check(inside, rows.drop(inside.index), target, Path(tmp))
                halves = []
                for seed in range(10):
                    shuffled = rows.sample(frac=1.0, random_state=seed)
                    half = len(rows) // 2
                    halves.append(check(shuffled.iloc[:half], shuffled.iloc[half:], target, Path(tmp)))
                results["tables"][name] = {"rows": len(rows), "subgroup": query, "shift": shift, "halves": halves}
                print(name, shift["drift"], sum(h["drift"] for h in halves), flush=True)
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "drift.json").write_text(json.dumps(results, indent=2))
    data = json.loads((RESULTS / "drift.json").read_text())
    text = markdown(data)
    (RESULTS / "drift.md").write_text(text)
    print(text)


def markdown(data: dict) -> str:
    lines = [f"Drift on real tables ({data['when']}; `{data['command']}`)", "",
             "| table | case | new rows | drift declared | columns flagged (mean share) | predictions drifted | tests | "
             "seconds |", "|" + "---|" * 8]
    for name, t in data["tables"].items():
        s = t["shift"]
        lines.append(f"| {name} | trained on `{t['subgroup']}`, checked on the rest | {s['rows']} | "
                     f"{'yes' if s['drift'] else 'no'} | {len(s['drifted'])} ({s['share']:.2f}): "
                     f"{', '.join(s['drifted'][:6])} | {'yes' if s['prediction_drift'] else 'no'} | "
                     f"{', '.join(s['tests'])} | {s['seconds']} |")
        h = t["halves"]
        lines.append(f"| {name} | random halves, 10 seeds | {h[0]['rows']} | {sum(x['drift'] for x in h)} of 10 | "
                     f"{np.mean([x['share'] for x in h]):.3f} | {sum(x['prediction_drift'] for x in h)} of 10 | "
                     f"{', '.join(sorted({t for x in h for t in x['tests']}))} | "
                     f"{np.median([x['seconds'] for x in h]):.3f} (median) |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
