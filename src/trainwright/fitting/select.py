"""Model selection: fit each candidate through ``fit_member`` within its share of the time left, keep the
best on the validation rows."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from trainwright.config.base import Decision
from trainwright.evaluate.metrics import better
from trainwright.evaluate.scoring import score_output
from trainwright.fitting.member import Member, MemberSpec, fit_member, import_requirements

__all__ = ["Candidate", "Selection", "fit_candidates"]


@dataclass(frozen=True)
class Candidate:
    """One learner to try: its model config (for the record) and the spec that fits it.

    Example:
        >>> from trainwright.models.tabular.linear import LinearConfig
        >>> Candidate(LinearConfig(), spec=None).name
        'linear'
    """

    config: Any
    spec: MemberSpec
    label: str | None = None

    @property
    def name(self) -> str:
        """Its name: the portfolio entry's (``label``), else the learner's registered name."""
        return self.label or self.config.type


@dataclass(frozen=True)
class Selection:
    """The chosen candidate's member, the leaderboard of all, the metric that chose, and the decision
    (``fit_candidates`` returns one). An ensemble (``tune.fit_auto``) also gives every member and its weight;
    ``pooled`` is what the predictor averages.

    Example:
        >>> from trainwright.models.tabular.linear import LinearConfig
        >>> Selection(None, Candidate(LinearConfig(), None), "rmse", [], ()).candidate.name
        'linear'
    """

    member: Member
    candidate: Candidate
    metric: str
    board: list[dict[str, Any]]
    decisions: tuple[Decision, ...]
    members: tuple[Member, ...] = ()
    weights: tuple[float, ...] = ()

    @property
    def pooled(self) -> list[tuple[Member, float]]:
        """(member, weight) pairs whose weighted outputs make the prediction: the ensemble, or the one member."""
        return list(zip(self.members, self.weights)) if self.members else [(self.member, 1.0)]


def fit_candidates(candidates: list[Candidate], frame, y: np.ndarray, train: np.ndarray, valid: np.ndarray, *,
                   metric: str, seed: int, deadline: float | None = None,
                   fit_options: Callable[[Candidate], Mapping[str, Any]] = lambda candidate: {},
                   log: Callable[[str], None] = lambda message: None) -> Selection:
    """Fit every candidate on ``train`` and score it on ``valid``; the best by ``metric`` wins.

    Each candidate gets an equal share of the time left (time one does not use passes to the next); the
    first always trains, later ones are skipped once the budget is gone.

    Args:
        metric: the validation metric that chooses (see ``evaluate.metrics.primary_metric``).
        fit_options: candidate -> its fit options (checkpoints, callbacks).
        log: receives one line per candidate.

    Returns:
        The ``Selection``; ``decisions`` records the choice when there were several candidates.

    Example:
        >>> import pandas as pd
        >>> from trainwright.data.features import FeaturesConfig, PreprocessConfig
        >>> from trainwright.models.tabular.gbdt import LightGBMConfig, LightGBMLearner
        >>> from trainwright.models.tabular.linear import LinearConfig, LinearLearner
        >>> frame = pd.DataFrame({"x": np.arange(60.0)}); y = 3 * np.arange(60.0)
        >>> def spec(learner):
        ...     return MemberSpec({"x": "numeric"}, "regression", PreprocessConfig(), FeaturesConfig(), learner)
        >>> picks = [Candidate(LightGBMConfig(), spec(LightGBMLearner(task="regression", n_estimators=20))),
        ...          Candidate(LinearConfig(alpha=0.01), spec(LinearLearner(task="regression", alpha=0.01)))]
        >>> chosen = fit_candidates(picks, frame, y, np.arange(0, 60, 2), np.arange(1, 60, 2), metric="rmse", seed=0)
        >>> chosen.candidate.name, [row["model"] for row in chosen.board]
        ('linear', ['lightgbm', 'linear'])
    """
    board: list[dict[str, Any]] = []
    best: tuple[Member, Candidate, float | None] | None = None
    for i, candidate in enumerate(candidates):
        if i > 0 and deadline is not None and deadline - time.monotonic() <= 0:
            board.append({"model": candidate.name, "status": "skipped", "reason": "time budget used up"})
            log(f"candidate {candidate.name}: skipped, time budget used up")
            continue
        import_requirements(candidate.spec.learner)  # its imports do not come out of its share
        share = None if deadline is None else time.monotonic() + max(deadline - time.monotonic(), 0.0) / (len(candidates) - i)
        member = fit_member(candidate.spec, frame, y, train, valid, seed=seed, deadline=share,
                            fit_options=fit_options(candidate))
        valid_scores = score_output(candidate.spec.task, y[valid], member.valid_output, member.classes)
        learner = member.learner
        board.append({"model": candidate.name, "status": "trained", "validation": valid_scores,
                      "fit_seconds": round(member.fit_seconds, 3), "best_iteration": getattr(learner, "best_iteration_", None),
                      "stopped_by": learner.stopped_by_})
        log(f"candidate {candidate.name}: validation {metric}={_fmt(valid_scores[metric])} in "
            f"{member.fit_seconds:.1f}s ({learner.stopped_by_})")
        if best is None or better(metric, valid_scores[metric], best[2]):
            best = (member, candidate, valid_scores[metric])
    member, chosen, value = best
    decisions = ()
    if len(candidates) > 1:
        names = ", ".join(c.name for c in candidates)
        decisions = (Decision("model", chosen.name, f"best validation {metric} ({_fmt(value)}) among {names}"),)
    return Selection(member, chosen, metric, board, decisions)


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.4g}"
