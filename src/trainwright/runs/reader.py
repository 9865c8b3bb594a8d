"""Reading run directories: ``Run`` (one run's record), ``load`` and ``list_runs``.

A ``Run`` reads what a run wrote: its status, metrics and files, checking the format version. Predicting
with it is ``trainwright.deploy``'s job (``trainwright.load`` returns a model that can).
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from trainwright.errors import ArtifactError, check_format_version
from trainwright.runs import layout, store

__all__ = ["Run", "load", "list_runs"]


class Run:
    """The record of one run directory: ``run.json`` and the files beside it.

    Args:
        path: the run directory.

    Raises:
        ArtifactError: not a run directory, or written in an incompatible format.

    Example:
        >>> Run("no/such/run")
        Traceback (most recent call last):
        ...
        trainwright.errors.ArtifactError: no/such/run is not a trainwright run directory (no run.json)
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        info_path = self.path / layout.RUN_JSON
        if not info_path.is_file():
            raise ArtifactError(f"{self.path} is not a trainwright run directory (no run.json)")
        self.info: dict[str, Any] = store.read_json(info_path)
        check_format_version(self.info, layout.RUN_FORMAT_VERSION, str(info_path),
                             f"Use the trainwright version that wrote it ({self.info.get('trainwright')}).")
        if not isinstance(self.info.get("status"), str):
            raise ArtifactError(f"{info_path} is damaged (its status is {self.info.get('status')!r}); train again")

    def __repr__(self) -> str:
        return f"Run('{self.path}', status={self.status!r}, model={self.info.get('model')!r})"

    @property
    def status(self) -> str:
        """``running``, ``completed``, ``failed`` or ``interrupted`` (stopped by Ctrl-C)."""
        return self.info.get("status", "unknown")

    @property
    def task(self) -> str:
        """``classification`` or ``regression``."""
        return self.info["task"]

    @property
    def target(self) -> str:
        """The column the run predicts."""
        return self.info["target"]

    @property
    def metrics(self) -> dict[str, Any]:
        """``{"train": {...}, "validation": {...}, "test": {...}}``."""
        return self.read_json(layout.METRICS)

    def read_json(self, name: str, default: Any = ...) -> Any:
        """A JSON file of the run; ``default`` when it is absent (without one, absence is an ``ArtifactError``)."""
        return store.read_json(self.path / name, default)

    def require_completed(self) -> None:
        """Raise ``ArtifactError`` unless the run completed (a model is only trustworthy then)."""
        if self.status == "completed":
            return
        why = self.info.get("error") or "it did not finish (it was stopped, or is still running)"
        if self.info.get("saved") or (self.path / layout.CHECKPOINTS).is_dir():
            raise ArtifactError(f"run {self.path} is not complete ({self.status}: {why}). Resume it: trainwright "
                                f"train --resume {shlex.quote(str(self.path))}")
        raise ArtifactError(f"run {self.path} has status '{self.status}': {why}. Train again to get a model.")



def load(path: str | Path) -> Run:
    """Open a run directory written by ``train``; see ``trainwright.load`` for one that predicts.

    Raises:
        ArtifactError: the folder is not a run, or was written by an incompatible version.

    Example:
        >>> import json, tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "run.json").write_text(json.dumps({"format_version": 2, "status": "failed"}))
        >>> load(folder).status
        'failed'
    """
    return Run(path)


def list_runs(runs_dir: str | Path = "runs") -> list[dict[str, Any]]:
    """One summary per run directory under ``runs_dir``, newest first.

    Example:
        >>> list_runs("no/such/folder")
        []
    """
    base = Path(runs_dir)
    rows = []
    for info_path in sorted(base.glob(f"*/{layout.RUN_JSON}"), reverse=True):
        try:
            info = Run(info_path.parent).info
            metrics = store.read_json(info_path.parent / layout.METRICS, {})
            test = metrics.get("test", {})
            if info.get("task") == "forecast":  # scored by its backtest: the kept forecaster's MASE and sMAPE
                kept = (metrics.get("backtest") or {}).get(info.get("model"), {})
                test = {f"backtest_{k}": kept.get(k) for k in ("mase", "smape")}
            test = test if isinstance(test, dict) else {}
        except (ArtifactError, OSError) as exc:  # a damaged run is listed, not fatal
            info, test = {"status": f"unreadable ({str(exc)[:200]})"}, {}
        rows.append({"path": str(info_path.parent), "test": test,
                     **{k: None if info.get(k) is None else str(info.get(k))
                        for k in ("status", "task", "target", "model", "started")}})
    return rows
