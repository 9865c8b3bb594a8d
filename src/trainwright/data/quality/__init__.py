"""The data audit: duplicates, missing values, constant, identifier and mixed-type columns, outliers, class
imbalance, label errors, target leakage, train/test contamination and split drift (``audit``)."""

from trainwright.data.quality.audit import audit
from trainwright.data.quality.config import AuditConfig
from trainwright.data.quality.findings import SEVERITIES, AuditReport, Finding

__all__ = ["audit", "AuditConfig", "AuditReport", "Finding", "SEVERITIES"]
