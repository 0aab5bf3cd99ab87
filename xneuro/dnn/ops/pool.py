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
from typing import Literal

import numpy as np
import xarray as xr

from xneuro.core.errors import input_error
from xneuro.dnn._blocks import apply_rows
from xneuro.dnn._labels import canonical_order, layer_dims, map_layers, sample_dim

__all__ = ["POOL_METHODS", "pool", "pool_kernel"]

log = logging.getLogger("xneuro.dnn.ops.pool")

#: Pooling methods, as dnnbrain names them.
POOL_METHODS = ("max", "mean", "median", "L1", "L2")
_NORMS = ("vector", "matrix")


def _median_last(flat: np.ndarray) -> np.ndarray:
    n = flat.shape[-1]
    if n % 2:
        return np.partition(flat, n // 2, axis=-1)[..., n // 2]
    part = np.partition(flat, (n // 2 - 1, n // 2), axis=-1)
    return (part[..., n // 2 - 1] + part[..., n // 2]) / 2


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
    if method == "max":
        out = flat.max(axis=-1)
    elif method == "mean":
        out = flat.mean(axis=-1)
    elif method == "median":
        out = _median_last(flat)
    elif method == "L1" and norm == "vector":
        out = np.abs(flat).sum(axis=-1)
    elif method == "L2" and norm == "vector":
        out = np.sqrt(np.einsum("...i,...i->...", flat, flat))
    elif method == "L1":
        out = np.abs(x).sum(axis=-2).max(axis=-1)
    else:  # L2, matrix: the largest singular value of each map
        out = np.linalg.svd(x, compute_uv=False)[..., 0]
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
