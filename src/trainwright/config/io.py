"""Reading, overriding, validating and writing configs, with errors that name the key path.

Nothing here knows the recipe's sections: the functions take the config class, walk its fields, and read
tagged unions (``type``) generically, so a learner, optimizer or schedule added anywhere gets the same
messages.
"""

from __future__ import annotations

import json
import re
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from trainwright.config.base import union_members
from trainwright.errors import ConfigError, did_you_mean

__all__ = ["load_recipe", "apply_overrides", "with_values", "parse_config", "dump_config", "json_schema",
           "starter_recipe"]


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key written twice in one mapping (PyYAML keeps the last silently)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key '{key}' appears twice in one section (line {key_node.start_mark.line + 1}); "
                    "keep one", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_recipe(path: str | Path) -> dict[str, Any]:
    """Read a YAML recipe file into a plain dict (validation is ``parse_config``'s job).

    Raises:
        ConfigError: the file is missing, unreadable or not a YAML mapping.

    Example:
        >>> load_recipe("no-such-recipe.yaml")
        Traceback (most recent call last):
        ...
        trainwright.errors.ConfigError: recipe file no-such-recipe.yaml does not exist. Write one with `trainwright init DATA --target COL`.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"recipe file {path} does not exist. Write one with `trainwright init DATA --target COL`.")
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # a SafeLoader
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"recipe file {path} is not readable YAML: {exc}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"recipe file {path} must hold a mapping of sections (data, target, model, ...), "
                          f"got {type(raw).__name__}")
    return raw


def apply_overrides(raw: dict[str, Any], overrides: list[str] | None) -> dict[str, Any]:
    """Apply ``key.path=value`` overrides to a recipe dict; values are parsed as YAML scalars.

    Changing a component's ``type`` drops the settings of the old type (they would not belong to the new one).

    Example:
        >>> apply_overrides({}, ["model.type=mlp", "seed=7"])
        {'model': {'type': 'mlp'}, 'seed': 7}

    Raises:
        ConfigError: an override is not of the form ``key=value``.
    """
    out = _copy(raw)
    for item in overrides or []:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects key=value (e.g. model.type=mlp), got '{item}'")
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            value = text
        node, last = _parent(out, key.strip())
        if last == "type" and isinstance(node.get("type"), str) and node["type"] != value:
            node.clear()
        node[last] = value
    return out


def with_values(raw: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``raw`` with each dotted path of ``values`` set (values are used as given).

    Example:
        >>> with_values({"train": {"epochs": 3}}, {"train.optimizer.lr": 0.01})
        {'train': {'epochs': 3, 'optimizer': {'lr': 0.01}}}
    """
    out = _copy(raw)
    for key, value in values.items():
        node, last = _parent(out, key)
        node[last] = value
    return out


def _copy(raw: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(raw, default=str))  # deep copy of plain data


def _parent(out: dict[str, Any], dotted: str) -> tuple[dict[str, Any], str]:
    node = out
    parts = dotted.split(".")
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    return node, parts[-1]


def parse_config(cls: type[BaseModel], raw: dict[str, Any], *, what: str = "recipe"):
    """Validate ``raw`` into ``cls``.

    Raises:
        ConfigError: naming every bad key path, the value received and what is allowed.

    Example:
        >>> from trainwright.config.base import Section
        >>> class Split(Section):
        ...     test: float = 0.1
        >>> parse_config(Split, {"tset": 0.2})
        Traceback (most recent call last):
        ...
        trainwright.errors.ConfigError: invalid recipe:
          tset: unknown key. Did you mean 'test'? Allowed keys here: test.
    """
    try:
        return cls.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        lines = _merge_alternatives([(_clean_loc(err["loc"], cls), _explain(err, cls, raw)) for err in errors])
        first = ".".join(str(p) for p in _clean_loc(errors[0]["loc"], cls))
        raise ConfigError(f"invalid {what}:\n  " + "\n  ".join(lines), path=first) from None


def _merge_alternatives(explained: list[tuple[list, str]]) -> list[str]:
    """One line per path: the branches of a plain union (an integer or 'auto') are one setting's choices."""
    lines: dict[str, str] = {}
    for loc, line in explained:
        path = ".".join(str(p) for p in loc) or "recipe"
        if path in lines:
            rest = line.split(": ", 1)[1] if ": " in line else line
            lines[path] = f"{lines[path].rstrip('.')}; or {rest}"
        else:
            lines[path] = line
    return list(lines.values())


def dump_config(config: BaseModel, header: str = "") -> str:
    """The config as YAML with every field written out."""
    body = yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
    return header + body


def json_schema(cls: type[BaseModel]) -> dict[str, Any]:
    """JSON Schema of a config class, for editors and docs."""
    return cls.model_json_schema()


def _field_class(cls: Any, key: Any) -> tuple[Any, dict[str, type[BaseModel]] | None]:
    """(the class or annotation of field ``key`` of ``cls``, its union members when it is a tagged union)."""
    if not (isinstance(cls, type) and issubclass(cls, BaseModel)) or key not in cls.model_fields:
        return None, None
    annotation = cls.model_fields[key].annotation
    members = union_members(annotation)
    if members is None and typing.get_origin(annotation) in (list, tuple):
        args = typing.get_args(annotation)
        annotation = args[0] if args else None
    return annotation, members


def _clean_loc(loc: tuple, cls: type[BaseModel]) -> list:
    """pydantic puts the union tag in the path ("train.optimizer.sgd.betas"); users wrote "train.optimizer.betas"."""
    out, current, pending = [], cls, None
    for key in loc:
        if pending is not None:
            if key in pending:
                current, pending = pending[key], None
                continue
            pending = None
        if isinstance(key, int):  # a list position: the class stays the list's item class
            out.append(key)
            continue
        if _UNION_BRANCH.match(key):  # pydantic names the branch of a plain union ("literal['auto']", "int")
            continue
        out.append(key)
        current, pending = _field_class(current, key)
    return out


_UNION_BRANCH = re.compile(r"^(constrained-\w+|literal\[.*\]|function-\w+|int|float|str|bool|list\[.*\]|dict\[.*\])$")


def _section_class_at(loc: list, cls: type[BaseModel], raw: dict) -> type[BaseModel] | None:
    """The config class of the section at ``loc`` (keys as the user wrote them), or None."""
    current: Any = cls
    node: Any = raw
    for key in loc:
        annotation, members = _field_class(current, key)
        if annotation is None:
            return None
        node = node.get(key, {}) if isinstance(node, dict) else {}
        if members is not None:
            tag = node.get("type") if isinstance(node, dict) else None
            current = members.get(tag) if tag is not None else _default_member(current, key, members)
        else:
            current = annotation
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _default_member(cls: type[BaseModel], key: str, members: dict) -> type[BaseModel] | None:
    default = cls.model_fields[key].get_default(call_default_factory=True)
    return type(default) if isinstance(default, BaseModel) else None


def _explain(err: dict, cls: type[BaseModel], raw: dict) -> str:
    loc = _clean_loc(err["loc"], cls)
    path = ".".join(str(p) for p in loc) or "recipe"
    kind = err["type"]
    if kind == "extra_forbidden":
        parent = _section_class_at(loc[:-1], cls, raw)
        allowed = list(parent.model_fields) if parent else []
        hint = did_you_mean(str(loc[-1]), allowed)
        where = "here"
        if parent is not None and "type" in parent.model_fields and len(loc) > 1:
            where = f"for {loc[-2]} type {parent.model_fields['type'].default}"
        listing = f" Allowed keys {where}: {', '.join(allowed)}." if allowed else ""
        return f"{path}: unknown key.{hint}{listing}"
    if kind == "missing":
        hint = " Pass --target COL, or set `target:` in the recipe." if path == "target" else ""
        return f"{path}: required, but not given.{hint}"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        ctx = err.get("ctx", {})
        given = ctx.get("tag", "")
        tags = [t.strip().strip("'") for t in str(ctx.get("expected_tags", "")).split(",") if t.strip()]
        noun = f"{loc[-1]} " if loc else ""
        return (f"{path}.type: unknown {noun}type '{given}'. Allowed: {', '.join(tags)}."
                f"{did_you_mean(str(given), tags)}")
    received = err.get("input")
    if kind == "value_error" and isinstance(received, dict):  # a section's own check: its message says it all
        message = err["msg"].removeprefix("Value error, ")
        return f"{path}: {message}" + ("" if message.endswith((".", "?")) else ".")
    if isinstance(received, (dict, list)):
        received = json.dumps(received, default=str)[:80]
    message, hint = err["msg"], ""
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        options = [o.strip().strip("'") for o in expected.replace(" or ", ", ").split(",")]
        message, hint = f"must be one of {expected}", did_you_mean(str(received), options)
    return f"{path}: {message}, got {received!r}.{hint}"


def starter_recipe(cls: type[BaseModel], data_path: str, target: str, notes: dict[str, str] | None = None) -> str:
    """A commented YAML recipe: every section and field of ``cls`` with its default and its description.

    Args:
        cls: the recipe class.
        data_path: the data file, written as ``data.path``.
        target: the target column.
        notes: extra comment lines per top-level key (e.g. the inferred task).
    """
    recipe = cls(data={"path": data_path}, target=target)
    values = recipe.model_dump(mode="json")
    lines = [
        "# trainwright recipe. Every key below is shown with its default; delete what you do not change.",
        "# Validate and run:  trainwright train --recipe THIS_FILE   (override with --set key=value)",
        "# All keys and allowed values:  trainwright schema",
        "",
    ]
    for name, field in cls.model_fields.items():
        lines.append(f"# {field.description}")
        if notes and name in notes:
            lines.append(f"# {notes[name]}")
        lines += _starter_section(recipe, name, values[name])
        lines.append("")
    return "\n".join(lines)


def _starter_section(recipe: BaseModel, name: str, value: Any) -> list[str]:
    if not isinstance(value, dict):
        return [yaml.safe_dump({name: value}, sort_keys=False).strip()]
    lines = [f"{name}:"]
    section = type(getattr(recipe, name))
    for key, sub in section.model_fields.items():
        if sub.description:
            lines.append(f"  # {sub.description}")
        lines.append("  " + yaml.safe_dump({key: value[key]}, default_flow_style=True, sort_keys=False).strip()[1:-1])
    members = union_members(type(recipe).model_fields[name].annotation)
    if members:
        others = [t for t in members if t != value.get("type")]
        lines.append(f"  # Other types: {', '.join(others)} (see `trainwright schema` for their keys).")
    return lines
