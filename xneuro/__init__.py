"""xneuro: labeled, chunked, distributed neuroscience on xarray, Zarr and Dask.

Importing xneuro registers its xarray accessors (``obj.xneuro``, and the
accessors of the science modules). Heavy engines (torch, tensorflow, jax,
cupy) are imported only by the functions that need them.
"""

from importlib.metadata import PackageNotFoundError, version

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

__all__ = [
    "__version__",
    "accessors",
    "cluster",
    "datasets",
    "get_options",
    "open",
    "save",
    "set_log_level",
    "set_options",
    "show_versions",
    "use_log_level",
]
