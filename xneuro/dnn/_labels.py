"""Labeled layers: checking an activation array and mapping functions over a layer tree.

An activation tree is a :class:`xarray.DataTree` whose nodes (one per layer)
hold a variable ``activation`` with dims ``("stimulus", "channel", "row",
"column")`` (convolutional layers) or ``("stimulus", "unit")`` (fully connected
layers); operations may add or remove dims (``feature``, or the spatial dims
after pooling). A single layer may also be passed as a DataArray.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import dask.array as dsa
import numpy as np
import xarray as xr

from xneuro.core.errors import DimensionError, input_error

__all__ = [
    "ACTIVATION",
    "SPATIAL_DIMS",
    "SAMPLE_DIMS",
    "STIMULUS",
    "check_activation",
    "iter_layers",
    "layer_dims",
    "map_layers",
    "sample_dim",
]

#: Name of the variable that holds a layer's activation in each tree node.
ACTIVATION = "activation"
#: The stimulus dimension.
STIMULUS = "stimulus"
#: Sample dims a layer may have: stimuli, or volumes after :func:`xneuro.dnn.convolve_hrf`.
SAMPLE_DIMS = (STIMULUS, "time")
#: Spatial dims of convolutional layers, in order.
SPATIAL_DIMS: tuple[str, str] = ("row", "column")

T = TypeVar("T", xr.DataArray, xr.DataTree)


def is_lazy(data: Any) -> bool:
    """Return whether ``data`` (an array or a DataArray) is dask-backed."""
    if isinstance(data, xr.DataArray):
        data = data.data
    return isinstance(data, dsa.Array)


def check_activation(da: Any, argument: str = "activation") -> xr.DataArray:
    """Check that ``da`` is a numeric DataArray with a ``stimulus`` (or ``time``) dim.

    Parameters
    ----------
    da : object
        The layer's activation.
    argument : str
        Name used in error messages.

    Returns
    -------
    DataArray
        ``da``, with its sample dim moved first if it was elsewhere.

    Raises
    ------
    InputError, DimensionError
        For a non-DataArray, a missing ``stimulus`` dim or non-numeric values.
    """
    if not isinstance(da, xr.DataArray):
        raise input_error(
            argument,
            f"is a {type(da).__name__}",
            expected="an xarray DataArray with dims ('stimulus', 'channel', 'row', 'column') "
            "or ('stimulus', 'unit'), or a DataTree of such layers",
            fix="extract activations with xneuro.dnn.extract, or wrap the array with "
            "xr.DataArray(values, dims=('stimulus', 'channel', 'row', 'column'))",
        )
    if not any(d in da.dims for d in SAMPLE_DIMS):
        raise input_error(
            argument,
            f"has dims {da.dims}",
            expected="a 'stimulus' dim (or 'time' after convolve_hrf) and e.g. 'channel', "
            "'row', 'column'",
            fix="rename the first dim: da.rename({da.dims[0]: 'stimulus'})",
            cls=DimensionError,
        )
    if da.dtype.kind not in "biuf":
        raise input_error(
            argument, f"has dtype {da.dtype}", expected="a real numeric dtype",
            fix="convert it with .astype('float32')",
        )
    sample = sample_dim(da)
    if da.dims[0] != sample:
        da = da.transpose(sample, ...)
    return da


def sample_dim(da: xr.DataArray) -> Hashable:
    """The sample dim of a layer: ``stimulus``, or ``time`` for HRF-convolved activations."""
    return STIMULUS if STIMULUS in da.dims else "time"


def layer_dims(da: xr.DataArray) -> tuple[tuple[Hashable, ...], tuple[Hashable, ...]]:
    """Split a layer's non-stimulus dims into channel-like dims and spatial dims.

    Parameters
    ----------
    da : DataArray
        A checked activation (see :func:`check_activation`).

    Returns
    -------
    channels : tuple of str
        Dims that are neither the sample dim nor ``row``/``column`` (usually
        ``("channel",)`` or ``("unit",)``), in their order in ``da``.
    spatial : tuple of str
        The spatial dims present, in the order ``("row", "column")``.
    """
    spatial = tuple(d for d in SPATIAL_DIMS if d in da.dims)
    channels = tuple(d for d in da.dims if d not in SAMPLE_DIMS and d not in SPATIAL_DIMS)
    return channels, spatial


def iter_layers(obj: xr.DataArray | xr.DataTree) -> list[tuple[str, xr.DataArray]]:
    """List ``(layer name, activation)`` pairs of a tree (or the one layer of a DataArray).

    Parameters
    ----------
    obj : DataArray or DataTree
        A layer, or a tree of layers.

    Returns
    -------
    list of (str, DataArray)
        Node paths relative to the root (without the leading ``/``) and their
        ``activation``; a DataArray gives one pair named by its ``name``.
    """
    if isinstance(obj, xr.DataArray):
        return [(str(obj.name) if obj.name is not None else ACTIVATION, obj)]
    if not isinstance(obj, xr.DataTree):
        raise input_error(
            "obj",
            f"is a {type(obj).__name__}",
            expected="a DataTree of layers (each node with an 'activation' variable) "
            "or one layer as a DataArray",
            fix="pass the result of xneuro.dnn.extract, or one of its nodes' ['activation']",
        )
    out = []
    for node in obj.subtree:
        if ACTIVATION in node.data_vars:
            out.append((node.relative_to(obj) if node is not obj else "", node[ACTIVATION]))
    if not out:
        raise input_error(
            "obj",
            "is a DataTree with no node holding an 'activation' variable",
            expected="one node per layer, each with an 'activation' variable",
            fix="build it with xneuro.dnn.extract or xneuro.dnn.Activation",
        )
    return out


def map_layers(
    obj: T,
    func: Callable[[xr.DataArray, str], xr.DataArray],
    *,
    keep: Callable[[str], bool] | None = None,
) -> T:
    """Apply ``func(activation, layer)`` to a layer or to every layer of a tree.

    Parameters
    ----------
    obj : DataArray or DataTree
        One layer, or a tree of layers.
    func : callable
        Returns the new activation of one layer.
    keep : callable, optional
        ``keep(layer)`` decides which layers of a tree are kept; default all.

    Returns
    -------
    DataArray or DataTree
        The same type as ``obj``; a tree keeps its root attrs and each node's attrs.
    """
    if isinstance(obj, xr.DataArray):
        out = func(check_activation(obj), iter_layers(obj)[0][0])
        return out.rename(obj.name) if out.name != obj.name else out
    layers = iter_layers(obj)
    datasets: dict[str, xr.Dataset] = {"/": xr.Dataset(attrs=dict(obj.attrs))}
    for name, da in layers:
        if keep is not None and not keep(name):
            continue
        node = obj[name] if name else obj
        result = func(check_activation(da, f"activation of layer {name!r}"), name)
        ds = xr.Dataset({ACTIVATION: result.rename(None)}, attrs=dict(node.attrs))
        if name:
            datasets[f"/{name}"] = ds
        else:
            datasets["/"] = ds.assign_attrs(obj.attrs)
    return xr.DataTree.from_dict(datasets)


def canonical_order(da: xr.DataArray) -> xr.DataArray:
    """Transpose to ``(stimulus, *channel dims, row, column)``."""
    channels, spatial = layer_dims(da)
    order = (sample_dim(da), *channels, *spatial)
    return da if da.dims == order else da.transpose(*order)


def stimulus_coords(da: xr.DataArray) -> dict[Hashable, xr.Variable]:
    """The coordinates of ``da`` that lie along ``stimulus`` only (kept by every operation)."""
    return {
        name: coord.variable
        for name, coord in da.coords.items()
        if coord.dims == (STIMULUS,)
    }


def as_numpy_int_list(values: Any) -> np.ndarray | None:
    """Convert a sequence of indices to an int array, or return ``None`` if it is not one."""
    try:
        array = np.asarray(values)
    except (TypeError, ValueError):
        return None
    if array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
        return None
    return array.astype(np.int64)
