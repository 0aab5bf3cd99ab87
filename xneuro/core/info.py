"""``xneuro info``: versions, engines and devices of this installation."""

from __future__ import annotations

import importlib.metadata
import platform
import sys
from typing import Any, TextIO

from xneuro.core.backend import available_engines, engine_devices

__all__ = ["show_versions", "versions"]

_CORE = ("xneuro", "numpy", "scipy", "pandas", "xarray", "dask", "distributed", "zarr", "tqdm",
         "matplotlib")


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def versions(*, devices: bool = True) -> dict[str, Any]:
    """Collect versions of Python, xneuro's dependencies and engines, and devices.

    Parameters
    ----------
    devices : bool, default True
        Also list each installed engine's devices (this imports the engines).

    Returns
    -------
    dict
        With keys ``"system"``, ``"packages"``, ``"engines"`` and ``"devices"``.
    """
    engines = available_engines()
    return {
        "system": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "machine": platform.machine(),
        },
        "packages": {name: _version(name) for name in _CORE},
        "engines": engines,
        "devices": {
            name: engine_devices(name) for name, version in engines.items() if version and devices
        },
    }


def show_versions(file: TextIO | None = None, *, devices: bool = True) -> None:
    """Print versions, engines found and devices, for bug reports.

    Parameters
    ----------
    file : file-like, optional
        Where to write (default: standard output).
    devices : bool, default True
        Also list devices (imports the installed engines).
    """
    out = file or sys.stdout
    info = versions(devices=devices)
    lines = ["xneuro installation", ""]
    for section in ("system", "packages", "engines"):
        lines.append(f"{section}:")
        for key, value in info[section].items():
            lines.append(f"  {key:<12} {value if value is not None else 'not installed'}")
    if devices:
        lines.append("devices:")
        for key, value in info["devices"].items():
            lines.append(f"  {key:<12} {', '.join(value) if value else 'none found'}")
    print("\n".join(lines), file=out)
