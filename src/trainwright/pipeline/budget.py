"""The time budget of one command (``--time-budget``): a promise about the whole command's wall time.

The clock starts when the process starts (the CLI) or when ``train`` is called (the API). Each stage gets
a deadline it cannot pass: the audit a share of the budget, fitting what is left after a reserve for
evaluation, saving and the report, the report the rest. Stages that cannot finish in their share cut
their work and say what they cut. Without a budget every deadline is None and nothing changes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

__all__ = ["Budget"]

AUDIT_SHARE = 0.15      # the audit's part of the whole budget, at most
REPORT_SHARE = 0.25     # kept for evaluation, saving and the report when there is a report ...
REPORT_FLOOR = 3.0      # ... but never less than this many seconds
PLAIN_SHARE = 0.05      # kept for evaluation and saving without a report
EXIT_MARGIN = 1.5       # seconds kept for the summary and the process exit (measured 1.0-1.5 s after the report)
TIGHT = 5.0             # below this, starting Python and the imports (about 2 s) alone can use most of the budget


@dataclass(frozen=True)
class Budget:
    """Deadlines of the stages of one command.

    Attributes:
        started: ``time.monotonic()`` when the clock started.
        seconds: the whole budget, or None for no budget.
        report: whether a report is written (it gets a reserve).

    Example:
        >>> b = Budget(started=100.0, seconds=20.0, report=True)
        >>> b.end, b.fit_end()
        (120.0, 115.0)
        >>> Budget(started=0.0, seconds=None).audit_deadline() is None
        True
    """

    started: float
    seconds: float | None
    report: bool = True

    @property
    def end(self) -> float | None:
        """When the whole command must be done (``time.monotonic()`` value), or None."""
        return None if self.seconds is None else self.started + self.seconds

    def left(self) -> float | None:
        """Seconds left of the whole budget (never negative), or None."""
        return None if self.end is None else max(0.0, self.end - time.monotonic())

    def warning(self) -> str | None:
        """What to tell the user about a budget too small to be kept, or None.

        Example:
            >>> Budget(started=0.0, seconds=2.0).warning() is not None
            True
        """
        if self.seconds is None or self.seconds >= TIGHT:
            return None
        return (f"the time budget of {self.seconds:g} s is below {TIGHT:g} s: starting Python and loading the "
                "libraries take about 2 s of it, so the command may take longer than the budget")

    def reserve(self) -> float:
        """Seconds kept after fitting: evaluation, saving and (when asked) the report."""
        if self.seconds is None:
            return 0.0
        if not self.report:
            return max(EXIT_MARGIN, PLAIN_SHARE * self.seconds)
        return max(REPORT_FLOOR, REPORT_SHARE * self.seconds)

    def audit_deadline(self) -> float | None:
        """The audit stops starting checks at this time: its share, within what fitting does not need."""
        if self.end is None:
            return None
        now = time.monotonic()
        return min(now + AUDIT_SHARE * self.seconds, self.fit_end())

    def fit_end(self) -> float | None:
        """When fitting (selection, imputation members, cross-validation) must be done."""
        return None if self.end is None else self.end - self.reserve()

    def fit_share(self, units: float, of: float) -> float | None:
        """The deadline for ``units`` of ``of`` equal units of fitting work starting now (e.g. the candidates
        of model selection before the folds of cross-validation)."""
        if self.end is None:
            return None
        now = time.monotonic()
        return now + max(0.0, self.fit_end() - now) * (units / of if of > 0 else 1.0)

    def report_deadline(self) -> float | None:
        """When the report must be written."""
        return None if self.end is None else self.end - EXIT_MARGIN
