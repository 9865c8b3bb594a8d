"""``trainwright predict`` and ``evaluate``: using a trained run on new rows."""

from __future__ import annotations

import sys
from pathlib import Path

from trainwright.cli.common import console, fmt, refuse_overwrite, say, table_format, write_table

__all__ = ["add_parsers"]


def add_parsers(sub) -> None:
    """The ``predict`` and ``evaluate`` commands."""
    pr = sub.add_parser("predict", help="predict new rows with a trained run")
    pr.add_argument("run", help="run directory written by `trainwright train`")
    pr.add_argument("data", help="rows to predict (CSV, Parquet or JSON Lines)")
    pr.add_argument("-o", "--output", help="output file (.csv, .parquet or .jsonl); default: CSV on stdout")
    pr.add_argument("--force", action="store_true", help="replace the output file if it exists")
    pr.add_argument("--invalid", choices=["error", "missing"], default="error",
                    help="a value that is not a number in a numeric column: refuse (default) or treat it as missing")
    pr.set_defaults(handler=_predict)

    e = sub.add_parser("evaluate", help="score a trained run on labelled rows")
    e.add_argument("run", help="run directory")
    e.add_argument("data", help="labelled rows (must include the target column)")
    e.add_argument("--json", action="store_true", help="print the metrics as JSON")
    e.set_defaults(handler=_evaluate)


def _predict(args) -> int:
    import trainwright
    from trainwright.data.sources import read_table
    from trainwright.errors import DataError

    out = Path(args.output) if args.output else None
    refuse_overwrite([out] if out else [], args.force)
    if out is not None:
        table_format(out)
    run = trainwright.load(args.run)
    frame = read_table(args.data, allow_empty=True)
    try:
        if args.invalid == "missing":
            for col, rows in run.predictor.invalid_numbers(frame).items():
                say(f"{len(rows)} value(s) of '{col}' that are not numbers were treated as missing")
        predictions = run.predict(frame, invalid=args.invalid)
    except DataError as exc:
        raise DataError(f"{args.data}: {exc}", column=exc.column, file=args.data) from None
    if out is None:
        predictions.to_csv(sys.stdout, index=False)
    else:
        write_table(predictions, out, force=args.force)
        say(f"{len(predictions)} predictions written to {out}")
    return 0


def _evaluate(args) -> int:
    import json

    import trainwright
    from trainwright.data.sources import read_table
    from trainwright.errors import DataError

    run = trainwright.load(args.run)
    try:
        metrics = run.evaluate(read_table(args.data))
    except DataError as exc:
        if exc.file:
            raise
        raise DataError(f"{args.data}: {exc}", column=exc.column, file=args.data) from None
    if args.json:
        print(json.dumps(metrics, indent=2))
        return 0
    from rich.table import Table

    table = Table(title=f"{run.info['model']} on {args.data}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in metrics.items():
        table.add_row(name, fmt(value))
    console().print(table)
    return 0
