"""``trainwright audit``, ``init`` and ``schema``: looking at data and writing recipes."""

from __future__ import annotations

import json
from pathlib import Path

from trainwright.cli.common import console, refuse_overwrite, say

__all__ = ["add_parsers"]


def add_parsers(sub) -> None:
    """The ``audit``, ``init`` and ``schema`` commands."""
    a = sub.add_parser("audit", help="audit a data file: duplicates, missing values, outliers, imbalance, "
                                     "label errors, leakage, split contamination and drift")
    a.add_argument("data", help="CSV, Parquet or JSON Lines file")
    a.add_argument("--target", help="the column a model would predict (enables the target checks)")
    a.add_argument("--task", choices=["classification", "regression"], help="default: inferred from the target")
    a.add_argument("--json", dest="json_out", metavar="OUT.json", help="write the findings as JSON")
    a.add_argument("--html", dest="html_out", metavar="OUT.html", help="write the findings as a self-contained HTML page")
    a.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override an audit threshold, e.g. --set audit.outlier_z=6")
    a.add_argument("--seed", type=int, default=42, help="seed of the split and the sampled checks (default 42)")
    a.add_argument("--force", action="store_true", help="replace the output files if they exist")
    a.set_defaults(handler=_audit)

    i = sub.add_parser("init", help="write a commented starter recipe for a data file")
    i.add_argument("data", help="data file the recipe trains on")
    i.add_argument("--target", required=True, help="column to predict")
    i.add_argument("-o", "--output", default="recipe.yaml", help="recipe file to write (default recipe.yaml)")
    i.add_argument("--force", action="store_true", help="replace the recipe file if it exists")
    i.set_defaults(handler=_init)

    s = sub.add_parser("schema", help="print the recipe's JSON Schema (for editors)")
    s.set_defaults(handler=_schema)


def _audit(args) -> int:
    import trainwright
    from trainwright.runs import store

    outputs = [Path(p) for p in (args.json_out, args.html_out) if p]
    refuse_overwrite(outputs, args.force)
    report = trainwright.audit(args.data, target=args.target, task=args.task, overrides=args.overrides, seed=args.seed)
    _print_audit(report)
    if args.json_out:
        store.write_text(Path(args.json_out), json.dumps(report.to_dict(), indent=2) + "\n")
    if args.html_out:
        store.write_text(Path(args.html_out), report.to_html(f"Data audit: {args.data}"))
    for out in outputs:
        say(f"wrote {out}")
    return 0


def _print_audit(report) -> None:
    out = console()
    colors = {"error": "red", "warning": "yellow", "info": "cyan"}
    out.print(f"[bold]Audit[/]: {report.n_rows} rows x {report.n_columns} columns, {len(report.findings)} "
              f"findings in {report.seconds:.1f}s")
    for f in sorted(report.findings, key=lambda f: ("error", "warning", "info").index(f.severity)):
        where = f" [bold]{f.column}[/]" if f.column else ""
        out.print(f"[{colors[f.severity]}]{f.severity:<7}[/] {f.check}{where}: {f.message}")
        if f.examples:
            out.print(f"        rows: {', '.join(map(str, f.examples))}", style="dim")
        out.print(f"        fix: {f.remedy}", style="dim")
    if not report.findings:
        out.print("No findings: the data passed every check.")


def _init(args) -> int:
    from trainwright.config.io import starter_recipe
    from trainwright.data.columns import require_column
    from trainwright.data.schema import infer_task
    from trainwright.data.sources import read_table
    from trainwright.pipeline.recipe import Recipe
    from trainwright.runs import store

    out = Path(args.output)
    refuse_overwrite([out], args.force)
    frame = read_table(args.data)
    require_column(frame, args.target, what="target column", file=args.data)
    task, reason = infer_task(frame[args.target])
    data = Path(args.data).resolve()
    data_path = str(data if out.parent.resolve() != data.parent else Path(args.data).name)
    text = starter_recipe(Recipe, data_path, args.target, {"task": f"inferred from {args.data}: {task} ({reason})"})
    store.write_text(out, text)
    print(f"wrote {out}; train with: trainwright train --recipe {out}")
    return 0


def _schema(args) -> int:
    from trainwright.config.io import json_schema
    from trainwright.pipeline.recipe import Recipe

    print(json.dumps(json_schema(Recipe), indent=2))
    return 0
