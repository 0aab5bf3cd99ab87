"""From labeled BERG responses back to their spaces: the NSD volume and the 91k grayordinates."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from xneuro.berg.glasser import N_GRAYORDINATES
from xneuro.core.errors import DimensionError, input_error

__all__ = ["to_grayordinates", "to_volume"]


def _need(resp: Any, dim: str, coords: tuple[str, ...], function: str) -> None:
    if not isinstance(resp, xr.DataArray):
        raise input_error("resp", f"is a {type(resp).__name__}",
                          expected="a response DataArray from xneuro.berg.encode")
    missing = [c for c in (dim, *coords) if c not in resp.coords]
    if dim not in resp.dims or missing:
        raise input_error(
            "resp", f"has dims {resp.dims} and lacks coords {missing}",
            expected=f"a {dim!r} dim labeled with {(dim, *coords)}",
            fix=f"{function} needs the responses of a model whose outputs are {dim}s, "
            "as xneuro.berg.encode returns them", cls=DimensionError,
        )


def _scatter(block: np.ndarray, flat: np.ndarray, size: int, fill: float) -> np.ndarray:
    out = np.full((*block.shape[:-1], size), fill, dtype=np.result_type(block.dtype, fill))
    out[..., flat] = block
    return out


def to_volume(resp: xr.DataArray, roi: str | None = None,
              fill_value: float = np.nan) -> xr.DataArray:
    """Put fwRF voxel responses back into the subject's volume.

    Parameters
    ----------
    resp : DataArray
        Responses with a ``voxel`` dim labeled ``i, j, k`` and
        ``attrs["volume_shape"]`` (as :func:`xneuro.berg.encode` returns for
        ``fmri-nsd-fwrf``). Dask-backed input stays lazy.
    roi : str, optional
        Keep only this ROI's voxels (needed when ROIs overlap).
    fill_value : float
        Value outside the ROI(s).

    Returns
    -------
    DataArray
        ``voxel`` replaced by ``("i", "j", "k")``, e.g. (stimulus, 81, 104, 83)
        for subject 1; ``attrs["affine"]`` maps ``(i, j, k, 1)`` to mm.

    Raises
    ------
    DimensionError
        If ``resp`` has no labeled ``voxel`` dim, or voxels repeat a position.
    """
    _need(resp, "voxel", ("i", "j", "k"), "to_volume")
    if roi is not None:
        keep = np.asarray(resp["roi"].values == roi)
        if not keep.any():
            raise input_error("roi", f"{roi!r} is not among the responses' ROIs",
                              expected=f"one of {sorted(set(resp['roi'].values.tolist()))}")
        resp = resp.isel(voxel=keep)
    shape = tuple(int(n) for n in resp.attrs.get("volume_shape", ()))
    if len(shape) != 3:
        raise input_error("resp.attrs['volume_shape']", f"is {resp.attrs.get('volume_shape')!r}",
                          expected="the (i, j, k) volume shape the model's metadata gives")
    ijk = tuple(np.asarray(resp[c].values, dtype=np.int64) for c in "ijk")
    flat = np.ravel_multi_index(ijk, shape)
    if len(np.unique(flat)) != len(flat):
        raise input_error(
            "resp", "holds several responses for some voxel positions (overlapping ROIs)",
            fix=f"pass roi=<one of {sorted(set(resp['roi'].values.tolist()))}>",
            cls=DimensionError,
        )
    keep_coords = [c for c, v in resp.coords.items() if "voxel" not in v.dims]
    out = xr.apply_ufunc(
        _scatter, resp.reset_coords(drop=True).drop_vars(keep_coords, errors="ignore"),
        input_core_dims=[["voxel"]], output_core_dims=[["flat"]],
        kwargs={"flat": flat, "size": int(np.prod(shape)), "fill": fill_value},
        dask="parallelized", output_dtypes=[np.result_type(resp.dtype, fill_value)],
        dask_gufunc_kwargs={"output_sizes": {"flat": int(np.prod(shape))}},
    )
    data = out.data.reshape((*out.shape[:-1], *shape))
    dims = (*out.dims[:-1], "i", "j", "k")
    coords = {c: resp.coords[c] for c in resp.coords if "voxel" not in resp.coords[c].dims}
    coords.update({axis: np.arange(n) for axis, n in zip("ijk", shape, strict=True)})
    attrs = {**resp.attrs, "roi": roi if roi else ", ".join(dict.fromkeys(resp["roi"].values))}
    return xr.DataArray(data, dims=dims, coords=coords, name=resp.name, attrs=attrs)


def to_grayordinates(resp: xr.DataArray, fill_value: float = np.nan) -> xr.DataArray:
    """Expand MOSAIC vertex responses to the full 91,282-grayordinate HCP space.

    Parameters
    ----------
    resp : DataArray
        Responses with a ``vertex`` dim whose coordinate is the grayordinate
        index (as :func:`xneuro.berg.encode` returns for the MOSAIC model).
        Dask-backed input stays lazy.
    fill_value : float
        Value of the grayordinates without a response (NaN, as in BERG).

    Returns
    -------
    DataArray
        The same dims with ``vertex`` = 0..91281; per-vertex labels other than
        the index are dropped. For the whole model, 34,231 grayordinates per
        image are ``fill_value``.
    """
    _need(resp, "vertex", (), "to_grayordinates")
    n = int(resp.attrs.get("n_grayordinates", N_GRAYORDINATES))
    vertex = np.asarray(resp["vertex"].values)
    if vertex.dtype.kind not in "iu" or vertex.min() < 0 or vertex.max() >= n:
        raise input_error("resp['vertex']", "is not a grayordinate index",
                          expected=f"ints in [0, {n})", cls=DimensionError)
    labels = [c for c, v in resp.coords.items() if "vertex" in v.dims and c != "vertex"]
    return resp.drop_vars(labels).reindex(vertex=np.arange(n), fill_value=fill_value)
