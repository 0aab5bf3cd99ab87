"""xarray accessors: one-line forwards to xneuro's public functions.

Accessors hold only ``self._obj`` and never validate in ``__init__``; every
method has a plain-function twin that takes the object as first argument.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr

from xneuro.core import schema, store

__all__ = ["XneuroAccessor"]


class XneuroAccessor:
    """``obj.xneuro``: storage and conversion of any xneuro object."""

    def __init__(self, obj: Any) -> None:
        self._obj = obj

    def save(self, path: str | Path, **kwargs: Any) -> Any:
        """Write to Zarr; see :func:`xneuro.save`."""
        return store.save(self._obj, path, **kwargs)

    def to_pandas(self) -> pd.DataFrame:
        """Convert to a braincoder-style DataFrame; see :func:`xneuro.core.schema.to_pandas`."""
        return schema.to_pandas(self._obj)


xr.register_dataarray_accessor("xneuro")(XneuroAccessor)
xr.register_dataset_accessor("xneuro")(XneuroAccessor)
xr.register_datatree_accessor("xneuro")(XneuroAccessor)
