"""The run directory: its layout, the one writer (atomic files, umask modes), and reading (``Run``,
``load``, ``list_runs``)."""

from trainwright.runs.layout import RUN_FORMAT_VERSION
from trainwright.runs.reader import Run, list_runs, load
from trainwright.runs.writer import RunWriter, environment

__all__ = ["RUN_FORMAT_VERSION", "Run", "RunWriter", "environment", "list_runs", "load"]
