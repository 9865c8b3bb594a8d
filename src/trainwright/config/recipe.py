"""The recipe: one pydantic model per stage of the data path.

Field descriptions are the only documentation of a field; ``trainwright schema``
prints them as JSON Schema. Every default is the best-practice choice.
"""

from __future__ import annotations

from typing import Annotated, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from trainwright.models.auto import AutoConfig
from trainwright.models.gbdt import LightGBMConfig
from trainwright.models.linear import LinearConfig
from trainwright.models.neural.tabular import MLPConfig

__all__ = [
    "Section",
    "DataConfig",
    "SplitConfig",
    "PreprocessConfig",
    "TrainConfig",
    "EvaluateConfig",
    "ModelConfig",
    "Recipe",
]


class Section(BaseModel):
    """Base of every recipe section: unknown keys are errors, never silent defaults."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataConfig(Section):
    path: Optional[str] = Field(None, description="Path to the data file (CSV, Parquet or JSON Lines).")
    format: Literal["auto", "csv", "parquet", "jsonl"] = Field(
        "auto", description="File format; 'auto' reads it from the file extension."
    )


class SplitConfig(Section):
    train: float = Field(0.7, gt=0, lt=1, description="Share of rows used to fit preprocessing and models.")
    validation: float = Field(
        0.2, gt=0, lt=1, description="Share of rows used for early stopping and model selection."
    )
    test: float = Field(0.1, gt=0, lt=1, description="Share of rows scored once, at the end.")
    stratify: bool = Field(
        True, description="Keep class proportions equal across splits (classification only)."
    )

    @model_validator(mode="after")
    def _sum_to_one(self) -> "SplitConfig":
        total = self.train + self.validation + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(
                f"split.train + split.validation + split.test must be 1, got {total:g}"
            )
        return self


class PreprocessConfig(Section):
    numeric_impute: Literal["median", "mean"] = Field(
        "median", description="How missing numeric values are filled (statistic of the training rows)."
    )
    scale: Literal["standard", "none"] = Field(
        "standard", description="Scaling of numeric features, fitted on training rows."
    )
    categorical_encoding: Literal["onehot", "ordinal"] = Field(
        "onehot", description="How categorical columns become numbers."
    )
    max_categories: int = Field(
        20,
        ge=2,
        description="Most frequent categories kept per column; rarer ones share an '__other__' level.",
    )
    missing_indicators: bool = Field(
        True, description="Add a 0/1 column for each feature that has missing values in training."
    )
    drop_identifiers: bool = Field(
        True, description="Drop identifier-like columns (unique per row), which cannot generalise."
    )
    drop_columns: list[str] = Field(default_factory=list, description="Columns never used as features.")


class TrainConfig(Section):
    time_budget: Optional[float] = Field(
        None, gt=0, description="Seconds of wall time for the whole run; learners stop early to fit it."
    )


class EvaluateConfig(Section):
    metric: Literal["auto", "accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "rmse", "mae", "r2"] = Field(
        "auto",
        description=(
            "Validation metric used to choose among models. 'auto' is log_loss for classification "
            "(a proper scoring rule, so no ties) and rmse for regression."
        ),
    )


ModelConfig = Annotated[
    Union[LightGBMConfig, LinearConfig, MLPConfig, AutoConfig], Field(discriminator="type")
]


class Recipe(Section):
    """Everything a run needs, section by section along the data path.

    Example:
        >>> Recipe(data={"path": "penguins.csv"}, target="species").model.type
        'lightgbm'
    """

    data: DataConfig = Field(default_factory=DataConfig, description="Where the rows come from.")
    target: str = Field(..., min_length=1, description="The column to predict.")
    task: Literal["auto", "classification", "regression"] = Field(
        "auto", description="What to predict; 'auto' infers it from the target column."
    )
    split: SplitConfig = Field(default_factory=SplitConfig, description="Train/validation/test split.")
    preprocess: PreprocessConfig = Field(
        default_factory=PreprocessConfig, description="Preprocessing, fitted on training rows only."
    )
    model: ModelConfig = Field(
        default_factory=LightGBMConfig,
        description="The learner: lightgbm (default), linear, mlp, or auto (train several, keep the best).",
    )
    train: TrainConfig = Field(default_factory=TrainConfig, description="Run-wide training settings.")
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig, description="Model selection and scoring.")
    seed: int = Field(42, ge=0, description="Seed for the split, the models and every random step.")

    @field_validator("target", mode="before")
    @classmethod
    def _target_as_text(cls, value):
        # Column names are text; YAML reads `target: 2020` as a number.
        return str(value) if isinstance(value, (int, float, bool)) else value

    @field_validator("model", mode="before")
    @classmethod
    def _model_type_default(cls, value):
        # `model: {num_leaves: 15}` means the default learner with one change.
        return {"type": "lightgbm", **value} if isinstance(value, dict) and "type" not in value else value

    @field_validator("data", mode="before")
    @classmethod
    def _data_from_path(cls, value):
        # `data: penguins.csv` is shorthand for `data: {path: penguins.csv}`.
        return {"path": value} if isinstance(value, str) else value
