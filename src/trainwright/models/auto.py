"""``model.type: auto``: train several learners within the budget and keep the best on validation."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from trainwright.config.base import Section
from trainwright.errors import did_you_mean

__all__ = ["AutoConfig"]


class AutoConfig(Section):
    """Train each candidate learner with its default settings and keep the best on validation.

    Example:
        >>> AutoConfig(candidates=["lightgbm", "linear"]).candidates
        ['lightgbm', 'linear']
    """

    type: Literal["auto"] = "auto"
    candidates: list[str] = Field(
        default_factory=lambda: ["lightgbm", "linear", "mlp"],
        min_length=1,
        description=(
            "Learners to try, in order, each with its default settings (any registered model.type). Each gets "
            "an equal share of the time left; the first always trains. The best on the validation metric is kept."
        ),
    )

    @field_validator("candidates")
    @classmethod
    def _registered(cls, names: list[str]) -> list[str]:
        from trainwright.models.registry import learners

        known = learners().names()
        for name in names:
            if name not in known:
                raise ValueError(f"'{name}' is not a learner.{did_you_mean(name, known)} Known: {', '.join(known)}")
        return names
