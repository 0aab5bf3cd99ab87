"""Chunking policy: along the unit of independent work, a few MiB per chunk.

The unit dimension (``voxel``, ``vertex``, ``stimulus``, ...) is split so that one
chunk of the largest variable is near the ``chunk_bytes`` option; every other
dimension, the core ``time`` axis included, stays whole.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import xarray as xr

from xneuro.core.errors import DimensionError, input_error
from xneuro.core.options import get_options

__all__ = ["UNIT_DIMS", "check_chunks", "choose_chunks", "pick_unit_dim"]

#: Dimensions that are units of independent work, in order of preference.
UNIT_DIMS: tuple[str, ...] = (
    "voxel",
    "vertex",
    "grayordinate",
    "stimulus",
    "unit",
    "pair",
    "region",
)

MIN_CHUNK_BYTES = 2**20
MAX_CHUNK_BYTES = 16 * 2**20


def pick_unit_dim(sizes: Mapping[Hashable, int], unit_dim: str | None) -> Hashable | None:
    if unit_dim is not None:
        if unit_dim not in sizes:
            raise input_error(
                "unit_dim",
                f"{unit_dim!r} is not a dimension of the object",
                expected=f"one of {tuple(sizes)}",
                fix="pass the dimension along which the work is independent, or unit_dim=None",
                cls=DimensionError,
            )
        return unit_dim
    for name in UNIT_DIMS:
        if name in sizes:
            return name
    candidates = [dim for dim in sizes if dim != "time"]
    if not candidates:
        return None
    return max(candidates, key=lambda dim: sizes[dim])


def choose_chunks(
    obj: xr.DataArray | xr.Dataset,
    unit_dim: str | None = None,
    target_bytes: int | None = None,
) -> dict[Hashable, int]:
    """Choose Zarr/dask chunk sizes: split the unit-of-work dimension only.

    Parameters
    ----------
    obj : DataArray or Dataset
        The object to chunk (for a DataTree, call it on each node's dataset).
    unit_dim : str, optional
        The dimension along which work is independent. By default the first of
        :data:`UNIT_DIMS` present, otherwise the largest dimension that is not
        ``time``; an object whose only dimension is ``time`` is one chunk.
    target_bytes : int, optional
        Target uncompressed size of one chunk of the largest data variable;
        default ``xneuro.get_options()["chunk_bytes"]``. It is clamped to
        [1 MiB, 16 MiB]; a variable smaller than that is one chunk.

    Returns
    -------
    dict
        Dimension name to chunk size, for every dimension of ``obj``. Every
        dimension but ``unit_dim`` is whole; sizes are at least 1.

    Raises
    ------
    InputError
        If ``obj`` is not a DataArray or Dataset, or ``target_bytes`` is not a
        positive int.
    DimensionError
        If ``unit_dim`` is not a dimension of ``obj``.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> bold = xr.DataArray(np.zeros((100, 50_000), "float32"), dims=("time", "voxel"))
    >>> choose_chunks(bold, target_bytes=2**20)
    {'time': 100, 'voxel': 2621}
    """
    if isinstance(obj, xr.DataTree):
        raise input_error(
            "obj",
            "is a DataTree, whose nodes may have different dimensions",
            expected="a DataArray or Dataset",
            fix="call choose_chunks(tree[node].to_dataset()) for each node; save() does this",
        )
    if not isinstance(obj, xr.DataArray | xr.Dataset):
        raise input_error(
            "obj",
            f"is a {type(obj).__name__}",
            expected="an xarray DataArray or Dataset",
            fix="wrap the data in an xarray object with named dims",
        )
    if target_bytes is None:
        target_bytes = int(get_options()["chunk_bytes"])
    elif (
        isinstance(target_bytes, bool)
        or not isinstance(target_bytes, int | np.integer)
        or (target_bytes <= 0)
    ):
        raise input_error(
            "target_bytes",
            f"is {target_bytes!r}",
            expected="a positive int (bytes per chunk)",
            fix="pass e.g. target_bytes=8 * 2**20, or leave it out",
        )
    target = min(max(int(target_bytes), MIN_CHUNK_BYTES), MAX_CHUNK_BYTES)

    sizes = dict(obj.sizes)
    chunks: dict[Hashable, int] = {dim: max(int(size), 1) for dim, size in sizes.items()}
    dim = pick_unit_dim(sizes, unit_dim)
    if dim is None or sizes[dim] == 0:
        return chunks

    variables = [obj.variable] if isinstance(obj, xr.DataArray) else list(obj.data_vars.values())
    per_unit = [
        var.dtype.itemsize * var.size // var.sizes[dim]
        for var in variables
        if dim in var.dims and var.size
    ]
    if not per_unit or max(per_unit) == 0:
        return chunks
    size = target // max(per_unit)
    chunks[dim] = int(min(max(size, 1), sizes[dim]))
    return chunks


def check_chunks(chunks: Any, sizes: Mapping[Hashable, int]) -> dict[Hashable, int]:
    if not isinstance(chunks, Mapping):
        raise input_error(
            "chunks",
            f"is a {type(chunks).__name__}",
            expected="a dict of dimension name to chunk size",
            fix="pass e.g. chunks={'voxel': 1000}, or leave it out to choose automatically",
        )
    out: dict[Hashable, int] = {dim: max(int(size), 1) for dim, size in sizes.items()}
    for dim, size in chunks.items():
        if dim not in sizes:
            continue
        if size in (-1, None):
            continue
        if isinstance(size, bool) or not isinstance(size, int | np.integer) or size <= 0:
            raise input_error(
                f"chunks[{dim!r}]",
                f"is {size!r}",
                expected="a positive int, or -1 for the whole dimension",
                fix=f"pass e.g. chunks={{{dim!r}: 1000}}",
            )
        out[dim] = int(min(size, max(sizes[dim], 1)))
    return out
