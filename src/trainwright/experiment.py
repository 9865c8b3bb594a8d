"""Experiment: runs the stages of a recipe, from the data file to a saved run directory.

Each stage is a plain function call; this module only chains them and records
what they decided.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any


__all__ = ["Experiment", "train", "Reporter"]


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
        from trainwright.experiment_stages import (
            check_target, choose_features, fingerprint, fit_and_save, load_data, make_splits, resolve_task,
        )
        from trainwright.runs import Run

        rec = self.recipe
        with self.stage("load"):
            frame, data_path = load_data(rec)
        with self.stage("schema"):
            frame, y, task = resolve_task(self, frame, data_path)
            kinds, schema = choose_features(self, frame, data_path)
            check_target(self, y, task, data_path)
        with self.stage("split"):
            splits = make_splits(self, len(frame), y if task == "classification" else None)
        run_dir = self._create_run_dir(data_path)
        try:
            fit_and_save(self, run_dir, frame, y, task, kinds, splits,
                         fingerprint(data_path, frame, schema))
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
