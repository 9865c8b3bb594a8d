"""Training the learner a recipe asks for, or, for ``model.type: auto``, each candidate within the budget."""

from __future__ import annotations

import importlib
import time
from typing import Any

__all__ = ["train_candidates"]


def train_candidates(exp, task: str, X: dict, Y: dict):
    """Train the configured learner (or every auto candidate) and keep the best on validation.

    Returns:
        (learner, config, leaderboard rows, selection metric)
    """
    from trainwright.evaluate.metrics import better, primary_metric, score_learner
    from trainwright.models import MODEL_CONFIGS, build_learner

    rec = exp.recipe
    metric = primary_metric(task, rec.evaluate.metric)
    configs = [MODEL_CONFIGS[name]() for name in rec.model.candidates] if rec.model.type == "auto" else [rec.model]
    board: list[dict[str, Any]] = []
    best = None
    for i, config in enumerate(configs):
        learner = build_learner(config, task=task, seed=rec.seed)
        for module in learner.requires:  # import cost (torch: ~2 s) is spent before the clock is read
            importlib.import_module(module)
        deadline = exp.deadline
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if i > 0 and remaining <= 0:
                board.append({"model": config.type, "status": "skipped", "reason": "time budget used up"})
                exp._log(f"{config.type}: skipped, time budget used up")
                continue
            # An equal share of what is left; time a learner does not use passes to the next.
            deadline = time.monotonic() + max(remaining, 0.0) / (len(configs) - i)
        t0 = time.monotonic()
        learner.fit(X["train"], Y["train"], X_valid=X["validation"], y_valid=Y["validation"], deadline=deadline)
        seconds = time.monotonic() - t0
        valid = score_learner(task, learner, X["validation"], Y["validation"])
        board.append({"model": config.type, "status": "trained", "validation": valid, "fit_seconds": round(seconds, 3),
                      "best_iteration": learner.best_iteration_, "stopped_by": learner.stopped_by_})
        exp._log(f"{config.type}: validation {metric}={_fmt(valid[metric])} in {seconds:.1f}s ({learner.stopped_by_})")
        if best is None or better(metric, valid[metric], best[2]):
            best = (learner, config, valid[metric])
    if len(configs) > 1:
        exp.decide("model", best[1].type, f"best validation {metric} ({best[2]:.4g}) among {', '.join(c.type for c in configs)}")
    return best[0], best[1], board, metric


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.4g}"
