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
lazy layer never needs to fit in memory.

Chunks are compressed and decompressed outside HDF5 (h5py serialises its
calls, so HDF5's own deflate filter would use one core at a time):

- Writing compresses the chunks of a block in threads and stores them with
  ``write_direct_chunk``. The dataset still declares gzip level 4, as
  dnnbrain's files do, but when ``isal`` (ISA-L) is installed the chunks are
  made by ``isal_zlib`` at its level 2: standard zlib streams that any HDF5
  reader's deflate filter (dnnbrain's h5py included) decodes, made about 6x
  faster than by zlib level 4 at a comparable ratio (1.78 vs 1.81 on a
  2000 x 256 x 14 x 14 ReLU-like float32 layer: 225 vs 222 MB). Without
  ``isal``, zlib at the dataset's level, as HDF5's filter would.
- Reading a chunked dataset whose only filter is deflate fetches each
  chunk's stored bytes with ``read_direct_chunk`` (cheap), decompresses them
  (libdeflate from the ``deflate`` package, else ``isal_zlib``, else zlib;
  all release the GIL, so the blocks that dask computes in threads decode in
  parallel) and tiles them into the block:
  overhanging edge chunks are cropped, chunks never written read the fill
  value, chunks stored unfiltered are used as they are. Other layouts
  (shuffle or other filters, uncompressed or contiguous datasets) are read
  by HDF5.
"""

from __future__ import annotations

import itertools
import os
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dask.array as dsa
import numpy as np
import xarray as xr
from dask.base import tokenize

from xneuro.core.backend import import_optional, optional_module
from xneuro.core.errors import input_error
from xneuro.dnn._blocks import threads
from xneuro.dnn._labels import ACTIVATION, STIMULUS, canonical_order, check_activation, iter_layers

if TYPE_CHECKING:
    from xneuro.dnn.mask import Mask

__all__ = ["SUFFIX", "read_act_h5", "write_act_h5"]

SUFFIX = ".act.h5"
GZIP_LEVEL = 4
#: ISA-L level the chunks are compressed at when ``isal`` is installed (0-3).
ISAL_LEVEL = 2
#: Largest row of chunks (all stimuli of a chunk, whole layer) written at once.
ROW_BYTES = 16 * 2**20
_DIMS = (STIMULUS, "channel", "row", "column")


def _h5py() -> Any:
    return import_optional("h5py", extra="dnn", purpose="dnnbrain .act.h5 files")


def _map(func: Callable[..., Any], *items: Any, threads: int) -> Iterator[Any]:
    """``map`` in a pool of ``threads`` threads (in order; plain ``map`` for one thread)."""
    if threads <= 1:
        yield from map(func, *items)
        return
    with ThreadPoolExecutor(threads) as pool:
        yield from pool.map(func, *items)


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


def _isal() -> Any:
    """``isal.isal_zlib`` (ISA-L's zlib-compatible codec), or None when not installed."""
    return optional_module("isal.isal_zlib")


def _compressor(level: int) -> Callable[[Any], bytes]:
    isal_zlib = _isal()
    if isal_zlib is None:
        return lambda data: zlib.compress(data, level)
    return lambda data: isal_zlib.compress(data, ISAL_LEVEL)


def _libdeflate() -> Any:
    """The ``deflate`` package (libdeflate: the fastest inflater), or None when not installed."""
    return optional_module("deflate")


def _decompressor(nbytes: int) -> Callable[[bytes], bytes]:
    """Decoder of one chunk of ``nbytes``: libdeflate, else ISA-L, else zlib (all drop the GIL).

    Measured on 42 KB chunks of a ReLU-like float32 layer: libdeflate 556 MB/s,
    ISA-L 349 MB/s, zlib 292 MB/s per core.
    """
    libdeflate = _libdeflate()
    if libdeflate is not None:
        return lambda data: libdeflate.zlib_decompress(data, nbytes)
    codec = _isal() or zlib
    return lambda data: codec.decompress(data, bufsize=nbytes)


def _direct_ok(dataset: Any) -> bool:
    """Whether the dataset is 4-D and its chunks are plain zlib streams (deflate filter only)."""
    if dataset.chunks is None or dataset.ndim != 4 or dataset.dtype.kind not in "biuf":
        return False
    plist = dataset.id.get_create_plist()
    return plist.get_nfilters() == 1 and plist.get_filter(0)[0] == _h5py().h5z.FILTER_DEFLATE


def _copy(dst: np.ndarray, src: np.ndarray) -> None:
    """``dst[...] = src``, moving a short contiguous last axis as one wide item (faster)."""
    width = dst.shape[-1] * dst.itemsize
    if (width in (2, 4, 8) and width > dst.itemsize and dst.dtype == src.dtype
            and dst.strides[-1] == src.strides[-1] == dst.itemsize):
        dst, src = dst.view(f"u{width}"), src.view(f"u{width}")
    np.copyto(dst, src)


class _Rows:
    """Stimuli ``start:stop`` of a chunked 4-D dataset, in groups of chunks.

    A group is the chunks sharing their first two origins (a chunk row of
    stimuli, a run of channels): their ``n2 x n3`` chunks tile rows and
    columns, so one transposed copy moves a whole group between the dataset's
    layout and the chunks' (``buffer`` below: ``(n2, n3, *chunks)``).
    """

    def __init__(self, shape: tuple[int, ...], chunks: tuple[int, ...], start: int,
                 stop: int) -> None:
        self.shape, self.chunks, self.start, self.stop = shape, chunks, start, stop
        self.grid = (-(-shape[2] // chunks[2]), -(-shape[3] // chunks[3]))
        #: rows and columns of a group's chunks (more than the dataset's where chunks overhang)
        self.tiled = (self.grid[0] * chunks[2], self.grid[1] * chunks[3])
        self.padded = self.tiled != tuple(shape[2:])

    def groups(self) -> list[tuple[int, int]]:
        first = (self.start // self.chunks[0]) * self.chunks[0]
        return list(itertools.product(range(first, self.stop, self.chunks[0]),
                                      range(0, self.shape[1], self.chunks[1])))

    def origins(self, group: tuple[int, int]) -> list[tuple[int, int, int, int]]:
        c2, c3 = self.chunks[2:]
        return [(*group, j2 * c2, j3 * c3) for j2, j3 in np.ndindex(*self.grid)]

    def spans(self, group: tuple[int, int]) -> tuple[slice, slice, slice]:
        """Stimuli in the chunks, the same stimuli in the block, channels (dataset and chunks)."""
        lo, hi = max(group[0], self.start), min(group[0] + self.chunks[0], self.stop)
        channels = slice(group[1], min(group[1] + self.chunks[1], self.shape[1]))
        return slice(lo - group[0], hi - group[0]), slice(lo - self.start, hi - self.start), channels

    def split(self, block: np.ndarray) -> np.ndarray:
        """View of a 4-D block (unpadded rows/columns) with rows and columns split by chunk."""
        (n2, n3), (c2, c3) = self.grid, self.chunks[2:]
        return block.reshape(*block.shape[:2], n2, c2, n3, c3)

    def in_chunks(self, buffer: np.ndarray, in_chunk: slice, n_channels: int) -> np.ndarray:
        """The ``buffer`` of a group seen in the dataset's axis order (6-D, split)."""
        return buffer[:, :, in_chunk, :n_channels].transpose(2, 3, 0, 4, 1, 5)


def _chunk(dataset: Any, origin: tuple[int, ...], decompress: Callable[[bytes], bytes],
           dtype: np.dtype, nbytes: int) -> Any:
    """One chunk's values (flat), or the fill value where the chunk was never written."""
    try:
        mask, data = dataset.id.read_direct_chunk(origin)
    except (RuntimeError, OSError):
        if dataset.id.get_chunk_info_by_coord(origin).byte_offset is not None:
            raise
        return dataset.fillvalue
    if not mask & 1:  # bit 0 set: the deflate filter was skipped for this chunk
        data = decompress(data)
    if len(data) != nbytes:
        raise OSError(f"chunk {origin} of {dataset.name!r} in {dataset.file.filename!r} holds "
                      f"{len(data)} bytes, not the {nbytes} of a {dataset.chunks} chunk")
    return np.frombuffer(data, dtype=dtype)


def _read_direct(dataset: Any, start: int, stop: int) -> np.ndarray:
    """Read stimuli ``start:stop``: fetch the raw chunks, decompress them, tile them.

    No thread pool here: dask computes blocks in threads and decompression
    releases the GIL, so blocks already decode in parallel (an inner pool per
    block measured slower on 2 cores).
    """
    chunks, dtype = dataset.chunks, dataset.dtype
    rows = _Rows(dataset.shape, chunks, start, stop)
    out = np.empty((stop - start, *dataset.shape[1:]), dtype=dtype)
    nbytes = int(np.prod(chunks)) * dtype.itemsize
    decompress = _decompressor(nbytes)
    buffer = np.empty((*rows.grid, int(np.prod(chunks))), dtype=dtype)
    for group in rows.groups():
        for index, origin in zip(np.ndindex(*rows.grid), rows.origins(group), strict=True):
            buffer[index] = _chunk(dataset, origin, decompress, dtype, nbytes)
        in_chunk, in_block, channels = rows.spans(group)
        src = rows.in_chunks(buffer.reshape(*rows.grid, *chunks), in_chunk,
                             channels.stop - channels.start)
        if not rows.padded:
            _copy(rows.split(out)[in_block, channels], src)
            continue
        tmp = np.empty((*src.shape[:2], *rows.tiled), dtype=dtype)
        _copy(rows.split(tmp), src)
        out[in_block, channels] = tmp[:, :, : out.shape[2], : out.shape[3]]
    return out


def _read_rows(path: str, name: str, start: int, stop: int) -> np.ndarray:
    """Read stimuli ``start:stop`` of one dataset."""
    h5py = _h5py()
    with h5py.File(path, "r") as file:
        dataset = file[name]
        if stop > start and _direct_ok(dataset):
            return _read_direct(dataset, start, stop)
        return np.asarray(dataset[start:stop])


def _write_rows(dataset: Any, start: int, values: np.ndarray) -> None:
    """Write a block of stimuli (aligned to the chunk rows), compressing in threads."""
    chunks, dtype = dataset.chunks, dataset.dtype
    stop = start + len(values)
    if not _direct_ok(dataset) or start % chunks[0]:
        dataset[start:stop] = values
        return
    rows = _Rows(dataset.shape, chunks, start, stop)
    compress = _compressor(dataset.compression_opts)
    values = values.astype(dtype, copy=False)

    def encode(group: tuple[int, int]) -> list[bytes]:
        in_chunk, in_block, channels = rows.spans(group)
        part = values[in_block, channels]
        whole = part.shape[:2] == chunks[:2] and not rows.padded
        buffer = (np.empty if whole else np.zeros)((*rows.grid, *chunks), dtype=dtype)
        if rows.padded:
            tmp = np.zeros((*part.shape[:2], *rows.tiled), dtype=dtype)
            tmp[:, :, : part.shape[2], : part.shape[3]] = part
            part = tmp
        _copy(rows.in_chunks(buffer, in_chunk, part.shape[1]), rows.split(part))
        return [compress(buffer[index]) for index in np.ndindex(*rows.grid)]

    groups = rows.groups()
    for group, data in zip(groups, _map(encode, groups, threads=threads()), strict=True):
        for origin, chunk in zip(rows.origins(group), data, strict=True):
            dataset.id.write_direct_chunk(origin, chunk)


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
