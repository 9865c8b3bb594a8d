"""The recipe: one section per stage of the data path, composed from the sections' own config classes.

Each section's class lives next to its component (the audit's in ``data/quality``, a learner's beside the
learner, the loop's in ``training``); this module composes them, and ``model`` is the tagged union of every
registered learner's config (plugins included) plus ``auto``. Field descriptions are the only documentation
of a field; ``trainwright schema`` prints them as JSON Schema. Every default is the best-practice choice.
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, field_validator, model_validator

from trainwright.config.base import Section, tagged_union, type_name, with_default_type
from trainwright.data.balance import BalanceConfig
from trainwright.data.clean import CleanConfig
from trainwright.data.features.config import FeaturesConfig, PreprocessConfig
from trainwright.data.quality.config import AuditConfig
from trainwright.errors import did_you_mean
from trainwright.models.auto import AutoConfig
from trainwright.models.registry import learner_configs
from trainwright.models.series.config import ForecastConfig
from trainwright.training.config import LoopConfig
from trainwright.search.config import TuneConfig

__all__ = [
    "DataConfig",
    "SplitConfig",
    "PreprocessConfig",
    "FeaturesConfig",
    "CleanConfig",
    "AuditConfig",
    "BalanceConfig",
    "CrossValidationConfig",
    "TrainConfig",
    "EvaluateConfig",
    "TuneConfig",
    "ForecastConfig",
    "ModelConfig",
    "MODEL_CONFIGS",
    "Recipe",
]


class DataConfig(Section):
    """Where the rows come from (the recipe's ``data:``; ``data: file.csv`` is shorthand for its path)."""

    path: Optional[str] = Field(None, description="Path to the data file (CSV, Parquet or JSON Lines).")
    format: Literal["auto", "csv", "parquet", "jsonl", "npz"] = Field(
        "auto", description="File format; 'auto' reads it from the file extension (a folder is read as images, one "
                            "subfolder per class)."
    )
    encoding: str = Field(
        "auto", description="Text encoding of CSV and JSON files (utf-8, latin-1, cp1252, utf-16, ...); 'auto' "
                            "detects it (byte-order mark, UTF-8, else charset-normalizer) and records the choice.")


class CrossValidationConfig(Section):
    """A cross-validated estimate over the train+validation rows (``split.cv``)."""

    method: Literal["none", "kfold", "stratified", "group", "repeated"] = Field(
        "none", description="Cross-validate on the train+validation rows (the test rows stay untouched) and "
                            "report the mean and spread of each metric over folds: k-fold, stratified k-fold, "
                            "group k-fold, or repeated k-fold (stratified for classification).")
    n_splits: int = Field(5, ge=2, description="Folds.")
    n_repeats: int = Field(2, ge=1, description="Repeats, for method=repeated.")


class SplitConfig(Section):
    """How rows are cut into train, validation and test (``split:``), and the cross-validated estimate."""

    method: Literal["auto", "random", "stratified", "group", "time"] = Field(
        "auto", description="'auto': stratified for classification, random for regression; 'group' keeps each "
                            "group_column value in one split; 'time' puts train before validation before test.")
    train: float = Field(0.7, gt=0, lt=1, description="Share of rows used to fit preprocessing and models.")
    validation: float = Field(
        0.2, gt=0, lt=1, description="Share of rows used for early stopping and model selection.")
    test: float = Field(0.1, gt=0, lt=1, description="Share of rows scored once, at the end.")
    group_column: Optional[str] = Field(None, description="Column of group ids, for method=group (not used as a feature).")
    time_column: Optional[str] = Field(None, description="Column that orders rows in time, for method=time.")
    cv: CrossValidationConfig = Field(default_factory=CrossValidationConfig, description="Cross-validation.")

    @model_validator(mode="after")
    def _consistent(self) -> "SplitConfig":
        total = self.train + self.validation + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(
                f"split.train + split.validation + split.test must be 1, got {total:g}"
            )
        if self.method == "group" and not self.group_column:
            raise ValueError("split.method=group needs split.group_column")
        if self.method == "time" and not self.time_column:
            raise ValueError("split.method=time needs split.time_column")
        if self.cv.method == "group" and not self.group_column:
            raise ValueError("split.cv.method=group needs split.group_column")
        return self


class TrainConfig(LoopConfig):
    """Run-wide settings, and how neural models train (LightGBM and linear models use only time_budget)."""

    time_budget: Optional[float] = Field(
        None, gt=0, description="Seconds of wall time for the whole run; learners stop early to fit it."
    )


class ThresholdConfig(Section):
    choose: Literal["none", "f1", "precision", "recall"] = Field(
        "none",
        description=(
            "Binary tasks: pick the decision threshold on the validation rows. 'f1' maximises F1; "
            "'precision' / 'recall' reach evaluate.threshold.target with the best of the other; "
            "'none' predicts the most probable class. The chosen threshold is saved and used by predict."
        ),
    )
    target: float = Field(0.9, gt=0, le=1, description="Precision or recall to reach, for choose=precision/recall.")


class ExplainConfig(Section):
    rows: int = Field(1000, ge=10, description="Test rows sampled for explanations (permutation importance, SHAP, "
                                               "integrated gradients, partial dependence).")
    repeats: int = Field(5, ge=1, description="Shuffles per column for permutation importance.")
    top: int = Field(6, ge=0, description="Partial dependence plots for this many most important columns.")
    seconds: Optional[float] = Field(20.0, gt=0, description="Rough bound on explanation time: a slow model is "
                                                             "explained on fewer rows (at least 100). null: no bound.")


class EvaluateConfig(Section):
    """Model selection, scoring, intervals, the threshold, fairness and the report (``evaluate:``)."""

    metric: Literal[
        "auto", "accuracy", "balanced_accuracy", "precision", "recall", "f1", "specificity", "roc_auc", "pr_auc",
        "log_loss", "brier", "mcc", "mse", "rmse", "mae", "mape", "r2",
    ] = Field(
        "auto",
        description=(
            "Validation metric used to choose among models. 'auto' is log_loss for classification "
            "(a proper scoring rule, so no ties) and rmse for regression."
        ),
    )
    calibrate: Literal["none", "auto", "platt", "isotonic", "temperature"] = Field(
        "none",
        description=(
            "Classification: recalibrate the probabilities on the validation rows (never the test rows). "
            "'temperature' one temperature for all classes (keeps the predicted class), 'platt' a sigmoid per "
            "class, 'isotonic' a step function per class, 'auto' the one (or none) with the lowest 5-fold "
            "cross-validated log loss on the validation rows. Saved with the model, used by predict, serve and "
            "drift; the report shows the reliability and ECE before and after."
        ),
    )
    threshold: ThresholdConfig = Field(default_factory=ThresholdConfig, description="Decision threshold (binary).")
    bootstrap: int = Field(1000, ge=0, description="Bootstrap resamples of the test rows for confidence intervals "
                                                   "of the headline metrics (0: none).")
    confidence: float = Field(0.95, gt=0.5, lt=1, description="Level of the confidence intervals.")
    sensitive: list[str] = Field(
        default_factory=list,
        description=("Columns to audit for fairness (e.g. sex, age). Metrics per group and parity differences go "
                     "into the report. They stay features unless listed in preprocess.drop_columns."),
    )
    tta: int = Field(0, ge=0, le=32, description=(
        "Test-time augmentation for image models: average the predictions of each image and this many draws of "
        "train.augment. Kept only when it improves the validation metric (a decision); the test gain is in the "
        "metrics and the report, and predict uses it when kept."))
    report: bool = Field(True, description="Write report.html (and evaluation.json) into the run directory.")
    explain: ExplainConfig = Field(default_factory=ExplainConfig, description="Explanations in the report.")


# Every registered learner's config (built-ins first, then plugins), and auto, the default.
MODEL_CONFIGS = (*learner_configs(), AutoConfig)
DEFAULT_MODEL = AutoConfig
ModelConfig = tagged_union(MODEL_CONFIGS)


class Recipe(Section):
    """Everything a run needs, section by section along the data path.

    Example:
        >>> Recipe(data={"path": "penguins.csv"}, target="species").model.type
        'auto'
    """

    data: DataConfig = Field(default_factory=DataConfig, description="Where the rows come from.")
    target: str = Field(..., min_length=1, description="The column to predict.")
    task: Literal["auto", "classification", "regression", "forecast"] = Field(
        "auto", description="What to predict; 'auto' infers classification or regression from the target column; "
                            "'forecast': the target's next values in time (split.time_column, the forecast section)."
    )
    split: SplitConfig = Field(default_factory=SplitConfig, description="Train/validation/test split.")
    audit: AuditConfig = Field(default_factory=AuditConfig, description="Data audit run before training; thresholds per check.")
    clean: CleanConfig = Field(default_factory=CleanConfig, description="Cleaning, with every action logged.")
    preprocess: PreprocessConfig = Field(
        default_factory=PreprocessConfig, description="Imputation, scaling, encoding: fitted on training rows only."
    )
    features: FeaturesConfig = Field(default_factory=FeaturesConfig, description="Feature engineering.")
    balance: BalanceConfig = Field(default_factory=BalanceConfig, description="Class balancing, on training rows only.")
    model: ModelConfig = Field(
        default_factory=DEFAULT_MODEL,
        description="The learner: " + ", ".join(f"{type_name(c)}{' (default)' if c is DEFAULT_MODEL else ''}"
                                                for c in MODEL_CONFIGS)
        + " (auto: a portfolio bagged inside the training rows and combined by ensemble selection).",
    )
    train: TrainConfig = Field(default_factory=TrainConfig, description="Run-wide training settings.")
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig, description="Model selection and scoring.")
    tune: TuneConfig = Field(default_factory=TuneConfig, description="Hyperparameter search, used by `trainwright tune`.")
    forecast: ForecastConfig = Field(default_factory=ForecastConfig,
                                     description="Forecasting (task: forecast): horizon, series, forecasters, backtest.")
    seed: int = Field(42, ge=0, le=2**32 - 1, description="Seed for the split, the models and every random step.")

    @model_validator(mode="after")
    def _one_pooling(self) -> "Recipe":
        if self.model.type == "auto" and self.preprocess.multiple_imputations > 1:
            raise ValueError("preprocess.multiple_imputations > 1 pools models of one learner, and model.type=auto "
                             "already pools an ensemble: choose a model.type (e.g. lightgbm) for multiple imputation, "
                             "or set preprocess.multiple_imputations=1")
        return self

    @model_validator(mode="after")
    def _forecast_has_time(self) -> "Recipe":
        if self.task == "forecast" and not self.split.time_column:
            raise ValueError("task=forecast needs split.time_column, the column that says when each value was "
                             "measured (e.g. --set split.time_column=month)")
        return self

    @field_validator("target", mode="before")
    @classmethod
    def _target_as_text(cls, value):
        # Column names are text; YAML reads `target: 2020` as a number.
        return str(value) if isinstance(value, (int, float, bool)) else value

    @field_validator("model", mode="before")
    @classmethod
    def _model_type_default(cls, value):
        # `model: {bag_folds: 3}` means the default (auto) with one change; settings of a learner without its
        # type (`model: {num_leaves: 15}`) are refused naming the learners they belong to.
        if isinstance(value, dict) and "type" not in value:
            foreign = sorted(set(value) - set(AutoConfig.model_fields))
            if foreign:
                owners = [type_name(c) for c in MODEL_CONFIGS if set(foreign) <= set(c.model_fields)]
                known = {f for c in (AutoConfig, *MODEL_CONFIGS) for f in c.model_fields} - {"type"}
                typos = [f for f in foreign if f not in known]
                if typos:  # `refti`: the nearest setting of any model section
                    raise ValueError(f"model.{typos[0]} is a setting of no model.{did_you_mean(typos[0], known)}")
                raise ValueError(f"{', '.join(foreign)} {'is a setting' if len(foreign) == 1 else 'are settings'} of "
                                 f"{' or '.join(owners) or 'no learner'}, and model.type is auto unless given: add "
                                 f"model.type ({' or '.join(owners) or 'the learner'})")
        return with_default_type(value, type_name(DEFAULT_MODEL))

    @field_validator("data", mode="before")
    @classmethod
    def _data_from_path(cls, value):
        # `data: penguins.csv` is shorthand for `data: {path: penguins.csv}`.
        return {"path": value} if isinstance(value, str) else value
