"""``trainwright train``, ``tune``, ``demo`` and ``lr-find``: training runs and their console summary."""

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
    """The ``train``, ``tune``, ``lr-find`` and ``demo`` commands."""
    t = sub.add_parser("train", help="train a model on a data file and write a run directory")
    _run_arguments(t, "override a recipe value, e.g. --set model.type=mlp (repeatable)")
    t.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its newest checkpoint")
    t.add_argument("--nproc", type=int, metavar="N", help="data-parallel processes for neural models (DDP)")
    t.set_defaults(handler=_train)

    tu = sub.add_parser("tune", help="search hyperparameters (Optuna, with pruning), refit the best, write a run")
    _run_arguments(tu, "override a recipe value, e.g. --set tune.sampler=random (repeatable); the recipe's "
                       "tune: section says what to search (default: the learner's own space)")
    tu.add_argument("--trials", type=int, metavar="N", help="trials in the study (finished ones in --storage count)")
    tu.add_argument("--storage", metavar="URL", help="journal file (PATH.journal) or database URL "
                                                     "(postgresql://user@host/db); the study resumes from it")
    tu.add_argument("--study", metavar="NAME", help="study name in the storage (default: <data>-<target>)")
    tu.add_argument("--workers", type=int, metavar="K", help="processes on this machine running trials at once")
    tu.set_defaults(handler=_tune)

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


def _run_arguments(p, set_help: str) -> None:
    """The arguments ``train`` and ``tune`` share: the data, the recipe and overrides, where the run goes."""
    p.add_argument("data", nargs="?", help="CSV, Parquet or JSON Lines file (or data.path in the recipe)")
    p.add_argument("--target", help="column to predict")
    p.add_argument("--task", choices=["classification", "regression", "forecast"],
                   help="default: classification or regression, inferred from the target; forecast: the target's "
                        "next values (needs --set split.time_column=COLUMN)")
    p.add_argument("--recipe", help="YAML recipe (see `trainwright init`)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=set_help)
    p.add_argument("--out", help="run directory (default: runs/<time>-<data name>)")
    p.add_argument("--seed", type=int, help="seed for the split, the models and every random step (default 42)")
    p.add_argument("--time-budget", type=float, metavar="SECONDS", help="wall-time bound for the whole command")


def _tune(args) -> int:
    import trainwright
    from trainwright.runtime import process_started

    run = trainwright.tune(args.data, target=args.target, recipe=args.recipe, overrides=args.overrides,
                           task=args.task, out=args.out, seed=args.seed, time_budget=args.time_budget,
                           trials=args.trials, storage=args.storage, study=args.study, workers=args.workers,
                           reporter=RichReporter(), started=process_started())
    summary(run)
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


def _leaderboard(board: dict):
    """The candidates (``auto``: portfolio entries, their ensemble weight and scores) as a table."""
    from rich.table import Table

    metric = board["metric"]
    table = Table(title=f"Candidates ({metric}: first bagging fold, out of fold, validation)")
    for col in ("model", "status", "weight", "fold 1", "out of fold", "validation", "fit s"):
        table.add_column(col, justify="left" if col in ("model", "status") else "right")
    for row in board["candidates"]:
        cells = [fmt((row.get(k) or {}).get(metric)) if row.get(k) else "" for k in ("fold_1", "oof", "validation")]
        weight = row.get("weight")
        status = row["status"] + (" + refit" if row.get("refit") else "")
        table.add_row(row["model"], status, "" if weight is None else f"{weight:.2f}", *cells,
                      str(row.get("fit_seconds", "")))
    return table


def summary(run) -> None:
    """The candidates' leaderboard (when several), the headline metrics per part, and where things are."""
    from rich.table import Table

    from trainwright.runs import layout

    out = console()
    if run.task == "forecast":
        out.print(_forecast_table(run))
        _where(out, run, "HISTORY")
        return
    board = run.run.read_json(layout.LEADERBOARD)
    if len(board["candidates"]) > 1:
        out.print(_leaderboard(board))
    study = run.run.read_json(layout.STUDY, None)
    if study is not None:
        counts = study["counts"]
        out.print(f"Study [bold]{study['study']}[/] ({study['storage']}): {len(study['trials'])} trials, "
                  f"{counts['complete']} finished, {counts['pruned']} pruned; best {study['metric']} "
                  f"{fmt(study['best']['value'])} (trial {study['best']['number']}) with {study['best']['params']}")
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
    _where(out, run, "DATA")


def _where(out, run, data: str) -> None:
    from trainwright.runs import layout

    out.print(f"Run written to [bold]{run.path}[/]")
    if (run.path / layout.REPORT).is_file():
        out.print(f"Report: [bold]{run.path / layout.REPORT}[/]")
    if run.task == "forecast":
        out.print(f"Forecast: [bold]{run.path / 'forecast.csv'}[/]")
    out.print(f"Predict with: trainwright predict {shlex.quote(str(run.path))} {data} -o predictions.csv")


def _forecast_table(run):
    """Every forecaster's backtest scores, the kept one marked."""
    from rich.table import Table

    metrics, info = run.metrics, run.info
    table = Table(title=f"Backtest of {run.target}: {info['horizon']} steps ahead")
    for col in ("forecaster", "MASE", "sMAPE %", "RMSE", "windows", "fit s"):
        table.add_column(col, justify="left" if col == "forecaster" else "right")
    for name, m in metrics["backtest"].items():
        label = f"{name} (kept)" if name == info["model"] else name
        if m["status"] != "scored":
            table.add_row(label, "not scored", "", "", "0", fmt(m.get("seconds")))
            continue
        table.add_row(label, fmt(m["mase"]), fmt(m["smape"]), fmt(m["rmse"]), str(m["windows"]), fmt(m["seconds"]))
    cov = metrics.get("coverage") or {}
    if cov.get("coverage") is not None:
        table.caption = (f"{cov['level']:.0%} intervals covered {cov['coverage']:.1%} of {cov['scored']} later-window "
                         "values (each window's intervals from windows whose truths precede it)")
    return table
