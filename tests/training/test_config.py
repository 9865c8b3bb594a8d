"""The loop's settings: optimizer and schedule are unions on `type`, so a setting of another type is refused."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from trainwright.training.config import (
    DEFAULT_OPTIMIZER,
    OPTIMIZER_CONFIGS,
    AdamConfig,
    LoopConfig,
    SGDConfig,
    optimizer_config,
)
from trainwright.training.loop import Trainer
from trainwright.training.optim import OPTIMIZERS
from trainwright.training.schedules import (
    DEFAULT_SCHEDULE,
    SCHEDULE_CONFIGS,
    SCHEDULES,
    PlateauScheduleConfig,
    lr_curve,
    schedule_config,
)

SECTIONS = {"optimizer": OPTIMIZER_CONFIGS, "schedule": SCHEDULE_CONFIGS}


def _misplaced(section: str) -> list[tuple[str, str, object]]:
    """Every (type, setting, valid value) where the setting belongs to another type of the section."""
    configs = SECTIONS[section]
    owners = {name: cls for cls in configs.values() for name in cls.model_fields}
    return [(kind, name, owners[name].model_fields[name].default)
            for kind, cls in configs.items() for name in sorted(owners) if name not in cls.model_fields]


@pytest.mark.parametrize(("kind", "name", "value"), _misplaced("optimizer"))
def test_an_optimizer_setting_of_another_type_is_refused(kind, name, value):
    with pytest.raises(ValidationError, match=name) as err:
        LoopConfig(optimizer={"type": kind, name: value})
    assert [(e["type"], e["loc"]) for e in err.value.errors()] == [("extra_forbidden", ("optimizer", kind, name))]


@pytest.mark.parametrize(("kind", "name", "value"), _misplaced("schedule"))
def test_a_schedule_setting_of_another_type_is_refused(kind, name, value):
    with pytest.raises(ValidationError, match=name) as err:
        LoopConfig(schedule={"type": kind, name: value})
    assert [(e["type"], e["loc"]) for e in err.value.errors()] == [("extra_forbidden", ("schedule", kind, name))]


def test_the_examples_from_the_brief_are_refused_and_their_own_type_takes_them():
    assert len(_misplaced("optimizer")) > 10 and len(_misplaced("schedule")) > 30  # the cases above exist
    with pytest.raises(ValidationError, match="step_size"):
        LoopConfig(schedule={"type": "cosine", "step_size": 3})
    with pytest.raises(ValidationError, match="momentum"):
        LoopConfig(optimizer={"type": "adam", "momentum": 0.5})
    # The same settings are fine under a type that has them (so the refusals above are about the type).
    assert LoopConfig(schedule={"type": "step", "step_size": 3}).schedule.step_size == 3
    assert LoopConfig(optimizer={"type": "sgd", "momentum": 0.5}).optimizer.momentum == 0.5
    with pytest.raises(ValidationError, match="momentum"):
        LoopConfig().optimizer.momentum = 0.5  # nor can assignment add one


def test_a_section_without_type_is_the_default_type():
    assert (DEFAULT_OPTIMIZER, DEFAULT_SCHEDULE) == ("adamw", "plateau")
    loop = LoopConfig(optimizer={"lr": 0.01}, schedule={"patience": 3})
    assert loop.optimizer == AdamConfig(type="adamw", lr=0.01)
    assert loop.schedule == PlateauScheduleConfig(patience=3)
    assert LoopConfig(optimizer={}, schedule={}) == LoopConfig()
    assert (LoopConfig().optimizer.type, LoopConfig().schedule.type) == ("adamw", "plateau")
    assert optimizer_config(lr=0.01) == loop.optimizer and schedule_config(patience=3) == loop.schedule
    loop.schedule = {"patience": 7}  # assignment takes the same default
    assert loop.schedule == PlateauScheduleConfig(patience=7)
    with pytest.raises(ValidationError, match="step_size"):  # the default type refuses what it lacks
        LoopConfig(schedule={"step_size": 3})
    given = SGDConfig(lr=0.1)  # a member instance passes as it is
    assert LoopConfig(optimizer=given).optimizer == given


def _settings(section: str, kind: str) -> dict:
    """Non-default values for a few settings of ``kind``, so a lost value shows in the round trip."""
    fields = SECTIONS[section][kind].model_fields
    changes = {"lr": 0.05, "weight_decay": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "momentum": 0.5,
               "nesterov": True, "warmup_steps": 3, "gamma": 0.5, "min_lr_factor": 0.05, "patience": 2,
               "step_size": 4, "restart_epochs": 3, "cycle_epochs": 2.5, "pct_start": 0.2}
    return {"type": kind, **{k: v for k, v in changes.items() if k in fields}}


@pytest.mark.parametrize(("section", "kind"), [(s, k) for s, configs in SECTIONS.items() for k in configs])
def test_every_type_round_trips_through_json(section, kind):
    cfg = LoopConfig(**{section: _settings(section, kind)})
    dumped = cfg.model_dump(mode="json")
    assert dumped[section]["type"] == kind
    back = LoopConfig.model_validate(dumped)
    assert back == cfg
    assert type(getattr(back, section)) is SECTIONS[section][kind]
    assert getattr(back, section) != getattr(LoopConfig(**{section: {"type": kind}}), section)


def test_registries_and_unions_name_the_same_types():
    assert OPTIMIZERS.names() == list(OPTIMIZER_CONFIGS)
    assert SCHEDULES.names() == list(SCHEDULE_CONFIGS)
    schema = LoopConfig.model_json_schema()  # editors see the union, keyed by type
    for section, configs in SECTIONS.items():
        assert set(schema["properties"][section]["discriminator"]["mapping"]) == set(configs)


def test_error_locations_name_the_type_for_the_recipe_messages():
    """What config/io.py turns into messages: pydantic puts the type between the section and the key."""
    cases = [({"optimizer": {"type": "sgd", "betas": [0.9, 0.99]}}, "extra_forbidden", ("optimizer", "sgd", "betas")),
             ({"optimizer": {"type": "rmsprop", "momentum": 2}}, "less_than", ("optimizer", "rmsprop", "momentum")),
             ({"optimizer": {"type": "nadam", "betas": [0.9, 1]}}, "value_error", ("optimizer", "nadam", "betas")),
             ({"optimizer": {"type": "sgd", "nesterov": True, "momentum": 0}}, "value_error", ("optimizer", "sgd")),
             ({"optimizer": {"momentum": 0.5}}, "extra_forbidden", ("optimizer", "adamw", "momentum")),
             ({"optimizer": {"type": "adamm"}}, "union_tag_invalid", ("optimizer",)),
             ({"schedule": {"type": "cosine", "step_size": 3}}, "extra_forbidden", ("schedule", "cosine", "step_size")),
             ({"schedule": {"type": "step", "gamma": 2}}, "less_than_equal", ("schedule", "step", "gamma")),
             ({"schedule": {"patience": -1}}, "greater_than_equal", ("schedule", "plateau", "patience")),
             ({"schedule": {"type": "cosinee"}}, "union_tag_invalid", ("schedule",))]
    for settings, kind, loc in cases:
        with pytest.raises(ValidationError) as err:
            LoopConfig(**settings)
        assert [(e["type"], e["loc"]) for e in err.value.errors()] == [(kind, loc)], settings
    with pytest.raises(ValidationError) as err:
        LoopConfig(optimizer={"type": "adamm"})
    assert err.value.errors()[0]["ctx"]["tag"] == "adamm"
    assert err.value.errors()[0]["ctx"]["expected_tags"] == ", ".join(f"'{t}'" for t in OPTIMIZER_CONFIGS)


def _trainer(**settings) -> tuple[Trainer, torch.Tensor]:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    config = LoopConfig(epochs=3, batch_size=16, checkpoint={"enabled": False}, **settings)
    before = torch.cat([p.detach().flatten() for p in net.parameters()])
    return Trainer(net, config, task="regression", steps_per_epoch=4), before


def _one_step(trainer: Trainer) -> None:
    gen = torch.Generator().manual_seed(1)
    X = torch.randn(16, 4, generator=gen)
    trainer.step(X, X.sum(1))


@pytest.mark.parametrize("kind", OPTIMIZERS.names())
def test_every_registered_optimizer_builds_from_the_loop_config_and_steps(kind):
    trainer, before = _trainer(optimizer={"type": kind, "lr": 0.01})
    _one_step(trainer)
    after = torch.cat([p.detach().flatten() for p in trainer.module.parameters()])
    assert trainer.steps == 1 and not torch.equal(before, after)
    assert torch.isfinite(after).all()


@pytest.mark.parametrize("kind", SCHEDULES.names())
def test_every_registered_schedule_builds_from_the_loop_config_and_steps(kind):
    settings = {"type": kind, "warmup_steps": 2}
    trainer, before = _trainer(optimizer={"type": "sgd", "lr": 0.1}, schedule=settings)
    expected = lr_curve(schedule_config(**settings), lr=0.1, steps_per_epoch=4, epochs=3)
    assert trainer.schedule.lrs()[-1] == pytest.approx(expected[0])
    _one_step(trainer)
    assert trainer.steps == 1 and trainer.schedule.lrs()[-1] == pytest.approx(expected[1])
    assert expected[1] != expected[0]  # warmup moved the rate, so the comparison can fail
