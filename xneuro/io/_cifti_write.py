"""Build CIFTI-2 images from labeled objects over grayordinates (in memory, with nibabel)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from xneuro.core.errors import DimensionError, input_error
from xneuro.io._files import check_path, load_image_header, nibabel
from xneuro.io._objects import fill_value, out_dtype, row_dim
from xneuro.io.cifti import as_str, brain_model_axis, row_axis

__all__ = ["CIFTI_SUFFIXES", "cifti_image"]

_CIFTI_INTENTS = {"time": "ConnDenseSeries", "map": "ConnDenseScalar", "voxel_": "ConnDense"}
CIFTI_SUFFIXES = {"time": ".dtseries.nii", "map": ".dscalar.nii", "voxel_": ".dconn.nii"}


def _like_axis(like: Any) -> tuple[Any, xr.DataArray | xr.Dataset | None]:
    nib = nibabel()
    if like is None:
        return None, None
    if isinstance(like, xr.DataArray | xr.Dataset):
        return brain_model_axis(like, "voxel", argument="like"), like
    img = load_image_header(check_path(like, "like"), "like") if isinstance(
        like, str | os.PathLike) else like
    if not isinstance(img, nib.cifti2.Cifti2Image):
        raise input_error("like", f"is a {type(img).__name__}", expected="a CIFTI-2 image",
                          fix="pass like= a .dtseries.nii or .dscalar.nii file")
    axis = img.header.get_axis(img.ndim - 1)
    if not isinstance(axis, nib.cifti2.cifti2_axes.BrainModelAxis):
        raise input_error("like", "has no brain-model axis", expected="a dense CIFTI file",
                          fix="pass like= a .dtseries.nii or .dscalar.nii file")
    return axis, None


def _keys(structure: Any, vertex: Any, ijk: np.ndarray) -> list[tuple[Any, ...]]:
    return list(zip(as_str(structure), np.asarray(vertex).tolist(),
                    *np.asarray(ijk).T.tolist(), strict=True))


def _cifti_columns(obj: xr.DataArray | xr.Dataset, like: Any, argument: str
                   ) -> tuple[Any, np.ndarray]:
    """The brain-model axis to write and, for each voxel of obj, its column in it."""
    axis, _ = _like_axis(like)
    n = obj.sizes["voxel"]
    if axis is None:
        return brain_model_axis(obj, "voxel", argument=argument), np.arange(n)
    if all(c in obj.coords for c in ("structure", "vertex", "i", "j", "k")):
        ref = pd.Index(_keys(axis.name, axis.vertex, axis.voxel))
        ijk = np.stack([obj[c].values for c in "ijk"], axis=1)
        mine = _keys(obj["structure"].values, obj["vertex"].values, ijk)
        columns = ref.get_indexer(mine)
        if (columns < 0).any():
            raise input_error(argument, f"has {int((columns < 0).sum())} grayordinates that "
                              "like= does not have", expected="grayordinates of like",
                              fix="pass like= the CIFTI file the data came from")
        return axis, columns
    if n == len(axis):
        return axis, np.arange(n)
    raise input_error(argument, f"has {n} voxels without grayordinate coords but like= has "
                      f"{len(axis)}", cls=DimensionError, expected="the same grayordinates",
                      fix="keep the coords structure, vertex, i, j, k on voxel")


def cifti_image(obj: xr.DataArray | xr.Dataset, like: Any, dtype: Any,
                argument: str) -> tuple[Any, str | None]:
    """Build a ``Cifti2Image`` from ``obj`` (see :func:`xneuro.io.to_cifti`).

    Returns
    -------
    tuple
        The image and the name of its row dim (``"time"``, ``"map"``,
        ``"voxel_"`` or None for a single map).
    """
    nib = nibabel()
    if isinstance(obj, xr.Dataset):
        names = [str(n) for n, v in obj.data_vars.items() if v.dims == ("voxel",)]
        if not names:
            raise input_error(argument, "has no 1-D variable over 'voxel'", cls=DimensionError,
                              expected="maps over voxel", fix="pass a Dataset of maps")
        da = xr.concat([obj[n] for n in names], dim="map", coords="minimal",
                       compat="override", join="override").assign_coords(map=names)
        da.attrs = dict(obj.attrs)
        row: str | None = "map"
    else:
        da = obj
        row = row_dim(da, argument)
    axis, columns = _cifti_columns(da, like, argument)
    out = out_dtype(dtype, da.dtype, argument)
    values = np.asarray(da.transpose(*(() if row is None else (row,)), "voxel").values)
    values = values.reshape(-1, da.sizes["voxel"])
    if columns.size == len(axis) and np.array_equal(columns, np.arange(len(axis))):
        full = values.astype(out, copy=False)  # every grayordinate, in order: no copy
    else:
        full = np.full((values.shape[0], len(axis)), fill_value(out), dtype=out)
        full[:, columns] = values
    rows = row_axis(da, row)
    img = nib.Cifti2Image(full, header=(rows, axis))
    img.nifti_header.set_intent(_CIFTI_INTENTS.get(row or "map", "ConnDenseScalar"))
    return img, row
