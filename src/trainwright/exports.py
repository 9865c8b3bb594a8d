"""Names a package exports, imported on first use: ``import trainwright`` (and the CLI's start-up) never pays
for torch, LightGBM or scikit-learn because a package's ``__init__`` lists its public names here instead of
importing them."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for a package whose public names live in submodules.

    Args:
        package: the package's ``__name__``.
        exports: public name -> the module that defines it.

    Example:
        >>> getattr_, dir_ = lazy_exports("demo", {"dumps": "json"})
        >>> getattr_("dumps")([1]), dir_()
        ('[1]', ['dumps'])
        >>> getattr_("loads")
        Traceback (most recent call last):
        ...
        AttributeError: module 'demo' has no attribute 'loads'
    """

    def __getattr__(name: str) -> Any:
        if name in exports:
            return getattr(importlib.import_module(exports[name]), name)
        raise AttributeError(f"module '{package}' has no attribute '{name}'")

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__
