"""Balancing classes on training rows only: class weights or resampling (imbalanced-learn).

Resampling runs on the preprocessed training matrix, after the split, so no
validation or test row is ever copied, synthesised from or dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

from typing import Literal

import numpy as np
from pydantic import Field

from trainwright.config.base import Section

from trainwright.errors import ConfigError

__all__ = ["BalanceConfig", "BALANCE_METHODS", "Balanced", "balance", "choose_method", "class_weights"]

BALANCE_METHODS = (
    "none", "auto", "class_weight", "oversample", "undersample",
    "smote", "smotenc", "adasyn", "smote_tomek", "smote_enn",
)


@dataclass(frozen=True)
class Balanced:
    """Training rows after balancing: features, labels and per-row weights (``None`` = all 1)."""

    X: np.ndarray
    y: np.ndarray
    sample_weight: np.ndarray | None
    method: str
    counts_before: dict
    counts_after: dict


def class_weights(y: np.ndarray) -> np.ndarray:
    """Per-row weights n / (k * count of the row's class): every class weighs the same in total."""
    classes, codes, counts = np.unique(y, return_inverse=True, return_counts=True)
    return (len(y) / (len(classes) * counts))[codes]


def choose_method(y: np.ndarray, *, has_categorical: bool = False, mild: float = 3.0,
                  strong: float = 10.0) -> tuple[str, str]:
    """The remedy ``auto`` picks from the imbalance, with the audit's thresholds: (method, reason).

    Ratio majority/minority below ``mild``: none; below ``strong``: class weights; otherwise
    synthetic oversampling (SMOTE-NC with categorical features), or random oversampling when the
    minority class is too small for 5 neighbours.
    """
    _, counts = np.unique(y, return_counts=True)
    ratio = counts.max() / counts.min()
    if ratio < mild:
        return "none", f"majority/minority ratio {ratio:.2f} is below audit.imbalance_ratio={mild:g}"
    if ratio < strong:
        return "class_weight", f"imbalance ratio {ratio:.2f}: weight rows instead of changing them"
    if counts.min() <= 5:
        return "oversample", f"strong imbalance (ratio {ratio:.1f}) with only {counts.min()} minority rows: too few for SMOTE"
    method = "smotenc" if has_categorical else "smote"
    return method, f"strong imbalance (ratio {ratio:.1f} >= audit.strong_imbalance_ratio): synthesise minority rows with {method.upper()}"


def balance(X: np.ndarray, y: np.ndarray, method: str, *, seed: int = 0,
            categorical_groups: list[list[int]] | None = None) -> Balanced:
    """Balance training rows.

    Args:
        X: preprocessed training features (rows, features).
        y: class labels of those rows.
        method: one of ``BALANCE_METHODS`` except "auto" (resolve it with ``choose_method``).
        categorical_groups: for SMOTE-NC, the feature positions of each categorical input
            (its one-hot columns, or its single ordinal column).

    Example:
        >>> X = np.arange(20.0).reshape(10, 2); y = np.array([0] * 8 + [1] * 2)
        >>> balance(X, y, "oversample").counts_after
        {0: 8, 1: 8}
    """
    before = _counts(y)
    if method == "none":
        return Balanced(X, y, None, method, before, before)
    if method == "class_weight":
        return Balanced(X, y, class_weights(y), method, before, before)
    if method not in BALANCE_METHODS or method == "auto":
        raise ConfigError(f"balance.method '{method}' is not known; use one of {', '.join(BALANCE_METHODS)}",
                          path="balance.method")
    if method == "smotenc":
        Xr, yr = _smotenc(X, y, categorical_groups or [], seed)
    else:
        Xr, yr = _sampler(method, seed, int(min(before.values()))).fit_resample(X, y)
    return Balanced(np.asarray(Xr, dtype=X.dtype), np.asarray(yr), None, method, before, _counts(yr))


def _counts(y) -> dict:
    classes, counts = np.unique(y, return_counts=True)
    return {c.item() if hasattr(c, "item") else c: int(n) for c, n in zip(classes, counts)}


def _sampler(method: str, seed: int, minority: int):
    from imblearn import combine, over_sampling, under_sampling

    k = _smote_neighbours(minority)
    if method in ("smote", "smote_tomek", "smote_enn", "adasyn") and minority < 2:
        raise ConfigError(f"balance.method={method} needs at least 2 rows in every class; use oversample",
                          path="balance.method")
    return {
        "oversample": lambda: over_sampling.RandomOverSampler(random_state=seed),
        "undersample": lambda: under_sampling.RandomUnderSampler(random_state=seed),
        "smote": lambda: over_sampling.SMOTE(k_neighbors=k, random_state=seed),
        "adasyn": lambda: over_sampling.ADASYN(n_neighbors=k, random_state=seed),
        "smote_tomek": lambda: combine.SMOTETomek(smote=over_sampling.SMOTE(k_neighbors=k, random_state=seed), random_state=seed),
        "smote_enn": lambda: combine.SMOTEENN(smote=over_sampling.SMOTE(k_neighbors=k, random_state=seed), random_state=seed),
    }[method]()


def _smotenc(X: np.ndarray, y: np.ndarray, groups: list[list[int]], seed: int):
    """SMOTE-NC over categorical inputs: each one-hot group is collapsed to one code column,
    resampled as a category (never averaged), then expanded back to one-hot."""
    from imblearn.over_sampling import SMOTENC

    if not groups:
        raise ConfigError("balance.method=smotenc needs categorical features; use smote for all-numeric data",
                          path="balance.method")
    in_group = sorted(i for g in groups for i in g)
    numeric = [i for i in range(X.shape[1]) if i not in set(in_group)]
    codes = np.column_stack([_group_codes(X[:, g]) for g in groups])
    compact = np.column_stack([X[:, numeric], codes])
    cat_idx = list(range(len(numeric), compact.shape[1]))
    minority = int(np.unique(y, return_counts=True)[1].min())
    sampler = SMOTENC(categorical_features=cat_idx, k_neighbors=_smote_neighbours(minority), random_state=seed)
    Xc, yr = sampler.fit_resample(compact, y)
    out = np.zeros((len(Xc), X.shape[1]), dtype=X.dtype)
    out[:, numeric] = Xc[:, : len(numeric)]
    for j, g in enumerate(groups):
        code = Xc[:, len(numeric) + j].astype(np.int64)
        if len(g) == 1:  # an ordinal column keeps its code
            out[:, g[0]] = code
        else:
            hot = code >= 0  # -1: the row had no level set (unseen or rare level)
            out[np.flatnonzero(hot), np.asarray(g)[code[hot]]] = 1.0
    return out, yr


def _group_codes(block: np.ndarray) -> np.ndarray:
    if block.shape[1] == 1:
        return block[:, 0]
    return np.where(block.max(axis=1) > 0, block.argmax(axis=1), -1).astype(np.float64)


class BalanceConfig(Section):
    """Class balancing on training rows only (the recipe's ``balance:``)."""

    method: Literal["none", "auto", "class_weight", "oversample", "undersample", "smote", "smotenc", "adasyn",
                    "smote_tomek", "smote_enn"] = Field(
        "none",
        description="Class balancing on training rows only (never validation or test). 'auto' picks from the "
                    "imbalance ratio of the training rows with the audit's thresholds: none below "
                    "audit.imbalance_ratio, class weights below audit.strong_imbalance_ratio, else SMOTE (SMOTE-NC "
                    "with categorical features). Off by default because resampling shifts predicted probabilities; the audit "
                    "recommends it when classes are imbalanced.")


def _smote_neighbours(minority: int) -> int:
    """SMOTE's k: 5, or fewer when the smallest class has fewer other rows to interpolate towards."""
    return max(1, min(5, minority - 1))
