"""The run's journal: progress lines and decisions, timed from the start of the command.

Lines go to the reporter (the CLI's console) at once, and to ``log.txt`` as soon as the run directory
exists (earlier lines are written when it is attached), so a killed run keeps its log. Decisions are kept
in order for ``decisions.json`` and the resolved recipe.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from trainwright.config.base import Decision

__all__ = ["Reporter", "Journal"]


class Reporter:
    """Receives progress from a run. The default one is silent; the CLI shows rich output.

    ``event`` gets every log line with its kind ("decision", "audit", "balance", "fit" for a candidate,
    fold or imputation member, "report" for a failed report, or "" for the rest), so a console can choose
    what to show; by default it passes the line to ``info``.

    Example:
        >>> class Printer(Reporter):
        ...     def event(self, message, kind):
        ...         if kind == "decision":
        ...             print(message)
        >>> Journal(Printer(), started=0.0).decide(Decision("task", "regression", "numeric target"))
        decision: task = regression (numeric target)
    """

    @contextlib.contextmanager
    def stage(self, name: str):
        """Wrap one stage (a spinner, a check mark with its time)."""
        yield

    def info(self, message: str) -> None:
        """One line of progress."""

    def event(self, message: str, kind: str) -> None:
        """One line of progress and what kind of line it is; passes it to ``info`` unless overridden."""
        self.info(message)


class Journal:
    """Log lines and decisions of one run.

    Args:
        reporter: where progress is shown.
        started: ``time.monotonic()`` at the start of the command; lines carry the seconds since.

    Example:
        >>> j = Journal(Reporter(), started=time.monotonic())
        >>> j.decide(Decision("task", "regression", "numeric target"))
        >>> [d.what for d in j.decisions], j.lines[0].endswith("decision: task = regression (numeric target)")
        (['task'], True)
    """

    def __init__(self, reporter: Reporter | None = None, *, started: float) -> None:
        self.reporter = reporter or Reporter()
        self.started = started
        self.lines: list[str] = []
        self.decisions: list[Decision] = []
        self._writer: Any = None

    def log(self, message: str, kind: str = "") -> None:
        """Record a line (and show it)."""
        line = f"[{time.monotonic() - self.started:8.2f}s] {message}"
        self.lines.append(line)
        if self._writer is not None:
            self._writer.log(line)
        self.reporter.event(message, kind)

    def decide(self, *decisions: Decision) -> None:
        """Record automatic decisions; each goes into decisions.json and the log."""
        for decision in decisions:
            self.decisions.append(decision)
            self.log(str(decision), "decision")

    @contextlib.contextmanager
    def stage(self, name: str):
        """Run a block as a named stage: the reporter shows it, the log times it."""
        t0 = time.monotonic()
        with self.reporter.stage(name):
            yield
        self.log(f"stage {name} done in {time.monotonic() - t0:.2f}s")

    def fit_log(self, message: str) -> None:
        """A line from fitting (a candidate, a fold, an imputation member)."""
        self.log(message, "fit")

    def attach(self, writer) -> None:
        """From now on, append lines to the run's ``log.txt`` (the lines so far are written first)."""
        self._writer = writer
        writer.log(*self.lines)
