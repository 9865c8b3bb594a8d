"""The sequence learners: ``text_gru`` and ``text_transformer``, trained by trainwright's loop on the token ids
of one text column (``features.text: tokens``, which choosing them sets: a WordPiece tokenizer trained on the
training rows). Ids the training rows never used (new pieces are impossible, but a saved model may meet a
larger vocabulary) are read as unknown. The report explains them by integrated gradients through the token
embedding (``token_attributions``)."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field

from trainwright.config.base import Section
from trainwright.errors import DataError
from trainwright.models.base import Capabilities
from trainwright.models.neural.learner import NeuralLearner
from trainwright.models.registry import register_learner

__all__ = ["TextGRUConfig", "TextGRULearner", "TextTransformerConfig", "TextTransformerLearner", "TokenLearner"]

_CAPABILITIES = Capabilities(explanation="none", iteration="epoch", learning_curve=True, uses_loop=True,
                             reports_iterations=True, parameters="weights and biases", inputs="tokens")


class TokenLearner(NeuralLearner):
    """What the sequence learners share: token ids in, the vocabulary learnt from the training rows (abstract)."""

    capabilities = _CAPABILITIES
    predict_rows = 512

    def _set_inputs(self, X: np.ndarray) -> None:
        if len(X) == 0:  # loading: the vocabulary comes from the saved state
            return
        if X.shape[1] < 2 or (X != np.round(X)).any() or X.min() < 0:
            raise DataError(f"model.type={self.name} takes the token ids of one text column (features.text=tokens) "
                            f"and nothing else, but the rows have {X.shape[1]} features that are not all token ids; "
                            "drop the other columns (preprocess.drop_columns) or choose a tabular model.type")
        self.vocabulary_ = max(2, int(X.max()) + 1)  # at least padding and unknown
        self.length_ = int(X.shape[1])

    def _state(self):
        extra, files = super()._state()
        return {**extra, "vocabulary": self.vocabulary_, "length": self.length_}, files

    def token_attributions(self, X: np.ndarray, outputs: np.ndarray | None = None, *,
                           steps: int = 32) -> tuple[np.ndarray, float] | None:
        """Integrated gradients through the token embedding (``models.text.attributions``): each token's share
        of the log-odds of class ``outputs[i]`` (default: the row's predicted class; log p / (1 - p) of the
        network's probabilities) or of the predicted value, with the largest completeness error. None for a
        numeric sequence (no tokens)."""
        import torch
        from torch import nn

        from trainwright.models.text.attributions import token_integrated_gradients

        embedding = self.net_.token_embedding()
        if not isinstance(embedding, nn.Embedding):
            return None
        self.net_.eval()
        if outputs is None:
            outputs = self._predict_raw(X).argmax(1) if self.task == "classification" else np.zeros(len(X), int)
        return token_integrated_gradients(self._explained, embedding, torch.as_tensor(np.asarray(X, np.float32)),
                                          np.asarray(outputs), steps=steps)

    def _explained(self, x):
        """Every class's log-odds (rows, classes), or the predicted value (rows, 1)."""
        import torch

        z = self._net_on_rows(x)
        if self.task == "regression":
            return z[:, :1] * self.y_std_ + self.y_mean_
        z = z.double()
        k = z.shape[1]
        others = z.unsqueeze(1).expand(-1, k, k).masked_fill(torch.eye(k, dtype=torch.bool), float("-inf"))
        return z - torch.logsumexp(others, dim=2)  # log p_k - log(1 - p_k)

    def _load_state(self, directory, extra: dict) -> None:
        self.vocabulary_, self.length_ = int(extra["vocabulary"]), int(extra["length"])
        super()._load_state(directory, extra)


class TextGRUConfig(Section):
    """Embedding + bidirectional GRU + mean and max pooling + linear head, on token ids (sets
    features.text=tokens). How it trains (epochs, optimizer...) is the recipe's ``train`` section."""

    type: Literal["text_gru"] = "text_gru"
    embed_dim: int = Field(64, ge=4, le=1024, description="Width of the token embeddings.")
    hidden: int = Field(64, ge=4, le=1024, description="Hidden units of the GRU in each direction.")
    layers: int = Field(1, ge=1, le=4, description="Stacked GRU layers.")
    dropout: float = Field(0.2, ge=0, lt=1, description="Dropout on the embeddings and before the head.")
    device: Literal["auto", "cpu", "cuda", "mps"] = Field("auto", description="Where to train.")


@register_learner(TextGRUConfig)
class TextGRULearner(TokenLearner):
    """A bidirectional GRU over token ids (PyTorch), trained by trainwright's loop.

    Example:
        >>> X = np.array([[2, 3, 0], [4, 5, 6]] * 8, dtype=float); y = np.array([0, 1] * 8)
        >>> TextGRULearner(hidden=8, train={"epochs": 2}).fit(X, y).predict_proba(X[:1]).shape
        (1, 2)
    """

    builder = "trainwright.models.text.layers:build_text_gru"
    search_space = {
        "train.optimizer.lr": {"type": "log", "low": 3e-4, "high": 1e-2},
        "model.hidden": {"type": "categorical", "choices": [32, 64, 128]},
        "model.dropout": {"type": "float", "low": 0.0, "high": 0.5},
    }

    def __init__(self, task: str = "classification", embed_dim: int = 64, hidden: int = 64, layers: int = 1,
                 dropout: float = 0.2, device: str = "auto", train: Any = None, seed: int = 0) -> None:
        self.task, self.embed_dim, self.hidden, self.layers, self.dropout = task, embed_dim, hidden, layers, dropout
        self.device, self.train, self.seed = device, train, seed

    def _build_kwargs(self) -> dict[str, Any]:
        return {"vocabulary": self.vocabulary_, "n_out": self._n_out(), "embed_dim": self.embed_dim,
                "hidden": self.hidden, "layers": self.layers, "dropout": self.dropout}


class TextTransformerConfig(Section):
    """A Transformer encoder trained from scratch on token ids (sets features.text=tokens): sinusoidal positions,
    pre-norm blocks of multi-head self-attention and a feed-forward layer, mean pooling, a linear head."""

    type: Literal["text_transformer"] = "text_transformer"
    dim: int = Field(64, ge=8, le=1024, description="Width of the token vectors (divisible by heads).")
    heads: int = Field(4, ge=1, le=32, description="Attention heads per block.")
    layers: int = Field(2, ge=1, le=12, description="Encoder blocks.")
    ff: int = Field(128, ge=8, le=8192, description="Hidden width of each block's feed-forward layer.")
    dropout: float = Field(0.1, ge=0, lt=1, description="Dropout in the blocks and before the head.")
    device: Literal["auto", "cpu", "cuda", "mps"] = Field("auto", description="Where to train.")


@register_learner(TextTransformerConfig)
class TextTransformerLearner(TokenLearner):
    """A pre-norm Transformer encoder over token ids (written here, PyTorch), trained by trainwright's loop.

    Example:
        >>> X = np.array([[2, 3, 0], [4, 5, 6]] * 8, dtype=float); y = np.array([0, 1] * 8)
        >>> TextTransformerLearner(dim=8, heads=2, train={"epochs": 2}).fit(X, y).predict_proba(X[:1]).shape
        (1, 2)
    """

    builder = "trainwright.models.text.layers:build_text_transformer"
    search_space = {
        "train.optimizer.lr": {"type": "log", "low": 1e-4, "high": 3e-3},
        "model.layers": {"type": "int", "low": 1, "high": 4},
        "model.dropout": {"type": "float", "low": 0.0, "high": 0.3},
    }

    def __init__(self, task: str = "classification", dim: int = 64, heads: int = 4, layers: int = 2, ff: int = 128,
                 dropout: float = 0.1, device: str = "auto", train: Any = None, seed: int = 0) -> None:
        self.task, self.dim, self.heads, self.layers, self.ff, self.dropout = task, dim, heads, layers, ff, dropout
        self.device, self.train, self.seed = device, train, seed

    def _build_kwargs(self) -> dict[str, Any]:
        return {"vocabulary": self.vocabulary_, "n_out": self._n_out(), "length": self.length_, "dim": self.dim,
                "heads": self.heads, "layers": self.layers, "ff": self.ff, "dropout": self.dropout}
