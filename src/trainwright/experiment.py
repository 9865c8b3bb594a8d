"""Experiment: runs the stages of a recipe, from the data file to a saved run directory.

Each stage is a plain function call; this module only chains them and records
what they decided.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any


__all__ = ["Experiment", "train", "audit", "Reporter"]


class Reporter:
    """Receives progress from an experiment. The default one is silent; the CLI shows rich output."""

    @contextlib.contextmanager
    def stage(self, name: str):
        yield

    def info(self, message: str) -> None:
        pass


class Experiment:
    """Runs a validated ``Recipe`` and writes a run directory.

    Args:
        recipe: the validated recipe.
        given: the recipe as the user gave it (saved as ``recipe.yaml``).
        out: run directory; default ``runs/<time>-<data>``.
        runs_dir: parent folder for new runs when ``out`` is not given.
        reporter: progress receiver.
        started: ``time.monotonic()`` at which the time budget started.
    """

    def __init__(self, recipe, *, given: dict | None = None, out=None, runs_dir="runs",
                 reporter: Reporter | None = None, started: float | None = None) -> None:
        self.recipe = recipe
        self.given = given if given is not None else recipe.model_dump(mode="json", exclude_defaults=True)
        self.out = out
        self.runs_dir = runs_dir
        self.reporter = reporter or Reporter()
        self.started = started if started is not None else time.monotonic()
        self.decisions: list[dict[str, Any]] = []
        self.dropped_columns: list[str] = []
        self.log: list[str] = []

    # --- bookkeeping --------------------------------------------------------
    def decide(self, what: str, value: Any, reason: str) -> None:
        """Record an automatic decision; it goes into decisions.json and the log."""
        self.decisions.append({"what": what, "value": value, "reason": reason})
        self._log(f"decision: {what} = {value} ({reason})")

    def _log(self, message: str) -> None:
        self.log.append(f"[{time.monotonic() - self.started:8.2f}s] {message}")
        self.reporter.info(message)

    @contextlib.contextmanager
    def stage(self, name: str):
        """Run a block as a named stage: the reporter shows it, the log times it."""
        t0 = time.monotonic()
        with self.reporter.stage(name):
            yield
        self._log(f"stage {name} done in {time.monotonic() - t0:.2f}s")

    @property
    def deadline(self) -> float | None:
        budget = self.recipe.train.time_budget
        return None if budget is None else self.started + budget

    # --- the path -------------------------------------------------------------
    def run(self):
        """Run every stage; returns the finished ``Run``.

        Raises:
            DataError, ConfigError: bad input, found before any run directory is written.
        """
        from trainwright.data.clean import CleaningLog, clean_before_split
        from trainwright.data.schema import infer_schema
        from trainwright.data.sources import file_sha256
        from trainwright.evaluate.metrics import primary_metric
        from trainwright.experiment_fit import fit_and_save
        from trainwright.experiment_stages import (
            add_frame_features, check_target, choose_features, explain_after_cleaning, fingerprint, load_data,
            make_splits,
            resolve_task, run_audit, target_values,
        )
        from trainwright.errors import DataError
        from trainwright.runs import Run

        rec = self.recipe
        with self.stage("load"):
            frame, data_path = load_data(rec)
            log = CleaningLog(raw_sha256=file_sha256(data_path))
            raw_shape = frame.shape
        with self.stage("schema"):
            frame = raw = add_frame_features(self, frame)
            frame, task = resolve_task(self, frame, data_path)
            primary_metric(task, rec.evaluate.metric)  # a metric of the wrong task fails before any work
            schema = infer_schema(frame)
            fp = fingerprint(data_path, raw_shape, schema, log.raw_sha256)
        with self.stage("clean"):
            kinds = {c.name: (c.kind, c.reason) for c in schema.columns}
            frame = clean_before_split(frame, rec.target, rec.clean, kinds, log)
            y = target_values(frame, rec.target, task, data_path)
            features = choose_features(self, frame, schema, data_path)
        with self.stage("split"):
            try:
                check_target(self, y, task, data_path)
                splits = make_splits(self, frame, y, task)
            except DataError as exc:
                raise explain_after_cleaning(exc, log) from None
        with self.stage("audit"):
            report = run_audit(self, raw, frame.index.to_numpy(), task, splits)
        run_dir = self._create_run_dir(data_path)
        try:
            fit_and_save(self, run_dir, frame, y, task, features, splits, log, report, fp)
        except BaseException as exc:
            self._mark_failed(run_dir, exc)
            raise
        return Run(run_dir)

    def _create_run_dir(self, data_path: Path) -> Path:
        from trainwright.runs import new_run_dir, write_json

        name = data_path.stem.replace(" ", "_")[:40] or "run"
        run_dir = new_run_dir(self.out, runs_dir=self.runs_dir, name=name)
        self.run_info = {"format_version": 1, "status": "running", "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
                         "data": str(data_path), "target": self.recipe.target}
        write_json(run_dir / "run.json", self.run_info)
        return run_dir

    def _mark_failed(self, run_dir: Path, exc: BaseException) -> None:
        from trainwright.runs import write_json, write_text

        self.run_info.update(status="failed", error=f"{type(exc).__name__}: {exc}",
                             seconds=round(time.monotonic() - self.started, 3))
        self._log(f"failed: {type(exc).__name__}: {exc}")
        write_json(run_dir / "run.json", self.run_info)
        write_text(run_dir / "log.txt", "\n".join(self.log) + "\n")


def train(data=None, *, target: str | None = None, recipe=None, overrides: list[str] | None = None,
          task: str | None = None, out=None, seed: int | None = None, time_budget: float | None = None,
          runs_dir="runs", reporter: Reporter | None = None):
    """Train a model from a data file and/or a recipe; returns the finished ``Run``.

    Args:
        data: path of a CSV, Parquet or JSON Lines file (overrides the recipe's ``data.path``).
        target: the column to predict (overrides the recipe's ``target``).
        recipe: a YAML recipe path, or a dict of recipe sections.
        overrides: ``key.path=value`` strings, as ``--set`` on the CLI.
        task: "classification" or "regression"; inferred when not given.
        out: run directory; default ``runs/<time>-<data name>``.
        seed: seed for the split and the models.
        time_budget: seconds for the whole run.

    Returns:
        Run: metrics in ``run.metrics``; ``run.predict(frame)`` for new rows.

    Raises:
        ConfigError: the recipe or an override is invalid.
        DataError: the data cannot be used as asked.

    Example:
        >>> run = trainwright.train("penguins.csv", target="species")  # doctest: +SKIP
        >>> run.metrics["test"]["accuracy"]                             # doctest: +SKIP
    """
    from trainwright.config.io import apply_overrides, load_recipe, parse_recipe

    started = time.monotonic()
    base_dir = None
    if isinstance(recipe, (str, Path)):
        base_dir = Path(recipe).parent
        raw = load_recipe(recipe)
    else:
        raw = dict(recipe or {})
    if isinstance(raw.get("data"), str):
        raw["data"] = {"path": raw["data"]}
    if data is not None:
        raw["data"] = {**raw.get("data", {}), "path": str(data)}
    elif base_dir is not None and isinstance(raw.get("data"), dict):
        # A relative data path in a recipe file is relative to the recipe's folder.
        path = raw["data"].get("path")
        if path and not Path(path).is_absolute():
            raw["data"] = {**raw["data"], "path": str(base_dir / path)}
    for key, value in (("target", target), ("task", task), ("seed", seed)):
        if value is not None:
            raw[key] = value
    if time_budget is not None:
        raw["train"] = {**raw.get("train", {}), "time_budget": time_budget}
    given = apply_overrides(raw, list(overrides or []))
    rec = parse_recipe(given)
    if rec.data.path is None:
        from trainwright.errors import ConfigError

        raise ConfigError("no data given: pass a data file (trainwright train DATA ...) or set data.path in the recipe",
                          path="data.path")
    return Experiment(rec, given=given, out=out, runs_dir=runs_dir, reporter=reporter, started=started).run()


def audit(data, *, target: str | None = None, task: str | None = None, overrides: list[str] | None = None,
          seed: int = 42):
    """Audit a data file as ``train`` would see it; returns an ``AuditReport``.

    With a target, the rows are split as ``train`` splits them by default (stratified for
    classification, seeded), so train/test contamination and split drift are checked too.

    Args:
        data: path of a CSV, Parquet or JSON Lines file.
        target: the column a model would predict (enables the target checks).
        task: "classification" or "regression"; inferred from the target when not given.
        overrides: ``audit.key=value`` strings for the thresholds.
        seed: seed of the split and the sampled checks.

    Example:
        >>> report = trainwright.audit("penguins.csv", target="species")  # doctest: +SKIP
        >>> [f.check for f in report.findings]                            # doctest: +SKIP
    """
    from trainwright.config.io import apply_overrides, parse_recipe
    from trainwright.data.audit import audit as run_checks
    from trainwright.data.schema import infer_task
    from trainwright.data.sources import read_table
    from trainwright.data.split import split_rows
    from trainwright.errors import ConfigError, DataError, did_you_mean

    raw = apply_overrides({}, list(overrides or []))
    if set(raw) - {"audit"}:
        raise ConfigError(f"audit takes only audit.* settings, got {', '.join(sorted(set(raw) - {'audit'}))}")
    config = parse_recipe({"target": target or "-", "audit": raw.get("audit", {})}).audit
    frame = read_table(data)
    splits = None
    if target is not None:
        if target not in frame.columns:
            raise DataError(f"{data}: target column '{target}' not found.{did_you_mean(target, frame.columns)} "
                            f"Columns: {', '.join(map(str, frame.columns[:40]))}.", column=target, file=str(data))
        frame = frame[frame[target].notna()].reset_index(drop=True)
        task = task or infer_task(frame[target])[0]
        try:
            labels = frame[target].to_numpy() if task == "classification" else None
            splits = split_rows(len(frame), labels=labels, seed=seed).as_dict()
        except DataError:
            splits = None  # too small to split: the split checks are skipped
    return run_checks(frame, target=target, task=task, config=config, splits=splits, seed=seed)
