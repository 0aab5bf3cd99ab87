"""Brain masks for volume data: a file, an image, an array, a labeled array, or a threshold.

A mask decides which voxels of a volume become the ``voxel`` dim. It must sit
on the data's voxel grid: same shape and (for files and images) same affine;
otherwise the error names both grids.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from numbers import Real
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from xneuro.core.errors import DimensionError, input_error
from xneuro.io._files import check_path, load_image_header, nibabel
from xneuro.io._objects import space_attrs

__all__ = ["AFFINE_TOLERANCE", "resolve_mask", "show_affine"]

logger = logging.getLogger("xneuro.io.masks")

#: Affines that differ by less than this (in world units) are the same grid.
AFFINE_TOLERANCE = 1e-4


def show_affine(affine: np.ndarray) -> str:
    """The top three rows of an affine, compactly, for messages."""
    rows = ["[" + ", ".join(f"{v:g}" for v in row) + "]" for row in np.asarray(affine)[:3]]
    return "[" + ", ".join(rows) + "]"


def _grid_error(argument: str, what: str, shape: tuple[int, ...], affine: np.ndarray | None,
                data_shape: tuple[int, ...], data_affine: np.ndarray, data_name: str) -> Exception:
    mask_grid = f"shape {tuple(shape)}" + (
        f" and affine {show_affine(affine)}" if affine is not None else "")
    return input_error(
        argument,
        f"{what} has {mask_grid}, but the data {data_name} have shape {tuple(data_shape)} "
        f"and affine {show_affine(data_affine)}",
        expected="a mask on the data's voxel grid (same shape and affine)",
        fix="resample the mask to the data grid with nearest-neighbour interpolation "
        "(e.g. nilearn.image.resample_to_img(mask, bold, interpolation='nearest')) "
        "or pass the mask made for this image",
        cls=DimensionError,
    )


def _from_image(img: Any, what: str, argument: str, shape: tuple[int, int, int],
                affine: np.ndarray, data_name: str) -> np.ndarray:
    mask_shape = tuple(int(n) for n in img.shape)
    if len(mask_shape) == 4 and mask_shape[3] == 1:
        mask_shape = mask_shape[:3]
    mask_affine = np.asarray(img.affine, float)
    if mask_shape != tuple(shape) or not np.allclose(mask_affine, affine, atol=AFFINE_TOLERANCE):
        raise _grid_error(argument, what, mask_shape, mask_affine, shape, affine, data_name)
    values = np.asanyarray(img.dataobj).reshape(mask_shape)
    return np.asarray(values != 0) & np.isfinite(values)


def _from_labeled(mask: xr.DataArray, argument: str, shape: tuple[int, int, int],
                  affine: np.ndarray, data_name: str) -> np.ndarray:
    coords = [c for c in ("i", "j", "k") if c not in mask.coords]
    if mask.ndim != 1 or coords:
        raise input_error(argument, f"is a DataArray with dims {mask.dims} lacking coords "
                          f"{coords}", cls=DimensionError,
                          expected="a 1-D DataArray over voxel with i, j, k coords "
                          "(as xneuro.io.load_image returns)",
                          fix="pass the mask file, or a 3-D boolean array")
    own = space_attrs(mask)
    mask_shape = tuple(own.get("volume_shape", shape))
    mask_affine = np.asarray(own.get("affine", affine), float)
    if mask_shape != tuple(shape) or not np.allclose(mask_affine, affine, atol=AFFINE_TOLERANCE):
        raise _grid_error(argument, "the labeled mask", mask_shape, mask_affine, shape, affine,
                          data_name)
    volume = np.zeros(shape, dtype=bool)
    values = np.asarray(mask.values)
    volume[mask["i"].values, mask["j"].values, mask["k"].values] = (values != 0) & np.isfinite(
        values.astype(float))
    return volume


def resolve_mask(
    mask: Any,
    *,
    shape: tuple[int, int, int],
    affine: np.ndarray,
    data_name: str,
    mean_image: Callable[[], np.ndarray] | None = None,
    argument: str = "mask",
) -> np.ndarray:
    """Turn any accepted ``mask`` into a boolean volume on the data grid.

    Parameters
    ----------
    mask : None, path, nibabel image, ndarray, DataArray or float
        - None: every voxel.
        - path or nibabel image: a 3-D image; non-zero, finite voxels are kept.
          Its shape and affine must equal the data's.
        - ndarray: a 3-D array of the data's shape (non-zero is kept).
        - DataArray over ``voxel`` with ``i, j, k`` coords (e.g. from
          :func:`xneuro.io.load_image`): its non-zero voxels.
        - float: a threshold; voxels whose temporal mean exceeds it are kept
          (this reads the data once).
    shape : tuple of int
        The data's spatial shape.
    affine : ndarray
        The data's affine.
    data_name : str
        How to name the data in messages (usually the file).
    mean_image : callable, optional
        Returns the temporal mean volume; needed for a threshold.
    argument : str
        Name of the argument in messages.

    Returns
    -------
    ndarray of bool, shape ``shape``

    Raises
    ------
    DimensionError
        If the mask is on another grid (the message names both grids).
    InputError
        If the mask is of an unknown type or keeps no voxel.
    """
    shape = tuple(int(n) for n in shape)  # type: ignore[assignment]
    if mask is None:
        volume = np.ones(shape, dtype=bool)
    elif isinstance(mask, str | os.PathLike):
        file = check_path(mask, argument)
        volume = _from_image(load_image_header(file, argument), f"{os.fspath(Path(file))!r}",
                             argument, shape, affine, data_name)
    elif hasattr(mask, "affine") and hasattr(mask, "dataobj"):
        volume = _from_image(mask, "the mask image", argument, shape, affine, data_name)
    elif isinstance(mask, xr.DataArray):
        volume = _from_labeled(mask, argument, shape, affine, data_name)
    elif isinstance(mask, bool | np.bool_):
        raise input_error(argument, f"is {mask!r}", expected="a mask image, array or threshold",
                          fix="pass mask=None to keep every voxel")
    elif isinstance(mask, Real):
        if mean_image is None:
            raise input_error(argument, f"is a threshold ({mask!r}) but this image has no time "
                              "axis to average", expected="a mask image or array",
                              fix="pass a mask image or a boolean array")
        logger.info("computing the mean image of %s for the mask threshold %g", data_name, mask)
        mean = mean_image()
        volume = np.isfinite(mean) & (mean > float(mask))
    elif isinstance(mask, np.ndarray) or hasattr(mask, "__array__"):
        values = np.asarray(mask)
        if values.shape != shape:
            raise input_error(argument, f"is an array of shape {values.shape}, but the data "
                              f"{data_name} have shape {shape}", cls=DimensionError,
                              expected="a 3-D array of the data's spatial shape",
                              fix="pass a mask made on the data's voxel grid")
        volume = (values != 0) & np.isfinite(values.astype(float))
    else:
        raise input_error(argument, f"is a {type(mask).__name__}",
                          expected="None, a mask file, a nibabel image, a 3-D array, a labeled "
                          "DataArray or a float threshold",
                          fix="pass e.g. mask='sub-01_brainmask.nii.gz'")
    if not volume.any():
        raise input_error(argument, f"keeps no voxel of {data_name}",
                          expected="at least one non-zero voxel",
                          fix="check the mask file, or lower the threshold")
    return volume


def image_from_path(path: Any, argument: str) -> Any:
    """Load an image header (used by writers and atlases)."""
    nibabel()
    return load_image_header(check_path(path, argument), argument)
