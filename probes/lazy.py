"""Lazy re-exports (PEP 562) for the probes' packages whose modules import pydantic, SQLAlchemy or
transformers: a package lists its public names in its ``__init__`` and each name's module is
imported on first use, so that importing the package (the CLI does, to mount its commands) stays
cheap and ``receipts --help`` fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, where: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that loads each name of ``where`` (name: module
    of the package that defines it) on first access."""

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{where[name]}"), name)

    return __getattr__
