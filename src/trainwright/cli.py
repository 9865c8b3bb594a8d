"""The ``trainwright`` command: thin commands over the Python API.

Start-up stays fast: this module imports only the standard library at the top;
each command imports what it needs.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="trainwright",
        description="From raw data to a trained, validated and reusable model.",
        epilog="Start with `trainwright demo`, then `trainwright train DATA --target COL`.",
    )
    p.add_argument("--debug", action="store_true", help="show full tracebacks for errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    t = sub.add_parser("train", help="train a model on a data file and write a run directory")
    t.add_argument("data", nargs="?", help="CSV, Parquet or JSON Lines file (or data.path in the recipe)")
    t.add_argument("--target", help="column to predict")
    t.add_argument("--task", choices=["classification", "regression"], help="default: inferred from the target")
    t.add_argument("--recipe", help="YAML recipe (see `trainwright init`)")
    t.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe value, e.g. --set model.type=mlp (repeatable)")
    t.add_argument("--out", help="run directory (default: runs/<time>-<data name>)")
    t.add_argument("--seed", type=int, help="seed for the split and the models (default 42)")
    t.add_argument("--time-budget", type=float, metavar="SECONDS", help="wall-time bound for the whole run")
    t.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its newest checkpoint")
    t.add_argument("--nproc", type=int, metavar="N", help="data-parallel processes for neural models (DDP)")

    lf = sub.add_parser("lr-find", help="sweep the learning rate of a neural model, plot loss against it, suggest one")
    lf.add_argument("data", nargs="?", help="CSV, Parquet or JSON Lines file (or data.path in the recipe)")
    lf.add_argument("--target", help="column to predict")
    lf.add_argument("--recipe", help="YAML recipe")
    lf.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    lf.add_argument("--plot", metavar="OUT.svg", help="write the loss-vs-lr plot as SVG")
    lf.add_argument("--force", action="store_true", help="replace the plot file if it exists")

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

    d = sub.add_parser("demo", help="train on the bundled Palmer penguins data and show the result")
    d.add_argument("--out", help="run directory (default: runs/<time>-penguins)")

    pr = sub.add_parser("predict", help="predict new rows with a trained run")
    pr.add_argument("run", help="run directory written by `trainwright train`")
    pr.add_argument("data", help="rows to predict (CSV, Parquet or JSON Lines)")
    pr.add_argument("-o", "--output", help="output file (.csv, .parquet or .jsonl); default: CSV on stdout")
    pr.add_argument("--force", action="store_true", help="replace the output file if it exists")

    e = sub.add_parser("evaluate", help="score a trained run on labelled rows")
    e.add_argument("run", help="run directory")
    e.add_argument("data", help="labelled rows (must include the target column)")
    e.add_argument("--json", action="store_true", help="print the metrics as JSON")

    rp = sub.add_parser("report", help="rebuild a run's report.html from its evaluation.json")
    rp.add_argument("run", help="run directory")
    rp.add_argument("-o", "--output", help="HTML file to write (default: RUN/report.html, replaced)")
    rp.add_argument("--recompute", action="store_true",
                    help="evaluate again from the data file (its hash must match the run's) before rendering")
    rp.add_argument("--force", action="store_true", help="replace --output if it exists")

    cp = sub.add_parser("compare", help="compare runs side by side in one HTML report")
    cp.add_argument("runs", nargs="+", metavar="RUN", help="two or more run directories of the same task")
    cp.add_argument("-o", "--output", default="compare.html", help="HTML file to write (default compare.html)")
    cp.add_argument("--force", action="store_true", help="replace the output file if it exists")

    i = sub.add_parser("init", help="write a commented starter recipe for a data file")
    i.add_argument("data", help="data file the recipe trains on")
    i.add_argument("--target", required=True, help="column to predict")
    i.add_argument("-o", "--output", default="recipe.yaml", help="recipe file to write (default recipe.yaml)")
    i.add_argument("--force", action="store_true", help="replace the recipe file if it exists")

    sub.add_parser("schema", help="print the recipe's JSON Schema (for editors)")

    r = sub.add_parser("runs", help="list run directories")
    r.add_argument("--dir", default="runs", help="folder holding runs (default: runs)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``trainwright`` command; returns the exit code."""
    args = _parser().parse_args(argv)
    from trainwright.errors import TrainwrightError
    from trainwright.training.runtime import quiet_openmp

    quiet_openmp()
    try:
        return _COMMANDS[args.command](args) or 0
    except TrainwrightError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away: stop quietly, as Unix tools do.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


class _RichReporter:
    """Shows a spinner while a stage runs and a check mark with its time when it ends."""

    def __init__(self) -> None:
        self.console = _console(stderr=True)

    @contextlib.contextmanager
    def stage(self, name: str):
        import time

        t0 = time.monotonic()
        with self.console.status(f"[bold]{name}[/]..."):
            yield
        self.console.print(f"[green]✓[/] {name:<9} {time.monotonic() - t0:6.2f}s")

    def info(self, message: str) -> None:
        if message.startswith(("decision:", "lightgbm:", "linear:", "mlp:", "audit", "balance", "fold", "imputation",
                               "report failed")):
            self.console.print(f"  [dim]{message}[/]")


def _cmd_train(args) -> int:
    import trainwright
    from trainwright.errors import ConfigError
    from trainwright.training.distributed import init_from_env, rank

    if args.resume and any([args.data, args.target, args.recipe, args.overrides, args.task, args.out, args.seed,
                            args.time_budget]):
        raise ConfigError("--resume RUN_DIR continues a run with the recipe it started with; give no data, "
                          "--target, --recipe, --set, --task, --out, --seed or --time-budget with it")
    distributed = init_from_env()  # under torchrun: every rank runs the command, rank 0 writes
    reporter = _RichReporter() if rank() == 0 else None
    run = trainwright.train(args.data, target=args.target, recipe=args.recipe, overrides=args.overrides,
                            task=args.task, out=args.out, seed=args.seed, time_budget=args.time_budget,
                            reporter=reporter, resume=args.resume, nproc=args.nproc)
    if rank() == 0:
        _summary(run)
    if distributed:
        import torch.distributed as dist

        dist.destroy_process_group()
    return 0


def _cmd_lr_find(args) -> int:
    import trainwright
    from trainwright.runs import write_text

    if args.plot:
        _refuse_overwrite([Path(args.plot)], args.force)
    result = trainwright.lr_find(args.data, target=args.target, recipe=args.recipe, overrides=args.overrides)
    console = _console()
    console.print(f"suggested learning rate: [bold]{result.suggestion:.3g}[/] ({result.reason})")
    console.print(f"use it with: --set train.optimizer.lr={result.suggestion:.3g}")
    if args.plot:
        write_text(Path(args.plot), result.to_svg())
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0


def _cmd_audit(args) -> int:
    import json

    import trainwright
    from trainwright.runs import write_text

    outputs = [Path(p) for p in (args.json_out, args.html_out) if p]
    _refuse_overwrite(outputs, args.force)
    report = trainwright.audit(args.data, target=args.target, task=args.task, overrides=args.overrides, seed=args.seed)
    _print_audit(report)
    if args.json_out:
        write_text(Path(args.json_out), json.dumps(report.to_dict(), indent=2) + "\n")
    if args.html_out:
        write_text(Path(args.html_out), report.to_html(f"Data audit: {args.data}"))
    for out in outputs:
        print(f"wrote {out}", file=sys.stderr)
    return 0


def _refuse_overwrite(paths: list[Path], force: bool) -> None:
    from trainwright.errors import DataError

    for path in paths:
        if not path.parent.resolve().is_dir():
            raise DataError(f"cannot write {path}: the folder {path.parent} does not exist; create it first.",
                            file=str(path))
        if path.exists() and not force:
            raise DataError(f"{path} already exists; choose another file or pass --force to replace it.", file=str(path))


def _print_audit(report) -> None:
    console = _console()
    colors = {"error": "red", "warning": "yellow", "info": "cyan"}
    console.print(f"[bold]Audit[/]: {report.n_rows} rows x {report.n_columns} columns, {len(report.findings)} "
                  f"findings in {report.seconds:.1f}s")
    for f in sorted(report.findings, key=lambda f: ("error", "warning", "info").index(f.severity)):
        where = f" [bold]{f.column}[/]" if f.column else ""
        console.print(f"[{colors[f.severity]}]{f.severity:<7}[/] {f.check}{where}: {f.message}")
        if f.examples:
            console.print(f"        rows: {', '.join(map(str, f.examples))}", style="dim")
        console.print(f"        fix: {f.remedy}", style="dim")
    if not report.findings:
        console.print("No findings: the data passed every check.")


def _cmd_demo(args) -> int:
    from importlib import resources

    import trainwright

    data = resources.files("trainwright") / "datasets" / "penguins.csv"
    _console().print("Training on the bundled Palmer penguins data (344 rows, 3 species) with model.type=auto.")
    with resources.as_file(data) as path:
        run = trainwright.train(path, target="species", overrides=["model.type=auto"], out=args.out,
                                reporter=_RichReporter())
    _summary(run)
    return 0


def _summary(run) -> None:
    import json

    from rich.table import Table

    console = _console()
    board = json.loads((run.path / "leaderboard.json").read_text())
    if len(board["candidates"]) > 1:
        lb = Table(title=f"Candidates (validation {board['metric']})")
        for col in ("model", "status", board["metric"], "seconds"):
            lb.add_column(col)
        for row in board["candidates"]:
            value = row.get("validation", {}).get(board["metric"])
            lb.add_row(row["model"], row["status"], "" if value is None else f"{value:.4f}", str(row.get("fit_seconds", "")))
        console.print(lb)
    metrics = run.metrics
    table = Table(title=f"{run.info['model']} on {run.target} ({run.task})")
    table.add_column("metric")
    parts = [p for p in ("train", "validation", "test") if p in metrics]
    for part in parts:
        table.add_column(part, justify="right")
    for name in _HEADLINE[run.task]:
        if name in metrics["test"]:
            table.add_row(name, *(_fmt(metrics[p].get(name)) for p in parts))
    console.print(table)
    console.print(f"Run written to [bold]{run.path}[/]")
    if (run.path / "report.html").is_file():
        console.print(f"Report: [bold]{run.path / 'report.html'}[/]")
    elif run.info.get("report_error"):
        console.print(f"[yellow]report failed[/]: {run.info['report_error']}; retry: "
                      f"trainwright report {run.path} --recompute")
    console.print(f"Predict with: trainwright predict {run.path} DATA -o predictions.csv")


# The rows of the console summary; metrics.json and the report hold the full set.
_HEADLINE = {
    "classification": ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "mcc"),
    "regression": ("rmse", "mae", "mape", "r2"),
}


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _cmd_predict(args) -> int:
    import trainwright
    from trainwright.data.sources import read_table
    from trainwright.errors import DataError

    out = Path(args.output) if args.output else None
    _refuse_overwrite([out] if out else [], args.force)
    run = trainwright.load(args.run)
    frame = read_table(args.data, allow_empty=True)
    try:
        predictions = run.predict(frame)
    except DataError as exc:
        raise DataError(f"{args.data}: {exc}", column=exc.column, file=args.data) from None
    if out is None:
        predictions.to_csv(sys.stdout, index=False)
    else:
        _write_table(predictions, out)
        print(f"{len(predictions)} predictions written to {out}", file=sys.stderr)
    return 0


def _write_table(frame, out: Path) -> None:
    import os
    import tempfile

    from trainwright.data.sources import detect_format

    fmt = detect_format(out)
    fd, tmp = tempfile.mkstemp(dir=out.parent if str(out.parent) else ".", suffix=out.suffix)
    os.close(fd)
    try:
        if fmt == "parquet":
            frame.to_parquet(tmp, index=False)
        elif fmt == "jsonl":
            frame.to_json(tmp, orient="records", lines=True)
        else:
            frame.to_csv(tmp, index=False)
        os.replace(tmp, out)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _cmd_evaluate(args) -> int:
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
        table.add_row(name, _fmt(value))
    _console().print(table)
    return 0


def _cmd_report(args) -> int:
    from trainwright.report.render import rebuild_report

    out = Path(args.output) if args.output else None
    if out is not None:
        _refuse_overwrite([out], args.force)
    path = rebuild_report(args.run, out=out, recompute=args.recompute)
    print(f"wrote {path}", file=sys.stderr)
    return 0


def _cmd_compare(args) -> int:
    from trainwright.report.compare import write_comparison

    out = Path(args.output)
    _refuse_overwrite([out], args.force)
    write_comparison(args.runs, out)
    print(f"wrote {out}", file=sys.stderr)
    return 0


def _cmd_init(args) -> int:
    from trainwright.config.io import starter_recipe
    from trainwright.data.schema import infer_task
    from trainwright.data.sources import read_table
    from trainwright.errors import DataError, did_you_mean

    out = Path(args.output)
    _refuse_overwrite([out], args.force)
    frame = read_table(args.data)
    if args.target not in frame.columns:
        raise DataError(f"{args.data}: target column '{args.target}' not found.{did_you_mean(args.target, frame.columns)} "
                        f"Columns: {', '.join(map(str, frame.columns[:40]))}.", column=args.target)
    task, reason = infer_task(frame[args.target])
    data_path = str(Path(args.data).resolve() if out.parent.resolve() != Path(args.data).resolve().parent else Path(args.data).name)
    text = starter_recipe(data_path, args.target, {"task": f"inferred from {args.data}: {task} ({reason})"})
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out}; train with: trainwright train --recipe {out}")
    return 0


def _cmd_schema(args) -> int:
    import json

    from trainwright.config.io import recipe_json_schema

    print(json.dumps(recipe_json_schema(), indent=2))
    return 0


def _cmd_runs(args) -> int:
    from rich.table import Table

    from trainwright.runs import list_runs

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
    _console().print(table)
    return 0


_COMMANDS = {
    "train": _cmd_train, "lr-find": _cmd_lr_find, "audit": _cmd_audit, "demo": _cmd_demo, "predict": _cmd_predict, "evaluate": _cmd_evaluate,
    "report": _cmd_report, "compare": _cmd_compare, "init": _cmd_init, "schema": _cmd_schema, "runs": _cmd_runs,
}

if __name__ == "__main__":
    sys.exit(main())
