"""Subcommands of the ``xneuro`` command, one module each.

A module here defines ``register(subparsers)``, which adds its subparser and
sets ``func`` (called with the parsed arguments, returning an exit code).
Modules are found by name, so adding a command touches no other file.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

__all__ = ["command_modules"]


def command_modules() -> list[ModuleType]:
    """Import and return every command module, in name order."""
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
    return [importlib.import_module(f"{__name__}.{name}") for name in names]
