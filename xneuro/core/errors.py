"""Exceptions raised by xneuro, and the one way their messages are written.

Every error names what was wrong (an argument, a dimension, a variable), what
was expected, and the fix. :func:`input_error` builds such a message so that
all modules word their errors alike.
"""

from __future__ import annotations

__all__ = [
    "DimensionError",
    "InputError",
    "JobSettingsError",
    "MissingDependencyError",
    "XneuroError",
    "input_error",
]


class XneuroError(Exception):
    """Base class of every exception raised by xneuro."""


class InputError(XneuroError, ValueError):
    """An argument has the wrong value, type or content."""


class DimensionError(InputError):
    """An array has the wrong dimensions, sizes or chunking."""


class MissingDependencyError(XneuroError, ImportError):
    """An optional engine or package is needed but not installed."""


class JobSettingsError(XneuroError, RuntimeError):
    """A resumable job store was made with other settings than the current call."""


def _format(argument: str, problem: str, expected: str | None, fix: str | None) -> str:
    parts = [f"{argument}: {problem}"]
    if expected:
        parts.append(f"expected {expected}")
    if fix:
        parts.append(f"fix: {fix}")
    return "; ".join(parts) + ("" if parts[-1].endswith(".") else ".")


def input_error(
    argument: str,
    problem: str,
    *,
    expected: str | None = None,
    fix: str | None = None,
    cls: type[XneuroError] = InputError,
) -> XneuroError:
    """Build an error whose message names the argument, the expectation and the fix.

    Parameters
    ----------
    argument : str
        The argument, dimension or variable at fault, as the user wrote it.
    problem : str
        What was found.
    expected : str, optional
        What was expected instead.
    fix : str, optional
        What the user should do.
    cls : type, default InputError
        The exception class to instantiate.

    Returns
    -------
    XneuroError
        The exception, to be raised by the caller.

    Examples
    --------
    >>> raise input_error("bold", "has dims ('voxel',)", expected="dims ('time', 'voxel')",
    ...                   fix="transpose or add a time axis")  # doctest: +SKIP
    """
    return cls(_format(argument, problem, expected, fix))
