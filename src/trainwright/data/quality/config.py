"""The audit's thresholds: the recipe's ``audit:`` section, one field per check."""

from __future__ import annotations

from pydantic import Field, model_validator

from trainwright.config.base import Section

__all__ = ["AuditConfig"]


class AuditConfig(Section):
    """Thresholds of the data audit, one field per check (the recipe's ``audit:`` section).

    Example:
        >>> AuditConfig(max_rows=20_000, drift_auc=0.8).leakage_score
        0.95
    """

    enabled: bool = Field(True, description="Run the data audit (also at the start of every training run).")
    max_rows: int = Field(
        50_000, ge=100,
        description=(
            "Most rows (a seeded sample) used by the model-based checks (label errors, leakage, multivariate "
            "outliers, split drift) and for column kinds; counting checks always see every row."
        ),
    )
    max_columns: int = Field(
        1000, ge=10,
        description=(
            "Most feature columns (a seeded sample) the multivariate model checks (label errors, multivariate "
            "outliers, split drift) fit on; per-column checks, leakage included, see every column."
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
            "the column leaks the target, unless all the other columns together do better (then it is a strong "
            "genuine feature)."
        ),
    )
    leakage_margin: float = Field(
        0.15, gt=0, le=1,
        description=(
            "A column also leaks when its one-column score beats both what all the other columns reach together "
            "(a LightGBM on them, out of fold) and a shuffled copy of itself by at least this much, and reaches "
            "audit.leakage_floor: it alone knows far more than everything else does."
        ),
    )
    leakage_floor: float = Field(
        0.75, gt=0, le=1,
        description="Smallest one-column score for the comparison of audit.leakage_margin to flag a column.",
    )
    label_copy: float = Field(
        0.9, gt=0, le=1,
        description=(
            "A column whose values are the target's own class labels leaks when it agrees with the target in at "
            "least this share of rows (a copy of the target with some values changed)."
        ),
    )
    near_copy: float = Field(
        0.95, gt=0, le=1,
        description=(
            "Association with the target (Cramer's V of a low-cardinality column with the classes) at or above "
            "which a column is a near-copy of the target."
        ),
    )
    near_copy_rank: float = Field(
        0.99, gt=0, le=1,
        description=(
            "|Spearman| with a numeric target at or above which a column is a near-copy of it. Strong genuine "
            "features reach 0.95 (a diamond's carat against its price: 0.96), so this bar sits higher; a "
            "weaker column that still knows far more than the others is found by audit.leakage_margin."
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
