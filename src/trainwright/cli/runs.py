"""``trainwright runs``: the run directories under a folder."""

from __future__ import annotations

from trainwright.cli.common import console

__all__ = ["add_parsers"]


def add_parsers(sub) -> None:
    """The ``runs`` command."""
    r = sub.add_parser("runs", help="list run directories")
    r.add_argument("--dir", default="runs", help="folder holding runs (default: runs)")
    r.set_defaults(handler=_runs)


def _runs(args) -> int:
    from rich.table import Table

    from trainwright.runs import list_runs

    from pathlib import Path

    from trainwright.errors import DataError

    if not Path(args.dir).is_dir():
        raise DataError(f"--dir {args.dir}: no such folder. Runs are written under ./runs by default; pass the "
                        "folder that holds them.", file=args.dir)
    rows = list_runs(args.dir)
    if not rows:
        print(f"no runs under {args.dir}/")
        return 0
    table = Table()
    for col in ("run", "status", "task", "target", "model", "test"):
        table.add_column(col)
    for row in rows:
        test = ", ".join(f"{k}={v:.3f}" for k, v in list(row["test"].items())[:3] if v is not None)
        table.add_row(row["path"], row["status"], str(row["task"]), str(row["target"]), str(row["model"]), test)
    console().print(table)
    return 0
