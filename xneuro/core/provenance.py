"""Provenance attributes: which xneuro call, with which settings, made an object.

Results carry five flat, JSON-serializable attributes (Zarr attrs must be JSON):

- ``xneuro_version``: the installed xneuro version;
- ``xneuro_function``: the public function that made the object;
- ``xneuro_settings``: the resolved settings, as canonical JSON;
- ``xneuro_fingerprint``: a short hash of those settings (:func:`fingerprint`);
- ``xneuro_created``: an ISO-8601 UTC timestamp.

A :class:`~xarray.DataTree` carries them on its root node.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import functools
import hashlib
import json
import math
import os
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any, TypeVar

import numpy as np
import xarray as xr

from xneuro.core.errors import input_error

__all__ = ["PROVENANCE_KEYS", "fingerprint", "has_provenance", "stamp", "to_json", "xneuro_version"]

PROVENANCE_KEYS: tuple[str, ...] = (
    "xneuro_version",
    "xneuro_function",
    "xneuro_settings",
    "xneuro_fingerprint",
    "xneuro_created",
)

T = TypeVar("T", xr.DataArray, xr.Dataset, xr.DataTree)


@functools.cache
def xneuro_version() -> str:
    """Return the installed xneuro version, or ``"unknown"`` when not installed.

    Looked up once per process (reading the package metadata takes milliseconds,
    and every stamped result asks).

    Returns
    -------
    str
        The version string.
    """
    try:
        return version("xneuro")
    except PackageNotFoundError:
        return "unknown"


def _plain(value: Any, where: str) -> Any:
    """Convert ``value`` to plain JSON types (dict, list, str, int, float, bool, None)."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        # NaN and inf are not JSON; spell them so the hash stays well defined.
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, enum.Enum):
        return _plain(value.value, where)
    if isinstance(value, np.generic):
        return _plain(value.item(), where)
    if isinstance(value, np.ndarray):
        return (
            [_plain(v, where) for v in value.tolist()]
            if value.ndim
            else _plain(value.item(), where)
        )
    if isinstance(value, np.dtype):
        return str(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return value.total_seconds()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return {"__class__": type(value).__qualname__, **_plain(fields, where)}
    if isinstance(value, Mapping):
        return {str(key): _plain(item, f"{where}[{key!r}]") for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, set | frozenset):
        items = [_plain(item, where) for item in value]
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
    if isinstance(value, type) or callable(value):
        module = getattr(value, "__module__", None)
        name = getattr(value, "__qualname__", None)
        if module and name and "<locals>" not in name and "<lambda>" not in name:
            return f"{module}.{name}"
    raise input_error(
        where,
        f"holds a {type(value).__name__}, which has no stable JSON form",
        expected="JSON-like values: str, numbers, bool, None, lists, dicts, numpy scalars "
        "or arrays, paths, dataclasses, or module-level functions and classes",
        fix="pass the value's name or its parameters instead of the object",
    )


def to_json(settings: Mapping[str, Any] | None) -> str:
    """Return the canonical JSON text of ``settings``.

    Keys are sorted, separators compact; numpy scalars and arrays, tuples, sets,
    paths, enums and dataclasses are converted to plain JSON first.

    Parameters
    ----------
    settings : Mapping or None
        The settings; ``None`` stands for no settings (``{}``).

    Returns
    -------
    str
        Canonical JSON.

    Raises
    ------
    InputError
        If ``settings`` is not a mapping, or holds a value with no stable JSON form.
    """
    if settings is None:
        settings = {}
    if not isinstance(settings, Mapping):
        raise input_error(
            "settings",
            f"is a {type(settings).__name__}",
            expected="a mapping of setting name to value",
            fix="pass a dict, e.g. settings={'alpha': 1.0}",
        )
    return json.dumps(
        _plain(settings, "settings"), sort_keys=True, separators=(",", ":"), ensure_ascii=True
    )


def fingerprint(settings: Mapping[str, Any] | None) -> str:
    """Return a short, stable hash of a settings mapping.

    The hash is the SHA-256 of the canonical JSON form (:func:`to_json`), so the
    order of keys does not matter, and a tuple hashes like the equal list and a
    numpy scalar like the equal Python number.

    Parameters
    ----------
    settings : Mapping or None
        The resolved settings of a call.

    Returns
    -------
    str
        The first 16 hexadecimal characters of the SHA-256 digest.

    Examples
    --------
    >>> fingerprint({"a": 1, "b": (2, 3)}) == fingerprint({"b": [2, 3], "a": 1})
    True
    """
    return hashlib.sha256(to_json(settings).encode("utf-8")).hexdigest()[:16]


def _check_object(obj: Any, argument: str = "obj") -> None:
    if not isinstance(obj, xr.DataArray | xr.Dataset | xr.DataTree):
        raise input_error(
            argument,
            f"is a {type(obj).__name__}",
            expected="an xarray DataArray, Dataset or DataTree",
            fix="wrap the data in an xarray object with named dims",
        )


def stamp(obj: T, function: str, settings: Mapping[str, Any] | None = None) -> T:
    """Return a shallow copy of ``obj`` with provenance attributes.

    Parameters
    ----------
    obj : DataArray, Dataset or DataTree
        The result to stamp; it is not modified. A DataTree is stamped on its
        root node.
    function : str
        The public function that made ``obj``, e.g. ``"xneuro.encoding.fit"``.
    settings : Mapping, optional
        The resolved settings of the call; must be JSON-like (see :func:`to_json`).

    Returns
    -------
    DataArray, Dataset or DataTree
        A shallow copy (data shared) whose attrs hold :data:`PROVENANCE_KEYS`;
        existing provenance attrs are replaced.

    Raises
    ------
    InputError
        If ``obj`` is not an xarray object, ``function`` not a string, or a
        setting has no JSON form.
    """
    _check_object(obj)
    if not isinstance(function, str) or not function:
        raise input_error(
            "function",
            f"is {function!r}",
            expected="the dotted name of the function that made the object",
            fix="pass e.g. function='xneuro.encoding.fit'",
        )
    text = to_json(settings)
    out = obj.copy(deep=False)
    out.attrs = {
        **out.attrs,
        "xneuro_version": xneuro_version(),
        "xneuro_function": function,
        "xneuro_settings": text,
        "xneuro_fingerprint": hashlib.sha256(text.encode("utf-8")).hexdigest()[:16],
        "xneuro_created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    return out


def has_provenance(obj: xr.DataArray | xr.Dataset | xr.DataTree) -> bool:
    """Return whether ``obj`` (the root node of a DataTree) carries all provenance attrs.

    Parameters
    ----------
    obj : DataArray, Dataset or DataTree
        The object to inspect.

    Returns
    -------
    bool
        True when every key of :data:`PROVENANCE_KEYS` is in ``obj.attrs``.
    """
    _check_object(obj)
    return all(key in obj.attrs for key in PROVENANCE_KEYS)
