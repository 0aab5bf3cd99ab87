"""What writers need to know about the object written: its dims, dtype and fill value."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from xneuro.core.errors import DimensionError, input_error

__all__ = ["SPACE_KEYS", "check_obj", "fill_value", "out_dtype", "row_dim", "series_tr",
           "space_attrs"]

#: Attrs that place voxels in an image; readers also put them on the ``i`` coord (volumes)
#: or the ``structure`` coord (grayordinates), whose attrs survive reductions and new
#: Datasets built from the data.
SPACE_KEYS = ("affine", "volume_shape", "header", "cifti_nvertices")


def check_obj(obj: Any, argument: str = "obj") -> None:
    if not isinstance(obj, xr.DataArray | xr.Dataset):
        raise input_error(argument, f"is a {type(obj).__name__}",
                          expected="an xarray DataArray or Dataset over 'voxel'",
                          fix="label the data first, e.g. with xneuro.core.schema.as_timeseries")
    if "voxel" not in obj.dims:
        raise input_error(argument, f"has dims {tuple(obj.dims)}", cls=DimensionError,
                          expected="a 'voxel' dim", fix="rename the spatial dim to 'voxel'")


def row_dim(da: xr.DataArray, argument: str) -> str | None:
    others = [d for d in da.dims if d != "voxel"]
    if len(others) > 1:
        raise input_error(argument, f"has dims {da.dims}", cls=DimensionError,
                          expected="'voxel' and at most one other dim (time, map, ...)",
                          fix=f"stack the others, e.g. {argument}.stack(volume={tuple(others)})"
                          " , or select one slice")
    return others[0] if others else None


def out_dtype(dtype: Any, data_dtype: np.dtype, argument: str) -> np.dtype:
    if dtype is not None:
        return np.dtype(dtype)
    if data_dtype.kind == "b":
        return np.dtype(np.uint8)
    if data_dtype == np.float16:
        return np.dtype(np.float32)
    if data_dtype.kind not in "iuf":
        raise input_error(argument, f"has dtype {data_dtype}", expected="numbers",
                          fix="convert it, e.g. obj.astype('float32')")
    return data_dtype.newbyteorder("=")


def fill_value(dtype: np.dtype) -> Any:
    return np.nan if dtype.kind == "f" else 0


def series_tr(da: xr.DataArray, row: str | None) -> float | None:
    if row != "time":
        return None
    tr = da.attrs.get("tr")
    if tr is None and "time" in da.coords and da.sizes["time"] > 1:
        tr = float(np.median(np.diff(np.asarray(da["time"].values, float))))
    return None if tr is None else float(tr)


def space_attrs(obj: xr.DataArray | xr.Dataset) -> dict[str, Any]:
    """The image-space attrs of ``obj``: its own attrs, else those of its ``i`` or
    ``structure`` coord (set by the readers)."""
    found: dict[str, Any] = {}
    for name in ("structure", "i"):
        if name in obj.coords:
            found.update({k: v for k, v in obj[name].attrs.items() if k in SPACE_KEYS})
    found.update({k: v for k, v in obj.attrs.items() if k in SPACE_KEYS})
    return found
