"""Read any supported image into a lazy labeled array over ``voxel``.

:func:`load_image` is the general reader (maps, label images, any 4-D file);
:func:`xneuro.io.load_bold` builds on it for BOLD runs. Formats are told
apart by nibabel from the file itself:

============  ==========================================  =====================
format        result                                      laziness
============  ==========================================  =====================
NIfTI-1/2     ``(voxel,)`` for 3-D, ``(volume, voxel)``   slabs per chunk
              for 4-D; coords ``i, j, k``, ``world_*``    (gzip: streamed)
MGH / MGZ     as NIfTI                                    as NIfTI
CIFTI-2       ``(time | map | voxel_, voxel)`` with       grayordinate ranges
              grayordinate coords                         per chunk
GIFTI         ``(volume, voxel)`` over vertices, or       read whole (XML)
              ``(voxel,)`` for one map
============  ==========================================  =====================
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dask.array as dsa
import numpy as np
import xarray as xr

from xneuro.core.errors import DimensionError, input_error
from xneuro.io._blocks import BlockReader, auto_unit_chunk, lazy_blocks
from xneuro.io._files import check_path, load_image_header, nibabel, unpack
from xneuro.io._objects import SPACE_KEYS
from xneuro.io.cifti import cifti_info
from xneuro.io.gifti import read_gifti_pair
from xneuro.io.masks import resolve_mask
from xneuro.io.mgh import mgh_info
from xneuro.io.nifti import VolumeInfo, nifti_info, voxel_coords

__all__ = ["load_image"]

logger = logging.getLogger("xneuro.io.read")

_SUFFIXES = (".dtseries.nii", ".dscalar.nii", ".dlabel.nii", ".dconn.nii", ".func.gii",
             ".shape.gii", ".label.gii", ".nii.gz", ".nii", ".gii", ".mgz", ".mgh")


def stem(path: Any) -> str:
    """A file's name without its imaging suffixes (``sub-01_bold.nii.gz`` -> ``sub-01_bold``)."""
    if isinstance(path, tuple | list):
        path = path[0]
    name = Path(path).name
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def unit_chunk(chunks: Any, n_time: int, itemsize: int, n_units: int,
               streamed: bool = False) -> int:
    """Resolve the ``chunks`` argument to a number of voxels per chunk.

    Raises
    ------
    InputError
        For anything but None, ``"auto"``, a positive int or ``{"voxel": int}``.
    """
    size: Any = chunks
    if isinstance(chunks, Mapping):
        unknown = [k for k in chunks if k not in ("voxel", "time")]
        if unknown or chunks.get("time", -1) not in (-1, None):
            raise input_error("chunks", f"is {dict(chunks)!r}",
                              expected="{'voxel': n}: images are chunked over voxels only, "
                              "time stays whole", fix="pass chunks={'voxel': 20_000}")
        size = chunks.get("voxel")
    if size is None or size == "auto" or size == -1:
        return n_units if size == -1 else auto_unit_chunk(n_time, itemsize, n_units,
                                                          streamed=streamed)
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size <= 0:
        raise input_error("chunks", f"is {chunks!r}",
                          expected="None or 'auto', a positive int, or {'voxel': n}",
                          fix="pass chunks={'voxel': 20_000}")
    return int(min(size, max(n_units, 1)))


def _unpacked(file: Path, info_gzip: bool, unpack_to: Any) -> Path | None:
    if unpack_to is None or not info_gzip:
        return None
    return unpack(file, unpack_to)


def _volume(file: Path, img: Any, *, mask: Any, chunks: Any, dtype: Any, unpack_to: Any,
            argument: str) -> xr.DataArray:
    nib = nibabel()
    reader_info = mgh_info if isinstance(img, nib.freesurfer.mghformat.MGHImage) else nifti_info
    info: VolumeInfo = reader_info(img, file, dtype=dtype)
    unpacked = _unpacked(file, info.gzip, unpack_to)
    if unpacked is not None:
        source = info
        info = reader_info(load_image_header(unpacked, argument), unpacked, dtype=dtype)
        info.header, info.path = source.header, source.path
    elif info.gzip and info.n_time:
        logger.info("%s is gzip-compressed: every voxel chunk decompresses the file from its "
                    "start; pass unpack_to= a folder to decompress it once", file)
    data_name = repr(os.fspath(file))

    def mean_image() -> np.ndarray:
        reader = BlockReader(info.layout)
        chunk = auto_unit_chunk(info.layout.n_time, reader.dtype.itemsize, reader.shape[1],
                                streamed=info.gzip)
        mean = lazy_blocks(reader, chunk, "xneuro-mean").mean(axis=0, dtype=np.float64)
        return np.asarray(mean.compute()).reshape(info.shape, order="F")

    volume = resolve_mask(mask, shape=info.shape, affine=info.affine, data_name=data_name,
                          mean_image=mean_image if info.n_time else None)
    coords = voxel_coords(volume, info.affine, info.spatial_unit)
    flat = coords.pop("_flat")
    reader = BlockReader(info.layout, flat)
    n_time = info.layout.n_time
    chunk = unit_chunk(chunks, n_time, reader.dtype.itemsize, flat.size, streamed=info.gzip)
    data = lazy_blocks(reader, chunk, f"xneuro-{info.format}")
    attrs = info.attrs()
    coords["i"] = (*coords["i"], _space_only(attrs))
    if info.n_time is None:
        return xr.DataArray(data[0], dims=("voxel",), coords=coords, attrs=attrs)
    if info.tr is not None:
        attrs["header_tr"] = info.tr
    return xr.DataArray(data, dims=("volume", "voxel"), coords=coords, attrs=attrs)


def _space_only(attrs: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attrs.items() if k in SPACE_KEYS}


def _surface_mask(mask: Any, n: int, argument: str) -> np.ndarray | None:
    if mask is None:
        return None
    values = np.asarray(mask)
    if values.ndim != 1 or values.size != n:
        raise input_error(argument, f"has shape {values.shape}", cls=DimensionError,
                          expected=f"None or a 1-D boolean array of {n} values, one per "
                          "grayordinate/vertex", fix="select grayordinates after loading, e.g. "
                          "bold.where(bold.structure == 'CIFTI_STRUCTURE_CORTEX_LEFT', drop=True)")
    keep = (values != 0) & np.isfinite(values.astype(float))
    if not keep.any():
        raise input_error(argument, "keeps no grayordinate", expected="at least one",
                          fix="check the mask")
    return keep


def _cifti(file: Path, img: Any, *, mask: Any, chunks: Any, dtype: Any, unpack_to: Any,
           argument: str) -> xr.DataArray:
    info = cifti_info(img, file, dtype=dtype)
    unpacked = _unpacked(file, info.gzip, unpack_to)
    if unpacked is not None:
        info = cifti_info(load_image_header(unpacked, argument), unpacked, dtype=dtype)
    keep = _surface_mask(mask, info.layout.n_space, "mask")
    units = None if keep is None else np.flatnonzero(keep)
    reader = BlockReader(info.layout, units)
    chunk = unit_chunk(chunks, info.layout.n_time, reader.dtype.itemsize, reader.shape[1],
                       streamed=info.gzip)
    data = lazy_blocks(reader, chunk, "xneuro-cifti")
    coords = dict(info.voxel_coords)
    if units is not None:
        coords = {k: (dim, np.asarray(v)[units], *rest) for k, (dim, v, *rest) in coords.items()}
        coords["voxel"] = ("voxel", units)
    coords.update(info.row_coords)
    attrs = {**info.attrs, **info.row_attrs}
    coords["structure"] = (*coords["structure"][:2], _space_only(attrs))
    return xr.DataArray(data, dims=(info.row_dim, "voxel"), coords=coords, attrs=attrs)


def _gifti(paths: tuple[Any, ...], *, mask: Any, chunks: Any, dtype: Any,
           argument: str) -> xr.DataArray:
    gifti = read_gifti_pair(paths, argument)
    values = gifti.values if dtype is None else gifti.values.astype(dtype)
    keep = _surface_mask(mask, values.shape[1], "mask")
    coords = dict(gifti.coords)
    if keep is not None:
        values = values[:, keep]
        coords = {k: (dim, np.asarray(v)[keep]) for k, (dim, v) in coords.items()}
    chunk = unit_chunk(chunks, values.shape[0], values.dtype.itemsize, values.shape[1])
    data = dsa.from_array(values, chunks=(values.shape[0], chunk))
    attrs = dict(gifti.attrs)
    coords["structure"] = (*coords["structure"][:2], _space_only(attrs))
    if gifti.labels:
        attrs["labels"] = {str(k): v for k, v in gifti.labels.items()}
    if gifti.tr is not None:
        attrs["header_tr"] = gifti.tr
    if values.shape[0] == 1:
        return xr.DataArray(data[0], dims=("voxel",), coords=coords, attrs=attrs)
    return xr.DataArray(data, dims=("volume", "voxel"), coords=coords, attrs=attrs)


def open_any(path: Any, *, mask: Any = None, chunks: Any = None, dtype: Any = None,
             unpack_to: Any = None, argument: str = "path") -> xr.DataArray:
    """Open one image (or a tuple of per-hemisphere GIFTI files) lazily; see :func:`load_image`."""
    if isinstance(path, tuple | list):
        if not path:
            raise input_error(argument, "is empty", expected="a path, or (left, right) GIFTI files",
                              fix="pass the image file")
        return _gifti(tuple(path), mask=mask, chunks=chunks, dtype=dtype, argument=argument)
    file = check_path(path, argument)
    img = load_image_header(file, argument)
    nib = nibabel()
    kwargs = {"mask": mask, "chunks": chunks, "dtype": dtype, "unpack_to": unpack_to,
              "argument": argument}
    if isinstance(img, nib.cifti2.Cifti2Image):
        return _cifti(file, img, **kwargs)
    if isinstance(img, nib.gifti.GiftiImage):
        return _gifti((file,), mask=mask, chunks=chunks, dtype=dtype, argument=argument)
    if isinstance(img, nib.Nifti1Pair | nib.Nifti2Pair | nib.freesurfer.mghformat.MGHImage):
        return _volume(file, img, **kwargs)
    raise input_error(argument, f"{os.fspath(file)!r} is a {type(img).__name__}",
                      expected="a NIfTI-1/2, CIFTI-2, GIFTI or MGH/MGZ file",
                      fix="convert it to NIfTI, e.g. with nibabel.save(nibabel.Nifti1Image(...))")


def load_image(
    path: str | os.PathLike[str] | tuple[str | os.PathLike[str], ...],
    *,
    mask: Any = None,
    chunks: int | Mapping[str, int] | str | None = None,
    dtype: Any = None,
    unpack_to: str | os.PathLike[str] | None = None,
) -> xr.DataArray:
    """Read an image file into a lazy DataArray over ``voxel``.

    Parameters
    ----------
    path : path, or tuple of paths
        A NIfTI-1/2 (``.nii``, ``.nii.gz``), CIFTI-2 (``.dtseries.nii``,
        ``.dscalar.nii``, ``.dlabel.nii``, ``.dconn.nii``), GIFTI (``.gii``) or
        MGH/MGZ file; a tuple of two GIFTI files is one per hemisphere.
    mask : optional
        Volumes: a mask file, nibabel image, 3-D array, labeled DataArray or
        a float threshold on the mean image (see
        :func:`xneuro.io.masks.resolve_mask`). CIFTI/GIFTI: a 1-D boolean array
        over grayordinates/vertices.
    chunks : int, {"voxel": int}, "auto" or None
        Voxels per dask chunk; time (or the map axis) is never split. By
        default a chunk holds about 32 MiB for uncompressed files, and dask's
        ``array.chunk-size`` (128 MiB unless configured) for gzip files, where
        every chunk decompresses the stream from its start.
    dtype : dtype, optional
        Dtype of the values; default the on-disk dtype, or float32 where the
        header scales the values (``scl_slope``/``scl_inter``).
    unpack_to : path, optional
        For gzip-compressed files: a folder where the file is decompressed
        once, so that chunks read slabs instead of each streaming through the
        whole compressed file.

    Returns
    -------
    xarray.DataArray
        Dask-backed. Volumes: ``(voxel,)`` for 3-D, ``(volume, voxel)`` for
        4-D, voxels in file order (``i`` fastest), coords ``i, j, k`` and
        ``world_x, world_y, world_z``; attrs ``affine``, ``volume_shape``,
        ``header`` (fields a writer restores), ``format``, ``source``,
        ``header_tr`` (seconds). CIFTI: ``(time | map | voxel_, voxel)`` with
        coords ``structure, vertex, i, j, k, hemi`` (see :mod:`xneuro.io.cifti`).
        GIFTI: like CIFTI surface grayordinates.

    Raises
    ------
    InputError
        If the file is missing, unreadable or truncated, the mask does not fit
        (the message names both grids), or a CIFTI file has no brain-model axis.

    Examples
    --------
    >>> x_map = xneuro.io.load_image("x_map.nii.gz", mask="brainmask.nii.gz")  # doctest: +SKIP
    """
    da = open_any(path, mask=mask, chunks=chunks, dtype=dtype, unpack_to=unpack_to)
    return da.rename(stem(path))
