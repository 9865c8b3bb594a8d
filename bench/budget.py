"""Does ``--time-budget`` bound the whole command? Wall time of ``trainwright train`` (a fresh process each,
measured from before the process starts to its exit) against the budget, on a tall table, a wide table and
with two data-parallel processes.

    .venv/bin/python bench/budget.py                  # every case
    .venv/bin/python bench/budget.py --cases wide     # one case

Prints one row per case: budget, wall time, ratio, whether it is within 5% or 2 s, and the stage times
from the run's log.txt.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def tall(folder: Path) -> Path:
    """20,000 rows x 30 columns: numeric with missing values, two categorical columns, a binary target."""
    from sklearn.datasets import make_classification

    X, y = make_classification(20_000, 28, n_informative=10, random_state=0)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(28)])
    rng = np.random.default_rng(0)
    frame["city"] = rng.choice(["oslo", "lima", "pune", "kobe", "nice"], len(frame))
    frame["grade"] = np.where(frame["x0"] > 0, "high", "low")
    frame.loc[rng.random(len(frame)) < 0.05, "x1"] = np.nan
    frame["y"] = np.where(y == 1, "yes", "no")
    path = folder / "tall.csv"
    frame.to_csv(path, index=False)
    return path


def wide(folder: Path) -> Path:
    """50 rows x 10,000 numeric columns, a binary target."""
    from sklearn.datasets import make_classification

    X, y = make_classification(50, 10_000, n_informative=20, random_state=0)
    frame = pd.DataFrame(X.astype(np.float32), columns=[f"f{i}" for i in range(X.shape[1])])
    frame["y"] = y
    path = folder / "wide.csv"
    frame.to_csv(path, index=False)
    return path


CASES = {
    "tall-auto-30": (tall, 30, ["--set", "model.type=auto"]),
    "wide-20": (wide, 20, []),
    "tall-mlp-nproc2-30": (tall, 30, ["--set", "model.type=mlp", "--nproc", "2"]),
}


def run(data: Path, budget: float, extra: list[str], out: Path) -> tuple[float, int, str]:
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "trainwright", "train", str(data), "--target", "y", "--out", str(out),
                           "--time-budget", str(budget), *extra], capture_output=True, text=True)
    return time.monotonic() - t0, proc.returncode, proc.stderr[-2000:]


def stages(out: Path) -> str:
    log = (out / "log.txt").read_text() if (out / "log.txt").is_file() else ""
    found = re.findall(r"stage (\S+) done in ([\d.]+)s", log)
    return " ".join(f"{name} {float(s):.1f}" for name, s in found)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", nargs="*", default=list(CASES))
    args = parser.parse_args()
    print(f"{'case':<20} {'budget':>6} {'wall':>6} {'ratio':>6}  within  stages (s)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name in args.cases:
            make, budget, extra = CASES[name]
            data = folder / f"{make.__name__}.csv"
            if not data.exists():
                make(folder)
            out = folder / f"run-{name}"
            wall, code, err = run(data, budget, extra, out)
            within = wall <= budget + max(0.05 * budget, 2.0)
            info = json.loads((out / "run.json").read_text()) if (out / "run.json").is_file() else {}
            print(f"{name:<20} {budget:>6.0f} {wall:>6.1f} {wall / budget:>6.2f}  {'yes' if within else 'NO':<6}  "
                  f"{stages(out)}  [{info.get('status')}, {info.get('model')}]" + (f"\n  exit {code}: {err}" if code else ""))


if __name__ == "__main__":
    main()
