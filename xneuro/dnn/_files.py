"""Checks shared by the readers and writers of dnnbrain's text files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from xneuro.core.errors import input_error

__all__ = ["check_suffix"]


def check_suffix(fname: Any, suffix: str, kind: str, example: str | None = None) -> Path:
    """Return ``fname`` as a Path, or raise if it is not a path ending in ``suffix``.

    Parameters
    ----------
    fname : str or PathLike
        The file name given by the user.
    suffix : str
        The required ending, e.g. ``".dmask.csv"``.
    kind : str
        What the file is, for the message (``"mask"``, ``"stimulus"``).
    example : str, optional
        An example stem suggested in the fix (``"roi"`` gives ``'roi.dmask.csv'``).
    """
    if not isinstance(fname, str | os.PathLike):
        raise input_error("fname", f"is a {type(fname).__name__}", expected="a file path")
    path = Path(fname)
    if not path.name.endswith(suffix):
        raise input_error(
            "fname",
            f"{os.fspath(path)!r} does not end with {suffix!r}",
            expected=f"a dnnbrain {kind} file name ending in {suffix}",
            fix=f"name the file e.g. '{example}{suffix}'" if example else None,
        )
    return path
