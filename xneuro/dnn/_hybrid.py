"""``hybridmethod``: a method usable on the class (a constructor) and on an instance.

dnnbrain's containers load into an existing object (``a = Activation();
a.load(f)``); the xneuro idiom is a constructor (``Activation.load(f)``).
Both work: on the class, the method runs on a fresh instance.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

__all__ = ["hybridmethod"]


class hybridmethod:
    """Decorator: ``Class.method(...)`` calls the method on ``Class()``."""

    def __init__(self, func: Callable[..., Any]) -> None:
        self.func = func
        functools.update_wrapper(self, func)

    def __get__(self, instance: Any, owner: type) -> Callable[..., Any]:
        target = owner() if instance is None else instance
        return functools.partial(self.func, target)
