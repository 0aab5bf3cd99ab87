"""CIFTI-2 files: the brain-model axis as ``voxel`` coords, the other axis as time or maps.

A dense CIFTI matrix is ``(row, grayordinate)``. The grayordinate axis (a
CIFTI *brain-model* axis) becomes the ``voxel`` dim with coords
``structure`` (full CIFTI names, e.g. ``CIFTI_STRUCTURE_CORTEX_LEFT``),
``vertex`` (surface vertex, -1 for volume voxels), ``i, j, k`` (volume voxel,
-1 for vertices) and ``hemi`` (``"left"``, ``"right"`` or ``""``); the surface
vertex counts, the volume shape and affine go to attrs so that a writer can
rebuild the axis. The row axis becomes:

- a series axis in seconds (``.dtseries.nii``): ``time``, with ``attrs["tr"]``;
- a scalar or label axis (``.dscalar.nii``, ``.dlabel.nii``): ``map``, one
  coord value per map name (label tables go to ``attrs["cifti_labels"]``);
- another brain-model axis (``.dconn.nii``): ``voxel_``, with the same coords
  suffixed by ``_``.

Parcellated files (``.ptseries.nii`` ...) have no brain-model axis to index
voxels by and are refused with an error.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from xneuro.core.errors import DimensionError, input_error
from xneuro.io._blocks import RawLayout, output_dtype, scaling
from xneuro.io._files import is_gzip, nibabel
from xneuro.io._objects import space_attrs
from xneuro.io.nifti import check_data_size

__all__ = ["CiftiInfo", "as_str", "brain_model_axis", "brain_model_coords", "cifti_info", "row_axis"]



@dataclass
class CiftiInfo:
    """What a reader needs to know about a CIFTI-2 file."""

    path: Path
    layout: RawLayout
    row_dim: str
    row_coords: dict[str, Any]
    row_attrs: dict[str, Any]
    voxel_coords: dict[str, Any]
    attrs: dict[str, Any]
    gzip: bool

    @property
    def tr(self) -> float | None:
        return self.row_attrs.get("tr")


def as_str(values: Any) -> np.ndarray:
    """Values as a fixed-width ``str`` array (from object, ``<U`` or numpy StringDType)."""
    return np.asarray([str(v) for v in np.asarray(values).tolist()], dtype=str)


def _hemi_of(name: str) -> str:
    upper = name.upper()
    return "left" if "LEFT" in upper else "right" if "RIGHT" in upper else ""


def brain_model_coords(axis: Any, suffix: str = "") -> dict[str, Any]:
    """Coords of a nibabel ``BrainModelAxis`` on dim ``"voxel" + suffix``."""
    dim = "voxel" + suffix
    n = len(axis)
    structure = np.empty(n, dtype=object)
    hemi = np.empty(n, dtype=object)
    names = np.asarray(axis.name)
    starts = [0, *(np.flatnonzero(names[1:] != names[:-1]) + 1).tolist(), n]
    for start, stop in itertools.pairwise(starts):  # one run per structure
        structure[start:stop] = str(names[start])
        hemi[start:stop] = _hemi_of(str(names[start]))
    ijk = np.asarray(axis.voxel, dtype=np.int32)
    return {
        dim: (dim, np.arange(n)),
        "structure" + suffix: (dim, structure),
        "vertex" + suffix: (dim, np.asarray(axis.vertex, dtype=np.int32)),
        "i" + suffix: (dim, ijk[:, 0]),
        "j" + suffix: (dim, ijk[:, 1]),
        "k" + suffix: (dim, ijk[:, 2]),
        "hemi" + suffix: (dim, hemi),
    }


def brain_model_attrs(axis: Any) -> dict[str, Any]:
    """Attrs that rebuild a ``BrainModelAxis`` with :func:`brain_model_axis`."""
    attrs: dict[str, Any] = {
        "cifti_nvertices": {str(k): int(v) for k, v in axis.nvertices.items()},
    }
    if axis.volume_shape is not None:
        attrs["volume_shape"] = [int(n) for n in axis.volume_shape]
        attrs["affine"] = np.asarray(axis.affine, float).tolist()
    return attrs


def _row(axis: Any, ax: Any) -> tuple[str, dict[str, Any], dict[str, Any]]:
    if isinstance(axis, ax.SeriesAxis):
        values = axis.start + axis.step * np.arange(axis.size)
        if axis.unit == "SECOND":
            return "time", {"time": ("time", values, {"units": "s"})}, {"tr": float(axis.step)}
        return "series", {"series": ("series", values, {"units": axis.unit.lower()})}, {}
    if isinstance(axis, ax.LabelAxis):
        labels = {
            str(name): {str(key): [str(entry[0]), *map(float, entry[1])]
                        for key, entry in table.items()}
            for name, table in zip(axis.name, axis.label, strict=True)
        }
        return "map", {"map": ("map", np.asarray(axis.name).astype(object))}, {
            "cifti_labels": labels}
    if isinstance(axis, ax.ScalarAxis):
        return "map", {"map": ("map", np.asarray(axis.name).astype(object))}, {}
    if isinstance(axis, ax.BrainModelAxis):
        return "voxel_", brain_model_coords(axis, "_"), {}
    raise input_error("path", f"has a {type(axis).__name__} along its rows",
                      expected="a series, scalar, label or brain-model axis",
                      fix="convert it to a dense CIFTI with Connectome Workbench")


def cifti_info(img: Any, path: Path, *, dtype: Any = None) -> CiftiInfo:
    """Describe a CIFTI-2 image loaded (header only) by nibabel.

    Raises
    ------
    InputError
        If the file has no brain-model axis along its columns (e.g. a
        parcellated file) or is not 2-D.
    """
    ax = nibabel().cifti2.cifti2_axes
    shape = tuple(int(n) for n in img.shape)
    if len(shape) != 2:
        raise input_error("path", f"{os.fspath(path)!r} is a {len(shape)}-D CIFTI",
                          cls=DimensionError, expected="a 2-D dense CIFTI matrix",
                          fix="pass a .dtseries.nii or .dscalar.nii file")
    columns = img.header.get_axis(1)
    if not isinstance(columns, ax.BrainModelAxis):
        raise input_error(
            "path",
            f"{os.fspath(path)!r} has no brain-model axis (its columns are a "
            f"{type(columns).__name__})",
            expected="a dense CIFTI whose columns are grayordinates (.dtseries.nii, "
            ".dscalar.nii, .dlabel.nii)",
            fix="use the dense file the parcellated one was made from, or read it "
            "with nibabel.load directly",
        )
    row_dim, row_coords, row_attrs = _row(img.header.get_axis(0), ax)
    proxy = img.dataobj
    slope, inter = scaling(proxy)
    disk = np.dtype(proxy.dtype)
    layout = RawLayout(
        path=os.fspath(path), offset=int(proxy.offset), dtype=disk.str,
        n_space=shape[1], n_time=shape[0], time_first=proxy.order == "F",
        slope=slope, inter=inter, out_dtype=output_dtype(disk, slope, inter, dtype).str,
    )
    if not layout.time_first:
        raise input_error("path", f"{os.fspath(path)!r} stores its matrix in C order",
                          expected="a CIFTI-2 file as nibabel reads it (Fortran order)",
                          fix="re-save it with nibabel or Connectome Workbench")
    gz = is_gzip(path)
    check_data_size(layout, gz)
    attrs = {"format": "cifti2", "source": os.fspath(path), **brain_model_attrs(columns)}
    if row_dim == "voxel_":
        attrs["cifti_row_attrs"] = brain_model_attrs(img.header.get_axis(0))
    return CiftiInfo(path=Path(path), layout=layout, row_dim=row_dim, row_coords=row_coords,
                     row_attrs=row_attrs, voxel_coords=brain_model_coords(columns),
                     attrs=attrs, gzip=gz)


# --------------------------------------------------------------------------- writing


def brain_model_axis(obj: xr.DataArray | xr.Dataset, dim: str = "voxel",
                     attrs: dict[str, Any] | None = None, argument: str = "obj") -> Any:
    """Rebuild a nibabel ``BrainModelAxis`` from the coords of ``dim``.

    Parameters
    ----------
    obj : DataArray or Dataset
        Holds ``structure, vertex, i, j, k`` coords on ``dim`` (suffixed by
        ``_`` for ``voxel_``).
    dim : str
        ``"voxel"`` or ``"voxel_"``.
    attrs : dict, optional
        Where ``cifti_nvertices``, ``volume_shape`` and ``affine`` are found;
        default ``obj.attrs`` (or the attrs of its ``structure`` coord).
    argument : str
        Name of the argument in messages.

    Raises
    ------
    InputError
        If coords or attrs are missing.
    """
    ax = nibabel().cifti2.cifti2_axes
    suffix = dim[len("voxel"):]
    names = [name + suffix for name in ("structure", "vertex", "i", "j", "k")]
    missing = [name for name in names if name not in obj.coords]
    if missing:
        raise input_error(argument, f"lacks the grayordinate coords {missing} on {dim!r}",
                          expected="coords structure, vertex, i, j, k (as "
                          "xneuro.io.load_bold gives for CIFTI files)",
                          fix="pass like= a CIFTI file or object with the same grayordinates")
    attrs = space_attrs(obj) if attrs is None else attrs
    structure = as_str(obj[names[0]].values)
    vertex = np.asarray(obj[names[1]].values, dtype=np.int64)
    ijk = np.stack([np.asarray(obj[n].values, dtype=np.int64) for n in names[2:]], axis=1)
    surface = vertex >= 0
    nvertices = dict(attrs.get("cifti_nvertices", {}))
    for name in np.unique(structure[surface]):
        if name not in nvertices:
            nvertices[name] = int(vertex[structure == name].max()) + 1
    has_volume = bool((~surface).any())
    if has_volume and ("volume_shape" not in attrs or "affine" not in attrs):
        raise input_error(argument, "holds volume grayordinates but no volume_shape/affine "
                          "attrs", expected="attrs volume_shape and affine",
                          fix="pass like= the CIFTI file the data came from")
    return ax.BrainModelAxis(
        name=structure,
        voxel=np.where(surface[:, None], -1, ijk),
        vertex=np.where(surface, vertex, -1),
        affine=np.asarray(attrs["affine"], float) if has_volume else None,
        volume_shape=tuple(attrs["volume_shape"]) if has_volume else None,
        nvertices={k: v for k, v in nvertices.items() if k in set(structure[surface])},
    )


def row_axis(obj: xr.DataArray, row_dim: str | None, names: list[str] | None = None) -> Any:
    """The CIFTI row axis for ``obj``'s non-voxel dim (or the map ``names``)."""
    ax = nibabel().cifti2.cifti2_axes
    if row_dim is None:
        return ax.ScalarAxis(names or [str(obj.name or "map")])
    if row_dim == "voxel_":
        return brain_model_axis(obj, "voxel_", obj.attrs.get("cifti_row_attrs", obj.attrs))
    size = obj.sizes[row_dim]
    if row_dim == "time":
        values = np.asarray(obj["time"].values, float) if "time" in obj.coords else None
        tr = obj.attrs.get("tr")
        if tr is None and values is not None and values.size > 1:
            tr = float(np.median(np.diff(values)))
        start = float(values[0]) if values is not None and values.size else 0.0
        return ax.SeriesAxis(start=start, step=float(tr or 1.0), size=size, unit="SECOND")
    labels = (obj[row_dim].values if row_dim in obj.coords else np.arange(size))
    return ax.ScalarAxis([str(v) for v in labels])
