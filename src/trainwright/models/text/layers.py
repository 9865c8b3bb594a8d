"""The networks of the sequence models: inputs are (batch, length) token ids as floats, 0 = padding, or with
``channels`` > 0 (batch, length x channels) numbers, time-major (a numeric sequence: every step is real).

``build_text_gru``: embedding -> bidirectional GRU -> the mean and the maximum over the real tokens -> dropout ->
linear. ``build_text_transformer``: embedding (scaled by sqrt(d)) + sinusoidal positional encoding -> pre-norm
blocks (multi-head self-attention with the padding masked, then a GELU feed-forward, each a residual branch after
LayerNorm) -> LayerNorm -> the mean over the real tokens -> dropout -> linear. Both written here on torch's
primitives (``scaled_dot_product_attention`` for the attention itself).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["build_text_gru", "build_text_transformer", "TextGRU", "TextTransformer", "SelfAttention",
           "positional_encoding"]
# A numeric sequence (``channels`` > 0) goes through the same networks: the builders take either input.


def _ids_and_mask(x: torch.Tensor, vocabulary: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(long ids with unseen ids as unknown (1), a (batch, length) mask of real tokens)."""
    ids = x.long()
    ids = torch.where(ids >= vocabulary, torch.ones_like(ids), ids)
    return ids, ids != 0


class _Inputs(nn.Module):
    """Token ids -> embeddings (``channels`` = 0), or numbers -> a linear map of each step's channels; with the
    (batch, length) mask of real steps."""

    def __init__(self, vocabulary: int, dim: int, channels: int) -> None:
        super().__init__()
        self.vocabulary, self.channels = vocabulary, channels
        self.map = nn.Linear(channels, dim) if channels else nn.Embedding(vocabulary, dim, padding_idx=0)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.channels:
            steps = x.reshape(x.shape[0], -1, self.channels)
            return self.map(steps), torch.ones(steps.shape[:2], dtype=torch.bool, device=x.device)
        ids, mask = _ids_and_mask(x, self.vocabulary)
        return self.map(ids), mask


def _masked_mean(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.unsqueeze(-1).to(h.dtype)
    return (h * m).sum(1) / m.sum(1).clamp(min=1.0)


class TextGRU(nn.Module):
    """Embedding (or a linear map of each step's numbers) + bidirectional GRU + mean and max pooling over the real
    steps + a linear head."""

    def __init__(self, vocabulary: int, n_out: int, *, embed_dim: int = 64, hidden: int = 64, layers: int = 1,
                 dropout: float = 0.2, channels: int = 0) -> None:
        super().__init__()
        self.embed = _Inputs(vocabulary, embed_dim, channels)
        self.rnn = nn.GRU(embed_dim, hidden, num_layers=layers, batch_first=True, bidirectional=True,
                          dropout=dropout if layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(4 * hidden, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e, mask = self.embed(x)
        lengths = mask.sum(1).clamp(min=1).cpu()
        if bool((lengths < mask.shape[1]).any()):  # right-padded texts: the backward pass starts at the last token
            packed = nn.utils.rnn.pack_padded_sequence(self.drop(e), lengths, batch_first=True, enforce_sorted=False)
            h, _ = nn.utils.rnn.pad_packed_sequence(self.rnn(packed)[0], batch_first=True, total_length=mask.shape[1])
        else:
            h, _ = self.rnn(self.drop(e))
        top = h.masked_fill(~mask.unsqueeze(-1), -1e4).amax(1)
        top = torch.where(mask.any(1, keepdim=True), top, torch.zeros_like(top))  # an empty text: no maximum
        return self.head(self.drop(torch.cat([_masked_mean(h, mask), top], dim=1)))

    def token_embedding(self) -> nn.Module:
        """The layer that turns token ids into vectors (what token attributions integrate along)."""
        return self.embed.map


def positional_encoding(length: int, dim: int) -> torch.Tensor:
    """The sinusoidal positional encoding of "Attention is all you need", (length, dim).

    Example:
        >>> positional_encoding(4, 6).shape, float(positional_encoding(4, 6)[0, 1])
        (torch.Size([4, 6]), 1.0)
    """
    position = torch.arange(length, dtype=torch.float32)[:, None]
    rate = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    pe = torch.zeros(length, dim)
    pe[:, 0::2] = torch.sin(position * rate)
    pe[:, 1::2] = torch.cos(position * rate)[:, : dim // 2]
    return pe


class SelfAttention(nn.Module):
    """Multi-head self-attention: one projection to queries, keys and values, ``heads`` heads, padding masked."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"the model width {dim} must divide into {heads} heads")
        self.heads, self.dropout = heads, dropout
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        allowed = mask[:, None, None, :]  # every query may look at the real tokens only
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.out(y.transpose(1, 2).reshape(b, n, d))


class _Block(nn.Module):
    def __init__(self, dim: int, heads: int, ff: int, dropout: float) -> None:
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(dim), SelfAttention(dim, heads, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, ff), nn.GELU(), nn.Dropout(dropout), nn.Linear(ff, dim))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attn(self.norm1(x), mask))
        return x + self.drop(self.ff(self.norm2(x)))


class TextTransformer(nn.Module):
    """A pre-norm Transformer encoder over token ids with a mean-pooled linear head."""

    def __init__(self, vocabulary: int, n_out: int, *, length: int, dim: int = 64, heads: int = 4, layers: int = 2,
                 ff: int = 128, dropout: float = 0.1, channels: int = 0) -> None:
        super().__init__()
        self.scale = math.sqrt(dim) if not channels else 1.0
        self.embed = _Inputs(vocabulary, dim, channels)
        self.register_buffer("position", positional_encoding(length, dim), persistent=False)
        self.blocks = nn.ModuleList(_Block(dim, heads, ff, dropout) for _ in range(layers))
        self.norm, self.drop, self.head = nn.LayerNorm(dim), nn.Dropout(dropout), nn.Linear(dim, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e, mask = self.embed(x)
        mask = mask | (mask.sum(1, keepdim=True) == 0) & (torch.arange(e.shape[1], device=e.device) == 0)
        h = self.drop(e * self.scale + self.position[: e.shape[1]])
        for block in self.blocks:
            h = block(h, mask)
        return self.head(self.drop(_masked_mean(self.norm(h), mask)))

    def token_embedding(self) -> nn.Module:
        """The layer that turns token ids into vectors (what token attributions integrate along)."""
        return self.embed.map


def build_text_gru(vocabulary: int, n_out: int, **kwargs) -> TextGRU:
    """``TextGRU`` (the builder the ``text_gru`` learner names).

    Example:
        >>> build_text_gru(50, 3, hidden=8)(torch.tensor([[5.0, 7.0, 0.0]])).shape
        torch.Size([1, 3])
    """
    return TextGRU(vocabulary, n_out, **kwargs)


def build_text_transformer(vocabulary: int, n_out: int, **kwargs) -> TextTransformer:
    """``TextTransformer`` (the builder the ``text_transformer`` learner names).

    Example:
        >>> build_text_transformer(50, 2, length=3, dim=8, heads=2)(torch.tensor([[5.0, 0.0, 0.0]])).shape
        torch.Size([1, 2])
    """
    return TextTransformer(vocabulary, n_out, **kwargs)
