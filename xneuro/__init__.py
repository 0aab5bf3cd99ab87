"""xneuro: labeled, chunked, distributed neuroscience on xarray, Zarr and Dask.

Importing xneuro registers its xarray accessors (``obj.xneuro``, and the
accessors of the science modules). The science modules (``xneuro.encoding``,
``xneuro.hrf``, ``xneuro.dnn``, ``xneuro.rsa``, ``xneuro.berg``, ``xneuro.mass``,
``xneuro.io``) load on first use, and heavy engines (torch, tensorflow, jax,
cupy) only in the functions that need them.
"""

import importlib
from importlib.metadata import PackageNotFoundError, version
from types import ModuleType

from xneuro import accessors, datasets
from xneuro.core.info import show_versions
from xneuro.core.log import set_log_level, use_log_level
from xneuro.core.options import get_options, set_options
from xneuro.core.parallel import cluster
from xneuro.core.store import open, save

try:
    __version__ = version("xneuro")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "unknown"

#: science modules, imported on first attribute access (``xneuro.io.load_bold``)
_SUBMODULES = ("berg", "dnn", "encoding", "hrf", "io", "mass", "rsa")


def __getattr__(name: str) -> ModuleType:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_SUBMODULES])


__all__ = [
    "__version__",
    "accessors",
    "berg",
    "cluster",
    "datasets",
    "dnn",
    "encoding",
    "get_options",
    "hrf",
    "io",
    "mass",
    "open",
    "rsa",
    "save",
    "set_log_level",
    "set_options",
    "show_versions",
    "use_log_level",
]
