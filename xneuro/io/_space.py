"""Where the voxels of a labeled object sit in an image: grid, affine, header, positions.

Writers find the image space in this order: explicit ``affine=``/``shape=``,
then ``like=`` (an image file, a nibabel image or a labeled object read from
one), then the object's own attrs (as :func:`xneuro.io.load_bold` sets them).
Voxel positions come from the object's ``i, j, k`` coords, else from
``like``'s coords (matched by ``voxel`` label), else from ``mask=`` (the
``n``-th voxel of the object is the ``n``-th voxel of the mask in file order).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from xneuro.core.errors import DimensionError, input_error
from xneuro.io._files import check_path, load_image_header
from xneuro.io._objects import space_attrs
from xneuro.io.masks import resolve_mask
from xneuro.io.nifti import flat_indices, header_fields

__all__ = ["VolumeSpace", "volume_space"]


@dataclass
class VolumeSpace:
    """The grid the voxels are written to."""

    affine: np.ndarray
    shape: tuple[int, int, int]
    flat: np.ndarray  # Fortran-order flat index of each voxel of the object, in its order
    header: dict[str, Any] = field(default_factory=dict)
    fmt: str = "nifti1"


def _like_info(like: Any) -> tuple[np.ndarray | None, tuple[int, ...] | None, dict[str, Any],
                                   xr.DataArray | xr.Dataset | None, str]:
    """Affine, shape, header fields and labeled coords offered by ``like``."""
    if like is None:
        return None, None, {}, None, "nifti1"
    if isinstance(like, xr.DataArray | xr.Dataset):
        attrs = {**like.attrs, **space_attrs(like)}
        affine = np.asarray(attrs["affine"], float) if "affine" in attrs else None
        shape = tuple(attrs["volume_shape"]) if "volume_shape" in attrs else None
        return affine, shape, dict(attrs.get("header", {})), like, attrs.get("format", "nifti1")
    img = like
    if isinstance(like, str | os.PathLike):
        img = load_image_header(check_path(like, "like"), "like")
    if not (hasattr(img, "affine") and hasattr(img, "shape")) or img.affine is None:
        raise input_error("like", f"is a {type(like).__name__}",
                          expected="an image path, a nibabel image with an affine, or a "
                          "labeled object read with xneuro.io", fix="pass like='bold.nii.gz'")
    fields = header_fields(img.header) if hasattr(img.header, "get_sform") else {}
    fmt = "nifti2" if type(img).__name__.startswith("Nifti2") else "nifti1"
    return np.asarray(img.affine, float), tuple(int(n) for n in img.shape[:3]), fields, None, fmt


def _positions(obj: xr.DataArray | xr.Dataset, labeled: Any, mask: Any,
               shape: tuple[int, int, int] | None, affine: np.ndarray | None,
               argument: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    if all(c in obj.coords for c in "ijk"):
        return tuple(np.asarray(obj[c].values) for c in "ijk")  # type: ignore[return-value]
    if labeled is not None and all(c in labeled.coords for c in "ijk"):
        if "voxel" in obj.indexes and "voxel" in labeled.indexes:
            position = labeled.indexes["voxel"].get_indexer(obj.indexes["voxel"])
            if (position < 0).any():
                raise input_error(argument, f"has {int((position < 0).sum())} voxel labels "
                                  "that like= does not have", expected="voxels of like",
                                  fix="pass like= the object these voxels came from")
            return tuple(np.asarray(labeled[c].values)[position]  # type: ignore[return-value]
                         for c in "ijk")
        if labeled.sizes.get("voxel") == obj.sizes["voxel"]:
            return tuple(np.asarray(labeled[c].values) for c in "ijk")  # type: ignore[return-value]
    if mask is not None:
        if shape is None or affine is None:
            raise input_error("mask", "is given but the image grid is unknown",
                              expected="like= or affine= and shape= as well",
                              fix="pass like='bold.nii.gz'")
        volume = resolve_mask(mask, shape=shape, affine=affine, data_name="of like=/shape=")
        flat = np.flatnonzero(volume.ravel(order="F"))
        if flat.size != obj.sizes["voxel"]:
            raise input_error(argument, f"has {obj.sizes['voxel']} voxels but the mask keeps "
                              f"{flat.size}", cls=DimensionError,
                              expected="one voxel per mask voxel",
                              fix="pass the mask the data were loaded with")
        return np.unravel_index(flat, shape, order="F")  # type: ignore[return-value]
    return None


def volume_space(obj: xr.DataArray | xr.Dataset, *, like: Any = None, affine: Any = None,
                 shape: Any = None, mask: Any = None, argument: str = "obj") -> VolumeSpace:
    """Resolve the image grid and voxel positions of ``obj`` (see the module docstring).

    Raises
    ------
    InputError
        If no source gives the affine, or no source gives the voxel positions.
    """
    like_affine, like_shape, fields, labeled, fmt = _like_info(like)
    own = space_attrs(obj)
    own_affine = own.get("affine")
    header = fields or dict(own.get("header", {}))
    if affine is not None:
        resolved_affine = np.asarray(affine, float)
        if resolved_affine.shape != (4, 4):
            raise input_error("affine", f"has shape {resolved_affine.shape}",
                              expected="a 4x4 voxel-to-world matrix",
                              fix="pass e.g. affine=np.diag([2, 2, 2, 1])")
        header = {}
    elif like_affine is not None:
        resolved_affine = like_affine
    elif own_affine is not None:
        resolved_affine = np.asarray(own_affine, float)
    else:
        raise input_error(argument, "carries no image space (no 'affine' attr)",
                          expected="an object read by xneuro.io, or like=/affine=",
                          fix="pass like= the BOLD file or object the voxels came from, "
                          "or affine= (and shape=)")
    resolved_shape = shape if shape is not None else like_shape
    if resolved_shape is None and affine is None:
        resolved_shape = own.get("volume_shape")
    ijk = _positions(obj, labeled, mask, None if resolved_shape is None else
                     tuple(int(n) for n in resolved_shape), resolved_affine, argument)
    if ijk is None:
        raise input_error(argument, "has no voxel positions (no i, j, k coords on voxel)",
                          expected="coords i, j, k, or like= a labeled object with them, or "
                          "mask=", fix="pass like=bold (the object the voxels came from) or "
                          "mask= the mask the data were loaded with")
    if resolved_shape is None:
        resolved_shape = tuple(int(np.max(a)) + 1 if np.size(a) else 1 for a in ijk)
    resolved_shape = tuple(int(n) for n in resolved_shape)
    if len(resolved_shape) != 3:
        raise input_error("shape", f"is {resolved_shape}", expected="three spatial sizes",
                          fix="pass shape=(ni, nj, nk)")
    flat = flat_indices(*ijk, resolved_shape, argument)
    if flat.size > 1 and not np.all(np.diff(np.sort(flat)) > 0):
        raise input_error(argument, "has several voxels at the same (i, j, k)",
                          expected="one value per voxel position",
                          fix="drop the duplicate voxels before writing")
    return VolumeSpace(affine=resolved_affine, shape=resolved_shape, flat=flat,
                       header=header, fmt=fmt)
