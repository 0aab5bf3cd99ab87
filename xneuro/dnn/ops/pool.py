"""Pooling of DNN activations over positions: one value per stimulus and channel.

Methods ``max``, ``mean`` and ``median`` reduce each channel's ``row x column``
map as numpy does. ``L1`` and ``L2`` come in two meanings, chosen by ``norm``:

- ``norm="vector"`` (default): the map's values as one vector over positions,
  ``L1 = sum |x|`` and ``L2 = sqrt(sum x**2)`` (the Frobenius norm). This is
  what "Lp pooling" means in the DNN literature.
- ``norm="matrix"``: dnnbrain's ``np.linalg.norm(x, 1 | 2, axis=(2, 3))``, the
  induced matrix norms of the ``row x column`` map: ``L1`` = largest absolute
  column sum, ``L2`` = largest singular value. Pass it to reproduce dnnbrain.

A layer without ``row``/``column`` (a fully connected layer, ``(stimulus,
unit)``) has one position per unit, as dnnbrain's ``(n, n_unit, 1, 1)``:
``max``/``mean``/``median`` return it unchanged and ``L1``/``L2`` return ``|x|``.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import numpy as np
import xarray as xr

from xneuro.core.backend import optional_module
from xneuro.core.errors import input_error
from xneuro.dnn._blocks import apply_rows
from xneuro.dnn._labels import canonical_order, layer_dims, map_layers, sample_dim

__all__ = ["POOL_METHODS", "pool", "pool_kernel"]

log = logging.getLogger("xneuro.dnn.ops.pool")

#: Pooling methods, as dnnbrain names them.
POOL_METHODS = ("max", "mean", "median", "L1", "L2")
_NORMS = ("vector", "matrix")


#: Values per group of maps in the median and matrix-L1 kernels (kept in the CPU cache).
GROUP_VALUES = 2**16


def _torch() -> Any:
    """torch when installed (its ``amax`` runs at memory speed), else None."""
    return optional_module("torch")


def _max_last(flat: np.ndarray) -> np.ndarray:
    """Maximum over the last axis, as ``flat.max(axis=-1)`` (NaN propagates).

    numpy's reduction pays a fixed cost per row, so over short rows such as
    14 x 14 = 196 positions it runs at a quarter of memory speed; torch's
    ``amax`` (no copy: ``from_numpy`` shares the memory) runs at the memory
    floor. numpy is used when torch is not installed or the array is
    read-only (torch needs writeable memory).
    """
    torch = _torch()
    if torch is None or not flat.flags.writeable or flat.dtype not in (np.float32, np.float64):
        return flat.max(axis=-1)
    values = torch.from_numpy(np.ascontiguousarray(flat))
    return values.amax(dim=-1).numpy()


def _mean_last(flat: np.ndarray) -> np.ndarray:
    """Mean over the last axis, as ``flat.mean(axis=-1)``.

    For float32/float64 the sum is one ``einsum`` (SIMD, at memory speed;
    ``mean`` is about twice slower on short rows); its rounding error is of
    the order of ``np.mean``'s (a few ulp for 196 values). Other dtypes use
    ``np.mean``.
    """
    if flat.dtype not in (np.float32, np.float64) or flat.shape[-1] == 0:
        return flat.mean(axis=-1)
    total = np.asarray(np.einsum("...i->...", flat))
    return np.divide(total, flat.shape[-1], out=total)


def _median_last(flat: np.ndarray) -> np.ndarray:
    """Median over the last axis, as ``np.median`` (NaN where a row holds NaN).

    Rows are sorted in cache-sized groups (numpy's SIMD sort), which is an
    order of magnitude faster than ``np.median``'s two-index ``np.partition``
    on short rows such as 14 x 14 = 196 positions.
    """
    n = flat.shape[-1]
    upper = n // 2

    def middle(group: np.ndarray) -> np.ndarray:
        part = np.sort(group, axis=-1)  # NaN sorts last
        value = part[:, upper] if n % 2 else (part[:, upper - 1] + part[:, upper]) / 2
        return np.where(np.isnan(part[:, -1]), np.nan, value)

    return _grouped(flat.reshape(-1, n), middle).reshape(flat.shape[:-1])


def _grouped(flat: np.ndarray, kernel: Any) -> np.ndarray:
    """``kernel`` over cache-sized groups of the rows of ``flat`` (m, n) -> (m,)."""
    out = np.empty(len(flat), dtype=flat.dtype)
    step = max(1, GROUP_VALUES // max(flat.shape[1], 1))
    for start in range(0, len(flat), step):
        out[start:start + step] = kernel(flat[start:start + step])
    return out


def _matrix_l1(maps: np.ndarray) -> np.ndarray:
    """dnnbrain's ``np.linalg.norm(x, 1, axis=(-2, -1))`` of maps (m, R, C): largest |column| sum.

    Fused per cache-sized group: ``|x|``, the column sums (``einsum``), then the
    maximum over columns taken across maps (a contiguous ``(C, m)`` copy).
    """
    sums = np.einsum("mrc->mc", np.abs(maps))
    return np.ascontiguousarray(sums.T).max(axis=0)


def _largest_singular_value(x: np.ndarray) -> np.ndarray:
    """``np.linalg.norm(x, 2, axis=(-2, -1))``: the largest singular value of each map.

    The square root of the largest eigenvalue of the smaller Gram matrix
    (``x^T x`` or ``x x^T``), computed in the input's precision (float32 for
    float32 maps, as numpy's SVD does; by torch's batched ``eigvalsh`` when torch
    is installed, a fifth faster than numpy's): 3.7 times as fast as numpy's SVD per
    map, and as accurate for the largest value (relative error a few ulp of the precision:
    measured at most 9e-8 for float32 14 x 14 maps, numpy's float32 SVD 5e-8).
    """
    a = x.astype(np.float64 if x.dtype == np.float64 else np.float32, copy=False)
    swapped = a.swapaxes(-1, -2)
    gram = np.matmul(swapped, a) if a.shape[-1] <= a.shape[-2] else np.matmul(a, swapped)
    torch = _torch()
    if torch is not None and gram.size:  # batched LAPACK with less overhead per map
        values = torch.linalg.eigvalsh(torch.from_numpy(gram)).numpy()
    else:
        values = np.linalg.eigvalsh(gram)
    return np.sqrt(np.clip(values[..., -1], 0, None))


def pool_kernel(x: np.ndarray, method: str, norm: str = "vector") -> np.ndarray:
    """Pool the last two axes (``row``, ``column``) of a block.

    Parameters
    ----------
    x : numpy.ndarray
        Shape ``(..., n_row, n_column)``, floating point.
    method : {"max", "mean", "median", "L1", "L2"}
        The statistic.
    norm : {"vector", "matrix"}
        Meaning of ``L1``/``L2`` (see the module notes).

    Returns
    -------
    numpy.ndarray
        Shape ``x.shape[:-2]``, dtype of ``x``.
    """
    lead = x.shape[:-2]
    if x.size == 0:
        return np.zeros(lead, dtype=x.dtype)
    flat = x.reshape(*lead, -1)
    rows = flat.reshape(-1, flat.shape[-1])
    if method == "max":
        out = _max_last(flat)
    elif method == "mean":
        out = _mean_last(flat)
    elif method == "median":
        out = _median_last(flat)
    elif method == "L1" and norm == "vector":
        out = _grouped(rows, lambda g: np.abs(g).sum(axis=-1)).reshape(lead)
    elif method == "L2" and norm == "vector":
        out = np.sqrt(np.einsum("...i,...i->...", flat, flat))
    elif method == "L1":
        maps = x.reshape(-1, *x.shape[-2:])
        out = _grouped(maps.reshape(len(maps), -1),
                       lambda g: _matrix_l1(g.reshape(-1, *x.shape[-2:]))).reshape(lead)
    else:  # L2, matrix: the largest singular value of each map
        out = _largest_singular_value(x)
    return out.astype(x.dtype, copy=False)


def _check(method: str, norm: str) -> None:
    if method not in POOL_METHODS:
        raise input_error(
            "method",
            f"is {method!r}",
            expected=f"one of {POOL_METHODS}",
            fix="pass e.g. method='max' (L1/L2 are written in capitals, as in dnnbrain)",
        )
    if norm not in _NORMS:
        raise input_error(
            "norm",
            f"is {norm!r}",
            expected="'vector' (norm of the map's values) or 'matrix' (dnnbrain's matrix norm)",
            fix="pass norm='vector', or norm='matrix' to reproduce dnnbrain",
        )


def _pool_layer(da: xr.DataArray, method: str, norm: str) -> xr.DataArray:
    da = canonical_order(da)
    if da.dtype.kind != "f":
        da = da.astype(np.float64)
    channels, spatial = layer_dims(da)
    if not spatial:
        log.debug("layer %r has no row/column: one position per unit", da.name)
        return (abs(da) if method in ("L1", "L2") else da).copy()
    if len(spatial) == 1:
        da = da.expand_dims({"column" if spatial == ("row",) else "row": 1}, axis=-1)
        da = canonical_order(da)
    keep_dims = (sample_dim(da), *channels)
    data = apply_rows(
        da.data,
        lambda block: pool_kernel(block, method, norm),
        tail=[da.sizes[d] for d in channels],
        dtype=da.dtype,
    )
    coords = {
        name: coord.variable
        for name, coord in da.coords.items()
        if set(coord.dims) <= set(keep_dims)
    }
    return xr.DataArray(data, dims=keep_dims, coords=coords, name=da.name, attrs=dict(da.attrs))


def pool(
    obj: xr.DataArray | xr.DataTree,
    method: Literal["max", "mean", "median", "L1", "L2"],
    *,
    norm: Literal["vector", "matrix"] = "vector",
) -> xr.DataArray | xr.DataTree:
    """Pool each channel's ``row x column`` map to one value per stimulus.

    Parameters
    ----------
    obj : DataArray or DataTree
        One layer ``(stimulus, channel, row, column)``, or a tree of layers.
    method : {"max", "mean", "median", "L1", "L2"}
        The statistic over positions (dnnbrain's choices).
    norm : {"vector", "matrix"}, default "vector"
        Meaning of ``L1``/``L2``: ``"vector"`` takes the map's values as one
        vector (``sum |x|``, ``sqrt(sum x**2)``); ``"matrix"`` takes dnnbrain's
        induced matrix norms (largest absolute column sum, largest singular
        value). Ignored by the other methods.

    Returns
    -------
    DataArray or DataTree
        The same type; each layer ``(stimulus, channel)`` (``row``/``column``
        removed; dnnbrain keeps them as size 1). Lazy when the input is.

    Raises
    ------
    InputError
        For an unknown ``method`` or ``norm``, or a malformed layer.

    Examples
    --------
    >>> pooled = xneuro.dnn.pool(act, "max")  # doctest: +SKIP
    >>> same = act.dnn.pool("max")  # doctest: +SKIP
    """
    _check(method, norm)
    return map_layers(obj, lambda da, _name: _pool_layer(da, method, norm))
