"""Start-up time of the `trainwright` CLI next to the imports it avoids.

Run:  .venv/bin/python bench/startup.py [--repeat 7]

Each command runs in a fresh interpreter; the median wall time is printed with
its ratio to a bare `python -c pass`.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "trainwright --help": [sys.executable, "-m", "trainwright", "--help"],
    "import trainwright": [sys.executable, "-c", "import trainwright"],
    "import pandas": [sys.executable, "-c", "import pandas"],
    "import sklearn.linear_model": [sys.executable, "-c", "import sklearn.linear_model"],
    "import lightgbm": [sys.executable, "-c", "import lightgbm"],
    "import torch": [sys.executable, "-c", "import torch"],
}


def median_seconds(cmd: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    results = {name: median_seconds(cmd, args.repeat) for name, cmd in COMMANDS.items()}
    base = results["python -c pass"]
    print(f"| command | median seconds ({args.repeat} runs) | x bare python |")
    print("|---|---:|---:|")
    for name, seconds in results.items():
        print(f"| `{name}` | {seconds:.3f} | {seconds / base:.1f} |")


if __name__ == "__main__":
    main()
