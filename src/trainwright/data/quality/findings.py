"""What the audit returns: findings (one problem each) and the report that holds them, as JSON or one HTML page."""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass, field
from typing import Optional

import numpy as np

__all__ = ["SEVERITIES", "Finding", "AuditReport"]

SEVERITIES = ("info", "warning", "error")


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

    Example:
        >>> report = AuditReport((Finding("outliers", "warning", "3 outliers", "x", 3, [1, 2, 5], "cap them"),), 10, 2, 0.1)
        >>> report.worst(), report.to_dict()["counts"]
        ('warning', {'info': 0, 'warning': 1, 'error': 0})
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
