"""One generic registry: a name maps to a component, imported only when used.

Entries may be given as ``"module:attribute"`` strings so that listing names and
validating recipes never imports torch, LightGBM or scikit-learn.
"""

from __future__ import annotations

import importlib
from typing import Any, Generic, TypeVar

from trainwright.errors import ConfigError, did_you_mean

__all__ = ["Registry", "LEARNERS"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to components of one kind.

    Args:
        kind: what the entries are, used in error messages ("learner").

    Example:
        >>> r = Registry("thing")
        >>> r.register("json", "json:dumps")
        >>> r.get("json")([1])
        '[1]'
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Any] = {}

    def register(self, name: str, target: Any) -> None:
        """Register ``target`` (an object or a ``"module:attr"`` string) under ``name``."""
        if name in self._entries:
            raise ValueError(f"{self.kind} '{name}' is already registered")
        self._entries[name] = target

    def names(self) -> list[str]:
        """The registered names, in registration order."""
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def get(self, name: str) -> T:
        """Return the component registered as ``name``, importing it if needed.

        Raises:
            ConfigError: ``name`` is not registered; the message lists the known names.
        """
        if name not in self._entries:
            known = ", ".join(self._entries)
            raise ConfigError(
                f"unknown {self.kind} '{name}'. Known: {known}.{did_you_mean(name, self._entries)}"
            )
        target = self._entries[name]
        if isinstance(target, str):
            module, _, attr = target.partition(":")
            target = getattr(importlib.import_module(module), attr)
            self._entries[name] = target
        return target


LEARNERS: Registry = Registry("learner")
LEARNERS.register("lightgbm", "trainwright.models.gbdt:LightGBMLearner")
LEARNERS.register("linear", "trainwright.models.linear:LinearLearner")
LEARNERS.register("mlp", "trainwright.models.neural.tabular:MLPLearner")
