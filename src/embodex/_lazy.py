"""Names a package re-exports from its modules, imported on first use (PEP 562), so that
importing the package does not import every module (and the layers or web stack they need)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, where: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: name → the submodule (``where[name]``) that
    defines it; the value is cached in the package once looked up."""

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        mod = importlib.import_module(f".{module}", package)
        value = getattr(mod, name)
        setattr(importlib.import_module(package), name, value)
        return value

    return __getattr__
