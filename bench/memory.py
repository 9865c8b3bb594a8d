"""Peak memory and wall time of ``trainwright train`` (the default, ``model.type: auto``) on tables of 10,000 to
50,000 rows, with and without a time budget: the AutoML bound is 600 MB on tables up to 50,000 rows, and the
default without a budget should finish in about a minute on 10,000 rows.

    /work/benchvenv/bin/python bench/memory.py                   # diamonds (plotnine): 10k and 50k rows
    /work/benchvenv/bin/python bench/memory.py --rows 10000 --budgets none 30

The table is plotnine's diamonds (53,940 rows, regression of the price, three categorical columns), the first
N rows of a fixed shuffle (seed 0), written to /tmp/trainwright-bench-memory/. Each case is a fresh process
under ``/usr/bin/time -v``: wall seconds from before the process starts, and its maximum resident set size.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRAINWRIGHT = ROOT / ".venv" / "bin" / "trainwright"
FOLDER = Path("/tmp/trainwright-bench-memory")


def table(rows: int) -> Path:
    """diamonds, the first ``rows`` rows of a seeded shuffle, as CSV."""
    from plotnine.data import diamonds

    path = FOLDER / f"diamonds-{rows}.csv"
    if not path.exists():
        FOLDER.mkdir(parents=True, exist_ok=True)
        frame = diamonds.sample(frac=1.0, random_state=0).head(rows)
        frame.astype({c: str for c in ("cut", "color", "clarity")}).to_csv(path, index=False)
    return path


def run(path: Path, budget: str) -> dict:
    out = FOLDER / f"run-{path.stem}-{budget}"
    subprocess.run(["rm", "-rf", str(out)], check=True)
    command = ["/usr/bin/time", "-v", str(TRAINWRIGHT), "train", str(path), "--target", "price", "--out", str(out)]
    if budget != "none":
        command += ["--time-budget", budget]
    t0 = time.monotonic()
    proc = subprocess.run(command, capture_output=True, text=True)
    wall = time.monotonic() - t0
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    rmse = re.search(r"│ rmse\s+│[^│]*│[^│]*│\s*([\d.]+)", proc.stdout)
    return {"rows": int(path.stem.split("-")[1]), "budget": budget, "exit": proc.returncode, "wall_s": round(wall, 1),
            "peak_rss_mb": round(int(rss.group(1)) / 1024) if rss else None,
            "test_rmse": float(rmse.group(1)) if rmse else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--budgets", nargs="+", default=["none", "30", "60"])
    args = parser.parse_args()
    print(f"{'rows':>7} {'budget':>6} {'exit':>4} {'wall s':>7} {'peak MB':>8} {'test rmse':>10}")
    for rows in args.rows:
        path = table(rows)
        for budget in args.budgets:
            if budget == "none" and rows > 10_000:
                continue  # the stated default is about a 10,000-row table; larger ones want a budget
            r = run(path, budget)
            ratio = "" if budget == "none" else f" (x{r['wall_s'] / float(budget):.2f})"
            print(f"{r['rows']:>7} {budget:>6} {r['exit']:>4} {r['wall_s']:>7}{ratio} {r['peak_rss_mb']:>8} "
                  f"{r['test_rmse'] if r['test_rmse'] is not None else '':>10}")


if __name__ == "__main__":
    main()
