"""Recipes: validated pydantic models, YAML load/dump and ``--set`` overrides."""

from trainwright.config.recipe import (
    DataConfig,
    EvaluateConfig,
    PreprocessConfig,
    Recipe,
    SplitConfig,
    TrainConfig,
)
from trainwright.config.io import apply_overrides, dump_recipe, load_recipe, parse_recipe, recipe_json_schema

__all__ = [
    "DataConfig",
    "EvaluateConfig",
    "PreprocessConfig",
    "Recipe",
    "SplitConfig",
    "TrainConfig",
    "apply_overrides",
    "dump_recipe",
    "load_recipe",
    "parse_recipe",
    "recipe_json_schema",
]
