"""``Activation``: dnnbrain's activation container, over a lazy labeled DataTree.

The methods and their names are dnnbrain's (``get/set/delete/layers/
concatenate/load/save/mask/pool/fe/convolve_hrf``, ``+ - * /``, indexing
over stimuli); the data are an :class:`xarray.DataTree` (``.tree``) with one
node per layer, so everything stays lazy and labeled. Differences from
dnnbrain:

- :meth:`get` returns a DataArray (``.values`` gives dnnbrain's numpy array);
  fully connected layers are ``(stimulus, unit)``, pooled layers ``(stimulus,
  channel)`` (dnnbrain pads to 4-D; ``.act.h5`` files are written 4-D).
- Mask indices are 0-based (:class:`~xneuro.dnn.Mask` converts dnnbrain's files).
- ``pool("L1"/"L2")`` are vector norms unless ``norm="matrix"`` (dnnbrain's).
- ``load`` works on the class (``Activation.load(f)``) as well as on an instance.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from xneuro.core.errors import DimensionError, input_error
from xneuro.dnn._hybrid import hybridmethod
from xneuro.dnn._labels import ACTIVATION, STIMULUS, check_activation, iter_layers
from xneuro.dnn.hrf import convolve_hrf
from xneuro.dnn.io_h5 import SUFFIX as H5_SUFFIX
from xneuro.dnn.io_h5 import read_act_h5, write_act_h5
from xneuro.dnn.io_zarr import open_activations, save_activations
from xneuro.dnn.mask import Mask
from xneuro.dnn.ops import fe, mask, pool

__all__ = ["Activation"]

_DIMS_BY_NDIM = {2: (STIMULUS, "unit"), 4: (STIMULUS, "channel", "row", "column")}


def _as_layer(value: Any, layer: str) -> xr.DataArray:
    if isinstance(value, xr.DataArray):
        return check_activation(value, f"value of layer {layer!r}").rename(None)
    ndim = getattr(value, "ndim", None)
    if ndim is None:
        value = np.asarray(value)
        ndim = value.ndim
    if ndim not in _DIMS_BY_NDIM:
        raise input_error(
            "value", f"of layer {layer!r} has {ndim} dims",
            expected="a 4-D array (n_stim, n_chn, n_row, n_col) or 2-D (n_stim, n_unit), "
            "or a labeled DataArray",
            fix="reshape it, or wrap it in an xr.DataArray with named dims",
            cls=DimensionError,
        )
    return xr.DataArray(value, dims=_DIMS_BY_NDIM[ndim])


class Activation:
    """DNN activations of several layers for the same stimuli.

    Parameters
    ----------
    layer : str or DataTree, optional
        A first layer's name (with ``value``), or a whole activation tree.
    value : array-like or DataArray, optional
        That layer's activation: ``(n_stim, n_chn, n_row, n_col)``,
        ``(n_stim, n_unit)`` or a DataArray with a ``stimulus`` dim.

    Examples
    --------
    >>> act = Activation("conv1", np.zeros((10, 4, 5, 5), "float32"))
    >>> act.layers
    ['conv1']
    """

    def __init__(self, layer: str | xr.DataTree | None = None, value: Any = None) -> None:
        self._layers: dict[str, xr.DataArray] = {}
        self.attrs: dict[str, Any] = {}
        if isinstance(layer, xr.DataTree):
            self.attrs = dict(layer.attrs)
            for name, da in iter_layers(layer):
                self.set(name or ACTIVATION, da)
        elif layer is not None:
            if value is None:
                raise input_error("value", "is missing", expected="the activation of the layer")
            self.set(layer, value)

    # -- container -------------------------------------------------------------

    @property
    def tree(self) -> xr.DataTree:
        """The activations as a DataTree (one node per layer, variable ``activation``)."""
        nodes = {"/": xr.Dataset(attrs=dict(self.attrs))}
        nodes.update({f"/{k}": xr.Dataset({ACTIVATION: v}) for k, v in self._layers.items()})
        return xr.DataTree.from_dict(nodes)

    @property
    def layers(self) -> list[str]:
        """The layer names, in order."""
        return list(self._layers)

    def get(self, layer: str) -> xr.DataArray:
        """Return the activation of ``layer`` (a DataArray; ``.values`` for numpy)."""
        if layer not in self._layers:
            raise input_error("layer", f"{layer!r} is not in the activation",
                              expected=f"one of {self.layers}")
        return self._layers[layer]

    def set(self, layer: str, value: Any) -> None:
        """Set the activation of ``layer`` (4-D/2-D array or DataArray)."""
        if not isinstance(layer, str) or not layer or "/" in layer:
            raise input_error("layer", f"is {layer!r}", expected="a layer name without '/'")
        self._layers[layer] = _as_layer(value, layer)

    def delete(self, layer: str) -> None:
        """Remove ``layer``."""
        self.get(layer)
        del self._layers[layer]

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}: {dict(v.sizes)}" for k, v in self._layers.items())
        return f"Activation({shapes})"

    # -- files -------------------------------------------------------------------

    @hybridmethod
    def load(self, fname: str | os.PathLike[str], dmask: Mask | None = None) -> Activation:
        """Read activations (replacing this object's), lazily.

        Parameters
        ----------
        fname : str or PathLike
            A dnnbrain ``.act.h5`` file, or an xneuro Zarr store (either layout).
        dmask : Mask, optional
            Keep only these layers/channels/rows/columns (0-based).

        Returns
        -------
        Activation
            ``self``; on the class (``Activation.load(f)``) a new object.
        """
        if Path(fname).name.endswith(H5_SUFFIX):
            tree = read_act_h5(fname, dmask)
        else:
            tree = open_activations(fname)
            if dmask is not None:
                tree = mask(tree, dmask=dmask)
        loaded = Activation(tree)
        self._layers, self.attrs = loaded._layers, loaded.attrs
        return self

    def save(self, fname: str | os.PathLike[str], *, mode: str = "w") -> Path:
        """Write to a dnnbrain ``.act.h5`` file (by suffix) or an xneuro Zarr store.

        Parameters
        ----------
        fname : str or PathLike
            ``*.act.h5`` for dnnbrain's format, anything else for Zarr.
        mode : {"w", "w-"}
            For Zarr: ``"w"`` replaces an existing store, ``"w-"`` refuses.

        Returns
        -------
        pathlib.Path
            What was written.
        """
        if Path(fname).name.endswith(H5_SUFFIX):
            return write_act_h5(self.tree, fname)
        return save_activations(self.tree, fname, mode=mode)  # type: ignore[arg-type]

    # -- operations ----------------------------------------------------------------

    def mask(self, dmask: Mask) -> Activation:
        """Keep the layers, channels, rows and columns of ``dmask`` (0-based)."""
        return Activation(mask(self.tree, dmask=dmask))

    def pool(self, method: str, *, norm: str = "vector") -> Activation:
        """Pool each channel over positions; see :func:`xneuro.dnn.pool`."""
        return Activation(pool(self.tree, method, norm=norm))  # type: ignore[arg-type]

    def fe(self, method: str, n_feat: int | float, axis: str | None = None, **kwargs: Any
           ) -> Activation:
        """Extract features; see :func:`xneuro.dnn.fe`."""
        return Activation(fe(self.tree, method, n_feat, axis=axis, **kwargs))  # type: ignore[arg-type]

    def convolve_hrf(
        self, onsets: Any, durations: Any, n_vol: int, tr: float, ops: int = 100, **kwargs: Any
    ) -> Activation:
        """Convolve with the HRF at the BOLD volumes; see :func:`xneuro.dnn.convolve_hrf`."""
        tree = convolve_hrf(self.tree, onsets, durations, n_vol, tr, ops, **kwargs)
        return Activation(tree)

    def concatenate(self, activations: Sequence[Activation]) -> Activation:
        """Concatenate this object and ``activations`` along stimuli (same layers)."""
        items = [self, *activations]
        for position, item in enumerate(items[1:], 1):
            if not isinstance(item, Activation):
                raise input_error("activations", f"item {position - 1} is a "
                                  f"{type(item).__name__}", expected="Activation objects")
            if sorted(item.layers) != sorted(self.layers):
                raise input_error(
                    "activations", f"item {position - 1} has layers {item.layers}",
                    expected=f"the same layers as self: {self.layers}",
                )
        out = Activation()
        out.attrs = dict(self.attrs)
        for layer in self.layers:
            out.set(layer, xr.concat([item.get(layer) for item in items], dim=STIMULUS))
        return out

    def __getitem__(self, indices: int | slice | Sequence[int]) -> Activation:
        if isinstance(indices, int | np.integer):
            indices = [int(indices)]
        if not isinstance(indices, slice | list | np.ndarray | range):
            raise input_error("indices", f"is a {type(indices).__name__}",
                              expected="an int, a slice or a list of stimulus positions")
        out = Activation()
        out.attrs = dict(self.attrs)
        for layer in self.layers:
            out.set(layer, self.get(layer).isel({STIMULUS: indices}))
        return out

    # -- arithmetic ----------------------------------------------------------------

    def _combine(self, other: Any, op: Callable[[Any, Any], Any], reflected: bool = False
                 ) -> Activation:
        out = Activation()
        out.attrs = dict(self.attrs)
        if isinstance(other, Activation):
            if sorted(other.layers) != sorted(self.layers):
                raise input_error("other", f"has layers {other.layers}",
                                  expected=f"the layers {self.layers}")
            for layer in self.layers:
                a, b = self.get(layer), other.get(layer)
                if a.sizes != b.sizes:
                    raise input_error(
                        "other", f"layer {layer!r} has sizes {dict(b.sizes)}",
                        expected=f"sizes {dict(a.sizes)}", cls=DimensionError,
                    )
                b = b.transpose(*a.dims).data  # positional, as dnnbrain: no label alignment
                out.set(layer, a.copy(data=op(b, a.data) if reflected else op(a.data, b)))
        elif isinstance(other, int | float | np.number):
            for layer in self.layers:
                a = self.get(layer)
                out.set(layer, op(other, a) if reflected else op(a, other))
        else:
            return NotImplemented
        return out

    def __add__(self, other: Any) -> Activation:
        return self._combine(other, operator.add)

    def __sub__(self, other: Any) -> Activation:
        return self._combine(other, operator.sub)

    def __mul__(self, other: Any) -> Activation:
        return self._combine(other, operator.mul)

    def __truediv__(self, other: Any) -> Activation:
        return self._combine(other, operator.truediv)

    def __radd__(self, other: Any) -> Activation:
        return self._combine(other, operator.add, reflected=True)

    def __rsub__(self, other: Any) -> Activation:
        return self._combine(other, operator.sub, reflected=True)

    def __rmul__(self, other: Any) -> Activation:
        return self._combine(other, operator.mul, reflected=True)

    def __rtruediv__(self, other: Any) -> Activation:
        return self._combine(other, operator.truediv, reflected=True)
