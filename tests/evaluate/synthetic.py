"""Synthetic labels and probabilities shared by the metric, bootstrap and curve tests."""

from __future__ import annotations

import numpy as np


def labelled_proba(rng, n: int, k: int, decimals: int | None = None):
    """Labels and probabilities that carry signal; ``decimals`` rounds them to make ties."""
    y = rng.integers(0, k, n)
    proba = rng.dirichlet(np.ones(k), n)
    proba[np.arange(n), y] += 0.4
    if decimals is not None:
        proba = np.round(proba, decimals) + 1e-3
    return y, proba / proba.sum(1, keepdims=True)
