"""dnnbrain's ``.act.h5`` activation files: read lazily, write block by block.

Layout (dnnbrain's ``ActivationFile``): one root dataset per layer, named by
the layer, shape ``(n_stim, n_chn, n_row, n_col)`` (fully connected layers
``(n, n_unit, 1, 1)``), the dtype as given (float32 from torch), gzip
compression level 4 with h5py's automatic chunk shape, no attributes. (For
layers so large that a row of automatic chunks would exceed 16 MiB, the
chunks keep their shape but span fewer stimuli, so that writing streams;
HDF5 readers, dnnbrain's included, do not see the difference.)

Reading returns layers ``(stimulus, channel, row, column)`` backed by dask,
one task per block of stimuli; writing turns each layer back into 4-D (dims
after ``stimulus`` in their order, padded with size-1 axes: ``(stimulus,
unit)`` becomes ``(n, n_unit, 1, 1)``, ``(stimulus, channel, feature)``
``(n, n_chn, n_feat, 1)``) and writes one block of stimuli at a time, so a
lazy layer never needs to fit in memory. When writing, gzip chunks are
compressed by zlib in threads and stored with ``write_direct_chunk`` (the
bytes HDF5's own deflate filter makes); reading lets HDF5 decompress (h5py
serialises its calls, so threads would not help).
"""

from __future__ import annotations

import itertools
import os
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dask.array as dsa
import numpy as np
import xarray as xr
from dask.base import tokenize

from xneuro.core.backend import import_optional
from xneuro.core.errors import input_error
from xneuro.dnn._labels import ACTIVATION, STIMULUS, canonical_order, check_activation, iter_layers

if TYPE_CHECKING:
    from xneuro.dnn.mask import Mask

__all__ = ["SUFFIX", "read_act_h5", "write_act_h5"]

SUFFIX = ".act.h5"
GZIP_LEVEL = 4
#: Largest row of chunks (all stimuli of a chunk, whole layer) written at once.
ROW_BYTES = 16 * 2**20
_DIMS = (STIMULUS, "channel", "row", "column")


def _h5py() -> Any:
    return import_optional("h5py", extra="dnn", purpose="dnnbrain .act.h5 files")


def _threads() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def _check_path(fname: Any, must_exist: bool) -> Path:
    if not isinstance(fname, str | os.PathLike):
        raise input_error("fname", f"is a {type(fname).__name__}", expected="a file path")
    path = Path(fname)
    if not path.name.endswith(SUFFIX):
        raise input_error(
            "fname", f"{os.fspath(path)!r} does not end with {SUFFIX!r}",
            expected=f"a dnnbrain activation file ending in {SUFFIX}",
            fix="use Activation.save/load with a .zarr path for xneuro's Zarr stores",
        )
    if must_exist and not path.is_file():
        raise input_error("fname", f"{os.fspath(path)!r} does not exist", expected="a file")
    return path


# ----------------------------------------------------------------------------- chunks


def _direct_ok(dataset: Any) -> bool:
    """Whether the dataset's chunks are plain zlib streams (gzip filter only)."""
    return (
        dataset.chunks is not None
        and dataset.compression == "gzip"
        and not dataset.shuffle
        and not dataset.fletcher32
        and dataset.scaleoffset is None
        and dataset.dtype.kind in "biuf"
    )


def _chunk_origins(shape: tuple[int, ...], chunks: tuple[int, ...], rows: slice) -> Iterator:
    first = (rows.start // chunks[0]) * chunks[0]
    ranges = [range(first, rows.stop, chunks[0])]
    ranges += [range(0, size, step) for size, step in zip(shape[1:], chunks[1:], strict=True)]
    return itertools.product(*ranges)


def _read_rows(path: str, name: str, start: int, stop: int) -> np.ndarray:
    """Read stimuli ``start:stop`` of one dataset (HDF5 decompresses; h5py is serialised)."""
    h5py = _h5py()
    with h5py.File(path, "r") as file:
        return np.asarray(file[name][start:stop])


def _write_rows(dataset: Any, start: int, values: np.ndarray) -> None:
    """Write a block of stimuli (aligned to the chunk rows), compressing in threads."""
    chunks = dataset.chunks
    stop = start + len(values)
    if not _direct_ok(dataset) or start % chunks[0]:
        dataset[start:stop] = values
        return
    shape = dataset.shape

    def compress(origin: tuple[int, ...]) -> tuple[tuple[int, ...], bytes]:
        block = np.zeros(chunks, dtype=dataset.dtype)
        src, dst = [], []
        for axis, (o, c) in enumerate(zip(origin, chunks, strict=True)):
            hi = min(o + c, stop if axis == 0 else shape[axis])
            src.append(slice(o - start, hi - start) if axis == 0 else slice(o, hi))
            dst.append(slice(0, hi - o))
        block[tuple(dst)] = values[tuple(src)]
        return origin, zlib.compress(block.tobytes(), dataset.compression_opts)

    with ThreadPoolExecutor(_threads()) as pool:
        for origin, data in pool.map(compress, _chunk_origins(shape, chunks, slice(start, stop))):
            dataset.id.write_direct_chunk(origin, data)


# ----------------------------------------------------------------------------- read


class _H5Layer:
    """A picklable, lazily read array over one dataset of a ``.act.h5`` file."""

    def __init__(self, path: str, name: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.path, self.name, self.shape, self.dtype = path, name, shape, dtype
        self.ndim = len(shape)

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray:
        key = key if isinstance(key, tuple) else (key,)
        rows = key[0] if key else slice(None)
        start, stop, step = rows.indices(self.shape[0]) if isinstance(rows, slice) else (0, 0, 0)
        if isinstance(rows, slice) and step == 1:
            return _read_rows(self.path, self.name, start, stop)[(slice(None), *key[1:])]
        return _read_rows(self.path, self.name, 0, self.shape[0])[key]


def _rows_per_block(shape: tuple[int, ...], chunks: tuple[int, ...] | None, itemsize: int) -> int:
    per_row = max(int(np.prod(shape[1:])) * itemsize, 1)
    rows = max(1, (16 * 2**20) // per_row)
    if chunks:
        rows = max(chunks[0], (rows // chunks[0]) * chunks[0])
    return int(min(rows, max(shape[0], 1)))


def read_act_h5(fname: str | os.PathLike[str], dmask: Mask | None = None) -> xr.DataTree:
    """Read a dnnbrain ``.act.h5`` file as a lazy activation tree.

    Parameters
    ----------
    fname : str or PathLike
        File ending in ``.act.h5``.
    dmask : Mask, optional
        Keep only these layers and their channels/rows/columns (0-based; a
        dnnbrain ``.dmask.csv`` is converted by :meth:`Mask.load`).

    Returns
    -------
    DataTree
        One node per dataset (in the file's order) with ``activation`` dims
        ``(stimulus, channel, row, column)``, dask-backed with blocks of
        about 16 MiB of whole HDF5 chunk rows; ``stimulus`` is numbered from 0
        (the format has no labels).
    """
    path = _check_path(fname, must_exist=True)
    h5py = _h5py()
    with h5py.File(path, "r") as file:
        info = {}
        for name, item in file.items():
            if not isinstance(item, h5py.Dataset) or item.ndim != 4:
                raise input_error(
                    "fname", f"holds {name!r} with shape {getattr(item, 'shape', None)}",
                    expected="only 4-D datasets (n_stim, n_chn, n_row, n_col), one per layer",
                )
            info[name] = (item.shape, item.dtype, item.chunks)
    nodes: dict[str, xr.Dataset] = {"/": xr.Dataset(attrs={"source": os.fspath(path)})}
    for name, (shape, dtype, chunks) in info.items():
        source = _H5Layer(os.path.abspath(path), name, shape, dtype)
        rows = _rows_per_block(shape, chunks, dtype.itemsize)
        token = tokenize(os.path.abspath(path), name, os.path.getmtime(path))
        data = dsa.from_array(
            source, chunks=(rows, *shape[1:]), lock=False, asarray=True,
            name=f"act-h5-{token}",
        )
        da = xr.DataArray(data, dims=_DIMS, coords={STIMULUS: np.arange(shape[0])})
        nodes[f"/{name}"] = xr.Dataset({ACTIVATION: da})
    tree = xr.DataTree.from_dict(nodes)
    if dmask is not None:
        from xneuro.dnn.ops.mask import mask

        tree = mask(tree, dmask=dmask)
    return tree


# ----------------------------------------------------------------------------- write


def _as_4d(da: xr.DataArray, layer: str) -> xr.DataArray:
    da = canonical_order(check_activation(da, f"activation of layer {layer!r}"))
    extra = da.ndim - 1
    if extra > 3:
        raise input_error(
            "activation", f"of layer {layer!r} has dims {da.dims}",
            expected="at most 3 dims after 'stimulus' (the .act.h5 format is 4-D)",
            fix="pool, mask or stack dims first",
        )
    for position in range(extra, 3):
        da = da.expand_dims(f"_pad{position}", axis=-1)
    return da


def write_act_h5(obj: xr.DataArray | xr.DataTree, fname: str | os.PathLike[str]) -> Path:
    """Write activations as a dnnbrain ``.act.h5`` file (overwriting it).

    Parameters
    ----------
    obj : DataArray or DataTree
        One layer (named by ``obj.name``) or a tree of layers.
    fname : str or PathLike
        File ending in ``.act.h5``.

    Returns
    -------
    pathlib.Path
        The file written.

    Notes
    -----
    Coordinates (stimulus names, categories) are not stored: the format has
    no place for them. Lazy layers are computed one block of stimuli at a time.
    """
    path = _check_path(fname, must_exist=False)
    layers = [(name or ACTIVATION, _as_4d(da, name)) for name, da in iter_layers(obj)]
    for name, _ in layers:
        if "/" in name:
            raise input_error("layer", f"name {name!r} contains '/'",
                              expected="names without '/' (HDF5 would make groups)")
    h5py = _h5py()
    tmp = path.with_name(f".{path.name}.tmp")
    with h5py.File(tmp, "w") as file:
        for name, da in layers:
            dataset = file.create_dataset(
                name, shape=da.shape, dtype=da.dtype, compression="gzip",
                compression_opts=GZIP_LEVEL,
            )
            row_bytes = int(np.prod(da.shape[1:])) * da.dtype.itemsize
            if dataset.chunks[0] * row_bytes > ROW_BYTES:
                # h5py's automatic chunks span so many stimuli that one row of chunks would
                # not fit the memory a block may use: same chunk shape, fewer stimuli
                tail = dataset.chunks[1:]
                del file[name]
                dataset = file.create_dataset(
                    name, shape=da.shape, dtype=da.dtype, compression="gzip",
                    compression_opts=GZIP_LEVEL,
                    chunks=(max(1, ROW_BYTES // row_bytes), *tail),
                )
            rows = _rows_per_block(da.shape, dataset.chunks, da.dtype.itemsize)
            for start in range(0, da.shape[0], rows):
                block = np.ascontiguousarray(da.data[start:start + rows])
                _write_rows(dataset, start, block)
    os.replace(tmp, path)
    return path
