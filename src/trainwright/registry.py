"""One generic registry: a name maps to a component and, optionally, to the config class that describes it.

Components register themselves with a decorator next to their definition, keyed by their config
class's ``type`` tag, so a component's name is written once (in its config). Third parties add components
through the entry-point group ``trainwright.plugins``: each entry point names a module (or an object in
one) whose import registers what it defines; ``load_plugins`` imports them once.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Generic, TypeVar

from trainwright.errors import ConfigError, TrainwrightError, did_you_mean

__all__ = ["Registry", "load_plugins", "PLUGIN_GROUP"]

T = TypeVar("T")
PLUGIN_GROUP = "trainwright.plugins"
_plugins_loaded = False


class Registry(Generic[T]):
    """Maps names to components of one kind, and to their config classes.

    Args:
        kind: what the entries are, used in error messages ("learner").

    Example:
        >>> r = Registry("thing")
        >>> r.register("json", "json:dumps")
        >>> r.get("json")([1])
        '[1]'
        >>> r.get("jsn")
        Traceback (most recent call last):
        ...
        trainwright.errors.ConfigError: unknown thing 'jsn'. Known: json. Did you mean 'json'?
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Any] = {}
        self._configs: dict[str, type] = {}

    def register(self, name: str, target: Any, *, config: type | None = None) -> None:
        """Register ``target`` (an object or a ``"module:attr"`` string) under ``name``, with its config class."""
        if name in self._entries:
            raise ValueError(f"{self.kind} '{name}' is already registered")
        self._entries[name] = target
        if config is not None:
            self._configs[name] = config

    def decorator(self, config: type) -> Callable[[T], T]:
        """A class decorator registering the class under its config's ``type`` tag; sets ``cls.name`` to it.

        Example:
            >>> import typing
            >>> from trainwright.config.base import Section
            >>> class TinyConfig(Section):
            ...     type: typing.Literal["tiny"] = "tiny"
            >>> things = Registry("thing")
            >>> @things.decorator(TinyConfig)
            ... class Tiny:
            ...     pass
            >>> Tiny.name, things.config_class("tiny").__name__
            ('tiny', 'TinyConfig')
        """
        from trainwright.config.base import type_name

        name = type_name(config)

        def register(cls: T) -> T:
            cls.name = name
            self.register(name, cls, config=config)
            return cls

        return register

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
            raise ConfigError(f"unknown {self.kind} '{name}'. Known: {known}.{did_you_mean(name, self._entries)}")
        target = self._entries[name]
        if isinstance(target, str):
            module, _, attr = target.partition(":")
            target = getattr(importlib.import_module(module), attr)
            self._entries[name] = target
        return target

    def config_class(self, name: str) -> type:
        """The config class registered with ``name``.

        Raises:
            ConfigError: ``name`` is unknown or was registered without a config class.
        """
        self.get(name)
        if name not in self._configs:
            raise ConfigError(f"{self.kind} '{name}' has no config class")
        return self._configs[name]

    def config_classes(self) -> list[type]:
        """Every registered config class, in registration order."""
        return [self._configs[n] for n in self._entries if n in self._configs]


def load_plugins() -> list[str]:
    """Import every ``trainwright.plugins`` entry point once (their imports register their components).

    Returns:
        The names of the entry points loaded by this call (empty once they are loaded).

    Raises:
        TrainwrightError: a plugin failed to import; the message names it and the fix.

    Example:
        >>> isinstance(load_plugins(), list)
        True
    """
    global _plugins_loaded
    if _plugins_loaded:
        return []
    _plugins_loaded = True
    from importlib.metadata import entry_points

    loaded = []
    for ep in entry_points(group=PLUGIN_GROUP):
        try:
            ep.load()
        except Exception as exc:  # noqa: BLE001 - a broken third-party package is named, not hidden
            raise TrainwrightError(f"the trainwright plugin '{ep.name}' ({ep.value}) failed to load: "
                                   f"{type(exc).__name__}: {exc}. Fix or uninstall the package that provides it.") from exc
        loaded.append(ep.name)
    return loaded
