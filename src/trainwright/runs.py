"""The run directory: layout, atomic writes, the environment manifest, loading and listing.

Layout of a run directory::

    run.json                status, task, target, classes, model, timings, format version
    recipe.yaml             the recipe as given (after --set overrides)
    recipe.resolved.yaml    every default and every auto decision written out
    decisions.json          each automatic decision with its reason
    fingerprint.json        content hash, shape and inferred schema of the data
    splits.json             row positions of train / validation / test
    audit.json, audit.html  the data audit's findings
    cleaning_log.json       every cleaning action and the raw file's hash
    preprocessor.json       the fitted preprocessing (plain numbers and strings; "members" with multiple imputation)
    model/                  learner.json plus model.txt (LightGBM) or weights.safetensors (MLP); member-i/ per imputation
    checkpoints/<model>/    neural checkpoints (last k, best.safetensors) for --resume
    metrics.json            {"train", "validation", "test": {...}} (+ "cross_validation"); threshold applied
    evaluation.json         everything the report shows: metrics with intervals, curves, errors, explanations,
                            fairness, cost (``trainwright report`` re-renders from it)
    report.html             the evaluation report: one self-contained HTML file
    history.json            per-iteration / per-epoch training and validation loss, and the overfitting point
    history-<model>.jsonl   the neural loop's epochs, one JSON line each
    leaderboard.json        every candidate trained, with validation metrics and time
    environment.json        package versions, seed, platform
    log.txt                 what happened, stage by stage
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from trainwright.errors import ArtifactError, DataError

__all__ = ["Run", "load", "list_runs", "new_run_dir", "write_json", "write_text", "environment", "RUN_FORMAT_VERSION"]

RUN_FORMAT_VERSION = 1
_PACKAGES = ("trainwright", "numpy", "pandas", "scikit-learn", "lightgbm", "torch", "pydantic", "safetensors", "pyarrow")


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_FILE_MODE = _umask_mode()


def write_text(path: Path, text: str) -> None:
    """Write atomically: temp file in the same folder, fsync, rename. A crash never leaves a torn file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, _FILE_MODE)  # mkstemp makes 0600 files; a run's files get the usual umask mode
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, default=_json_default) + "\n")


def _json_default(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def new_run_dir(out: str | Path | None, *, runs_dir: str | Path = "runs", name: str = "run") -> Path:
    """Create the run directory. ``out`` must not hold files already (nothing is overwritten)."""
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


def environment(seed: int) -> dict[str, Any]:
    """Package versions, seed and platform: what is needed to repeat a run."""
    from importlib import metadata

    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    from trainwright.training.runtime import cpu_threads

    return {
        "seed": seed,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_threads": cpu_threads(),
        "packages": versions,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "argv": sys.argv,
    }


class Run:
    """A finished run directory: its metrics, and a predictor built from its saved artifacts.

    Example:
        >>> run = trainwright.load("runs/20260101-120000-penguins")  # doctest: +SKIP
        >>> run.predict(frame)["prediction"]                          # doctest: +SKIP
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        info_path = self.path / "run.json"
        if not info_path.is_file():
            raise ArtifactError(f"{self.path} is not a trainwright run directory (no run.json)")
        self.info: dict[str, Any] = json.loads(info_path.read_text(encoding="utf-8"))
        version = self.info.get("format_version")
        if version != RUN_FORMAT_VERSION:
            raise ArtifactError(
                f"{self.path} was written in run format {version}; this trainwright reads format "
                f"{RUN_FORMAT_VERSION}. Use the trainwright version that wrote it ({self.info.get('trainwright')})."
            )
        self._predictor = None

    def __repr__(self) -> str:
        return f"Run('{self.path}', status={self.status!r}, model={self.info.get('model')!r})"

    @property
    def status(self) -> str:
        return self.info.get("status", "unknown")

    @property
    def task(self) -> str:
        return self.info["task"]

    @property
    def target(self) -> str:
        return self.info["target"]

    @property
    def metrics(self) -> dict[str, Any]:
        """``{"validation": {...}, "test": {...}}``."""
        return json.loads((self.path / "metrics.json").read_text(encoding="utf-8"))

    @property
    def predictor(self):
        """The ``Predictor`` built from the saved artifacts (loaded once)."""
        if self.status != "completed":
            raise ArtifactError(
                f"run {self.path} has status '{self.status}': {self.info.get('error', 'it did not finish')}. "
                "Train again to get a model."
            )
        if self._predictor is None:
            from trainwright.deploy.predictor import Predictor

            chosen = self.info.get("threshold") or {}
            self._predictor = Predictor.load(self.path, self.task, self.info.get("frame_steps"), chosen.get("threshold"))
        return self._predictor

    def predict(self, frame):
        """Predictions for raw rows: a DataFrame with ``prediction`` and, for classification,
        one ``proba_<class>`` column per class. Columns may come in any order; extra ones are ignored."""
        return self.predictor.predict(frame)

    def evaluate(self, frame) -> dict[str, Any]:
        """Score labelled rows (the target column must be present); returns the metrics."""
        import numpy as np

        from trainwright.data.schema import numeric_target
        from trainwright.evaluate.metrics import score

        if self.target not in frame.columns:
            raise DataError(
                f"the data has no target column '{self.target}', so it cannot be scored. "
                "Add the labels, or use `trainwright predict` for unlabelled rows.",
                column=self.target,
            )
        predictor = self.predictor
        frame = predictor.prepare(frame)
        labelled = frame[frame[self.target].notna()]
        if len(labelled) == 0:
            raise DataError(f"every value of the target column '{self.target}' is missing", column=self.target)
        output = predictor.output(labelled, prepared=True)
        if self.task == "classification":
            learner = predictor.members[0][1]
            y = np.asarray(_match_label_type(labelled[self.target].to_numpy(), learner.classes_))
            return score("classification", learner.encode_labels(y), output, learner.classes_.tolist(),
                         threshold=predictor.threshold)
        y = numeric_target(labelled[self.target], self.target, "the data").to_numpy()
        return score("regression", y, output)


def _match_label_type(y, classes):
    """Labels read from a file may be 1.0 where training saw 1; align them with the classes."""
    import numpy as np

    if np.issubdtype(classes.dtype, np.integer) and not np.issubdtype(np.asarray(y).dtype, np.integer):
        try:
            as_float = np.asarray(y, dtype=np.float64)
            if np.all(np.mod(as_float, 1) == 0):
                return as_float.astype(np.int64)
        except (TypeError, ValueError):
            pass
    if classes.dtype.kind in "OUT" and np.asarray(y).dtype.kind not in "OUT":
        return np.asarray(y).astype(str)
    return y


def load(path: str | Path) -> Run:
    """Open a run directory written by ``train``.

    Raises:
        ArtifactError: the folder is not a run, or was written by an incompatible version.
    """
    return Run(path)


def list_runs(runs_dir: str | Path = "runs") -> list[dict[str, Any]]:
    """One summary per run directory under ``runs_dir``, newest first."""
    base = Path(runs_dir)
    rows = []
    for info_path in sorted(base.glob("*/run.json"), reverse=True):
        try:
            info = json.loads(info_path.read_text(encoding="utf-8"))
            metrics_path = info_path.parent / "metrics.json"
            test = json.loads(metrics_path.read_text())["test"] if metrics_path.is_file() else {}
        except (OSError, ValueError, KeyError) as exc:  # a damaged run is listed, not fatal
            info, test = {"status": f"unreadable ({type(exc).__name__})"}, {}
        rows.append({"path": str(info_path.parent), **{k: info.get(k) for k in ("status", "task", "target", "model", "started")}, "test": test})
    return rows
