"""Masking DNN activations: keep chosen channels, rows and columns (0-based indices).

xneuro indexes from 0, like numpy and PyTorch. dnnbrain's ``.dmask.csv``
files are 1-based; :meth:`xneuro.dnn.Mask.load` converts them, so a
:class:`~xneuro.dnn.Mask` always holds 0-based indices. An index equal to the
size of the dim (one past the end) is the typical sign of a 1-based list and
the error says so.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from xneuro.core.errors import DimensionError, input_error
from xneuro.dnn._labels import (
    as_numpy_int_list,
    check_activation,
    iter_layers,
    layer_dims,
    map_layers,
)

if TYPE_CHECKING:
    from xneuro.dnn.mask import Mask

__all__ = ["mask", "selection"]

Indices = Sequence[int] | np.ndarray | str | None

_KEYS = {"channels": "chn", "rows": "row", "columns": "col"}


def _channel_dim(da: xr.DataArray, layer: str) -> Hashable:
    channels, _ = layer_dims(da)
    if len(channels) != 1:
        raise input_error(
            "channels",
            f"cannot be applied to layer {layer!r} with dims {da.dims}",
            expected="exactly one channel-like dim ('channel', 'unit' or 'feature')",
            cls=DimensionError,
        )
    return channels[0]


def _indices(values: Indices, argument: str, size: int, layer: str) -> np.ndarray | None:
    if values is None or (isinstance(values, str) and values == "all"):
        return None
    array = as_numpy_int_list(values)
    if array is None or isinstance(values, str):
        raise input_error(
            argument,
            f"is {values!r}",
            expected="'all', None, or a list of 0-based int indices",
            fix=f"pass e.g. {argument}=[0, 5, 9]",
        )
    if array.size == 0:
        raise input_error(argument, "is empty", expected="at least one index, or 'all'")
    bad = array[(array < 0) | (array >= size)]
    if bad.size:
        hint = (
            f"; {int(array.max())} is one past the end, so these look like 1-based "
            "(dnnbrain) indices: subtract 1, or read a .dmask.csv with xneuro.dnn.Mask.load"
            if int(array.max()) == size and array.min() >= 1
            else ""
        )
        raise input_error(
            argument,
            f"has indices {sorted(set(bad.tolist()))[:10]} out of range for layer {layer!r}, "
            f"whose size is {size}{hint}",
            expected=f"0-based indices in 0..{size - 1}",
            fix=f"pass indices between 0 and {size - 1} (xneuro counts from 0)",
        )
    return array


def selection(
    da: xr.DataArray, layer: str, channels: Indices, rows: Indices, columns: Indices
) -> dict[Hashable, np.ndarray]:
    """Check 0-based indices against a layer and return its ``isel`` selection.

    Parameters
    ----------
    da : DataArray
        The layer.
    layer : str
        Its name, for messages.
    channels, rows, columns : list of int, "all" or None
        0-based indices to keep.

    Returns
    -------
    dict
        Dim name to int index array, for ``da.isel``.
    """
    out: dict[Hashable, np.ndarray] = {}
    for argument, values, dim in (("rows", rows, "row"), ("columns", columns, "column")):
        if values is None or (isinstance(values, str) and values == "all"):
            continue
        if dim not in da.dims:
            raise input_error(
                argument,
                f"was given but layer {layer!r} has no {dim!r} dim (dims {da.dims})",
                expected="a convolutional layer",
                fix=f"leave {argument} out for this layer",
                cls=DimensionError,
            )
        out[dim] = _indices(values, argument, int(da.sizes[dim]), layer)
    if channels is not None and not (isinstance(channels, str) and channels == "all"):
        dim = _channel_dim(da, layer)
        out[dim] = _indices(channels, "channels", int(da.sizes[dim]), layer)
    return {dim: idx for dim, idx in out.items() if idx is not None}


def mask(
    obj: xr.DataArray | xr.DataTree,
    channels: Indices = None,
    rows: Indices = None,
    columns: Indices = None,
    *,
    dmask: Mask | None = None,
    layers: str | Sequence[str] | None = None,
) -> xr.DataArray | xr.DataTree:
    """Keep the chosen channels, rows and columns of each layer (0-based indices).

    Parameters
    ----------
    obj : DataArray or DataTree
        One layer, or a tree of layers.
    channels, rows, columns : list of int, "all" or None
        0-based indices to keep in every layer (``channels`` applies to the
        channel-like dim: ``channel`` or ``unit``). ``None``/``"all"`` keeps all.
    dmask : Mask, optional
        Per-layer masks (0-based; :meth:`~xneuro.dnn.Mask.load` converts
        dnnbrain's 1-based ``.dmask.csv``). As in dnnbrain, only the layers of
        the mask are kept. Not combined with ``channels``/``rows``/``columns``.
    layers : str or list of str, optional
        Keep only these layers of a tree.

    Returns
    -------
    DataArray or DataTree
        The same type, lazy when the input is.

    Raises
    ------
    InputError
        For an index out of range (the message says when the indices look
        1-based), an unknown layer, or a dim the layer does not have. Every
        layer is checked before anything is selected.

    Examples
    --------
    >>> feat = act.dnn.mask(channels=[0, 5, 9]).dnn.pool("max")  # doctest: +SKIP
    """
    if dmask is not None and any(v is not None for v in (channels, rows, columns)):
        raise input_error(
            "dmask",
            "was given together with channels/rows/columns",
            expected="either a Mask or the index lists",
            fix="put the indices into the Mask (mask.set(layer, channels=...)), or drop dmask",
        )
    available = [name for name, _ in iter_layers(obj)]
    wanted: list[str] | None = None
    if layers is not None:
        wanted = [layers] if isinstance(layers, str) else list(layers)
    if dmask is not None:
        from xneuro.dnn.mask import Mask

        if not isinstance(dmask, Mask):
            raise input_error(
                "dmask", f"is a {type(dmask).__name__}", expected="an xneuro.dnn.Mask",
                fix="build one with xneuro.dnn.Mask(layer, channels=[...]) or Mask.load(path)",
            )
        wanted = [name for name in dmask.layers if wanted is None or name in wanted]
    if wanted is not None and isinstance(obj, xr.DataTree):
        unknown = [name for name in wanted if name not in available]
        if unknown:
            raise input_error(
                "layers" if dmask is None else "dmask",
                f"names layers {unknown} that are not in the activations",
                expected=f"names from {available}",
                fix="check the layer names (xneuro.dnn.layers(net) lists a network's)",
            )

    def spec(name: str) -> tuple[Indices, Indices, Indices]:
        if dmask is None:
            return channels, rows, columns
        entry = dmask.get(name)
        return entry["chn"], entry["row"], entry["col"]

    selections: dict[str, dict[Hashable, np.ndarray]] = {}
    for name, da in iter_layers(obj):
        if isinstance(obj, xr.DataTree) and wanted is not None and name not in wanted:
            continue
        da = check_activation(da, f"activation of layer {name!r}")
        if dmask is not None and isinstance(obj, xr.DataArray) and name not in dmask.layers:
            raise input_error(
                "dmask", f"has no layer named {name!r} (the DataArray's name)",
                expected=f"one of {dmask.layers}",
                fix="name the DataArray after its layer: da.rename('<layer>')",
            )
        selections[name] = selection(da, name, *spec(name))

    def keep(name: str) -> bool:
        return name in selections

    return map_layers(
        obj, lambda da, name: da.isel(selections[name]) if selections[name] else da, keep=keep
    )
