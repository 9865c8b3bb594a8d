"""``trainwright train``, ``demo`` and ``lr-find``: training runs and their console summary."""

from __future__ import annotations

import shlex
from pathlib import Path

from trainwright.cli.common import RichReporter, console, fmt, refuse_overwrite, say

__all__ = ["add_parsers"]

# The rows of the console summary; metrics.json and the report hold the full set.
_HEADLINE = {
    "classification": ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "mcc"),
    "regression": ("rmse", "mae", "mape", "r2"),
}


def add_parsers(sub) -> None:
    """The ``train``, ``lr-find`` and ``demo`` commands."""
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
    t.set_defaults(handler=_train)

    lf = sub.add_parser("lr-find", help="sweep the learning rate of a neural model, plot loss against it, suggest one")
    lf.add_argument("data", nargs="?", help="CSV, Parquet or JSON Lines file (or data.path in the recipe)")
    lf.add_argument("--target", help="column to predict")
    lf.add_argument("--recipe", help="YAML recipe")
    lf.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    lf.add_argument("--plot", metavar="OUT.svg", help="write the loss-vs-lr plot as SVG")
    lf.add_argument("--force", action="store_true", help="replace the plot file if it exists")
    lf.set_defaults(handler=_lr_find)

    d = sub.add_parser("demo", help="train on the bundled Palmer penguins data and show the result")
    d.add_argument("--out", help="run directory (default: runs/<time>-penguins)")
    d.set_defaults(handler=_demo)


def _train(args) -> int:
    import trainwright
    from trainwright.runtime import process_started
    from trainwright.training.distributed import init_from_env, rank

    distributed = init_from_env()  # under torchrun: every rank runs the command, rank 0 writes
    reporter = RichReporter() if rank() == 0 else None
    run = trainwright.train(args.data, target=args.target, recipe=args.recipe, overrides=args.overrides,
                            task=args.task, out=args.out, seed=args.seed, time_budget=args.time_budget,
                            reporter=reporter, resume=args.resume, nproc=args.nproc, started=process_started())
    if rank() == 0:
        summary(run)
    if distributed:
        import torch.distributed as dist

        dist.destroy_process_group()
    return 0


def _lr_find(args) -> int:
    import trainwright
    from trainwright.runs import store

    if args.plot:
        refuse_overwrite([Path(args.plot)], args.force)
    result = trainwright.lr_find(args.data, target=args.target, recipe=args.recipe, overrides=args.overrides)
    out = console()
    out.print(f"suggested learning rate: [bold]{result.suggestion:.3g}[/] ({result.reason})")
    out.print(f"use it with: --set train.optimizer.lr={result.suggestion:.3g}")
    if args.plot:
        store.write_text(Path(args.plot), result.to_svg())
        say(f"wrote {args.plot}")
    return 0


def _demo(args) -> int:
    from importlib import resources

    import trainwright

    data = resources.files("trainwright") / "datasets" / "penguins.csv"
    console().print("Training on the bundled Palmer penguins data (344 rows, 3 species) with model.type=auto.")
    with resources.as_file(data) as path:
        run = trainwright.train(path, target="species", overrides=["model.type=auto"], out=args.out,
                                reporter=RichReporter())
    summary(run)
    return 0


def summary(run) -> None:
    """The candidates' leaderboard (when several), the headline metrics per part, and where things are."""
    from rich.table import Table

    from trainwright.runs import layout

    out = console()
    board = run.run.read_json(layout.LEADERBOARD)
    if len(board["candidates"]) > 1:
        lb = Table(title=f"Candidates (validation {board['metric']})")
        for col in ("model", "status", board["metric"], "seconds"):
            lb.add_column(col)
        for row in board["candidates"]:
            value = row.get("validation", {}).get(board["metric"])
            lb.add_row(row["model"], row["status"], "" if value is None else f"{value:.4f}", str(row.get("fit_seconds", "")))
        out.print(lb)
    metrics = run.metrics
    table = Table(title=f"{run.info['model']} on {run.target} ({run.task})")
    table.add_column("metric")
    parts = [p for p in ("train", "validation", "test") if p in metrics]
    for part in parts:
        table.add_column(part, justify="right")
    for name in _HEADLINE[run.task]:
        if name in metrics["test"]:
            table.add_row(name, *(fmt(metrics[p].get(name)) for p in parts))
    out.print(table)
    out.print(f"Run written to [bold]{run.path}[/]")
    if (run.path / layout.REPORT).is_file():
        out.print(f"Report: [bold]{run.path / layout.REPORT}[/]")
    out.print(f"Predict with: trainwright predict {shlex.quote(str(run.path))} DATA -o predictions.csv")
