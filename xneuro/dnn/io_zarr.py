"""Activation trees in Zarr: the tree layout (one group per layer) and the extraction layout.

Two layouts are read as the same :class:`xarray.DataTree`:

- **tree** (``xneuro.save(tree, path)``, :meth:`Activation.save`): one Zarr
  group per layer holding ``activation``; ``xr.open_datatree(path,
  engine="zarr")`` reads it too.
- **extraction** (:func:`xneuro.dnn.extract` with ``store=``): the resumable
  job store of :mod:`xneuro.core.jobs` is one flat group, so every layer is a
  variable named by the layer, whose dims other than ``stimulus`` carry the
  layer's name (``channel@features.3``); the root attribute
  ``xneuro_dnn_layers`` lists the layers. :func:`open_activations` turns it
  into the tree lazily (renaming only).
"""

from __future__ import annotations

import json
import os
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Literal

import xarray as xr

from xneuro.core import store
from xneuro.core.errors import input_error
from xneuro.dnn._labels import ACTIVATION, STIMULUS, iter_layers

__all__ = ["LAYERS_ATTR", "flat_to_tree", "open_activations", "save_activations", "tree_to_flat"]

#: Root attribute of an extraction store: JSON list of its layers.
LAYERS_ATTR = "xneuro_dnn_layers"
_SEP = "@"


def flat_dim(dim: Hashable, layer: str) -> str:
    """Name of a layer's dim in the flat layout."""
    return str(dim) if dim == STIMULUS else f"{dim}{_SEP}{layer}"


def tree_to_flat(layers: Mapping[str, xr.DataArray], attrs: Mapping | None = None) -> xr.Dataset:
    """Put layers into one Dataset (the extraction layout).

    Parameters
    ----------
    layers : mapping
        Layer name to activation with a ``stimulus`` dim; coordinates along
        ``stimulus`` must agree between layers.
    attrs : mapping, optional
        Root attributes.

    Returns
    -------
    Dataset
        One variable per layer, with layer-qualified dims.
    """
    variables = {}
    for layer, da in layers.items():
        if _SEP in layer or "/" in layer:
            raise input_error(
                "layers", f"has a layer named {layer!r}",
                expected=f"layer names without '{_SEP}' or '/'",
            )
        renamed = da.rename({d: flat_dim(d, layer) for d in da.dims if d != STIMULUS})
        variables[layer] = renamed.rename(None)
    ds = xr.Dataset(variables)
    ds.attrs = {**(attrs or {}), LAYERS_ATTR: json.dumps(list(layers))}
    return ds


def flat_to_tree(ds: xr.Dataset) -> xr.DataTree:
    """Turn an extraction-layout Dataset into an activation tree (lazily)."""
    names = json.loads(ds.attrs[LAYERS_ATTR])
    root_attrs = {k: v for k, v in ds.attrs.items() if k != LAYERS_ATTR}
    nodes: dict[str, xr.Dataset] = {"/": xr.Dataset(attrs=root_attrs)}
    for layer in names:
        da = ds[layer]
        da = da.rename({d: str(d).rsplit(_SEP, 1)[0] for d in da.dims if d != STIMULUS})
        nodes[f"/{layer}"] = xr.Dataset({ACTIVATION: da.rename(None)})
    return xr.DataTree.from_dict(nodes)


def open_activations(path: str | os.PathLike[str]) -> xr.DataTree:
    """Open an activation store (either layout) lazily as a DataTree.

    Parameters
    ----------
    path : str or PathLike
        A Zarr store written by :func:`save_activations`, :func:`xneuro.save`
        or :func:`xneuro.dnn.extract`.

    Returns
    -------
    DataTree
        One node per layer, dask-backed.
    """
    obj = store.open(path)
    if isinstance(obj, xr.Dataset) and LAYERS_ATTR in obj.attrs:
        return flat_to_tree(obj)
    if isinstance(obj, xr.DataTree):
        return obj
    if isinstance(obj, xr.DataArray):
        name = obj.name if isinstance(obj.name, str) else ACTIVATION
        return xr.DataTree.from_dict({f"/{name}": xr.Dataset({ACTIVATION: obj.rename(None)})})
    if ACTIVATION in obj.data_vars:
        return xr.DataTree(obj)
    raise input_error(
        "path", f"{os.fspath(path)!r} holds a Dataset with variables {list(obj.data_vars)}",
        expected="an activation store (one group per layer with 'activation', or an "
        "extraction store)",
    )


def save_activations(
    obj: xr.DataArray | xr.DataTree, path: str | os.PathLike[str], mode: Literal["w-", "w"] = "w-"
) -> Path:
    """Write activations to Zarr in the tree layout (chunked over ``stimulus``).

    Parameters
    ----------
    obj : DataArray or DataTree
        One layer (named by ``obj.name``) or a tree.
    path : str or PathLike
        Directory of the new store.
    mode : {"w-", "w"}
        ``"w"`` replaces an existing store.

    Returns
    -------
    pathlib.Path
        The store's path.
    """
    if isinstance(obj, xr.DataArray):
        name = obj.name if isinstance(obj.name, str) else ACTIVATION
        obj = xr.DataTree.from_dict({f"/{name}": xr.Dataset({ACTIVATION: obj.rename(None)})})
    iter_layers(obj)
    store.save(obj, path, unit_dim=STIMULUS, mode=mode, function="xneuro.dnn.save_activations")
    return Path(path)
