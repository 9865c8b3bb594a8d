"""Reading, overriding, validating and writing recipes, with errors that name the key path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from trainwright.errors import ConfigError, did_you_mean

__all__ = ["load_recipe", "parse_recipe", "apply_overrides", "dump_recipe", "recipe_json_schema"]


def load_recipe(path: str | Path) -> dict[str, Any]:
    """Read a YAML recipe file into a plain dict (validation is ``parse_recipe``'s job).

    Raises:
        ConfigError: the file is missing, unreadable or not a YAML mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"recipe file {path} does not exist. Write one with `trainwright init DATA --target COL`.")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"recipe file {path} is not readable YAML: {exc}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"recipe file {path} must hold a mapping of sections (data, target, model, ...), got {type(raw).__name__}")
    return raw


def apply_overrides(raw: dict[str, Any], overrides: list[str] | None) -> dict[str, Any]:
    """Apply ``key.path=value`` overrides to a recipe dict; values are parsed as YAML scalars.

    Example:
        >>> apply_overrides({}, ["model.type=mlp", "seed=7"])
        {'model': {'type': 'mlp'}, 'seed': 7}

    Raises:
        ConfigError: an override is not of the form ``key=value``.
    """
    out = json.loads(json.dumps(raw, default=str))  # deep copy of plain data
    for item in overrides or []:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects key=value (e.g. model.type=mlp), got '{item}'")
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            value = text
        node = out
        parts = key.strip().split(".")
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        if parts[-1] == "type" and isinstance(node.get("type"), str) and node["type"] != value:
            # Changing a component's type drops the settings of the old type.
            node.clear()
        node[parts[-1]] = value
    return out


def parse_recipe(raw: dict[str, Any]):
    """Validate a recipe dict into a ``Recipe``.

    Raises:
        ConfigError: naming every bad key path, the value received and what is allowed.
    """
    from trainwright.config.recipe import Recipe

    try:
        return Recipe.model_validate(raw)
    except ValidationError as exc:
        lines = [_explain(err, raw) for err in exc.errors()]
        first_path = ".".join(str(p) for p in _clean_loc(exc.errors()[0]["loc"], raw))
        raise ConfigError("invalid recipe:\n  " + "\n  ".join(lines), path=first_path) from None


def dump_recipe(recipe: BaseModel, header: str = "") -> str:
    """The recipe as YAML with every field written out."""
    body = yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
    return header + body


def recipe_json_schema() -> dict[str, Any]:
    """JSON Schema of the recipe, for editors and docs."""
    from trainwright.config.recipe import Recipe

    return Recipe.model_json_schema()


def _clean_loc(loc: tuple, raw: dict) -> list:
    # pydantic puts the union tag in the path ("model.lightgbm.num_leaves"); users wrote "model.num_leaves".
    from trainwright.models import MODEL_CONFIGS

    loc = list(loc)
    if len(loc) > 1 and loc[0] == "model" and loc[1] in MODEL_CONFIGS:
        del loc[1]
    return loc


def _model_class_at(loc: list, raw: dict):
    """The pydantic class of the section at ``loc`` (a list of keys), or None."""
    from trainwright.config.recipe import Recipe
    from trainwright.models import MODEL_CONFIGS

    cls: Any = Recipe
    node: Any = raw
    for key in loc:
        if not (isinstance(cls, type) and issubclass(cls, BaseModel)) or key not in cls.model_fields:
            return None
        node = node.get(key, {}) if isinstance(node, dict) else {}
        if cls is Recipe and key == "model":
            cls = MODEL_CONFIGS.get(node.get("type", "lightgbm")) if isinstance(node, dict) else None
            continue
        cls = cls.model_fields[key].annotation
    return cls if isinstance(cls, type) and issubclass(cls, BaseModel) else None


def _explain(err: dict, raw: dict) -> str:
    loc = _clean_loc(err["loc"], raw)
    path = ".".join(str(p) for p in loc) or "recipe"
    kind = err["type"]
    if kind == "extra_forbidden":
        parent = _model_class_at(loc[:-1], raw)
        allowed = list(parent.model_fields) if parent else []
        hint = did_you_mean(str(loc[-1]), allowed)
        listing = f" Allowed keys here: {', '.join(allowed)}." if allowed else ""
        return f"{path}: unknown key.{hint}{listing}"
    if kind == "missing":
        hint = " Pass --target COL, or set `target:` in the recipe." if path == "target" else ""
        return f"{path}: required, but not given.{hint}"
    if kind == "union_tag_invalid":
        from trainwright.models import MODEL_CONFIGS

        given = err.get("ctx", {}).get("tag", "")
        return (
            f"{path}.type: unknown model type '{given}'. Allowed: {', '.join(MODEL_CONFIGS)}."
            f"{did_you_mean(str(given), MODEL_CONFIGS)}"
        )
    received = err.get("input")
    if isinstance(received, (dict, list)):
        received = json.dumps(received)[:80]
    message, hint = err["msg"], ""
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        options = [o.strip().strip("'") for o in expected.replace(" or ", ", ").split(",")]
        message, hint = f"must be one of {expected}", did_you_mean(str(received), options)
    return f"{path}: {message}, got {received!r}.{hint}"


def starter_recipe(data_path: str, target: str, notes: dict[str, str] | None = None) -> str:
    """A commented YAML recipe: every section and field with its default and its description.

    Args:
        data_path: the data file, written as ``data.path``.
        target: the target column.
        notes: extra comment lines per top-level key (e.g. the inferred task).
    """
    from trainwright.config.recipe import Recipe

    recipe = Recipe(data={"path": data_path}, target=target)
    values = recipe.model_dump(mode="json")
    lines = [
        "# trainwright recipe. Every key below is shown with its default; delete what you do not change.",
        "# Validate and run:  trainwright train --recipe THIS_FILE   (override with --set key=value)",
        "# All keys and allowed values:  trainwright schema",
        "",
    ]
    for name, field in Recipe.model_fields.items():
        lines.append(f"# {field.description}")
        if notes and name in notes:
            lines.append(f"# {notes[name]}")
        value = values[name]
        if isinstance(value, dict):
            lines.append(f"{name}:")
            section = type(getattr(recipe, name))
            for key, sub in section.model_fields.items():
                if sub.description:
                    lines.append(f"  # {sub.description}")
                lines.append("  " + yaml.safe_dump({key: value[key]}, default_flow_style=True, sort_keys=False).strip()[1:-1])
            if name == "model":
                lines.append("  # Other types: linear, mlp, auto (see `trainwright schema` for their keys).")
        else:
            lines.append(yaml.safe_dump({name: value}, sort_keys=False).strip())
        lines.append("")
    return "\n".join(lines)
