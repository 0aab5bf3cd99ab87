"""Lazy ``(time, unit)`` blocks read straight from an image file, one dask chunk at a time.

An image's data part is a 2-D array on disk in Fortran order: ``(space, time)``
for NIfTI and MGH volumes (every volume is one contiguous run of bytes) and
``(time, grayordinate)`` for CIFTI (every grayordinate's timecourse is
contiguous). The selected units (voxels under a mask, grayordinates) are kept
in file order, so a chunk of consecutive units covers one contiguous span of
each volume: reading a chunk reads only that span of every volume (a slab of
slices), never the whole file.

Gzip-compressed files cannot be entered in the middle: a chunk's read
decompresses the stream from its start up to the last byte it needs, so every
chunk pays a (streamed, memory-bounded) pass over the file.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import Any

import dask
import dask.array as dsa
import numpy as np

from xneuro.io._files import READ_ERRORS, nibabel, truncated_error

__all__ = ["BlockReader", "RawLayout", "auto_unit_chunk", "lazy_blocks"]


@dataclass(frozen=True)
class RawLayout:
    """Where and how an image's data are stored.

    Attributes
    ----------
    path : str
        The file.
    offset : int
        Byte offset of the data part.
    dtype : str
        On-disk dtype, with byte order (e.g. ``">i2"``).
    n_space : int
        Number of spatial elements per volume (voxels or grayordinates).
    n_time : int
        Number of volumes (1 for a 3-D image).
    time_first : bool
        ``True`` for a ``(time, space)`` Fortran layout (CIFTI), ``False`` for
        ``(space, time)`` (NIfTI, MGH).
    slope, inter : float
        Scaling applied on read (``raw * slope + inter``).
    out_dtype : str
        Dtype of the values returned.
    """

    path: str
    offset: int
    dtype: str
    n_space: int
    n_time: int
    time_first: bool
    slope: float
    inter: float
    out_dtype: str

    @property
    def disk_shape(self) -> tuple[int, int]:
        return (self.n_time, self.n_space) if self.time_first else (self.n_space, self.n_time)

    @property
    def scaled(self) -> bool:
        return not (_unit(self.slope, 1.0) and _unit(self.inter, 0.0))


def _unit(value: float, neutral: float) -> bool:
    return not np.isfinite(value) or value == neutral


def scaling(proxy: Any) -> tuple[float, float]:
    """Read slope and intercept from a nibabel ArrayProxy (neutral values when absent)."""
    slope = float(getattr(proxy, "slope", 1.0))
    inter = float(getattr(proxy, "inter", 0.0))
    return (1.0 if not np.isfinite(slope) or slope == 0 else slope,
            0.0 if not np.isfinite(inter) else inter)


def output_dtype(disk: np.dtype, slope: float, inter: float, dtype: Any) -> np.dtype:
    """The dtype a reader returns: ``dtype`` if given, else the native on-disk dtype
    for unscaled data and float32 for scaled data."""
    if dtype is not None:
        return np.dtype(dtype)
    if slope != 1.0 or inter != 0.0:
        return np.dtype(np.float32)
    return disk.newbyteorder("=")


class BlockReader:
    """An array-like over the selected units of one file; dask calls ``__getitem__`` per chunk.

    Parameters
    ----------
    layout : RawLayout
        The file's data layout.
    units : ndarray of int, optional
        Sorted flat indices (file order) of the units to expose; all when None.
    """

    def __init__(self, layout: RawLayout, units: np.ndarray | None = None) -> None:
        self.layout = layout
        self.units = None if units is None else np.asarray(units, dtype=np.int64)
        n_units = layout.n_space if self.units is None else self.units.size
        self.shape = (layout.n_time, int(n_units))
        self.dtype = np.dtype(layout.out_dtype)
        self.ndim = 2

    def __getitem__(self, key: Any) -> np.ndarray:
        key = key if isinstance(key, tuple) else (key,)
        key = key + (slice(None),) * (2 - len(key))
        times = np.arange(self.shape[0])[key[0]]
        positions = np.arange(self.shape[1])[key[1]]
        scalar_t, scalar_u = np.ndim(times) == 0, np.ndim(positions) == 0
        times, positions = np.atleast_1d(times), np.atleast_1d(positions)
        if times.size and positions.size:
            units = positions if self.units is None else self.units[positions]
            out = self._read(times, units)
        else:
            out = np.empty((times.size, positions.size), dtype=self.dtype)
        if scalar_u:
            out = out[:, 0]
        if scalar_t:
            out = out[0]
        return out

    def _read(self, times: np.ndarray, units: np.ndarray) -> np.ndarray:
        lay = self.layout
        t0, t1 = int(times.min()), int(times.max()) + 1
        u0, u1 = int(units.min()), int(units.max()) + 1
        try:
            raw = _read_span(lay, t0, t1, u0, u1)  # (time, span)
        except READ_ERRORS as err:
            raise truncated_error(lay.path, err) from err
        rows = None if _is_range(times, t0, t1) else times - t0
        cols = None if _is_range(units, u0, u1) else units - u0
        if rows is not None or cols is not None:  # pick the selection out of the span
            raw = raw[np.ix_(np.arange(t1 - t0) if rows is None else rows,
                             np.arange(u1 - u0) if cols is None else cols)]
        if not lay.scaled:
            return raw.astype(self.dtype, copy=False)
        # Scale in float64, then cast (the values nibabel's get_fdata gives), a few
        # volumes at a time so that no float64 copy of the whole block exists.
        out = np.empty(raw.shape, dtype=self.dtype)
        step = max(1, (8 * 2**20) // max(raw.shape[1] * 8, 1))
        for start in range(0, raw.shape[0], step):
            part = raw[start:start + step].astype(np.float64)
            out[start:start + step] = part * lay.slope + lay.inter
        return out


def _seek(fileobj: Any, position: int, streamed: bool) -> None:
    """Go to ``position``; a compressed stream skips forward by reading big blocks
    (its own ``seek`` reads and discards a few KiB at a time)."""
    if not streamed:
        fileobj.seek(position)
        return
    current = fileobj.tell()
    if position < current:
        fileobj.seek(position)  # rewinds: decompresses again from the start
        return
    while current < position:
        skipped = len(fileobj.read(min(position - current, _SKIP_BLOCK)))
        if not skipped:
            raise EOFError(f"the file ends at byte {current}, the data need {position}")
        current += skipped


_SKIP_BLOCK = 2**20


def _fill(fileobj: Any, position: int, target: np.ndarray, streamed: bool = False) -> None:
    """Read exactly ``target.nbytes`` bytes at ``position`` into ``target``."""
    _seek(fileobj, position, streamed)
    view = memoryview(target).cast("B")
    done = 0
    while done < view.nbytes:
        got = fileobj.readinto(view[done:])  # straight into the array, no extra copy
        if not got:
            raise EOFError(f"the file ends at byte {position + done}, the data need "
                           f"{position + view.nbytes}")
        done += got


def _read_span(lay: RawLayout, t0: int, t1: int, u0: int, u1: int) -> np.ndarray:
    """Read volumes ``t0:t1`` of units ``u0:u1`` as a ``(time, unit)`` array.

    Volumes layout: one contiguous segment per volume. CIFTI layout: one
    contiguous block when all volumes are wanted, else one segment per unit.
    Reads go in increasing file order, so a gzip stream is decompressed once.
    """
    nib = nibabel()
    dtype = np.dtype(lay.dtype)
    item = dtype.itemsize
    with nib.openers.ImageOpener(lay.path, "rb") as opener:
        fileobj = getattr(opener, "fobj", opener)
        streamed = not isinstance(fileobj, io.BufferedReader | io.FileIO)
        if not lay.time_first:
            out = np.empty((t1 - t0, u1 - u0), dtype=dtype)
            for row, t in enumerate(range(t0, t1)):
                _fill(fileobj, lay.offset + (t * lay.n_space + u0) * item, out[row], streamed)
            return out
        if t0 == 0 and t1 == lay.n_time:
            block = np.empty((u1 - u0, lay.n_time), dtype=dtype)
            _fill(fileobj, lay.offset + u0 * lay.n_time * item, block, streamed)
            return block.T
        block = np.empty((u1 - u0, t1 - t0), dtype=dtype)
        for row, u in enumerate(range(u0, u1)):
            _fill(fileobj, lay.offset + (u * lay.n_time + t0) * item, block[row], streamed)
        return block.T


def _is_range(values: np.ndarray, start: int, stop: int) -> bool:
    return values.size == stop - start and bool(values[0] == start) and bool(
        np.all(np.diff(values) == 1))


#: Default bytes per chunk for files that can be entered anywhere (uncompressed).
SLAB_BYTES = 32 * 2**20


def auto_unit_chunk(n_time: int, itemsize: int, n_units: int, *, streamed: bool = False) -> int:
    """Units per chunk: about 32 MiB per chunk for uncompressed files (capped by dask's
    ``array.chunk-size``), dask's ``array.chunk-size`` for compressed ones, where every
    chunk streams through the whole file and fewer, larger chunks are cheaper."""
    target = dask.utils.parse_bytes(dask.config.get("array.chunk-size"))
    target = target if streamed else min(target, SLAB_BYTES)
    return int(min(max(target // max(n_time * itemsize, 1), 1), max(n_units, 1)))


def lazy_blocks(reader: BlockReader, unit_chunk: int, name: str) -> dsa.Array:
    """Wrap a :class:`BlockReader` as a dask array chunked over units, time whole."""
    n_time = reader.shape[0]
    token = dask.base.tokenize(reader.layout, reader.units, unit_chunk, _mtime(reader.layout.path))
    return dsa.from_array(
        reader,
        chunks=(n_time, max(int(unit_chunk), 1)),
        name=f"{name}-{token}",
        asarray=False,
        fancy=False,
        lock=False,
        meta=np.empty((0, 0), dtype=reader.dtype),
    )


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0
