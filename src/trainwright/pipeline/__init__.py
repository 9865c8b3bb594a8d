"""The pipeline: the stages of the data path in order (``Experiment.run``), the recipe that configures them,
and the level-1 API (``train``, ``audit``, ``lr_find``).

Names load on first use, so importing ``trainwright.pipeline.recipe`` (recipe validation) never pays for
the stages' libraries.

Example:
    >>> from trainwright.pipeline import Recipe
    >>> Recipe(data="penguins.csv", target="species", model={"type": "mlp"}).model.hidden_sizes
    [256, 256]
"""

from __future__ import annotations

from trainwright.exports import lazy_exports

_EXPORTS = {
    "Experiment": "trainwright.pipeline.experiment",
    "Reporter": "trainwright.pipeline.journal",
    "Recipe": "trainwright.pipeline.recipe",
    "train": "trainwright.pipeline.api",
    "audit": "trainwright.pipeline.api",
    "lr_find": "trainwright.pipeline.api",
    "recompute_evaluation": "trainwright.pipeline.api",
}

__all__ = list(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
