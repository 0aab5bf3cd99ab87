"""NIfTI-1/2 volumes: header facts, voxel coordinates and the lazy data layout.

A volume's voxels are listed in file order (``i`` fastest, then ``j``, then
``k``: NIfTI's Fortran order), so a chunk of consecutive voxels is a slab of
slices that is read without touching the rest of the file. Each voxel carries
its indices ``i, j, k`` and its world position ``world_x, world_y, world_z``
(the affine applied to ``i, j, k``, in the header's spatial unit).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xneuro.core.errors import DimensionError, input_error
from xneuro.io._blocks import RawLayout, output_dtype, scaling
from xneuro.io._files import is_gzip, truncated_error

__all__ = ["TIME_SCALE", "VolumeInfo", "flat_indices", "header_fields", "nifti_info",
           "voxel_coords"]

logger = logging.getLogger("xneuro.io.nifti")

TIME_SCALE = {"sec": 1.0, "msec": 1e-3, "usec": 1e-6}


@dataclass
class VolumeInfo:
    """What a reader needs to know about a 3-D or 4-D volume file.

    Attributes
    ----------
    path : Path
        The file.
    format : str
        ``"nifti1"``, ``"nifti2"`` or ``"mgh"``.
    shape : tuple of int
        The three spatial dims.
    n_time : int or None
        Volumes in a 4-D file, None for 3-D.
    affine : ndarray, shape (4, 4)
        Voxel to world transform.
    tr : float or None
        Seconds between volumes, from the header (None when unknown).
    layout : RawLayout
        Where the data are stored.
    gzip : bool
        Whether the file is gzip-compressed.
    header : dict
        Header fields kept as attrs so that writers can restore them.
    spatial_unit : str
        Unit of the world coordinates.
    """

    path: Path
    format: str
    shape: tuple[int, int, int]
    n_time: int | None
    affine: np.ndarray
    tr: float | None
    layout: RawLayout
    gzip: bool
    header: dict[str, Any] = field(default_factory=dict)
    spatial_unit: str = "mm"

    def attrs(self) -> dict[str, Any]:
        """Attrs that place the voxels back in this image's space."""
        return {
            "format": self.format,
            "source": os.fspath(self.path),
            "affine": self.affine.tolist(),
            "volume_shape": [int(n) for n in self.shape],
            "header": dict(self.header),
        }


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, bytes | np.bytes_):
        return bytes(value).split(b"\x00")[0].decode("latin-1")
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def header_fields(header: Any) -> dict[str, Any]:
    """Header fields kept in ``attrs["header"]`` (JSON-ready) so that writers can restore them."""
    sform, sform_code = header.get_sform(coded=True)
    qform, qform_code = header.get_qform(coded=True)
    units = header.get_xyzt_units()
    freq, phase, slice_ = header.get_dim_info()
    intent_name, intent_params, intent_label = header.get_intent()
    return {
        "sform": (header.get_sform() if sform is None else sform).tolist(),
        "sform_code": int(sform_code),
        "qform": (header.get_qform() if qform is None else qform).tolist(),
        "qform_code": int(qform_code),
        "zooms": [float(z) for z in header.get_zooms()],
        "xyzt_units": [str(units[0]), str(units[1])],
        "dtype": header.get_data_dtype().newbyteorder("=").str,
        "descrip": _plain(header["descrip"]),
        "dim_info": [-1 if v is None else int(v) for v in (freq, phase, slice_)],
        "slice_duration": float(header["slice_duration"]),
        "toffset": float(header["toffset"]),
        "intent": [str(intent_name), [float(p) for p in intent_params], str(intent_label)],
    }


def check_data_size(layout: RawLayout, gz: bool) -> None:
    """Raise if an uncompressed file is shorter than its header promises.

    Gzip files cannot be checked without decompressing them; a truncated gzip
    file raises a clear error when its data are read.
    """
    if gz:
        return
    needed = layout.offset + layout.n_space * layout.n_time * np.dtype(layout.dtype).itemsize
    size = os.path.getsize(layout.path)
    if size < needed:
        raise truncated_error(layout.path, f"{size} bytes on disk, the header needs {needed}")


def nifti_info(img: Any, path: Path, *, dtype: Any = None) -> VolumeInfo:
    """Describe a NIfTI-1/2 image loaded (header only) by nibabel.

    Parameters
    ----------
    img : nibabel.Nifti1Image or nibabel.Nifti2Image
        The image, as returned by ``nibabel.load``.
    path : Path
        Its file.
    dtype : dtype, optional
        Dtype of the values read; default the on-disk dtype, or float32 when
        the header scales the values.

    Returns
    -------
    VolumeInfo

    Raises
    ------
    DimensionError
        If the image is not 3-D or 4-D.
    """
    shape = tuple(int(n) for n in img.shape)
    if len(shape) == 5 and shape[3] == 1:
        shape = (*shape[:3], shape[4])
    if len(shape) not in (3, 4):
        raise input_error("path", f"{os.fspath(path)!r} has shape {shape}", cls=DimensionError,
                          expected="a 3-D (i, j, k) or 4-D (i, j, k, time) image",
                          fix="split the extra dimensions into separate files, e.g. with "
                          "nibabel.funcs.four_to_three")
    header = img.header
    proxy = img.dataobj
    slope, inter = scaling(proxy)
    disk = np.dtype(proxy.dtype)
    n_time = shape[3] if len(shape) == 4 else None
    data_file = proxy.file_like if isinstance(proxy.file_like, str | os.PathLike) else path
    layout = RawLayout(
        path=os.fspath(data_file),
        offset=int(proxy.offset),
        dtype=disk.str,
        n_space=int(np.prod(shape[:3])),
        n_time=n_time or 1,
        time_first=False,
        slope=slope,
        inter=inter,
        out_dtype=output_dtype(disk, slope, inter, dtype).str,
    )
    gz = is_gzip(data_file)
    check_data_size(layout, gz)
    space_unit, time_unit = header.get_xyzt_units()
    tr = None
    if n_time is not None:
        zoom = float(header.get_zooms()[3])
        if zoom > 0:
            tr = zoom * TIME_SCALE.get(time_unit, 1.0)
            if time_unit not in TIME_SCALE:
                logger.info("%s: time unit %r, reading TR %g as seconds", path, time_unit, zoom)
    fmt = "nifti2" if type(img).__name__.startswith("Nifti2") else "nifti1"
    return VolumeInfo(
        path=Path(path), format=fmt, shape=shape[:3], n_time=n_time,
        affine=np.asarray(img.affine, dtype=float), tr=tr, layout=layout, gzip=gz,
        header=header_fields(header),
        spatial_unit=space_unit if space_unit != "unknown" else "mm",
    )


def voxel_coords(mask: np.ndarray, affine: np.ndarray, unit: str = "mm") -> dict[str, Any]:
    """Coords of the voxels of a 3-D ``mask``, in file (Fortran) order.

    Parameters
    ----------
    mask : ndarray of bool, shape (ni, nj, nk)
        Voxels to keep.
    affine : ndarray, shape (4, 4)
        Voxel to world transform.
    unit : str
        Unit of the world coordinates.

    Returns
    -------
    dict
        ``voxel`` (0..n-1), ``i``, ``j``, ``k`` and ``world_x``, ``world_y``,
        ``world_z``, ready for ``assign_coords``; and under the key ``"_flat"``
        the Fortran-order flat indices (not a coord).
    """
    flat = np.flatnonzero(mask.ravel(order="F"))
    ni, nj = mask.shape[0], mask.shape[1]
    rest, i = np.divmod(flat, ni)
    k, j = np.divmod(rest, nj)
    del rest
    i, j, k = i.astype(np.int32), j.astype(np.int32), k.astype(np.int32)
    a = np.asarray(affine, float)
    world = [a[row, 0] * i + a[row, 1] * j + a[row, 2] * k + a[row, 3] for row in range(3)]
    attrs = {"units": unit}
    return {
        "voxel": ("voxel", np.arange(flat.size)),
        "i": ("voxel", i),
        "j": ("voxel", j),
        "k": ("voxel", k),
        "world_x": ("voxel", world[0], attrs),
        "world_y": ("voxel", world[1], attrs),
        "world_z": ("voxel", world[2], attrs),
        "_flat": flat,
    }


def flat_indices(i: np.ndarray, j: np.ndarray, k: np.ndarray, shape: tuple[int, ...],
                 argument: str = "obj") -> np.ndarray:
    """Fortran-order flat indices of voxels ``(i, j, k)`` in a volume of ``shape``.

    Raises
    ------
    InputError
        If an index lies outside the volume.
    """
    ijk = [np.asarray(a, dtype=np.int64) for a in (i, j, k)]
    for name, values, size in zip("ijk", ijk, shape, strict=True):
        if values.size and (values.min() < 0 or values.max() >= size):
            raise input_error(f"{argument} coord {name!r}",
                              f"has values in [{values.min()}, {values.max()}]",
                              expected=f"indices inside the volume shape {tuple(shape)}",
                              fix="pass like=/shape= of the image the voxels came from")
    return np.ravel_multi_index(ijk, shape[:3], order="F")
