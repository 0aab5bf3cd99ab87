"""Blockwise evaluation of pure per-voxel JAX functions on labeled tables.

The encoding models reduce every labeled computation to one shape:
``fn(X, table) -> (T, V)``, where ``X`` is shared by all voxels (the
paradigm, or population responses) and ``table`` holds one row per voxel
(parameters, or weight columns). :func:`evaluate` runs it

- eagerly for numpy tables, in voxel blocks padded to a power of two (so a
  few jit compilations serve every size) and sized to a memory budget;
- lazily for dask tables, with :func:`xneuro.core.parallel.map_units` over
  the voxel chunks (the same blocks inside each chunk).

JAX runs in float32 unless ``dtype="float64"``, which is enabled for the call
only (``jax.enable_x64`` is a thread-local context, never a global switch).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

import jax
import numpy as np
import xarray as xr

from xneuro.core.parallel import map_units

__all__ = ["JitMethod", "block_size", "evaluate", "evaluate_array", "precision"]

logger = logging.getLogger("xneuro.encoding.engine")

#: Elements (not bytes) of the largest intermediate of one block.
BLOCK_ELEMENTS = 2**24
MAX_BLOCK = 2**15


class JitMethod:
    """A picklable handle on ``owner.jitted(name)``: dask tasks may be shipped to workers.

    Compiled functions cannot be pickled; the owner (an encoding model) drops
    its cache when pickled and compiles again where the task runs.
    """

    def __init__(self, owner: Any, name: str) -> None:
        self.owner, self.name = owner, name

    def __call__(self, *args: Any) -> Any:
        return self.owner.jitted(self.name)(*args)


@contextlib.contextmanager
def precision(dtype: str) -> Iterator[None]:
    """Run JAX in float64 inside the block when ``dtype == "float64"``."""
    if dtype == "float64":
        with jax.enable_x64(True):
            yield
    else:
        yield


def block_size(n_voxels: int, per_voxel: int) -> int:
    """Voxels per block: the memory budget, capped, and a power of two >= small inputs."""
    budget = max(1, min(MAX_BLOCK, BLOCK_ELEMENTS // max(per_voxel, 1)))
    fitting = 1 << max(int(n_voxels) - 1, 0).bit_length()
    return max(1, min(budget, fitting))


def evaluate_array(fn: Callable[[Any, Any], Any], X: np.ndarray, table: np.ndarray, *,
                   dtype: str, per_voxel: int,
                   check: Callable[[np.ndarray], None] | None = None) -> np.ndarray:
    """``fn(X, table)`` on numpy, in padded voxel blocks; returns ``(T, V)`` numpy.

    Parameters
    ----------
    fn : callable
        Jitted pure JAX function ``(X, table_block) -> (T, block)``. Pass the
        same jitted object on every call (e.g. one cached on the model), or
        every call compiles again.
    X : numpy.ndarray
        Shared input.
    table : numpy.ndarray, shape (V, k)
        One row per voxel.
    dtype : {"float32", "float64"}
        Precision of the computation and of the result.
    per_voxel : int
        Elements of the largest intermediate per voxel (sets the block size).
    check : callable, optional
        Called on ``table`` first (validation inside dask tasks).
    """
    if check is not None:
        check(table)
    n_voxels = table.shape[0]
    if n_voxels == 0:
        return np.empty((X.shape[0], 0), dtype=dtype)
    size = block_size(n_voxels, per_voxel)
    out = None
    with precision(dtype):
        X = np.asarray(X, dtype=dtype)
        for start in range(0, n_voxels, size):
            block = np.asarray(table[start:start + size], dtype=dtype)
            n = block.shape[0]
            padded = block_size(n, per_voxel)  # the last block: its own power of two
            if n < padded:  # pad with copies of a valid row: few compiled shapes
                block = np.concatenate([block, np.repeat(block[-1:], padded - n, axis=0)])
            result = np.asarray(fn(X, block))[:, :n]
            if out is None:
                out = np.empty((result.shape[0], n_voxels), dtype=dtype)
            out[:, start:start + n] = result
    return out


def _block(table: np.ndarray, *, fn: Callable, X: np.ndarray, dtype: str, per_voxel: int,
           check: Callable | None) -> np.ndarray:
    """map_units kernel: ``(V_chunk, k)`` -> ``(V_chunk, T)``."""
    return evaluate_array(fn, X, table, dtype=dtype, per_voxel=per_voxel, check=check).T


def evaluate(fn: Callable[[Any, Any], Any], X: np.ndarray, table: xr.DataArray,
             time: xr.DataArray, *, dtype: str, per_voxel: int,
             check: Callable[[np.ndarray], None] | None = None) -> xr.DataArray:
    """``fn(X, table)`` on a labeled ``(voxel, k)`` table; returns ``(time, voxel)``.

    Dask-backed tables stay lazy (one task per voxel chunk; ``check`` runs in
    each task); numpy ones are computed at once. The voxel coords of ``table``
    and the ``time`` coord are kept.
    """
    core = table.dims[1]
    if table.chunks is not None:
        if len(table.chunksizes[core]) > 1:
            table = table.chunk({core: -1})
        out = map_units(_block, table, core_dims=[[core]], output_core_dims=[["time"]],
                        output_sizes={"time": X.shape[0]}, output_dtypes=[dtype],
                        kwargs={"fn": fn, "X": X, "dtype": dtype, "per_voxel": per_voxel,
                                "check": check})
        out = out.transpose("time", "voxel")
    else:
        values = evaluate_array(fn, X, np.asarray(table.values), dtype=dtype,
                                per_voxel=per_voxel, check=check)
        out = xr.DataArray(values, dims=("time", "voxel"))
    coords = {k: v for k, v in table.coords.items() if core not in v.dims}
    return out.assign_coords(coords).assign_coords(time=time)
