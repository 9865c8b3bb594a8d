"""Classification and regression of fixed-length numeric sequences: ``sequence_gru`` and
``sequence_transformer``, the networks of the text models (``models.text``) with a linear map of each step's
numbers in place of the token embedding.

A row's features are its sequence, time-major: ``channels`` numbers per step (a table of L x C numeric columns,
or a ``.npz`` holding a 2-d (n, L x C) array and 1-d labels). The preprocessor standardises each column on the
training rows as for any table, and adds nothing after the steps (no missing indicators or products)."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field

from trainwright.errors import DataError
from trainwright.models.base import Capabilities
from trainwright.models.registry import register_learner
from trainwright.models.text.sequence import (TextGRUConfig, TextGRULearner, TextTransformerConfig,
                                              TextTransformerLearner)

__all__ = ["SequenceGRUConfig", "SequenceGRULearner", "SequenceTransformerConfig", "SequenceTransformerLearner"]

_CAPABILITIES = Capabilities(explanation="integrated_gradients", iteration="epoch", learning_curve=True,
                             uses_loop=True, reports_iterations=True, parameters="weights and biases",
                             inputs="sequence")


class _Steps:
    """Numbers in ``channels`` per step instead of token ids (mixed in before a text learner)."""

    capabilities = _CAPABILITIES
    channels: int = 1

    def _set_inputs(self, X: np.ndarray) -> None:
        if X.shape[1] % self.channels:
            raise DataError(f"model.type={self.name} reads each row as a sequence of model.channels={self.channels} "
                            f"numbers per step, but the rows have {X.shape[1]} features, not a multiple of it: set "
                            "model.channels to the numbers per step, or drop the columns that are not the sequence")
        self.vocabulary_, self.length_ = 0, X.shape[1] // self.channels

    def _build_kwargs(self) -> dict[str, Any]:
        return {**super()._build_kwargs(), "channels": self.channels}  # type: ignore[misc]


_CHANNELS = Field(1, ge=1, le=4096, description="Numbers per step: the features are the sequence, time-major "
                                                "(step 1's channels, then step 2's, ...).")


class SequenceGRUConfig(TextGRUConfig):
    """A bidirectional GRU over a fixed-length numeric sequence (a linear map of each step, mean and max pooling,
    a linear head): ``text_gru``'s settings and ``channels``. How it trains is the recipe's ``train`` section."""

    type: Literal["sequence_gru"] = "sequence_gru"
    channels: int = _CHANNELS


@register_learner(SequenceGRUConfig)
class SequenceGRULearner(_Steps, TextGRULearner):
    """``text_gru``'s network on numeric sequences.

    Example:
        >>> X = np.random.default_rng(0).normal(size=(32, 12)); y = (X[:, ::3].sum(1) > 0).astype(int)
        >>> SequenceGRULearner(channels=3, hidden=8, train={"epochs": 2}).fit(X, y).predict_proba(X[:1]).shape
        (1, 2)
    """

    def __init__(self, task: str = "classification", channels: int = 1, embed_dim: int = 64, hidden: int = 64,
                 layers: int = 1, dropout: float = 0.2, device: str = "auto", train: Any = None, seed: int = 0) -> None:
        super().__init__(task, embed_dim, hidden, layers, dropout, device, train, seed)
        self.channels = channels


class SequenceTransformerConfig(TextTransformerConfig):
    """A pre-norm Transformer encoder over a fixed-length numeric sequence (a linear map of each step, sinusoidal
    positions, multi-head self-attention, mean pooling, a linear head): ``text_transformer``'s settings and
    ``channels``."""

    type: Literal["sequence_transformer"] = "sequence_transformer"
    channels: int = _CHANNELS


@register_learner(SequenceTransformerConfig)
class SequenceTransformerLearner(_Steps, TextTransformerLearner):
    """``text_transformer``'s network on numeric sequences.

    Example:
        >>> X = np.random.default_rng(0).normal(size=(32, 12)); y = (X[:, ::3].sum(1) > 0).astype(int)
        >>> SequenceTransformerLearner(channels=3, dim=8, heads=2, train={"epochs": 2}).fit(X, y).predict(X[:1]).shape
        (1,)
    """

    def __init__(self, task: str = "classification", channels: int = 1, dim: int = 64, heads: int = 4,
                 layers: int = 2, ff: int = 128, dropout: float = 0.1, device: str = "auto", train: Any = None,
                 seed: int = 0) -> None:
        super().__init__(task, dim, heads, layers, ff, dropout, device, train, seed)
        self.channels = channels
