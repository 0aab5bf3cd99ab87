"""FreeSurfer MGH/MGZ volumes: the same lazy voxel layout as NIfTI.

MGH stores a 284-byte header, then big-endian data in Fortran order, so voxel
slabs are read exactly as for NIfTI; MGZ is the gzip-compressed form. The
header's ``tr`` is in milliseconds.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from xneuro.core.errors import DimensionError, input_error
from xneuro.io._blocks import RawLayout, output_dtype, scaling
from xneuro.io._files import is_gzip
from xneuro.io.nifti import VolumeInfo, check_data_size

__all__ = ["mgh_info"]


def mgh_info(img: Any, path: Path, *, dtype: Any = None) -> VolumeInfo:
    """Describe an MGH/MGZ image loaded (header only) by nibabel.

    Parameters
    ----------
    img : nibabel.MGHImage
        The image, as returned by ``nibabel.load``.
    path : Path
        Its file.
    dtype : dtype, optional
        Dtype of the values read; default the on-disk dtype.

    Returns
    -------
    VolumeInfo

    Raises
    ------
    DimensionError
        If the image is not 3-D or 4-D.
    """
    shape = tuple(int(n) for n in img.shape)
    if len(shape) not in (3, 4):
        raise input_error("path", f"{os.fspath(path)!r} has shape {shape}", cls=DimensionError,
                          expected="a 3-D or 4-D MGH volume", fix="pass a volume file")
    header = img.header
    proxy = img.dataobj
    slope, inter = scaling(proxy)
    disk = np.dtype(proxy.dtype)
    n_time = shape[3] if len(shape) == 4 else None
    layout = RawLayout(
        path=os.fspath(path), offset=int(proxy.offset), dtype=disk.str,
        n_space=int(np.prod(shape[:3])), n_time=n_time or 1, time_first=False,
        slope=slope, inter=inter, out_dtype=output_dtype(disk, slope, inter, dtype).str,
    )
    gz = is_gzip(path)
    check_data_size(layout, gz)
    tr_ms = float(header["tr"])
    zooms = [float(z) for z in header.get_zooms()[:3]]
    return VolumeInfo(
        path=Path(path), format="mgh", shape=shape[:3], n_time=n_time,
        affine=np.asarray(img.affine, dtype=float),
        tr=tr_ms / 1000.0 if n_time is not None and tr_ms > 0 else None,
        layout=layout, gzip=gz,
        header={"zooms": zooms, "tr_ms": tr_ms, "dtype": disk.newbyteorder("=").str,
                "flip_angle": float(header["flip_angle"]), "te": float(header["te"]),
                "ti": float(header["ti"])},
    )
