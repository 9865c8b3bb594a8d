"""Which planted leaks does the audit's target_leakage check find, and does it stay quiet on clean tables?

    .venv/bin/python bench/leakage.py

Clean tables: the offline sets of shared/DATASETS.md. Plants, into real tables: a copy of the target with
2%, 5%, 10% of its values replaced at random (classification), a monotone transform of a regression target,
a post-outcome date (a date set only after the outcome: later for one class). Prints one line per table and
plant: whether the check flagged it, the column's one-column score, what the other columns reach, and why.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.data.leaks import clean_tables, plant  # noqa: E402  (the same tables and plants as the tests)


def check(frame: pd.DataFrame, target: str) -> list:
    from trainwright.data.quality import audit

    return audit(frame, target=target).by_check("target_leakage")


def main() -> None:
    tables = clean_tables()
    print(f"{'table':<16} {'plant':<18} {'flagged':<20} details")
    alarms = 0
    for name, (frame, target) in tables.items():
        found = check(frame, target)
        alarms += len(found)
        print(f"{name:<16} {'(none)':<18} {', '.join(f.column for f in found) or '-':<20}")
        task_numeric = pd.api.types.is_float_dtype(frame[target]) or frame[target].nunique() > 20
        plants = ["monotone"] if task_numeric else ["copy-2", "copy-5", "copy-10", "coded-7", "coded-14", "post-outcome-date"]
        for kind in plants:
            found = {f.column: f for f in check(plant(frame, target, kind), target)}
            leak = found.get("leak")
            detail = "" if leak is None else leak.message.split(" (")[0].replace("column 'leak' ", "")
            print(f"{name:<16} {kind:<18} {'leak' if leak else 'MISSED':<20} {detail}")
    print(f"false alarms on clean tables: {alarms}")
    sys.exit(0)


if __name__ == "__main__":
    main()
