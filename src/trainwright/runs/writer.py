"""The one writer of a run directory: creates or reopens it, writes its files atomically, keeps ``run.json``'s
status and appends ``log.txt`` as the run goes."""

from __future__ import annotations

import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from trainwright.runs import layout, store
from trainwright.runs.reader import Run

__all__ = ["RunWriter", "environment"]

_PACKAGES = ("trainwright", "numpy", "pandas", "scikit-learn", "lightgbm", "torch", "pydantic", "safetensors",
             "pyarrow")


class RunWriter:
    """Writes one run directory. Every file goes through ``runs.store`` (atomic, umask modes).

    Args:
        path: the run directory (it exists).
        info: the content of ``run.json``.

    Example:
        >>> import tempfile
        >>> w = RunWriter.create(None, runs_dir=tempfile.mkdtemp(), name="demo", info={"target": "y"})
        >>> w.log("stage load done")
        >>> (w.path / "log.txt").read_text().endswith("stage load done\\n"), w.info["status"]
        (True, 'running')
    """

    def __init__(self, path: Path, info: dict[str, Any]) -> None:
        self.path = Path(path)
        self.info = info

    @classmethod
    def create(cls, out, *, runs_dir="runs", name: str = "run", info: dict[str, Any] | None = None) -> "RunWriter":
        """A new run directory (``out``, or ``runs_dir/<time>-<name>``) marked ``running``."""
        path = layout.new_run_dir(out, runs_dir=runs_dir, name=name)
        writer = cls(path, {"format_version": layout.RUN_FORMAT_VERSION, "status": "running",
                            "started": time.strftime("%Y-%m-%dT%H:%M:%S"), **(info or {})})
        writer.write_info()
        return writer

    @classmethod
    def reopen(cls, run: Run) -> "RunWriter":
        """Continue writing an existing run (``--resume``): marked ``running`` again, its last error cleared."""
        info = dict(run.info)
        info.update(status="running", resumed=info.get("resumed", 0) + 1)
        info.pop("error", None)
        writer = cls(run.path, info)
        writer.write_info()
        return writer

    # --- files -----------------------------------------------------------------------------------
    def file(self, name: str) -> Path:
        """The path of a file of the run (its folder is created)."""
        path = self.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def write_json(self, name: str, data: Any) -> Path:
        """Write ``name`` (relative to the run) as JSON."""
        return store.write_json(self.file(name), data)

    def write_text(self, name: str, text: str) -> Path:
        """Write ``name`` (relative to the run) as UTF-8 text."""
        return store.write_text(self.file(name), text)

    def write_info(self, **fields: Any) -> None:
        """Update ``run.json`` with ``fields`` and write it."""
        self.info.update(fields)
        store.write_json(self.path / layout.RUN_JSON, self.info)

    def log(self, *lines: str) -> None:
        """Append lines to ``log.txt`` (opened, appended, flushed: a kill loses at most the line being written)."""
        if lines:
            store.append_text(self.path / layout.LOG, "".join(f"{line}\n" for line in lines))

    # --- status ----------------------------------------------------------------------------------
    def completed(self, **fields: Any) -> None:
        """Mark the run completed (every file it promises is written)."""
        self.write_info(status="completed", **fields)

    def failed(self, exc: BaseException, seconds: float) -> None:
        """Mark the run failed with the error (``interrupted`` for Ctrl-C: nothing went wrong, it was stopped),
        keeping everything written so far."""
        if isinstance(exc, KeyboardInterrupt):
            self.write_info(status="interrupted", error="stopped by Ctrl-C", seconds=round(seconds, 3))
        else:
            self.write_info(status="failed", error=f"{type(exc).__name__}: {exc}", seconds=round(seconds, 3))


def environment(seed: int) -> dict[str, Any]:
    """Package versions, seed and platform: what is needed to repeat a run.

    Example:
        >>> environment(7)["seed"]
        7
    """
    from importlib import metadata

    from trainwright.runtime import cpu_threads

    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
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
