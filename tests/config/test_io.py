"""The config machinery on its own classes: tagged unions read generically, messages that name the path."""

from __future__ import annotations

from typing import Literal

import pytest

from trainwright.config import Section, apply_overrides, parse_config, tagged_union, with_values
from trainwright.errors import ConfigError


class Cosine(Section):
    type: Literal["cosine"] = "cosine"
    floor: float = 0.0


class Step(Section):
    type: Literal["step"] = "step"
    every: int = 30


class Loop(Section):
    schedule: tagged_union([Cosine, Step]) = Cosine()  # type: ignore[valid-type]
    epochs: int = 10


def test_a_setting_of_another_member_names_its_path_and_the_allowed_keys():
    with pytest.raises(ConfigError) as info:
        parse_config(Loop, {"schedule": {"type": "cosine", "every": 3}})
    assert str(info.value) == ("invalid recipe:\n  schedule.every: unknown key. Allowed keys for schedule type "
                               "cosine: type, floor.")
    assert info.value.path == "schedule.every"


def test_an_unknown_member_lists_the_members_with_the_closest():
    with pytest.raises(ConfigError, match=r"schedule.type: unknown schedule type 'stpe'. Allowed: cosine, step. "
                                          r"Did you mean 'step'\?"):
        parse_config(Loop, {"schedule": {"type": "stpe"}})


def test_switching_type_drops_the_old_settings_and_values_set_by_path():
    raw = apply_overrides({"schedule": {"type": "step", "every": 5}}, ["schedule.type=cosine"])
    assert parse_config(Loop, raw).schedule == Cosine()
    assert with_values({}, {"schedule.floor": 0.1, "epochs": 3}) == {"schedule": {"floor": 0.1}, "epochs": 3}
