"""Schedules: the curve of every type at chosen steps, plateau's reaction, and exact resume."""

from __future__ import annotations

import json
import math

import pytest
import torch

from trainwright.errors import ConfigError
from trainwright.training.optim import Lookahead
from trainwright.training.schedules import SCHEDULE_CONFIGS, SCHEDULES, build_schedule, lr_curve, schedule_config

ALL_TYPES = ["constant", "step", "exponential", "cosine", "cosine_restarts", "cyclical", "onecycle", "plateau"]


def curve(**kw):
    spe, epochs = kw.pop("spe", 10), kw.pop("epochs", 10)
    return lr_curve(schedule_config(**kw), lr=1.0, steps_per_epoch=spe, epochs=epochs)


def _config(kind, **settings):
    """The schedule ``kind`` with those of ``settings`` that it has (a type refuses the others)."""
    fields = SCHEDULE_CONFIGS[kind].model_fields
    return schedule_config(type=kind, **{k: v for k, v in settings.items() if k in fields})


def _optimizer(lrs=(0.5, 1.0)):
    """SGD over two parameter groups with different base rates (as discriminative rates give)."""
    a, b = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2))
    return torch.optim.SGD([{"params": [a], "lr": lrs[0]}, {"params": [b], "lr": lrs[1]}], lr=lrs[1])


def test_registry_holds_every_config_type():
    # The config classes' `type` literals are the one list of names; the registry maps each to a shape.
    assert SCHEDULES.names() == list(SCHEDULE_CONFIGS) == ALL_TYPES
    assert len(set(SCHEDULE_CONFIGS.values())) == len(ALL_TYPES)  # one class per type
    with pytest.raises(ConfigError, match=r"Known: constant, step.*Did you mean 'cosine'\?"):
        SCHEDULES.get("cosin")


def test_warmup_is_linear_and_reaches_lr_at_warmup_steps():
    c = curve(type="constant", warmup_steps=10, warmup_start_factor=0.1, spe=10, epochs=3)
    assert len(c) == 30
    assert c[0] == pytest.approx(0.1)
    assert c[5] == pytest.approx(0.55)
    assert [c[i + 1] - c[i] for i in range(9)] == pytest.approx([0.09] * 9)
    assert c[10:] == [1.0] * 20


def test_step_decays_every_step_size_epochs_after_warmup():
    c = curve(type="step", step_size=2, gamma=0.1, spe=5, epochs=6)
    assert (c[0], c[9], c[10], c[19], c[20], c[29]) == pytest.approx((1, 1, 0.1, 0.1, 0.01, 0.01))
    warm = curve(type="step", step_size=1, gamma=0.5, spe=5, epochs=3, warmup_steps=3)
    assert warm[3:8] == [1.0] * 5  # the schedule's clock starts when warmup ends
    assert warm[8] == 0.5 and warm[13] == 0.25


def test_exponential_multiplies_by_gamma_each_epoch_smoothly():
    c = curve(type="exponential", gamma=0.5, spe=4, epochs=3)
    assert c[0] == 1.0 and c[4] == pytest.approx(0.5) and c[8] == pytest.approx(0.25)
    assert c[2] == pytest.approx(math.sqrt(0.5))


def test_cosine_falls_to_the_floor_at_the_end():
    c = curve(type="cosine", min_lr_factor=0.1, spe=10, epochs=2)
    assert c[0] == 1.0
    assert c[10] == pytest.approx(0.55)  # half way: the midpoint of 1 and 0.1
    assert all(a > b for a, b in zip(c, c[1:]))
    assert c[-1] == pytest.approx(0.1 + 0.9 * (1 + math.cos(math.pi * 19 / 20)) / 2)
    sched = build_schedule(_optimizer(), schedule_config(type="cosine", min_lr_factor=0.1), steps_per_epoch=10,
                           epochs=2)
    for _ in range(20):
        sched.step_batch()
    assert sched.lrs() == pytest.approx([0.05, 0.1])  # after the last step: exactly the floor


def test_cosine_restarts_restart_with_growing_periods():
    c = curve(type="cosine_restarts", restart_epochs=2, restart_mult=2, spe=5, epochs=8)  # periods 10, 20, 40 steps
    assert (c[0], c[10], c[30]) == (1.0, 1.0, 1.0)
    assert c[5] == pytest.approx(0.5) and c[20] == pytest.approx(0.5)
    assert c[9] < 0.03 and c[29] < 0.01
    same = curve(type="cosine_restarts", restart_epochs=1, restart_mult=1, spe=10, epochs=3, min_lr_factor=0.2)
    assert (same[0], same[10], same[20]) == (1.0, 1.0, 1.0) and same[15] == pytest.approx(0.6)
    assert same[:10] == same[10:20] == same[20:]


def test_cyclical_is_a_periodic_triangle():
    c = curve(type="cyclical", cycle_epochs=2, base_lr_factor=0.1, spe=5, epochs=6)  # cycle = 10 steps
    assert c[0] == pytest.approx(0.1) and c[5] == pytest.approx(1.0) and c[10] == pytest.approx(0.1)
    assert c[3] == pytest.approx(0.1 + 0.9 * 0.6)
    assert c[:10] == pytest.approx(c[10:20]) and c[10:20] == pytest.approx(c[20:])
    assert max(c) == pytest.approx(1.0) and min(c) == pytest.approx(0.1)


def test_onecycle_peaks_at_pct_start():
    c = curve(type="onecycle", max_lr_factor=10, pct_start=0.3, spe=10, epochs=10)
    assert c[0] == 1.0
    assert max(range(100), key=c.__getitem__) == 30 and c[30] == pytest.approx(10.0)
    assert c[15] == pytest.approx(5.5)  # half way up: midpoint of 1 and 10
    assert c[65] == pytest.approx(5.0)  # half way down: midpoint of 10 and 0
    assert all(a < b for a, b in zip(c[:30], c[1:31])) and all(a > b for a, b in zip(c[30:], c[31:]))
    sched = build_schedule(_optimizer(), schedule_config(type="onecycle"), steps_per_epoch=10, epochs=10)
    for _ in range(100):
        sched.step_batch()
    assert sched.lrs() == [0.0, 0.0]


def test_plateau_reduces_after_patience_epochs_without_improvement():
    assert curve(type="plateau", spe=3, epochs=2) == [1.0] * 6
    opt = _optimizer()
    sched = build_schedule(opt, schedule_config(type="plateau", patience=2, gamma=0.5, min_lr_factor=0.2),
                           steps_per_epoch=3, epochs=20)
    seen = []
    for metric in [1.0, 0.9, 0.95, 0.9, 0.95, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8]:
        sched.step_epoch(metric)
        seen.append(sched.lrs()[1])
    # Epochs 3-5 do not beat 0.9; the third of them reduces. 0.8 improves; after three more, 0.25; then the floor.
    assert seen == [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.2, 0.2, 0.2, 0.2]
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)  # the other group keeps its ratio
    with pytest.raises(ConfigError, match="needs a metric") as err:
        sched.step_epoch(None)
    assert err.value.path == "schedule.type"
    constant = build_schedule(_optimizer(), schedule_config(type="cosine"), steps_per_epoch=3, epochs=2)
    constant.step_epoch(None)  # other types ignore the metric
    assert constant.lrs() == [0.5, 1.0]


@pytest.mark.parametrize("kind", [t for t in ALL_TYPES if t != "plateau"])
def test_schedule_drives_the_optimizer_along_lr_curve(kind):
    cfg = _config(kind, warmup_steps=4, step_size=2, gamma=0.7, restart_epochs=1, cycle_epochs=1.5)
    expected = lr_curve(cfg, lr=1.0, steps_per_epoch=6, epochs=5)
    opt = _optimizer()
    sched = build_schedule(opt, cfg, steps_per_epoch=6, epochs=5)
    got = []
    for step in range(30):
        got.append(sched.lrs())
        opt.step()
        sched.step_batch()
        if (step + 1) % 6 == 0:
            sched.step_epoch(0.5)
    assert [g[1] for g in got] == pytest.approx(expected, abs=1e-12)
    assert [g[0] for g in got] == pytest.approx([0.5 * x for x in expected], abs=1e-12)


def _drive(sched, opt, steps, start=0, spe=6):
    lrs = []
    for step in range(start, start + steps):
        opt.step()
        sched.step_batch()
        lrs.append(sched.lrs())
        if (step + 1) % spe == 0:
            sched.step_epoch(1.0 / (1 + (step // spe) % 3))  # a metric that stalls, for plateau
    return lrs


@pytest.mark.parametrize("kind", ALL_TYPES)
def test_state_dict_resumes_identically(kind):
    cfg = _config(kind, warmup_steps=5, step_size=1, gamma=0.5, restart_epochs=1, patience=1)
    opt = _optimizer()
    straight = _drive(build_schedule(opt, cfg, steps_per_epoch=6, epochs=8), opt, 48)

    opt_a = _optimizer()
    first = build_schedule(opt_a, cfg, steps_per_epoch=6, epochs=8)
    head = _drive(first, opt_a, 20)
    saved = json.loads(json.dumps(first.state_dict()))  # plain numbers only
    assert saved["steps"] == 20 and saved["epoch"] == 3

    # Resume order 1: fresh optimizer, fresh schedule, then the schedule's state.
    opt_b = _optimizer()
    resumed = build_schedule(opt_b, cfg, steps_per_epoch=6, epochs=8)
    resumed.load_state_dict(saved)
    assert resumed.lrs() == first.lrs()
    assert head + _drive(resumed, opt_b, 28, start=20) == straight
    # Resume order 2: the optimizer's state (holding the scheduled lr) is loaded before the schedule is built.
    opt_c = _optimizer()
    opt_c.load_state_dict(opt_a.state_dict())
    if kind not in ("constant", "plateau"):  # the loaded lr is a scheduled one, not the base
        assert opt_c.param_groups[1]["lr"] != 1.0
    again = build_schedule(opt_c, cfg, steps_per_epoch=6, epochs=8)
    assert again.base_lrs == [0.5, 1.0]  # from the groups' initial_lr, not their scheduled lr
    again.load_state_dict(saved)
    assert head + _drive(again, opt_c, 28, start=20) == straight


def test_a_fresh_schedule_without_the_state_would_differ():
    """The resume test above can fail: restarting the clock changes the rates."""
    cfg = schedule_config(type="cosine")
    opt = _optimizer()
    straight = _drive(build_schedule(opt, cfg, steps_per_epoch=6, epochs=8), opt, 48)
    opt_b = _optimizer()
    assert _drive(build_schedule(opt_b, cfg, steps_per_epoch=6, epochs=8), opt_b, 28, start=20) != straight[20:]


def test_load_state_dict_rejects_another_schedule():
    sched = build_schedule(_optimizer(), schedule_config(type="cosine"), steps_per_epoch=2, epochs=2)
    state = sched.state_dict()
    other = build_schedule(_optimizer(), schedule_config(type="onecycle"), steps_per_epoch=2, epochs=2)
    with pytest.raises(ConfigError, match="cannot resume a 'cosine' schedule"):
        other.load_state_dict(state)
    one_group = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.1)
    with pytest.raises(ConfigError, match="2 parameter groups"):
        build_schedule(one_group, schedule_config(type="cosine"), steps_per_epoch=2, epochs=2).load_state_dict(state)


def test_warmup_longer_than_training_is_a_config_error():
    with pytest.raises(ConfigError, match=r"warmup_steps must be smaller than the 20 optimizer steps") as err:
        lr_curve(schedule_config(warmup_steps=20), lr=0.1, steps_per_epoch=10, epochs=2)
    assert err.value.path == "schedule.warmup_steps"
    with pytest.raises(ConfigError, match="steps_per_epoch >= 1"):
        build_schedule(_optimizer(), schedule_config(), steps_per_epoch=0, epochs=2)
    with pytest.raises(ValueError):
        schedule_config(typo=1)


def test_schedule_reaches_the_optimizer_inside_lookahead():
    inner = _optimizer()
    opt = Lookahead(inner, k=2)
    sched = build_schedule(opt, schedule_config(type="step", step_size=1, gamma=0.1), steps_per_epoch=2, epochs=3)
    for _ in range(2):
        opt.step()
        sched.step_batch()
    assert [g["lr"] for g in inner.param_groups] == pytest.approx([0.05, 0.1])
