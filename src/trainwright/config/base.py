"""What every config section shares: unknown keys are errors, choices are tagged unions, decisions are recorded.

Component configs (a learner's, the audit's, the loop's) live next to their component and derive from
``Section``; the recipe only composes them. A choice between components ("which learner", "which
optimizer") is a tagged union on ``type``: ``tagged_union`` builds it, and ``union_members`` reads it back
for error messages and defaults.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Annotated, Any, Union

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Section", "Decision", "tagged_union", "union_members", "type_name", "with_default_type"]


class Section(BaseModel):
    """Base of every config section: an unknown key is an error, never a silent default.

    Example:
        >>> class Demo(Section):
        ...     size: int = 3
        >>> Demo(size=4).size
        4
        >>> Demo(sise=4)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        pydantic_core._pydantic_core.ValidationError: 1 validation error for Demo...
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


@dataclass(frozen=True)
class Decision:
    """An automatic choice a stage made (``auto`` values, dropped columns, the chosen model), with its reason.

    Decisions go into ``decisions.json``, the log and the header of ``recipe.resolved.yaml``.

    Example:
        >>> Decision("task", "classification", "the target holds labels").as_dict()["value"]
        'classification'
    """

    what: str
    value: Any
    reason: str

    def as_dict(self) -> dict[str, Any]:
        """The JSON form written into ``decisions.json``."""
        return {"what": self.what, "value": self.value, "reason": self.reason}

    def __str__(self) -> str:
        return f"decision: {self.what} = {self.value} ({self.reason})"


def type_name(config_class: type[BaseModel]) -> str:
    """The tag of a config class in its union: the default of its ``type`` field.

    Example:
        >>> class Cosine(Section):
        ...     type: typing.Literal["cosine"] = "cosine"
        >>> type_name(Cosine)
        'cosine'
    """
    field = config_class.model_fields.get("type")
    if field is None or not isinstance(field.default, str):
        raise TypeError(f"{config_class.__name__} needs a `type: Literal[...]` field with a default to be "
                        "a member of a tagged union")
    return field.default


def tagged_union(classes) -> Any:
    """``Annotated[Union[classes], Field(discriminator="type")]``: one of several config classes, chosen by
    the value of ``type``.

    Example:
        >>> class A(Section):
        ...     type: typing.Literal["a"] = "a"
        >>> class B(Section):
        ...     type: typing.Literal["b"] = "b"
        >>> from pydantic import TypeAdapter
        >>> TypeAdapter(tagged_union([A, B])).validate_python({"type": "b"})
        B(type='b')
    """
    classes = tuple(classes)
    if len(classes) == 1:  # a Union of one class is that class
        return classes[0]
    return Annotated[Union[classes], Field(discriminator="type")]


def union_members(annotation: Any) -> dict[str, type[BaseModel]] | None:
    """For a tagged-union annotation, ``{tag: config class}``; None for any other annotation.

    Example:
        >>> class A(Section):
        ...     type: typing.Literal["a"] = "a"
        >>> class B(Section):
        ...     type: typing.Literal["b"] = "b"
        >>> sorted(union_members(tagged_union([A, B])))
        ['a', 'b']
    """
    if typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) is not Union:
        return None
    members = {}
    for cls in typing.get_args(annotation):
        if not (isinstance(cls, type) and issubclass(cls, BaseModel) and "type" in cls.model_fields):
            return None
        field = cls.model_fields["type"]
        for tag in typing.get_args(field.annotation) or (field.default,):
            members[tag] = cls
    return members


def with_default_type(value: Any, default: str) -> Any:
    """A section given without ``type`` means the default type with the given changes (for a ``mode="before"``
    validator of a tagged-union field).

    Example:
        >>> with_default_type({"lr": 0.01}, "adamw")
        {'type': 'adamw', 'lr': 0.01}
    """
    return {"type": default, **value} if isinstance(value, dict) and "type" not in value else value
