"""Config machinery: the ``Section`` base, tagged unions, decisions, and YAML load/dump, ``--set`` overrides,
validation with errors that name the key path, JSON Schema.

The recipe itself (which sections there are) is composed in ``trainwright.pipeline.recipe``; each section's
class lives next to the component it configures.
"""

from trainwright.config.base import Decision, Section, tagged_union, type_name, union_members
from trainwright.config.io import (
    apply_overrides, dump_config, json_schema, load_recipe, parse_config, starter_recipe, with_values,
)

__all__ = [
    "Decision",
    "Section",
    "tagged_union",
    "type_name",
    "union_members",
    "apply_overrides",
    "dump_config",
    "json_schema",
    "load_recipe",
    "parse_config",
    "starter_recipe",
    "with_values",
]
