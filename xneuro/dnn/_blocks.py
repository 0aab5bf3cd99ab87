"""Row-block kernels: run a kernel over blocks of stimuli, lazily for dask, in threads for numpy.

Activation operations are independent across stimuli (pooling, histograms,
spectra, projections), so a kernel receives a block ``(n_block, ...)`` and
returns ``(n_block, *tail)``. A dask input stays lazy (one task per chunk of
stimuli). A large numpy input is cut into row blocks, which are views (no
copy: ``dask.array.from_array`` would copy the whole array), and computed in a
thread pool with BLAS single-threaded, so both cores work without
over-subscribing them.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dask
import dask.array as dsa
import numpy as np

from xneuro.core.backend import optional_module

__all__ = ["BLOCK_BYTES", "apply_rows", "blas_single_threaded", "for_row_blocks", "row_bounds"]

#: Target size of one block of a numpy input processed in threads.
BLOCK_BYTES = 32 * 2**20
#: numpy inputs smaller than this are processed in one call.
PARALLEL_BYTES = 64 * 2**20


def threads() -> int:
    """Number of threads for numpy block work (the CPU count, at most 8)."""
    return max(1, min(8, os.cpu_count() or 1))


@contextlib.contextmanager
def blas_single_threaded() -> Iterator[None]:
    """Run BLAS/LAPACK single-threaded inside the block (thread) parallelism of a call.

    Several threads each calling a multi-threaded OpenBLAS over-subscribe the
    cores, and OpenBLAS threads spin while waiting: on a busy 2-core machine the
    PCA kernels ran 5-20x slower. The limit (``threadpoolctl``) is restored when the
    call returns; without threadpoolctl nothing changes.
    """
    controller = _threadpool_controller()
    if controller is None:  # pragma: no cover - threadpoolctl comes with scikit-learn
        yield
        return
    with controller.limit(limits=1, user_api="blas"):
        yield


@functools.cache
def _threadpool_controller() -> Any:
    """threadpoolctl's view of the loaded BLAS libraries, found once per process.

    Finding them reads ``/proc/self/maps`` (about 3 ms, as long as pooling a
    400 MB layer takes), so it is not repeated on every call.
    """
    threadpoolctl = optional_module("threadpoolctl")
    return None if threadpoolctl is None else threadpoolctl.ThreadpoolController()


def row_bounds(x: Any, block_bytes: int = BLOCK_BYTES) -> list[tuple[int, int]]:
    """Row blocks of ``x``: its chunks for dask, about ``block_bytes`` each for numpy."""
    if isinstance(x, dsa.Array):
        edges = np.cumsum((0, *x.chunks[0]))
        return [(int(a), int(b)) for a, b in itertools.pairwise(edges)]
    per_row = max(int(np.prod(x.shape[1:])) * x.dtype.itemsize, 1)
    rows = int(min(max(block_bytes // per_row, 1), max(x.shape[0], 1)))
    return [(start, min(start + rows, x.shape[0])) for start in range(0, x.shape[0], rows)]


def for_row_blocks(
    x: Any,
    fn: Callable[[np.ndarray, int, int], Any],
    reduce: Callable[[Any, Any], Any] | None = None,
) -> Any:
    """Run ``fn(block, start, stop)`` over the row blocks of ``x``, a few at a time.

    numpy blocks are views computed in a thread pool; dask blocks are computed
    a few at a time on the configured scheduler (memory stays bounded by a few
    blocks even for data larger than memory).

    Returns
    -------
    list or object
        The results in order, or their running ``reduce``.
    """
    bounds = row_bounds(x)
    width = max(2, threads())
    results: list[Any] = []
    total = None
    if isinstance(x, dsa.Array):
        x = x.rechunk(dict.fromkeys(range(1, x.ndim), -1))
        blocks = x.to_delayed().reshape(-1)
        call = dask.delayed(fn, pure=False)

        def run(first: int) -> Sequence[Any]:
            tasks = [call(blocks[i], *bounds[i]) for i in range(first, first + width)
                     if i < len(bounds)]
            return dask.compute(*tasks)
    else:
        pool = ThreadPoolExecutor(width)
        if reduce is None:  # views and small results: no rounds, no waiting at each one
            width = len(bounds)

        def run(first: int) -> Sequence[Any]:
            chosen = bounds[first:first + width]
            return list(pool.map(lambda b: fn(x[b[0]:b[1]], *b), chosen))
    try:
        for first in range(0, len(bounds), max(width, 1)):
            for item in run(first):
                if reduce is None:
                    results.append(item)
                else:
                    total = item if total is None else reduce(total, item)
    finally:
        if not isinstance(x, dsa.Array):
            pool.shutdown()
    return results if reduce is None else total


def apply_rows(
    x: Any,
    kernel: Callable[[np.ndarray], np.ndarray],
    tail: Sequence[int],
    dtype: Any,
) -> Any:
    """Apply a row-block kernel to a numpy or dask array.

    Parameters
    ----------
    x : numpy or dask array
        Data with stimuli on axis 0.
    kernel : callable
        ``kernel(block) -> array`` of shape ``(len(block), *tail)``; must accept
        an empty block.
    tail : sequence of int
        Shape of the result after the stimulus axis.
    dtype : dtype
        Dtype of the result.

    Returns
    -------
    numpy or dask array
        Lazy for a dask input; computed (in threads when large) for numpy.
    """
    tail = tuple(int(t) for t in tail)
    dtype = np.dtype(dtype)
    if isinstance(x, dsa.Array):
        blocks = x.rechunk(dict.fromkeys(range(1, x.ndim), -1))
        return dsa.map_blocks(
            kernel,
            blocks,
            chunks=(blocks.chunks[0], *((t,) for t in tail)),
            dtype=dtype,
            drop_axis=list(range(1, blocks.ndim)),
            new_axis=list(range(1, 1 + len(tail))),
            meta=np.empty((0,) * (1 + len(tail)), dtype=dtype),
        )
    if x.nbytes <= PARALLEL_BYTES:
        return np.asarray(kernel(x), dtype=dtype)
    out = np.empty((x.shape[0], *tail), dtype=dtype)

    def fill(block: np.ndarray, start: int, stop: int) -> None:
        out[start:stop] = kernel(block)

    with blas_single_threaded():
        for_row_blocks(x, fill)
    return out
