"""Greedy ensemble selection: weights from out-of-fold outputs, with replacement, best round kept."""

from __future__ import annotations

import numpy as np
import pytest

from trainwright.search.ensemble import greedy_weights, loss_function


def test_two_models_with_opposite_errors_get_equal_weights():
    y = np.linspace(0, 10, 50)
    weights, trace = greedy_weights([y + 1, y - 1, np.zeros(50)], loss_function("regression", y, "rmse"), rounds=10)
    assert weights.tolist() == [0.5, 0.5, 0.0]
    assert min(trace) < 1e-12


def test_a_useless_model_gets_no_weight_and_the_best_round_is_kept():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    good = np.full((300, 3), 0.1)
    good[np.arange(300), y] = 0.8
    noise = rng.dirichlet(np.ones(3), 300)
    weights, trace = greedy_weights([noise, good], loss_function("classification", y, "log_loss"), rounds=20)
    assert weights[1] == 1.0 and weights[0] == 0.0
    assert trace[0] == pytest.approx(min(trace))  # the good model alone is as good as it gets


def test_higher_is_better_metrics_are_negated():
    y = np.array([0, 1, 0, 1, 1, 0])
    right = np.column_stack([1 - y * 0.8 - 0.1, y * 0.8 + 0.1])
    loss = loss_function("classification", y, "roc_auc", classes=[0, 1])
    assert loss(right) == -1.0
    weights, _ = greedy_weights([right[::-1].copy(), right], loss, rounds=3)
    assert weights[1] == 1.0
