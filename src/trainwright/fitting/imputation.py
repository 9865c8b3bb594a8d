"""Multiple imputation: m members, each with its own posterior draw of the missing values and its own
learner, fitted like the first; the predictor pools (averages) their outputs."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from trainwright.fitting.member import Member, MemberSpec, fit_member

__all__ = ["fit_imputation_members"]


def fit_imputation_members(spec: MemberSpec, frame, y: np.ndarray, train: np.ndarray, valid: np.ndarray, *,
                           m: int, seed: int, deadline: float | None = None,
                           log: Callable[[str], None] = lambda message: None) -> list[Member]:
    """Members 2..m of multiple imputation (member 1 is the one model selection fitted).

    Member ``i`` uses seed ``seed + i`` for its imputation noise, resampling and learner; the spec's
    ``posterior`` makes every member (the first too) draw its imputations.

    Example:
        >>> import pandas as pd
        >>> from trainwright.data.features import FeaturesConfig, PreprocessConfig
        >>> from trainwright.models.tabular.linear import LinearLearner
        >>> frame = pd.DataFrame({"x": [1.0, None, 3.0, 4.0, None, 6.0] * 5, "z": np.arange(30.0)})
        >>> spec = MemberSpec({"x": "numeric", "z": "numeric"}, "regression",
        ...                   PreprocessConfig(numeric_impute="iterative", multiple_imputations=3), FeaturesConfig(),
        ...                   LinearLearner(task="regression"), posterior=True)
        >>> len(fit_imputation_members(spec, frame, np.arange(30.0), np.arange(20), np.arange(20, 30), m=3, seed=0))
        2
    """
    members = []
    for i in range(1, m):
        members.append(fit_member(spec, frame, y, train, valid, seed=seed + i, deadline=deadline))
        log(f"imputation {i + 1}/{m}: trained {spec.learner.name}")
    return members
