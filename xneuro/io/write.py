"""Write labeled objects over ``voxel`` back to NIfTI or CIFTI images.

Any DataArray with a ``voxel`` dim (and at most one other dim, e.g. ``time``
or ``map``) or Dataset of such variables goes back to the image space it came
from (see :mod:`xneuro.io._space`): positions outside the object are NaN (0
for integer dtypes). NIfTI files are written chunk by chunk straight into the
file (a gzip file is written uncompressed first and then compressed in one
streamed pass), so a lazy object never has to fit in memory; CIFTI files are
built in memory by nibabel.
"""

from __future__ import annotations

import gzip
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import dask.array as dsa
import numpy as np
import xarray as xr

from xneuro.core.errors import DimensionError, input_error
from xneuro.io._blocks import auto_unit_chunk
from xneuro.io._cifti_write import CIFTI_SUFFIXES, cifti_image
from xneuro.io._files import check_path, load_image_header, nibabel
from xneuro.io._objects import check_obj, fill_value, out_dtype, row_dim, series_tr
from xneuro.io._space import VolumeSpace, volume_space
from xneuro.io.nifti import TIME_SCALE

__all__ = ["to_cifti", "to_image", "to_nifti"]

logger = logging.getLogger("xneuro.io.write")


# ----------------------------------------------------------------------------- NIfTI


def _nifti_header(space: VolumeSpace, n_row: int | None, dtype: np.dtype, tr: float | None
                  ) -> Any:
    nib = nibabel()
    shape = (*space.shape, n_row) if n_row is not None else space.shape
    big = max(shape) > 32767 or space.fmt == "nifti2"
    header = (nib.Nifti2Header if big else nib.Nifti1Header)()
    header.set_data_shape(shape)
    header.set_data_dtype(dtype)
    fields = space.header
    restore = bool(fields) and "sform" in fields and "qform" in fields
    if restore:
        best = fields["sform"] if fields.get("sform_code", 0) > 0 else fields["qform"]
        restore = np.allclose(np.asarray(best, float), space.affine, atol=1e-4)
    if restore:
        header.set_sform(np.asarray(fields["sform"]), code=int(fields["sform_code"]))
        header.set_qform(np.asarray(fields["qform"]), code=int(fields["qform_code"]))
        space_unit, time_unit = fields.get("xyzt_units", ["mm", "sec"])
        header.set_xyzt_units(space_unit, time_unit)
        zooms = list(fields.get("zooms", []))[:3]
        for key in ("slice_duration", "toffset"):
            header[key] = fields.get(key, 0.0)
        header["descrip"] = str(fields.get("descrip", ""))[:79].encode("latin-1", "replace")
        freq, phase, slice_ = (None if v < 0 else v for v in fields.get("dim_info", [-1] * 3))
        header.set_dim_info(freq, phase, slice_)
    else:
        header.set_sform(space.affine, code="aligned")
        header.set_qform(space.affine, code="unknown")
        header.set_xyzt_units("mm", "sec")
        time_unit = "sec"
        zooms = []
    if len(zooms) != 3:
        zooms = list(np.sqrt((space.affine[:3, :3] ** 2).sum(axis=0)))
    if n_row is not None:
        step = tr / TIME_SCALE.get(time_unit, 1.0) if tr is not None else 1.0
        zooms.append(step)
    header.set_zooms(zooms)
    if dtype.kind in "iu":
        header.set_slope_inter(1.0, 0.0)
    else:
        header.set_slope_inter(np.nan, np.nan)
    return header


class _SpanTarget:
    """A ``__setitem__`` target for :func:`dask.array.store`: writes each voxel chunk's span of
    every volume into an uncompressed NIfTI file, filling the unmasked voxels in between."""

    def __init__(self, path: str, offset: int, flat: np.ndarray, n_space: int,
                 dtype: np.dtype, fill: Any) -> None:
        self.path, self.offset, self.flat = path, offset, flat
        self.n_space, self.dtype, self.fill = n_space, dtype, fill

    def __setitem__(self, key: tuple[slice, slice], block: np.ndarray) -> None:
        times, voxels = key
        v0, v1 = voxels.start or 0, voxels.stop if voxels.stop is not None else self.flat.size
        lo = 0 if v0 == 0 else int(self.flat[v0])
        hi = self.n_space if v1 >= self.flat.size else int(self.flat[v1])
        t0 = times.start or 0
        positions = self.flat[v0:v1] - lo
        if positions.size == hi - lo:  # no gap: the block is the span
            span = block.astype(self.dtype, copy=False)
        else:
            span = np.full((block.shape[0], hi - lo), self.fill, dtype=self.dtype)
            span[:, positions] = block
        item = self.dtype.itemsize
        fd = os.open(self.path, os.O_WRONLY)
        try:
            for row in range(span.shape[0]):
                position = self.offset + ((t0 + row) * self.n_space + lo) * item
                os.pwrite(fd, memoryview(np.ascontiguousarray(span[row])).cast("B"), position)
        finally:
            os.close(fd)


def _voxel_data(da: xr.DataArray, row: str | None, order: np.ndarray) -> dsa.Array:
    data = da.transpose(*(() if row is None else (row,)), "voxel").data
    if not isinstance(data, dsa.Array):
        n = da.sizes.get(row, 1) if row else 1
        chunk = auto_unit_chunk(n, da.dtype.itemsize, da.sizes["voxel"])
        # name=False: a random name instead of hashing the whole array
        data = dsa.from_array(np.asarray(data), chunks=(n, chunk) if row else chunk, name=False)
    data = data if row is not None else data[None, :]
    data = data.rechunk({0: -1})
    if not np.array_equal(order, np.arange(order.size)):
        data = data[:, order]
    return data


def _write_nifti_file(da: xr.DataArray, path: Path, space: VolumeSpace, dtype: Any,
                      compresslevel: int, argument: str) -> Path:
    row = row_dim(da, argument)
    out = out_dtype(dtype, da.dtype, argument)
    header = _nifti_header(space, da.sizes[row] if row else None, out, series_tr(da, row))
    order = np.argsort(space.flat, kind="stable")
    flat = space.flat[order]
    data = _voxel_data(da, row, order)
    offset = 544 if type(header).__name__ == "Nifti2Header" else 352
    header["vox_offset"] = offset
    n_space = int(np.prod(space.shape))
    n_row = data.shape[0]
    gz = path.name.endswith(".gz")
    raw = path.with_name(path.name[:-3] + ".partial") if gz else path.with_name(
        path.name + ".partial")
    disk = out.newbyteorder(header.endianness)
    try:
        with open(raw, "wb") as f:
            header.write_to(f)
            f.write(b"\x00" * (offset - f.tell()))
            f.truncate(offset + n_space * n_row * disk.itemsize)
        target = _SpanTarget(os.fspath(raw), offset, flat, n_space, disk, fill_value(out))
        dsa.store(data.astype(disk), target, lock=False, compute=True)
        if gz:
            with open(raw, "rb") as src, gzip.open(path, "wb", compresslevel=compresslevel) as dst:
                shutil.copyfileobj(src, dst, length=16 * 2**20)
            raw.unlink()
        else:
            raw.replace(path)
    finally:
        raw.unlink(missing_ok=True)
    logger.debug("wrote %s", path)
    return path


def _check_target(path: Any, argument: str = "path") -> Path:
    if not isinstance(path, str | os.PathLike):
        raise input_error(argument, f"is a {type(path).__name__}", expected="a file path",
                          fix="pass e.g. 'x_map.nii.gz'")
    file = Path(path).expanduser()
    if file.is_dir():
        raise input_error(argument, f"{os.fspath(file)!r} is a directory",
                          expected="a file path", fix="add a file name, e.g. 'x_map.nii.gz'")
    if not file.parent.exists():
        raise input_error(argument, f"folder {os.fspath(file.parent)!r} does not exist",
                          expected="an existing folder", fix="create it first")
    return file


def _per_variable(ds: xr.Dataset, path: Path, argument: str) -> dict[str, Path]:
    names = [str(n) for n, v in ds.data_vars.items() if "voxel" in v.dims]
    if not names:
        raise input_error(argument, "has no variable over 'voxel'", cls=DimensionError,
                          expected="at least one", fix="pass a Dataset of maps over voxel")
    if "{name}" in os.fspath(path):
        return {n: Path(os.fspath(path).replace("{name}", n)) for n in names}
    if len(names) == 1:
        return {names[0]: path}
    raise input_error("path", f"is {os.fspath(path)!r} for {len(names)} variables {names}",
                      expected="a path with '{name}' in it (one file per variable)",
                      fix="pass e.g. 'sub-01_{name}.nii.gz', or select one variable")


def to_nifti(
    obj: xr.DataArray | xr.Dataset,
    path: str | os.PathLike[str],
    *,
    like: Any = None,
    affine: Any = None,
    shape: tuple[int, int, int] | None = None,
    mask: Any = None,
    dtype: Any = None,
    compresslevel: int = 1,
) -> Path | dict[str, Path]:
    """Write an object over ``voxel`` to NIfTI, voxel by voxel back in its image space.

    Parameters
    ----------
    obj : DataArray or Dataset
        ``(voxel,)`` gives a 3-D image; ``(row, voxel)`` (``time``, ``map``,
        ...) a 4-D image with one volume per row (the TR is set for ``time``).
        A Dataset writes one file per variable over ``voxel``.
    path : path
        The file (``.nii`` or ``.nii.gz``). For a Dataset with several
        variables it must hold ``{name}``, replaced by each variable name.
    like : path, nibabel image or labeled object, optional
        Reference for the grid, affine and header (and voxel positions when
        ``obj`` lacks ``i, j, k`` coords).
    affine : array (4, 4), optional
        Voxel-to-world matrix, overriding ``like`` and ``obj.attrs``.
    shape : tuple of 3 ints, optional
        Grid shape; default from ``like``/attrs, else the largest ``i, j, k`` + 1.
    mask : optional
        For objects without voxel positions: the mask the data were loaded
        with (the ``n``-th voxel goes to the ``n``-th mask voxel in file order).
    dtype : dtype, optional
        On-disk dtype; default the data's (bool as uint8).
    compresslevel : int, default 1
        Gzip level for ``.nii.gz``.

    Returns
    -------
    Path or dict of str to Path
        The file written, or one per variable for a Dataset.

    Raises
    ------
    InputError
        If ``obj`` has no ``voxel`` dim or more than one other dim, the image
        space or voxel positions cannot be found, or ``path`` is not writable.

    Examples
    --------
    >>> fit.x.xneuro.to_nifti("x_map.nii.gz", like=bold)  # doctest: +SKIP
    """
    check_obj(obj)
    file = _check_target(path)
    if not (file.name.endswith(".nii") or file.name.endswith(".nii.gz")):
        raise input_error("path", f"{os.fspath(file)!r} does not end in .nii or .nii.gz",
                          expected="a NIfTI file name", fix="add .nii.gz")
    if isinstance(obj, xr.Dataset):
        targets = _per_variable(obj, file, "obj")
        space = volume_space(obj, like=like, affine=affine, shape=shape, mask=mask)
        return {name: _write_nifti_file(obj[name].assign_attrs(obj.attrs), target, space, dtype,
                                        compresslevel, f"obj[{name!r}]")
                for name, target in targets.items()}
    space = volume_space(obj, like=like, affine=affine, shape=shape, mask=mask)
    return _write_nifti_file(obj, file, space, dtype, compresslevel, "obj")


def _nifti_image(da: xr.DataArray, space: VolumeSpace, dtype: Any, argument: str) -> Any:
    nib = nibabel()
    row = row_dim(da, argument)
    out = out_dtype(dtype, da.dtype, argument)
    header = _nifti_header(space, da.sizes[row] if row else None, out, series_tr(da, row))
    values = np.asarray(da.transpose(*(() if row is None else (row,)), "voxel").values)
    values = values.reshape(-1, da.sizes["voxel"])
    n_space = int(np.prod(space.shape))
    full = np.full((values.shape[0], n_space), fill_value(out), dtype=out)
    full[:, space.flat] = values
    volume = full.reshape((values.shape[0], *space.shape[::-1])).transpose()
    volume = volume[..., 0] if row is None else volume
    cls = nib.Nifti2Image if type(header).__name__ == "Nifti2Header" else nib.Nifti1Image
    return cls(volume, space.affine, header)


def to_cifti(
    obj: xr.DataArray | xr.Dataset,
    path: str | os.PathLike[str],
    *,
    like: Any = None,
    dtype: Any = None,
) -> Path:
    """Write an object over grayordinates (``voxel``) to a dense CIFTI-2 file.

    Parameters
    ----------
    obj : DataArray or Dataset
        ``(time, voxel)`` gives a dense series (``.dtseries.nii``, TR from
        ``attrs["tr"]`` or the time coord); ``(map, voxel)``, ``(voxel,)`` or a
        Dataset of ``(voxel,)`` maps give a dense scalar file
        (``.dscalar.nii``, one map per row or variable); ``(voxel_, voxel)`` a
        dense connectome.
    path : path
        The file; its suffix should match the kind (``.dtseries.nii``,
        ``.dscalar.nii``, ``.dconn.nii``).
    like : path, nibabel CIFTI image or labeled object, optional
        The grayordinates to write. Without it they are rebuilt from
        ``obj``'s coords (``structure, vertex, i, j, k``) and attrs; with it,
        grayordinates of ``like`` that ``obj`` lacks are NaN.
    dtype : dtype, optional
        On-disk dtype; default the data's.

    Returns
    -------
    Path

    Raises
    ------
    InputError
        For missing grayordinate coords (without ``like``), a suffix that does
        not fit the kind, or more than one non-voxel dim.
    """
    check_obj(obj)
    file = _check_target(path)
    img, row = cifti_image(obj, like, dtype, "obj")
    suffix = CIFTI_SUFFIXES.get(row or "map", ".dscalar.nii")
    if not file.name.endswith(suffix):
        raise input_error("path", f"{os.fspath(file)!r} does not end in {suffix}",
                          expected=f"the CIFTI suffix of a {row or 'map'} file",
                          fix=f"name it e.g. {file.name.split('.')[0]}{suffix}")
    nibabel().save(img, os.fspath(file))
    return file


def to_image(
    obj: xr.DataArray | xr.Dataset,
    like: Any = None,
    *,
    format: str | None = None,
    affine: Any = None,
    shape: tuple[int, int, int] | None = None,
    mask: Any = None,
    dtype: Any = None,
) -> Any:
    """Build an in-memory nibabel image (or one per variable) from an object over ``voxel``.

    Parameters
    ----------
    obj : DataArray or Dataset
        As for :func:`to_nifti` / :func:`to_cifti`.
    like : optional
        Reference image, path or labeled object (see :func:`to_nifti`).
    format : {"nifti", "cifti"}, optional
        Default ``"cifti"`` when ``obj`` or ``like`` carries grayordinates
        (a ``structure`` coord, a CIFTI file), else ``"nifti"``.
    affine, shape, mask, dtype
        As for :func:`to_nifti` (NIfTI only).

    Returns
    -------
    nibabel image, or dict of str to nibabel image
        NIfTI: one image for a DataArray, one per variable for a Dataset.
        CIFTI: one image (a Dataset becomes one map per variable).
    """
    check_obj(obj)
    if format is None:
        cifti_like = isinstance(like, xr.DataArray | xr.Dataset) and "structure" in like.coords
        if isinstance(like, str | os.PathLike):
            cifti_like = isinstance(load_image_header(check_path(like, "like"), "like"),
                                    nibabel().cifti2.Cifti2Image)
        format = "cifti" if ("structure" in obj.coords or cifti_like) else "nifti"
    if format not in ("nifti", "cifti"):
        raise input_error("format", f"is {format!r}", expected="'nifti' or 'cifti'",
                          fix="pass format='nifti'")
    if format == "cifti":
        return cifti_image(obj, like, dtype, "obj")[0]
    space = volume_space(obj, like=like, affine=affine, shape=shape, mask=mask)
    if isinstance(obj, xr.Dataset):
        return {str(n): _nifti_image(v, space, dtype, f"obj[{n!r}]")
                for n, v in obj.data_vars.items() if "voxel" in v.dims}
    return _nifti_image(obj, space, dtype, "obj")
