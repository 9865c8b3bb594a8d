"""Experiment: runs the stages of a recipe, from the data file to a saved run directory.

Each stage is a plain function call; this module only chains them and records
what they decided.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


__all__ = ["Experiment", "train", "audit", "lr_find", "Reporter"]


class Reporter:
    """Receives progress from an experiment. The default one is silent; the CLI shows rich output."""

    @contextlib.contextmanager
    def stage(self, name: str):
        yield

    def info(self, message: str) -> None:
        pass


@dataclass
class Prepared:
    """What the stages before fitting produce."""

    raw: Any
    frame: Any
    y: Any
    task: str
    features: dict
    splits: Any
    log: Any
    fp: dict
    data_path: Path


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
        self.resume = False
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

    def fit_options(self, model_type: str) -> dict:
        """Checkpointing and resume for a learner of this run (neural learners use them)."""
        run_dir = getattr(self, "run_dir", None)
        if run_dir is None:
            return {}
        return {"checkpoint_dir": run_dir / "checkpoints" / model_type, "resume": self.resume,
                "callbacks": self.callbacks(run_dir, model_type)}

    def callbacks(self, run_dir: Path, model_type: str) -> tuple:
        from trainwright.training.callbacks import JsonlLogger, MLflowLogger, TensorBoardLogger

        log = self.recipe.train.log
        out = [JsonlLogger(run_dir / f"history-{model_type}.jsonl")]
        if log.tensorboard:
            out.append(TensorBoardLogger(run_dir / "tensorboard" / model_type))
        if log.mlflow:
            out.append(MLflowLogger())
        return tuple(out)

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
        from trainwright.experiment_fit import fit_and_save
        from trainwright.runs import Run
        from trainwright.training.distributed import rank

        p = self.prepare()
        with self.stage("audit"):
            from trainwright.experiment_stages import run_audit

            report = run_audit(self, p.raw, p.frame.index.to_numpy(), p.task, p.splits)
        scratch = rank() != 0
        if scratch:  # under torchrun only rank 0 writes the run; the others write to a folder that is dropped
            import tempfile

            self.out, self.resume = tempfile.mkdtemp(prefix="trainwright-rank-"), False
        run_dir = self.run_dir = self._create_run_dir(p.data_path, p.fp)
        try:
            fit_and_save(self, run_dir, p.frame, p.y, p.task, p.features, p.splits, p.log, report, p.fp)
        except BaseException as exc:
            self._mark_failed(run_dir, exc)
            raise
        run = Run(run_dir)
        if scratch:
            import shutil

            shutil.rmtree(run_dir, ignore_errors=True)
        return run

    def prepare(self) -> "Prepared":
        """The stages before fitting: load, schema, clean, split. Checks all input; writes nothing."""
        from trainwright.data.clean import CleaningLog, clean_before_split
        from trainwright.data.schema import infer_schema
        from trainwright.data.sources import file_sha256
        from trainwright.errors import DataError
        from trainwright.evaluate.metrics import primary_metric
        from trainwright.experiment_stages import (
            add_frame_features, check_target, choose_features, explain_after_cleaning, fingerprint, load_data,
            make_splits, resolve_task, target_values,
        )

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
            _check_sensitive(rec.evaluate.sensitive, rec.target, frame, data_path)
        with self.stage("split"):
            try:
                check_target(self, y, task, data_path)
                _check_threshold(rec.evaluate.threshold.choose, task, y)
                splits = make_splits(self, frame, y, task)
            except DataError as exc:
                raise explain_after_cleaning(exc, log) from None
        return Prepared(raw, frame, y, task, features, splits, log, fp, data_path)

    def _create_run_dir(self, data_path: Path, fp: dict) -> Path:
        from trainwright.runs import RUN_FORMAT_VERSION, new_run_dir, write_json

        if self.resume:
            return self._reopen_run_dir(Path(self.out), fp)
        name = data_path.stem.replace(" ", "_")[:40] or "run"
        run_dir = new_run_dir(self.out, runs_dir=self.runs_dir, name=name)
        self.run_info = {"format_version": RUN_FORMAT_VERSION, "status": "running", "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
                         "data": str(data_path), "target": self.recipe.target}
        write_json(run_dir / "run.json", self.run_info)
        return run_dir

    def _reopen_run_dir(self, run_dir: Path, fp: dict) -> Path:
        import json

        from trainwright.errors import DataError
        from trainwright.runs import write_json

        old = json.loads((run_dir / "fingerprint.json").read_text()) if (run_dir / "fingerprint.json").is_file() else {}
        if old and old.get("sha256") != fp["sha256"]:
            raise DataError(f"{fp['file']} changed since run {run_dir} started (content hash differs); a resumed run "
                            "must see the same data. Train a new run instead.", file=fp["file"])
        self.run_info = json.loads((run_dir / "run.json").read_text())
        self.run_info.update(status="running", resumed=self.run_info.get("resumed", 0) + 1)
        self.run_info.pop("error", None)
        write_json(run_dir / "run.json", self.run_info)
        return run_dir

    def _mark_failed(self, run_dir: Path, exc: BaseException) -> None:
        from trainwright.runs import write_json, write_text

        self.run_info.update(status="failed", error=f"{type(exc).__name__}: {exc}",
                             seconds=round(time.monotonic() - self.started, 3))
        self._log(f"failed: {type(exc).__name__}: {exc}")
        write_json(run_dir / "run.json", self.run_info)
        write_text(run_dir / "log.txt", "\n".join(self.log) + "\n")


def _check_threshold(choose: str, task: str, y) -> None:
    """A decision threshold is chosen for two classes only; checked before any run directory is written."""
    import numpy as np

    from trainwright.errors import ConfigError

    if choose == "none":
        return
    n = len(np.unique(np.asarray(y).astype(str))) if task == "classification" else 0
    if n != 2:
        what = f"{n} classes" if task == "classification" else "a regression target"
        raise ConfigError(f"evaluate.threshold.choose={choose} applies to binary classification, and this run has "
                          f"{what}; set evaluate.threshold.choose=none", path="evaluate.threshold.choose")


def _check_sensitive(columns: list[str], target: str, frame, data_path: Path) -> None:
    """Sensitive columns (fairness audit) must exist and not be the target; checked before any run directory
    is written."""
    from trainwright.errors import ConfigError, DataError, did_you_mean

    if target in columns:
        raise ConfigError(f"evaluate.sensitive names the target '{target}'; a fairness audit compares groups of "
                          "rows by another column (e.g. sex or age). Remove it from evaluate.sensitive.",
                          path="evaluate.sensitive")
    for col in columns:
        if col not in frame.columns:
            raise DataError(f"{data_path}: evaluate.sensitive names '{col}', which is not a column of the data."
                            f"{did_you_mean(col, frame.columns)} Fix evaluate.sensitive.", column=col,
                            file=str(data_path))


def train(data=None, *, target: str | None = None, recipe=None, overrides: list[str] | None = None,
          task: str | None = None, out=None, seed: int | None = None, time_budget: float | None = None,
          runs_dir="runs", reporter: Reporter | None = None, resume=None, nproc: int | None = None):
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
        resume: a run directory whose training was interrupted: continue it from its newest
            checkpoint, with the recipe it was started with (the other arguments must be None).
        nproc: data-parallel processes for neural learners (``train.nproc``).

    Returns:
        Run: metrics in ``run.metrics``; ``run.predict(frame)`` for new rows.

    Raises:
        ConfigError: the recipe or an override is invalid.
        DataError: the data cannot be used as asked.

    Example:
        >>> run = trainwright.train("penguins.csv", target="species")  # doctest: +SKIP
        >>> run.metrics["test"]["accuracy"]                             # doctest: +SKIP
    """
    started = time.monotonic()
    if resume is not None:
        return _resume(Path(resume), started, reporter, nproc)
    rec, given = _recipe_from_args(data, target, recipe, overrides, task=task, seed=seed, time_budget=time_budget,
                                   nproc=nproc)
    return Experiment(rec, given=given, out=out, runs_dir=runs_dir, reporter=reporter, started=started).run()


def _recipe_from_args(data, target, recipe, overrides, *, task=None, seed=None, time_budget=None, nproc=None):
    """(validated Recipe, the recipe as given) from the arguments of ``train``."""
    from trainwright.config.io import apply_overrides, load_recipe, parse_recipe

    base_dir = None
    if isinstance(recipe, (str, Path)):
        base_dir = Path(recipe).parent
        raw = load_recipe(recipe)
    else:
        raw = dict(recipe or {})
    if isinstance(raw.get("data"), str):
        raw["data"] = {"path": raw["data"]}
    if data is not None:
        raw["data"] = {**raw.get("data", {}), "path": str(Path(data).resolve())}
    elif base_dir is not None and isinstance(raw.get("data"), dict):
        # A relative data path in a recipe file is relative to the recipe's folder.
        path = raw["data"].get("path")
        if path and not Path(path).is_absolute():
            raw["data"] = {**raw["data"], "path": str(base_dir / path)}
    for key, value in (("target", target), ("task", task), ("seed", seed)):
        if value is not None:
            raw[key] = value
    for key, value in (("time_budget", time_budget), ("nproc", nproc)):
        if value is not None:
            raw["train"] = {**raw.get("train", {}), key: value}
    given = apply_overrides(raw, list(overrides or []))
    rec = parse_recipe(given)
    if rec.data.path is None:
        from trainwright.errors import ConfigError

        raise ConfigError("no data given: pass a data file (trainwright train DATA ...) or set data.path in the recipe",
                          path="data.path")
    return rec, given


def _resume(run_dir: Path, started: float, reporter, nproc):
    import json

    import yaml

    from trainwright.config.io import parse_recipe
    from trainwright.errors import ArtifactError

    info_path = run_dir / "run.json"
    if not info_path.is_file() or not (run_dir / "recipe.yaml").is_file():
        raise ArtifactError(f"--resume {run_dir}: not a trainwright run directory (no run.json / recipe.yaml)")
    status = json.loads(info_path.read_text()).get("status")
    if status == "completed":
        raise ArtifactError(f"--resume {run_dir}: the run already completed; there is nothing to resume")
    given = yaml.safe_load((run_dir / "recipe.yaml").read_text()) or {}
    if nproc is not None:
        given["train"] = {**given.get("train", {}), "nproc": nproc}
    exp = Experiment(parse_recipe(given), given=given, out=run_dir, reporter=reporter, started=started)
    exp.resume = True
    return exp.run()


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


def lr_find(data=None, *, target: str | None = None, recipe=None, overrides: list[str] | None = None):
    """Sweep the learning rate of the recipe's neural model on its training rows (Smith's range test).

    Returns:
        LRFinderResult: rates, smoothed losses and the suggested rate (``.to_svg()`` plots them).

    Example:
        >>> result = trainwright.lr_find("penguins.csv", target="species")   # doctest: +SKIP
        >>> result.suggestion                                                # doctest: +SKIP
    """
    from trainwright.experiment_fit import make_preprocessor
    from trainwright.models import build_learner
    from trainwright.models.neural.tabular import MLPConfig

    rec, given = _recipe_from_args(data, target, recipe, overrides)
    exp = Experiment(rec, given=given)
    p = exp.prepare()
    rows, y = p.frame.iloc[p.splits.train], p.y[p.splits.train]
    X = make_preprocessor(exp, p.features, p.task, seed=rec.seed).fit_transform(rows, y)
    arch = rec.model if isinstance(rec.model, MLPConfig) else MLPConfig()
    return build_learner(arch, task=p.task, seed=rec.seed, train=rec.train).find_lr(X, y)
