"""The run directory's layout: every file a run holds, and the format version of the whole.

::

    run.json                status (running / completed / failed), task, target, classes, model, timings
    recipe.yaml             the recipe as given (after --set overrides)
    recipe.resolved.yaml    every default and every auto decision written out
    decisions.json          each automatic decision with its reason
    fingerprint.json        content hash, shape and inferred schema of the data
    splits.json             file row numbers of train / validation / test
    audit.json, audit.html  the data audit's findings
    cleaning_log.json       every cleaning action and the raw file's hash
    preprocessor.json       the fitted preprocessing (plain numbers and strings; "members" with multiple imputation)
    model/                  learner.json plus the learner's own files (model.txt, weights.safetensors);
                            model/member-i/ per imputation
    checkpoints/<model>/    neural checkpoints (last k, best.safetensors) for --resume
    metrics.json            {"train", "validation", "test": {...}} (+ "cross_validation"); threshold applied
    calibration.json        the probability calibrator (evaluate.calibrate), when one was fitted
    reference.json          the drift reference: input columns' and test predictions' statistics (no raw rows)
    evaluation.json         everything the report shows (``trainwright report`` re-renders from it)
    report.html             the evaluation report: one self-contained HTML file
    history.json            per-iteration / per-epoch training and validation loss, and the overfitting point
    history-<model>.jsonl   the neural loop's epochs, one JSON line each
    leaderboard.json        every candidate trained, with validation metrics and time
    environment.json        package versions, seed, platform
    log.txt                 what happened, stage by stage, appended as the run goes
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path

from trainwright.errors import DataError, OutputError

__all__ = ["RUN_FORMAT_VERSION", "RUN_JSON", "RECIPE", "RESOLVED_RECIPE", "DECISIONS", "FINGERPRINT", "SPLITS",
           "AUDIT_JSON", "AUDIT_HTML", "CLEANING_LOG", "PREPROCESSOR", "MODEL_DIR", "CHECKPOINTS", "METRICS", "REFERENCE", "CALIBRATION",
           "EVALUATION", "REPORT", "HISTORY", "LEADERBOARD", "STUDY", "ENVIRONMENT", "LOG", "member_dir", "new_run_dir", "check_new_run_dir", "check_output"]

RUN_FORMAT_VERSION = 2  # 2: learner capabilities in history.json, tagged optimizer/schedule settings

RUN_JSON = "run.json"
RECIPE = "recipe.yaml"
RESOLVED_RECIPE = "recipe.resolved.yaml"
DECISIONS = "decisions.json"
FINGERPRINT = "fingerprint.json"
SPLITS = "splits.json"
AUDIT_JSON = "audit.json"
AUDIT_HTML = "audit.html"
CLEANING_LOG = "cleaning_log.json"
PREPROCESSOR = "preprocessor.json"
MODEL_DIR = "model"
CHECKPOINTS = "checkpoints"
METRICS = "metrics.json"
REFERENCE = "reference.json"
CALIBRATION = "calibration.json"
EVALUATION = "evaluation.json"
REPORT = "report.html"
HISTORY = "history.json"
LEADERBOARD = "leaderboard.json"
STUDY = "study.json"
ENVIRONMENT = "environment.json"
LOG = "log.txt"


def member_dir(run_dir: Path, member: int, members: int) -> Path:
    """Where member ``member`` of ``members`` keeps its learner: ``model/``, or ``model/member-i/`` for several.

    Example:
        >>> member_dir(Path("r"), 1, 3).as_posix()
        'r/model/member-1'
    """
    base = Path(run_dir) / MODEL_DIR
    return base if members == 1 else base / f"member-{member}"


def check_output(path: str | Path, *, what: str) -> Path:
    """Refuse, before any work, an output that cannot be written: its folder is missing or read-only.

    Raises:
        OutputError: naming the path and the fix.

    Example:
        >>> check_output("/proc/no-such-place/out.csv", what="-o")
        Traceback (most recent call last):
        ...
        trainwright.errors.OutputError: cannot write -o /proc/no-such-place/out.csv: /proc is not writable; choose a folder you can write to.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    existing = parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        if not existing.is_dir():
            raise NotADirectoryError
        tempfile.TemporaryFile(dir=existing).close()  # a real write: permission bits do not stop root, /proc does
    except OSError:
        raise OutputError(f"cannot write {what} {path}: {existing} is not writable; choose a folder you can "
                          "write to.") from None
    return path


def check_new_run_dir(out: str | Path | None, runs_dir: str | Path = "runs") -> None:
    """Refuse, before any work, a run directory that exists with files in it, is a file, or cannot be created.

    Raises:
        DataError: ``out`` exists and is a file or holds files.
        OutputError: its folder cannot be written.
    """
    target = Path(out) if out is not None else Path(runs_dir) / "x"
    if out is not None and target.exists() and (not target.is_dir() or any(target.iterdir())):
        kind = "a file" if not target.is_dir() else "not empty"
        raise DataError(f"--out {target} already exists and is {kind}; choose a new folder (runs are never "
                        "overwritten).")
    check_output(target, what="--out" if out is not None else "the runs folder")


def new_run_dir(out: str | Path | None, *, runs_dir: str | Path = "runs", name: str = "run") -> Path:
    """Create a new, empty run directory: ``out``, or ``runs_dir/<time>-<name>``. Nothing is ever overwritten.

    Raises:
        DataError: ``out`` exists and is a file or holds files.
    """
    check_new_run_dir(out, runs_dir)
    if out is not None:
        path = Path(out)
        try:
            path.mkdir(parents=True)
        except FileExistsError:  # an empty folder the user made: claimed below, by whoever comes first
            pass
        except OSError as exc:
            raise OutputError(f"cannot create --out {path}: {exc.strerror}; choose a folder you can write to.") from None
        _claim(path)
        return path
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(runs_dir)
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the runs folder {base}: {exc.strerror}; pass --out in a folder you can "
                          "write to.") from None
    for i in range(1000):
        path = base / (f"{stamp}-{name}" + (f"-{i}" if i else ""))
        try:
            path.mkdir()
        except FileExistsError:
            continue
        _claim(path)
        return path
    raise RuntimeError(f"could not create a new run directory under {base}")


def _claim(path: Path) -> None:
    """Create ``run.json`` exclusively (O_EXCL): of two commands given the same folder, exactly one gets it."""
    try:
        os.close(os.open(path / RUN_JSON, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    except FileExistsError:
        raise DataError(f"--out {path} was just taken by another run (its run.json exists); choose a new folder "
                        "(runs are never overwritten).") from None
