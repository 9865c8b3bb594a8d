"""The one fit routine: what a member sees, the deadline, model selection and cross-validation built on it."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from trainwright.data.features import FeaturesConfig, PreprocessConfig
from trainwright.fitting import Candidate, MemberSpec, cross_validate, fit_candidates, fit_member, prepare_training
from trainwright.models.tabular.gbdt import LightGBMConfig, LightGBMLearner
from trainwright.models.tabular.linear import LinearConfig, LinearLearner


@pytest.fixture
def table():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=400), "c": rng.choice(["a", "b", "c"], 400)})
    y = np.where(frame["x"] + (frame["c"] == "a") > 0.3, "yes", "no")
    return frame, y


def spec(learner, **kw):
    return MemberSpec({"x": "numeric", "c": "categorical"}, "classification", PreprocessConfig(), FeaturesConfig(),
                      learner, **kw)


def test_only_training_rows_reach_the_preprocessor(table):
    frame, y = table
    # Validation rows with values far outside the training rows: a preprocessor fitted on them would show it.
    frame = frame.copy()
    valid = np.arange(300, 400)
    frame.loc[valid, "x"] = 1000.0
    member = fit_member(spec(LinearLearner()), frame, y, np.arange(300), valid, seed=0)
    mean = member.preprocessor.to_dict()["state"]["mean"][0]
    assert abs(mean - frame["x"].iloc[:300].mean()) < 1e-9 and member.valid_output.shape == (100, 2)


def test_balancing_happens_inside_the_fit_on_training_rows_only(table):
    frame, y = table
    y = np.where(np.arange(400) % 10 == 0, "rare", "common")
    training = prepare_training(spec(None, balance="oversample"), frame, y, np.arange(300), seed=0)
    counts = dict(zip(*np.unique(training.y, return_counts=True)))
    assert counts["rare"] == counts["common"] == int((y[:300] == "common").sum())
    assert training.balancing.method == "oversample" and training.balancing.before["rare"] == 30


def test_the_deadline_reaches_the_learner(table):
    frame, y = table
    learner = LightGBMLearner(n_estimators=100_000, early_stopping_rounds=100_000)
    member = fit_member(spec(learner), frame, y, np.arange(300), np.arange(300, 400), seed=0,
                        deadline=time.monotonic() - 1)
    assert member.learner.stopped_by_ == "time_budget" and len(member.learner.history_) == 1


def test_model_selection_keeps_the_best_and_skips_after_the_budget(table):
    frame, y = table
    picks = [Candidate(LinearConfig(), spec(LinearLearner())),
             Candidate(LightGBMConfig(), spec(LightGBMLearner(n_estimators=50)))]
    chosen = fit_candidates(picks, frame, y, np.arange(300), np.arange(300, 400), metric="log_loss", seed=0)
    scores = {row["model"]: row["validation"]["log_loss"] for row in chosen.board}
    assert chosen.candidate.name == min(scores, key=scores.get) and chosen.decisions[0].what == "model"
    late = fit_candidates(picks, frame, y, np.arange(300), np.arange(300, 400), metric="log_loss", seed=0,
                          deadline=time.monotonic() - 1)
    assert [row["status"] for row in late.board] == ["trained", "skipped"]


def test_cross_validation_stops_at_the_deadline_and_never_scores_a_cut_fold(table):
    frame, y = table
    folds = [(np.setdiff1d(np.arange(400), np.arange(k, 400, 4)), np.arange(k, 400, 4)) for k in range(4)]
    full = cross_validate(spec(LinearLearner(alpha=1.0)), frame, y, folds, method="kfold", seed=0)
    assert full["completed"] == 4 and "stopped" not in full and 0 < full["accuracy"]["mean"] <= 1
    cut = cross_validate(spec(LinearLearner(alpha=1.0)), frame, y, folds, method="kfold", seed=0,
                         deadline=time.monotonic() - 1)
    assert cut["completed"] == 0 and cut["stopped"] == "time budget used up after 0 of 4 folds"
    assert "accuracy" not in cut  # no fold, no estimate (never a number from a cut-short model)

    cut_short = cross_validate(spec(LightGBMLearner(n_estimators=100_000)), frame, y, folds, method="kfold",
                               seed=0, deadline=time.monotonic() + 0.5)
    assert cut_short["completed"] < 4 and "during fold" in cut_short["stopped"]


def test_what_a_learners_imports_built_is_set_aside_from_later_garbage_collections():
    """``import_requirements`` freezes the objects alive after a new import (gc.freeze), so the collection after
    every AutoML fit scans what that fit made, not torch's hundreds of thousands of objects; a cycle made later
    is still collected."""
    import subprocess
    import sys

    code = (
        "import gc\n"
        "from trainwright.fitting.member import import_requirements\n"
        "class Learner: requires = ('json.tool',)\n"
        "before = gc.get_freeze_count()\n"
        "import_requirements(Learner)\n"
        "frozen = gc.get_freeze_count()\n"
        "a = []; a.append(a); del a\n"
        "print(before, frozen > 1000, gc.collect() >= 1)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["0", "True", "True"]
