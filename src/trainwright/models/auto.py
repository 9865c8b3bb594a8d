"""``model.type: auto``: train several learners within the budget and keep the best on validation."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AutoConfig"]


class AutoConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    type: Literal["auto"] = "auto"
    candidates: list[Literal["lightgbm", "linear", "mlp"]] = Field(
        default_factory=lambda: ["lightgbm", "linear", "mlp"],
        min_length=1,
        description=(
            "Learners to try, in order, each with its default settings. Each gets an equal share of "
            "the time left; the first always trains. The best on the validation metric is kept."
        ),
    )
