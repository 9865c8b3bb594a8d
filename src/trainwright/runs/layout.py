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
    evaluation.json         everything the report shows (``trainwright report`` re-renders from it)
    report.html             the evaluation report: one self-contained HTML file
    history.json            per-iteration / per-epoch training and validation loss, and the overfitting point
    history-<model>.jsonl   the neural loop's epochs, one JSON line each
    leaderboard.json        every candidate trained, with validation metrics and time
    environment.json        package versions, seed, platform
    log.txt                 what happened, stage by stage, appended as the run goes
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from trainwright.errors import DataError

__all__ = ["RUN_FORMAT_VERSION", "RUN_JSON", "RECIPE", "RESOLVED_RECIPE", "DECISIONS", "FINGERPRINT", "SPLITS",
           "AUDIT_JSON", "AUDIT_HTML", "CLEANING_LOG", "PREPROCESSOR", "MODEL_DIR", "CHECKPOINTS", "METRICS",
           "EVALUATION", "REPORT", "HISTORY", "LEADERBOARD", "ENVIRONMENT", "LOG", "member_dir", "new_run_dir"]

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
EVALUATION = "evaluation.json"
REPORT = "report.html"
HISTORY = "history.json"
LEADERBOARD = "leaderboard.json"
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


def new_run_dir(out: str | Path | None, *, runs_dir: str | Path = "runs", name: str = "run") -> Path:
    """Create a new, empty run directory: ``out``, or ``runs_dir/<time>-<name>``. Nothing is ever overwritten.

    Raises:
        DataError: ``out`` exists and is a file or holds files.
    """
    if out is not None:
        path = Path(out)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise DataError(
                f"--out {path} already exists and is not empty; choose a new folder (runs are never overwritten)."
            )
        path.mkdir(parents=True, exist_ok=True)
        return path
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(runs_dir)
    base.mkdir(parents=True, exist_ok=True)
    for i in range(1000):
        path = base / (f"{stamp}-{name}" + (f"-{i}" if i else ""))
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"could not create a new run directory under {base}")
