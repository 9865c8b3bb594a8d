"""The data audit: find the problems in a table before they become model problems.

``audit(frame, target=...)`` runs every check (duplicates, missing values, constant,
identifier and mixed-type columns, outliers, class imbalance, likely label errors,
target leakage and, given splits, train/test contamination and split drift) and
returns an ``AuditReport``: findings with counts, example row ids, a severity and
a remedy naming the recipe setting that fixes it. The checks themselves live in
``checks.py`` (the counting checks and the list of all checks) and
``model_checks.py`` (the shared context and the model-based checks); the thresholds
in ``config.py``, the findings and the report in ``findings.py``.

Row ids are 0-based positions in the frame given to ``audit``. The model-based
checks (label errors, leakage, multivariate outliers, split drift) and the column
kinds use a seeded sample of at most ``AuditConfig.max_rows`` rows, so a million
rows stay fast; counting checks (duplicates, missing values, outliers per column,
mixed types, contamination) always see every row.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from trainwright.data.columns import require_column
from trainwright.data.quality.checks import CHECKS
from trainwright.data.quality.config import AuditConfig
from trainwright.data.quality.findings import SEVERITIES, AuditReport
from trainwright.data.quality.model_checks import Context, SkipCheck
from trainwright.errors import ConfigError, DataError, did_you_mean

__all__ = ["audit"]

_SPLIT_NAMES = ("train", "validation", "test")


def audit(
    frame: pd.DataFrame,
    *,
    target: str | None = None,
    task: str | None = None,
    config: AuditConfig | None = None,
    splits: dict[str, np.ndarray] | None = None,
    seed: int = 42,
    deadline: float | None = None,
) -> AuditReport:
    """Run every check on ``frame`` and return the report.

    Args:
        frame: the table to audit; it is not modified.
        target: the column to predict; target checks (conflicting labels, imbalance, label
            errors, leakage) are skipped without it. It is excluded from the feature checks.
        task: ``"classification"`` or ``"regression"``; inferred from the target when ``None``.
        config: thresholds; ``AuditConfig()`` when ``None``.
        splits: ``{"train"|"validation"|"test": 0-based row positions}``; when given with a
            train split, train/test contamination and split drift are checked too.
        seed: seed of the row sample and of every model.
        deadline: ``time.monotonic()`` value after which no check starts (``skipped`` names those left out).

    Returns:
        An ``AuditReport``.

    Raises:
        DataError: the frame is empty, has duplicate column names, or lacks the target;
            a split holds positions outside the frame.
        ConfigError: an unknown task or split name.

    Example:
        >>> frame = pd.DataFrame({"x": [1.0, 2.0, 2.0, 3.0] * 10, "y": ["a", "b", "b", "a"] * 10})
        >>> report = audit(frame, target="y")
        >>> report.by_check("exact_duplicates")[0].count
        37
    """
    start = time.perf_counter()
    config = config or AuditConfig()
    splits = _validated(frame, target, task, splits)
    if not config.enabled:
        return AuditReport((), len(frame), frame.shape[1], 0.0, ("every check: audit.enabled is false",))
    ctx = Context.build(frame, target=target, task=task, config=config, splits=splits, seed=seed)
    findings, skipped = [], []
    for name, check in CHECKS:
        if deadline is not None and time.monotonic() >= deadline:
            skipped.append(f"{name}: not run, the time budget (--time-budget) left the audit no time for it")
            continue
        try:
            findings.extend(check(ctx, config))
        except SkipCheck as why:
            skipped.append(f"{name}: {why}")
    rank = {s: i for i, s in enumerate(reversed(SEVERITIES))}
    findings.sort(key=lambda f: rank[f.severity])  # stable: check order kept within a severity
    return AuditReport(tuple(findings), len(frame), frame.shape[1], time.perf_counter() - start, tuple(skipped))


def _validated(frame, target, task, splits) -> dict[str, np.ndarray] | None:
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"audit needs a pandas DataFrame, got {type(frame).__name__}")
    if len(frame) == 0 or frame.shape[1] == 0:
        raise DataError(f"audit needs rows and columns, got a frame of shape {frame.shape}")
    dupes = frame.columns[frame.columns.duplicated()].tolist()
    if dupes:
        raise DataError(f"column names must be unique, but {dupes[:5]} appear more than once; rename them")
    if target is not None:
        require_column(frame, target, what="target column")
    if task not in (None, "classification", "regression"):
        raise ConfigError(f"task must be 'classification', 'regression' or None, got {task!r}", path="task")
    if splits is None:
        return None
    out = {}
    for name, rows in splits.items():
        if name not in _SPLIT_NAMES:
            raise ConfigError(
                f"splits keys must be among {list(_SPLIT_NAMES)}, got '{name}'.{did_you_mean(str(name), _SPLIT_NAMES)}",
                path="splits",
            )
        rows = np.asarray(rows)
        if rows.size and (not np.issubdtype(rows.dtype, np.integer) or rows.min() < 0 or rows.max() >= len(frame)):
            raise DataError(
                f"splits['{name}'] must hold 0-based row positions below {len(frame)} (integers); "
                "pass positions (np.arange / np.flatnonzero), not index labels"
            )
        out[name] = rows.astype(np.int64)
    return out
