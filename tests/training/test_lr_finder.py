"""The LR range test on a real small problem: a sensible suggestion, weights restored, a valid SVG."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET

import pytest
import torch
from sklearn.datasets import load_digits

from trainwright.errors import ConfigError
from trainwright.training.lr_finder import LRFinderResult, _suggest, find_lr
from trainwright.training.optim import optimizer_config

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    return torch.tensor(data.data / 16.0, dtype=torch.float32), torch.tensor(data.target)


def _mlp(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Dropout(0.1),
                               torch.nn.Linear(32, 10))


@pytest.mark.parametrize("kind", ["adamw", "sgd"])
def test_finder_suggests_a_sensible_rate_and_restores_the_model(digits, kind):
    X, y = digits
    model = _mlp().eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    result = find_lr(model, torch.nn.functional.cross_entropy, X, y, optimizer=optimizer_config(type=kind))
    assert 1e-4 <= result.suggestion <= 1.0, result.reason
    assert result.lrs[0] <= result.suggestion <= result.lrs[-1]
    assert "steepest descent" in result.reason
    for name, value in model.state_dict().items():
        assert torch.equal(value, before[name]), name
    assert not model.training  # its mode is restored too
    assert torch.equal(torch.get_rng_state(), rng)  # the caller's random stream is untouched
    # The sweep: geometric rates from start_lr, one per mini-batch; finite smoothed losses that fell.
    assert result.lrs[0] == pytest.approx(1e-7) and 50 <= len(result.lrs) <= 100
    ratios = [b / a for a, b in zip(result.lrs, result.lrs[1:])]
    assert ratios == pytest.approx([1e8 ** (1 / 99)] * len(ratios))
    assert len(result.losses) == len(result.lrs) and all(math.isfinite(v) for v in result.losses)
    assert result.losses[0] == pytest.approx(math.log(10), rel=0.1)  # an untrained 10-class model
    assert min(result.losses) < 0.9 * result.losses[0]


def test_finder_is_deterministic_and_stops_when_the_loss_diverges(digits):
    X, y = digits
    args = dict(optimizer=optimizer_config(type="sgd"), end_lr=1e4, steps=80, seed=3)
    a = find_lr(_mlp(), torch.nn.functional.cross_entropy, X, y, **args)
    b = find_lr(_mlp(), torch.nn.functional.cross_entropy, X, y, **args)
    assert a == b
    assert len(a.lrs) < 80 and "stopped at step" in a.reason
    assert a.lrs[-1] < 1e4
    # It stopped at the first smoothed loss above 4x the best seen before it.
    assert a.losses[-1] > 4 * min(a.losses) and max(a.losses[:-1]) <= 4 * min(a.losses)


def test_result_round_trips_to_json_and_draws_a_valid_svg(digits):
    X, y = digits
    result = find_lr(_mlp(), torch.nn.functional.cross_entropy, X, y, steps=40, end_lr=1.0)
    data = json.loads(json.dumps(result.to_dict()))
    assert LRFinderResult(**data) == result
    root = ET.fromstring(result.to_svg(width=500, height=300))
    assert root.tag == f"{SVG}svg" and (root.get("width"), root.get("height")) == ("500", "300")
    points = root.find(f"{SVG}polyline").get("points").split()
    assert len(points) == len(result.lrs)
    xs = [float(p.split(",")[0]) for p in points]
    assert xs == sorted(xs) and 0 <= xs[0] and xs[-1] <= 500  # log-spaced rates drawn left to right
    marker = root.find(f"{SVG}circle")
    assert marker is not None and "steepest descent" in marker.find(f"{SVG}title").text
    expected_x = 64 + (math.log10(result.suggestion) - math.log10(result.lrs[0])) / (
        math.log10(result.lrs[-1]) - math.log10(result.lrs[0])) * (500 - 64 - 16)
    assert float(marker.get("cx")) == pytest.approx(expected_x, abs=0.1)
    assert any("1e-7" == t.text for t in root.iter(f"{SVG}text"))  # decade ticks


def test_suggestion_rule():
    lrs = [10.0 ** e for e in range(-6, 1)]
    # Falls slowly, then fastest between 1e-3 and 1e-2, bottoms out at 1e-1, rises.
    pick, reason = _suggest(lrs, [2.0, 1.95, 1.9, 1.8, 1.0, 0.8, 1.5])
    assert pick == pytest.approx(math.sqrt(1e-3 * 1e-2)) and "lowest loss, 0.8" in reason
    # The steepest fall after the minimum does not count.
    pick, _ = _suggest(lrs, [2.0, 1.9, 1.7, 1.65, 1.6, 5.0, 2.0])
    assert pick == pytest.approx(math.sqrt(1e-5 * 1e-4))
    pick, reason = _suggest(lrs, [1.0, 1.1, 1.2, 1.4, 1.8, 2.5, 3.0])
    assert pick == 1e-6 and "did not fall" in reason
    # A lucky first mini-batch is skipped: with skip=1 the fall from 1e-5 on is found.
    pick, reason = _suggest(lrs, [0.5, 2.0, 1.9, 1.5, 1.2, 1.1, 1.3], skip=1)
    assert pick == pytest.approx(math.sqrt(1e-4 * 1e-3)) and "lowest loss, 1.1" in reason
    assert _suggest(lrs, [0.5, 2.0, 1.9, 1.5, 1.2, 1.1, 1.3])[0] == 1e-6
    # One noisy mini-batch (the dip at 1e-5) wins a one-point slope but not a two-point one.
    noisy = [2.0, 1.2, 1.9, 1.7, 1.2, 0.8, 1.5]
    assert _suggest(lrs, noisy)[0] == pytest.approx(math.sqrt(1e-6 * 1e-5))
    assert _suggest(lrs, noisy, window=2)[0] == pytest.approx(1e-2)


def test_bad_arguments_are_config_errors(digits):
    X, y = digits
    model = _mlp()
    with pytest.raises(ConfigError, match="start_lr < end_lr"):
        find_lr(model, torch.nn.functional.cross_entropy, X, y, start_lr=1.0, end_lr=0.1)
    with pytest.raises(ConfigError, match="steps must be >= 5.*diverge_factor must be > 1"):
        find_lr(model, torch.nn.functional.cross_entropy, X, y, steps=2, diverge_factor=1.0)
    before = [p.clone() for p in model.parameters()]
    with pytest.raises(ConfigError, match="lower start_lr"):
        find_lr(model, torch.nn.functional.cross_entropy, X * 1e6, y, optimizer=optimizer_config(type="sgd"),
                start_lr=1e3, end_lr=1e6, steps=10)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # restored even then
