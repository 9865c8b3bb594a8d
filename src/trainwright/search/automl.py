"""AutoML: a portfolio screened on one bagging fold, the strongest (all, when time allows) bagged on every fold,
greedy ensemble selection over their out-of-fold predictions, and the chosen entries refitted once on all the
training rows with their folds' iterations (``model.refit``). Everything is fitted inside the training rows,
through the one fit routine (``fitting.fit_member``), under the deadline.

Time: screening may use up to ``SCREEN_SHARE`` of the window (an equal share per entry still to come;
what one does not use passes on), bagging the rest but the expected time of the refits, which is set aside
first. Without a deadline every entry is screened and bagged (at most ``bag_top``), and the chosen ones
refitted: the same seed gives the same ensemble, bit for bit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np

from trainwright.config.base import Decision
from trainwright.evaluate.metrics import LOWER_IS_BETTER
from trainwright.evaluate.scoring import encode_targets, score_output
from trainwright.fitting import Candidate, Member, Selection, fit_member, make_folds
from trainwright.fitting.member import fixed_in_words, import_requirements
from trainwright.runtime import release_memory
from trainwright.search.ensemble import greedy_weights, loss_function

__all__ = ["SCREEN_SHARE", "BAG_SHARE", "Entry", "fit_auto"]

SCREEN_SHARE = 0.6
BAG_SHARE = 0.5  # of the time left: bagging more than the weighted entries must leave room for their folds


@dataclass
class Entry:
    """One portfolio entry as it trains: its fold members, their out-of-fold outputs, its scores and times."""

    candidate: Candidate
    members: list[Member] = field(default_factory=list)
    oof: np.ndarray | None = None
    fold_score: float | None = None
    fit_seconds: float = 0.0
    weight: float = 0.0

    @property
    def name(self) -> str:
        return self.candidate.name


def fit_auto(candidates: list[Candidate], frame, y: np.ndarray, train: np.ndarray, valid: np.ndarray, *,
             config, metric: str, seed: int, groups: np.ndarray | None = None, deadline: float | None = None,
             fit_options: Callable[[Candidate, int], Mapping[str, Any]] = lambda candidate, fold: {},
             log: Callable[[str], None] = lambda message: None) -> Selection:
    """Screen, bag and ensemble ``candidates`` on the ``train`` rows; ``valid`` rows are only scored.

    Args:
        config: the recipe's ``model`` section (an ``AutoConfig``: bag_folds, bag_top, ensemble_rounds).
        metric: the metric that ranks entries and drives ensemble selection.
        groups: group id of every row (``split.group_column``): bagging folds keep groups whole.
        fit_options: (candidate, fold) -> its fit options (checkpoints, loop callbacks).

    Returns:
        A ``Selection`` whose ``members`` and ``weights`` are the ensemble (each chosen entry's refit on all the
        ``train`` rows, or where it was not refitted every fold model of it, weight / k each), ``member`` the
        first model of the heaviest entry.

    Example:
        >>> import pandas as pd
        >>> from trainwright.data.features import FeaturesConfig, PreprocessConfig
        >>> from trainwright.fitting import MemberSpec
        >>> from trainwright.models.auto import AutoConfig
        >>> from trainwright.models.tabular.linear import LinearConfig, LinearLearner
        >>> from trainwright.models.tabular.knn import KNNConfig, KNNLearner
        >>> frame = pd.DataFrame({"x": np.arange(80.0)}); y = np.sin(np.arange(80.0) / 8)
        >>> def spec(learner):
        ...     return MemberSpec({"x": "numeric"}, "regression", PreprocessConfig(), FeaturesConfig(), learner)
        >>> picks = [Candidate(LinearConfig(), spec(LinearLearner(task="regression"))),
        ...          Candidate(KNNConfig(), spec(KNNLearner(task="regression")))]
        >>> auto = fit_auto(picks, frame, y, np.arange(0, 80, 2), np.arange(1, 80, 2),
        ...                 config=AutoConfig(bag_folds=3, refit=True), metric="rmse", seed=0)
        >>> [(row["model"], row["status"], row["folds"], row.get("refit")) for row in auto.board]
        [('linear', 'bagged', 3, None), ('kneighbors', 'bagged', 3, 'on all 40 training rows with n_neighbors=5')]
        >>> round(sum(auto.weights), 6), len(auto.members)
        (1.0, 1)
    """
    task = candidates[0].spec.task
    _check_classes(task, y[train])
    cv = SimpleNamespace(method="group" if groups is not None else ("stratified" if task == "classification" else "kfold"),
                         n_splits=min(config.bag_folds, _most_folds(task, y[train])), n_repeats=1)
    folds = make_folds(np.sort(train), cv, task=task, y=y, groups=groups, seed=seed)
    entries = [Entry(c) for c in candidates]
    board: dict[str, dict[str, Any]] = {}
    screened = _screen(entries, frame, y, folds, metric, seed, deadline, fit_options, board, log)
    ranked = _useful(screened, folds[0][1], y, task, metric, config.ensemble_rounds)
    scale, most = len(train) / max(len(folds[0][0]), 1), config.bag_top or len(ranked)  # refit rows / fold rows
    kept = _fold_models_kept(config, len(train), log)  # None: refit
    reserve = sum(e.fit_seconds * scale for e in ranked[:most] if e.weight > 0) if not kept and deadline else 0.0
    top = _to_bag(ranked, most, len(folds), None if deadline is None else deadline - reserve)
    done = _bag(top, frame, y, folds, seed, None if deadline is None else deadline - reserve, fit_options, board, log)
    chosen = _select(top, folds, done, y, task, metric, config.ensemble_rounds, board, log)
    refitted = kept or _refit(chosen, frame, y, np.sort(train), scale, seed, deadline, fit_options, board, log)
    for e in (e for e in ranked if e not in top):
        board[e.name]["status"] = "screened"
    _score_validation(entries, frame, y, valid, board)
    for e in (e for e in entries if e not in chosen):
        e.members = []  # only the ensemble's models are kept
    release_memory()
    return _ensemble(chosen, metric, board, f"{len(top)} entr{'y' if len(top) == 1 else 'ies'} ({done} of "
                     f"{len(folds)} bagging folds inside the training rows", refitted, len(train))


def _fold_models_kept(config, rows: int, log) -> str | None:
    """None when the chosen entries are to be refitted on the ``rows`` training rows (``config.refits``), else
    why not, in words (also logged)."""
    from trainwright.models.auto import REFIT_FROM_ROWS

    if config.refits(rows):
        return None
    reason = ("model.refit false" if config.refit is False
              else f"{rows} training rows, fewer than the {REFIT_FROM_ROWS:,} model.refit auto refits from")
    why = f"the fold models kept: {reason}"
    log(f"refit: none ({why})")
    return why


def _ensemble(chosen: list[Entry], metric: str, board, bagged: str, refitted: list[str] | str, rows: int) -> Selection:
    """The Selection of the chosen entries (each one's models share its weight) and why, in words; ``refitted``:
    the entries refitted, or why none was tried."""
    why = (f"greedy ensemble selection on the out-of-fold {metric} of {bagged}"
           + (f"; {refitted})" if isinstance(refitted, str) else
              f"; {', '.join(refitted)} refitted on all {rows} training rows with the folds' median iterations)"
              if refitted else ")"))
    members = [m for e in chosen for m in e.members]
    weights = [e.weight / len(e.members) for e in chosen for _ in e.members]
    names = ", ".join(f"{e.name} ({e.weight:.2f})" for e in chosen)
    return Selection(members[0], chosen[0].candidate, metric, list(board.values()),
                     (Decision("model", f"ensemble of {names}", why),), tuple(members), tuple(weights))


def _screen(entries, frame, y, folds, metric, seed, deadline, fit_options, board, log) -> list[Entry]:
    """Fit every entry on the first fold (its held-out part scores it) while the screening time lasts; each
    gets a share of what is left in proportion to its expected cost (``models.auto.COST``), and at least an
    equal share."""
    from trainwright.models.auto import COST

    start = time.monotonic()
    end = None if deadline is None else start + max(deadline - start, 0.0) * SCREEN_SHARE
    fit_rows, held = folds[0]
    out = []
    for i, e in enumerate(entries):
        if out and end is not None and time.monotonic() >= end:
            board[e.name] = {"model": e.name, "learner": e.candidate.config.type, "status": "skipped",
                             "reason": "time budget used up"}
            log(f"candidate {e.name}: skipped, time budget used up")
            continue
        import_requirements(e.candidate.spec.learner)  # its imports do not come out of its share
        costs = [COST.get(later.name, 1.0) for later in entries[i:]]
        part = max(costs[0] / sum(costs), 1.0 / len(costs))  # the earlier (stronger) entries are never starved
        share = None if end is None else time.monotonic() + max(end - time.monotonic(), 0.0) * part
        member = fit_member(e.candidate.spec, frame, y, fit_rows, held, seed=seed, deadline=share,
                            fit_options=fit_options(e.candidate, 0))
        release_memory()
        e.members, e.fit_seconds = [member], member.fit_seconds
        e.fold_score = score_output(e.candidate.spec.task, y[held], member.valid_output, member.classes)[metric]
        e.fold_score = np.inf if e.fold_score is None else e.fold_score
        board[e.name] = {"model": e.name, "learner": e.candidate.config.type, "status": "trained",
                         "fold_1": {metric: _round(e.fold_score)}, "weight": 0.0,
                         "stopped_by": member.learner.stopped_by_,
                         "best_iteration": getattr(member.learner, "best_iteration_", None)}
        log(f"candidate {e.name}: first fold {metric}={e.fold_score:.4g} in {member.fit_seconds:.1f}s "
            f"({member.learner.stopped_by_})")
        out.append(e)
    return out


def _bag(top: list[Entry], frame, y, folds, seed, deadline, fit_options, board, log) -> int:
    """Fit the other folds of the chosen entries, fold by fold (every entry's fold k before any fold k+1), while
    the time lasts; returns how many folds every entry completed (at least the first). When fold k cannot fit
    for all of them, the entries the first fold's ensemble weights still get it where it fits (leftover time is
    not wasted) and bagging stops there: an entry with more folds than the others predicts with all of them."""
    done = 1
    for k in range(1, len(folds)):
        left = None if deadline is None else deadline - time.monotonic()
        costs = [e.fit_seconds / len(e.members) for e in top]
        if left is not None and left < sum(costs):
            extra = _partial_fold(top, k, frame, y, folds, seed, deadline, fit_options)
            log(f"bagging: fold {k + 1} would not fit for every entry in the {max(left, 0):.1f}s left; {done} of "
                f"{len(folds)} folds bagged by every entry" + (f", fold {k + 1} also by {', '.join(extra)}" if extra
                                                              else ""))
            return done  # the ensemble compares the folds every entry predicted (< k)
        for i, e in enumerate(top):
            left = None if deadline is None else deadline - time.monotonic()
            share = None if left is None else time.monotonic() + left * costs[i] / sum(costs[i:])
            _fit_fold(e, k, frame, y, folds, seed, share, fit_options)
        done = k + 1
    return done


def _to_bag(ranked: list[Entry], most: int, k: int, deadline: float | None) -> list[Entry]:
    """The entries to bag, at most ``most``: those the first fold's ensemble weights (2 at least: one fold is
    noisy), then the next in rank order while the expected time of every chosen entry's other ``k - 1`` folds
    fits in ``BAG_SHARE`` of the time left before ``deadline`` (all of them without a deadline). On small tables
    the portfolio's folds take seconds, and bagging every entry lets the ensemble choose on every training row's
    out-of-fold prediction rather than on one fold's (anes96 at 30 s: test ROC-AUC 0.9518 with the weighted
    entries bagged, 0.9617 with all; docs/benchmarks.md)."""
    top = ranked[:min(max(sum(e.weight > 0 for e in ranked), 2), most)]
    for e in ranked[len(top):most]:
        expected = sum(x.fit_seconds for x in (*top, e)) * (k - 1)
        if deadline is not None and expected > BAG_SHARE * (deadline - time.monotonic()):
            break
        top.append(e)
    return top


def _partial_fold(top: list[Entry], k: int, frame, y, folds, seed, deadline, fit_options) -> list[str]:
    """Fold ``k`` for the entries with a first-fold ensemble weight, heaviest first, each while its expected
    time still fits before ``deadline``; returns their names."""
    fitted = []
    for e in (e for e in top if e.weight > 0):
        if deadline - time.monotonic() >= e.fit_seconds / len(e.members):
            _fit_fold(e, k, frame, y, folds, seed, deadline, fit_options)
            fitted.append(e.name)
    return fitted


def _fit_fold(e: Entry, k: int, frame, y, folds, seed, deadline, fit_options) -> None:
    member = fit_member(e.candidate.spec, frame, y, *folds[k], seed=seed + k, deadline=deadline,
                        fit_options=fit_options(e.candidate, k))
    release_memory()
    e.members.append(member)
    e.fit_seconds += member.fit_seconds


def _refit(chosen: list[Entry], frame, y, train, scale, seed, deadline, fit_options, board, log) -> list[str]:
    """Each chosen entry, heaviest first, fitted once more on all the training rows with its fold models'
    iterations fixed (``Learner.refit_params``), where its expected time still fits before ``deadline``: a
    refitted entry predicts with that one model (it saw every training row; each fold model saw (k-1)/k of
    them), the others with their fold models. Returns the names refitted."""
    names = []
    for e in chosen:
        learners = [m.learner for m in e.members]
        fixed = learners[0].refit_params(learners)
        expected = e.fit_seconds / len(e.members) * scale
        if not fixed or (deadline is not None and deadline - time.monotonic() < expected):
            log(f"refit: {e.name} keeps its {len(e.members)} fold models ("
                + ("it cannot fix its iterations)" if not fixed else f"about {expected:.1f}s would not fit)"))
            continue
        spec = e.candidate.spec.with_learner(learners[0].clone(**fixed))
        member = fit_member(spec, frame, y, train, None, seed=seed, deadline=deadline, early_stopping=False,
                            fit_options=fit_options(e.candidate, None))
        release_memory()
        if member.learner.stopped_by_ == "time_budget":  # fewer iterations than its folds chose: not that model
            log(f"refit: {e.name} keeps its {len(e.members)} fold models (the time ran out during its refit)")
            continue
        shown = fixed_in_words(fixed)
        log(f"refit: {e.name} on all {len(train)} training rows in {member.fit_seconds:.1f}s with {shown}")
        e.members, e.fit_seconds = [member], e.fit_seconds + member.fit_seconds
        board[e.name]["refit"] = f"on all {len(train)} training rows with {shown}"
        names.append(e.name)
    return names


def _select(top: list[Entry], folds, done: int, y: np.ndarray, task: str, metric: str, rounds: int, board,
            log) -> list[Entry]:
    """Greedy ensemble selection over the out-of-fold outputs of the first ``done`` folds (the rows every entry
    predicted); sets each entry's weight and returns those with weight, heaviest first."""
    rows = np.concatenate([va for _, va in folds[:done]])
    classes = top[0].members[0].classes
    loss = loss_function(task, encode_targets(task, y[rows], classes), metric, classes)
    for e in top:
        e.oof = np.concatenate([m.valid_output for m in e.members[:done]])
        board[e.name].update(status="bagged", folds=done, oof={metric: _round(_signed(loss(e.oof), metric))})
    weights, trace = greedy_weights([e.oof for e in top], loss, rounds)
    for e, w in zip(top, weights):
        e.weight = float(w)
        board[e.name]["weight"] = round(float(w), 4)
    log(f"ensemble: {', '.join(f'{e.name} {e.weight:.2f}' for e in top if e.weight > 0)}; out-of-fold "
        f"{metric} over {len(rows)} rows {_show(trace, metric)}")
    return sorted((e for e in top if e.weight > 0), key=lambda e: -e.weight)


def _useful(screened: list[Entry], held: np.ndarray, y: np.ndarray, task: str, metric: str, rounds: int) -> list[Entry]:
    """The screened entries, those that greedy ensemble selection on the first fold's held-out outputs gives a
    weight first (heaviest first), then the rest in score order; sets ``weight`` to that first-fold weight.
    Only these are bagged (and the next best when it chose one): bagging an entry the ensemble would not use
    spends folds for nothing (at 30 s on diamonds, kNN and the linear model were bagged beside LightGBM, which
    got 2 of 5 folds: test RMSE 620; bagging LightGBM and LightGBM-XT: 599)."""
    ranked = sorted(screened, key=lambda e: e.fold_score if metric in LOWER_IS_BETTER else -e.fold_score)
    classes = ranked[0].members[0].classes
    loss = loss_function(task, encode_targets(task, y[held], classes), metric, classes)
    weights, _ = greedy_weights([e.members[0].valid_output for e in ranked], loss, rounds)
    for e, w in zip(ranked, weights):
        e.weight = float(w)
    return sorted(ranked, key=lambda e: -e.weight)  # stable: equal weights keep the score order


def _score_validation(entries: list[Entry], frame, y, valid, board) -> None:
    """Each trained entry's validation scores and prediction time (averaged over its fold models). Shown in
    the leaderboard only: nothing is chosen by them."""
    rows = frame.iloc[valid]
    for e in entries:
        if not e.members or len(valid) == 0:
            continue
        t0 = time.monotonic()
        output = np.mean([m.learner.output(m.preprocessor.transform(rows)) for m in e.members], axis=0)
        seconds = time.monotonic() - t0
        board[e.name].update(validation=score_output(e.candidate.spec.task, y[valid], output, e.members[0].classes),
                             fit_seconds=round(e.fit_seconds, 3),
                             predict_ms_per_1000=round(1000 * seconds * 1000 / max(len(valid), 1), 2))


def _check_classes(task: str, y: np.ndarray) -> None:
    """Bagging folds need every class at least twice in the training rows (once in each part of a fold)."""
    if task != "classification":
        return
    labels, counts = np.unique(y, return_counts=True)
    rare = [str(label) for label, n in zip(labels, counts) if n < 2]
    if rare:
        from trainwright.errors import DataError

        raise DataError(f"model.type=auto bags its models inside the training rows and needs each class at least "
                        f"twice there; class {', '.join(repr(r) for r in rare[:5])} has one training row. Give more "
                        "rows of it, or train one learner (e.g. --set model.type=lightgbm).")


def _most_folds(task: str, y: np.ndarray) -> int:
    """Stratified folds need every class in each: at most the smallest class count (and at least 2)."""
    if task != "classification":
        return max(2, min(20, len(y) // 2))
    return max(2, int(np.unique(y, return_counts=True)[1].min()))


def _round(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else float(f"{value:.6g}")


def _signed(value: float, metric: str) -> float:
    """A loss from ``loss_function`` back in the metric's own sign."""
    return value if metric in LOWER_IS_BETTER else -value


def _show(trace: list[float], metric: str) -> str:
    return f"{_signed(trace[0], metric):.4g} -> {_signed(min(trace), metric):.4g}" if trace else "n/a"
