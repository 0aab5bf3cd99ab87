"""Library logging: loggers under ``xneuro.*`` and a way to change their level."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from xneuro.core.errors import input_error

__all__ = ["set_log_level", "use_log_level"]

_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
logger = logging.getLogger("xneuro")
logger.addHandler(logging.NullHandler())


def _level(level: int | str) -> int:
    if isinstance(level, str) and level.upper() in _LEVELS:
        return getattr(logging, level.upper())
    if isinstance(level, int) and not isinstance(level, bool):
        return level
    raise input_error("level", f"got {level!r}", expected=f"an int or one of {_LEVELS}")


def set_log_level(level: int | str = "INFO") -> None:
    """Set the level of every ``xneuro.*`` logger, and print its records to stderr.

    Parameters
    ----------
    level : int or str
        A :mod:`logging` level, e.g. ``"INFO"`` or ``logging.DEBUG``.
    """
    logger.setLevel(_level(level))
    if not any(getattr(h, "_xneuro", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s: %(message)s"))
        handler._xneuro = True  # type: ignore[attr-defined]
        logger.addHandler(handler)


@contextlib.contextmanager
def use_log_level(level: int | str) -> Iterator[None]:
    """Change the xneuro log level inside a ``with`` block."""
    previous = logger.level
    logger.setLevel(_level(level))
    try:
        yield
    finally:
        logger.setLevel(previous)
