"""The data audit: find the problems in a table before they become model problems.

``audit(frame, target=...)`` runs every check (duplicates, missing values, constant,
identifier and mixed-type columns, outliers, class imbalance, likely label errors,
target leakage and, given splits, train/test contamination and split drift) and
returns an ``AuditReport``: findings with counts, example row ids, a severity and
a remedy naming the recipe setting that fixes it. The checks themselves live in
``audit_checks.py`` (the counting checks and the list of all checks) and
``audit_models.py`` (the shared context and the model-based checks); this module
holds the public types and the report.

Row ids are 0-based positions in the frame given to ``audit``. The model-based
checks (label errors, leakage, multivariate outliers, split drift) and the column
kinds use a seeded sample of at most ``AuditConfig.max_rows`` rows, so a million
rows stay fast; counting checks (duplicates, missing values, outliers per column,
mixed types, contamination) always see every row.
"""

from __future__ import annotations

import html
import json
import time
from dataclasses import asdict, dataclass, field
from typing import Optional

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from trainwright.errors import ConfigError, DataError, did_you_mean

__all__ = ["AuditConfig", "Finding", "AuditReport", "audit", "SEVERITIES"]

SEVERITIES = ("info", "warning", "error")
_SPLIT_NAMES = ("train", "validation", "test")


class AuditConfig(BaseModel):
    """Thresholds of the data audit, one field per check (the recipe's ``audit:`` section).

    Example:
        >>> AuditConfig(max_rows=20_000, drift_auc=0.8).leakage_score
        0.95
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    enabled: bool = Field(True, description="Run the data audit (also at the start of every training run).")
    max_rows: int = Field(
        50_000, ge=100,
        description=(
            "Most rows (a seeded sample) used by the model-based checks (label errors, leakage, multivariate "
            "outliers, split drift) and for column kinds; counting checks always see every row."
        ),
    )
    round_decimals: int = Field(
        6, ge=0, le=15,
        description="Decimals floats are rounded to before comparing rows for near-duplicates and contamination.",
    )
    missing_share: float = Field(
        0.2, gt=0, le=1,
        description="Share of missing values at or above which a column's missing values are a warning (below: info).",
    )
    missing_together: float = Field(
        0.9, gt=0, le=1,
        description=(
            "Overlap (Jaccard) of two columns' missing rows at or above which they are reported as missing "
            "together."
        ),
    )
    almost_constant_share: float = Field(
        0.99, gt=0.5, le=1,
        description="Share of rows holding the most common value at or above which a column is almost constant.",
    )
    identifier_share: float = Field(
        0.95, gt=0.5, le=1,
        description="Share of distinct values among a text column's values at or above which it is identifier-like.",
    )
    mixed_share: float = Field(
        0.9, gt=0.5, lt=1,
        description=(
            "Share of a text column's values that parse as numbers at or above which the rest are reported as bad "
            "values (numbers stored as text)."
        ),
    )
    outlier_z: float = Field(
        3.5, gt=0,
        description=(
            "Robust z-score (distance from the median over MAD/0.6745) beyond which a value may be an outlier; on long "
            "columns it rises so that a normal column of that size expects 0.05 values beyond it (after Chauvenet)."
        ),
    )
    outlier_iqr: float = Field(
        3.0, gt=0,
        description=(
            "IQRs beyond the quartiles past which a value may be an outlier; a value must pass both this and "
            "outlier_z."
        ),
    )
    outlier_warning_gap: float = Field(
        4.0, gt=0,
        description=(
            "Gap, in IQRs, between a column's outliers and its other values at or above which they look like entry "
            "or unit errors (warning); outliers that trail off a long tail are info."
        ),
    )
    multivariate_contamination: float = Field(
        0.01, gt=0, le=0.5,
        description=(
            "Expected share of multivariate outliers; the IsolationForest flags this share of the sampled rows."
        ),
    )
    imbalance_ratio: float = Field(
        3.0, gt=1,
        description=(
            "Ratio of the largest to the smallest class at or above which imbalance is reported (class weights "
            "advised)."
        ),
    )
    strong_imbalance_ratio: float = Field(
        10.0, gt=1,
        description="Ratio at or above which imbalance is a warning and oversampling (SMOTE) is advised.",
    )
    label_error_share: float = Field(
        0.02, gt=0, le=1,
        description=(
            "Share of checked rows flagged as likely label errors at or above which the finding is a warning "
            "(below: info)."
        ),
    )
    leakage_score: float = Field(
        0.95, gt=0, le=1,
        description=(
            "Out-of-fold score of a one-column model (balanced accuracy, or R^2 for regression) at or above which "
            "the column leaks the target."
        ),
    )
    near_copy: float = Field(
        0.95, gt=0, le=1,
        description=(
            "Association with the target (Cramer's V of a low-cardinality column, or |Spearman| for regression) "
            "at or above which a column is a near-copy of the target."
        ),
    )
    contamination_share: float = Field(
        0.01, ge=0, le=1,
        description=(
            "Share of a validation/test split also found in train at or above which contamination is an error "
            "(any is a warning)."
        ),
    )
    drift_auc: float = Field(
        0.7, gt=0.5, le=1,
        description=(
            "Cross-validated AUC of a classifier telling train rows from test rows at or above which the split "
            "drifts."
        ),
    )

    @model_validator(mode="after")
    def _ratios_ordered(self) -> "AuditConfig":
        if self.strong_imbalance_ratio < self.imbalance_ratio:
            raise ValueError(
                f"audit.strong_imbalance_ratio ({self.strong_imbalance_ratio:g}) must be >= "
                f"audit.imbalance_ratio ({self.imbalance_ratio:g})"
            )
        return self


@dataclass(frozen=True)
class Finding:
    """One problem found by one check.

    Attributes:
        check: the check's name, e.g. ``"exact_duplicates"`` or ``"target_leakage"``.
        severity: ``"info"``, ``"warning"`` or ``"error"``.
        message: one plain sentence with the count.
        column: the column concerned, or ``None`` for row-level findings.
        count: rows (or, for column-level findings, rows checked) affected.
        examples: up to 5 example row ids (0-based positions), most telling first.
        remedy: what to do, naming the recipe setting.
        details: JSON-able extras (scores, bounds, per-class counts).
    """

    check: str
    severity: str
    message: str
    column: Optional[str]
    count: int
    examples: list
    remedy: str
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class AuditReport:
    """All findings of one audit, worst first.

    Attributes:
        findings: every finding, errors first, then warnings, then info.
        n_rows, n_columns: the size of the audited frame.
        seconds: wall time of the audit.
        skipped: one line per check that did not run, saying why (e.g. no target given).
    """

    findings: tuple[Finding, ...]
    n_rows: int
    n_columns: int
    seconds: float
    skipped: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        """A JSON-able dict: summary counts, then every finding."""
        counts = {s: sum(f.severity == s for f in self.findings) for s in SEVERITIES}
        return _jsonable({
            "worst": self.worst(), "n_rows": self.n_rows, "n_columns": self.n_columns,
            "seconds": round(self.seconds, 3), "counts": counts, "skipped": list(self.skipped),
            "findings": [asdict(f) for f in self.findings],
        })

    def by_check(self, check: str) -> list[Finding]:
        """The findings of one check, e.g. ``report.by_check("outliers")``."""
        return [f for f in self.findings if f.check == check]

    def worst(self) -> str:
        """The highest severity present (``"error"``, ``"warning"``, ``"info"``), or ``"ok"``."""
        present = {f.severity for f in self.findings}
        return next((s for s in reversed(SEVERITIES) if s in present), "ok")

    def to_html(self, title: str = "Data audit") -> str:
        """One self-contained HTML page (inline CSS, no scripts, no links), findings grouped by severity."""
        return _render_html(self, title)


def audit(
    frame: pd.DataFrame,
    *,
    target: str | None = None,
    task: str | None = None,
    config: AuditConfig | None = None,
    splits: dict[str, np.ndarray] | None = None,
    seed: int = 42,
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
    from trainwright.data import audit_checks

    start = time.perf_counter()
    config = config or AuditConfig()
    splits = _validated(frame, target, task, splits)
    if not config.enabled:
        return AuditReport((), len(frame), frame.shape[1], 0.0, ("every check: audit.enabled is false",))
    ctx = audit_checks.Context.build(frame, target=target, task=task, config=config, splits=splits, seed=seed)
    findings, skipped = [], []
    for name, check in audit_checks.CHECKS:
        try:
            findings.extend(check(ctx, config))
        except audit_checks.SkipCheck as why:
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
    if target is not None and target not in frame.columns:
        raise DataError(
            f"target column '{target}' is not in the data.{did_you_mean(str(target), frame.columns)}",
            column=str(target),
        )
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


def _jsonable(value):
    """numpy scalars and arrays, tuples and non-string keys made plain JSON types."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


_CSS = """
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d2330;background:#f6f7f9;margin:0}
main{max-width:980px;margin:0 auto;padding:24px 20px 48px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 10px}
.meta{color:#5b6472;margin-bottom:14px}
.pill{display:inline-block;padding:2px 10px;border-radius:999px;font-size:13px;font-weight:600;margin-right:6px}
.error{background:#fde2e1;color:#9b1c1c}.warning{background:#fff1d6;color:#8a5300}.info{background:#e3eefc;color:#1e4e8c}
.ok{background:#dcf5e3;color:#17603a}
.card{background:#fff;border:1px solid #dfe3ea;border-left-width:5px;border-radius:8px;padding:12px 16px;margin:10px 0}
.card.error{border-left-color:#d64545}.card.warning{border-left-color:#e3a008}.card.info{border-left-color:#4c8ee6}
.card .msg{font-weight:600;margin:2px 0 6px}.card .check{font-family:ui-monospace,Menlo,monospace;font-size:13px;color:#5b6472}
.remedy{margin:4px 0}.rows{font-size:13px;color:#5b6472}
pre{background:#f2f4f7;padding:8px;border-radius:6px;font-size:12px;overflow-x:auto;white-space:pre-wrap;margin:6px 0 0}
ul.skipped{color:#5b6472;font-size:14px}
"""


def _render_html(report: AuditReport, title: str) -> str:
    esc = html.escape
    worst = report.worst()
    counts = {s: len([f for f in report.findings if f.severity == s]) for s in SEVERITIES}
    pills = "".join(f'<span class="pill {s}">{counts[s]} {s}</span>' for s in reversed(SEVERITIES))
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width,initial-scale=1'><title>{esc(title)}</title>"
        f"<style>{_CSS}</style></head><body><main><h1>{esc(title)}</h1>",
        f"<div class='meta'>{report.n_rows:,} rows &times; {report.n_columns} columns, audited in "
        f"{report.seconds:.1f} s. Overall: <span class='pill {worst}'>{worst}</span></div><div>{pills}</div>",
    ]
    if not report.findings:
        parts.append("<p>No problems found.</p>")
    headings = {"error": "Errors: fix before training", "warning": "Warnings: likely to hurt the model",
                "info": "Information: worth a look"}
    for severity in reversed(SEVERITIES):
        group = [f for f in report.findings if f.severity == severity]
        if not group:
            continue
        parts.append(f"<h2>{headings[severity]} ({len(group)})</h2>")
        for f in group:
            column = f" &middot; column <b>{esc(f.column)}</b>" if f.column is not None else ""
            rows = ", ".join(str(r) for r in f.examples)
            parts.append(
                f"<div class='card {severity}'><div class='check'>{esc(f.check)}{column}</div>"
                f"<div class='msg'>{esc(f.message)}</div><div class='remedy'>What to do: {esc(f.remedy)}</div>"
                + (f"<div class='rows'>Example rows (0-based): {esc(rows)}</div>" if rows else "")
                + (f"<details><summary class='rows'>Details</summary><pre>"
                   f"{esc(json.dumps(_jsonable(f.details), separators=(', ', ': ')))}</pre></details>" if f.details else "")
                + "</div>"
            )
    if report.skipped:
        items = "".join(f"<li>{esc(s)}</li>" for s in report.skipped)
        parts.append(f"<h2>Checks not run</h2><ul class='skipped'>{items}</ul>")
    parts.append("</main></body></html>")
    return "\n".join(parts)
