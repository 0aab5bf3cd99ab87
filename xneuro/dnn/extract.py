"""Extraction of layer activations from PyTorch (and Keras) networks into a labeled DataTree.

All requested layers come from one forward pass per batch. Everything that
can be wrong (unknown layers, image values, image shape, mask indices) is
checked on one image before any batch runs. Without ``store`` the batches run
here and the result is in memory; with ``store`` every unit of stimuli is a
dask task that runs its batches and writes its region of a Zarr store
(:mod:`xneuro.core.jobs`), so an interrupted extraction resumes where it
stopped and a cluster spreads the units over its workers (the network is
loaded once per worker). Masking and pooling can be applied per batch, so a
huge layer never exists whole.
"""

from __future__ import annotations

import difflib
import logging
import os
import shutil
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

import dask.array as dsa
import numpy as np
import xarray as xr
import zarr

from xneuro.core.backend import resolve_device
from xneuro.core.errors import InputError, input_error
from xneuro.core.jobs import ResumableJob
from xneuro.core.progress import current_client, progress_bar
from xneuro.core.provenance import stamp
from xneuro.dnn._labels import ACTIVATION, STIMULUS
from xneuro.dnn._torch import TorchRunner, is_torch_module, torch_layers
from xneuro.dnn.images import ImageSource, as_image_source
from xneuro.dnn.io_zarr import flat_dim, flat_to_tree, tree_to_flat
from xneuro.dnn.mask import Mask
from xneuro.dnn.ops.mask import selection
from xneuro.dnn.ops.pool import POOL_METHODS, pool_kernel

__all__ = ["extract", "layers"]

log = logging.getLogger("xneuro.dnn.extract")

_OUTPUT_DIMS = {
    2: ("unit",),
    3: ("token", "unit"),
    4: ("channel", "row", "column"),
    5: ("channel", "frame", "row", "column"),
}


def _is_keras(net: Any) -> bool:
    return any(
        cls.__module__.split(".")[0] in ("keras", "tensorflow", "tf_keras")
        for cls in type(net).__mro__
    )


def layers(net: Any) -> list[str]:
    """List the layer names of a network, as :func:`extract` expects them.

    Parameters
    ----------
    net : torch.nn.Module or keras.Model
        The network.

    Returns
    -------
    list of str
        PyTorch: module paths from ``net.named_modules()`` (e.g.
        ``"features.3"``); Keras: layer names.
    """
    if _is_keras(net):  # first: Keras 3 models on the torch backend are torch modules too
        from xneuro.dnn.keras import keras_layers

        return keras_layers(net)
    if is_torch_module(net):
        return torch_layers(net)
    raise input_error(
        "net", f"is a {type(net).__name__}",
        expected="a torch.nn.Module or a Keras model",
        fix="pass the network object itself (e.g. torchvision.models.alexnet(weights=...))",
    )


def _check_layer_names(requested: Any, available: list[str]) -> list[str]:
    names = [requested] if isinstance(requested, str) else list(requested or [])
    if not names or not all(isinstance(n, str) for n in names):
        raise input_error("layers", f"is {requested!r}", expected="a non-empty list of layer names",
                          fix="pass e.g. layers=['features.3'] (xneuro.dnn.layers(net) lists them)")
    if len(set(names)) != len(names):
        raise input_error("layers", f"repeats names: {names}", expected="distinct layer names")
    for name in names:
        if name not in available:
            close = difflib.get_close_matches(name, available, n=5, cutoff=0.4)
            shown = close or available[:15]
            raise input_error(
                "layers",
                f"{name!r} is not a layer of the network; "
                + (f"close matches: {close}" if close else f"its layers start with {shown}"),
                expected="module paths as net.named_modules() gives them (Keras: layer names)",
                fix="pick names from xneuro.dnn.layers(net)",
            )
    return names


def _make_runner(net: Any, names: Any, device: str | None, preprocess: Any,
                 size: tuple[int, int] | None, dtype: str) -> Any:
    if preprocess is not None and preprocess != "imagenet" and not callable(preprocess):
        raise input_error("preprocess", f"is {preprocess!r}",
                          expected="'imagenet', None or a callable")
    if _is_keras(net):  # first: Keras 3 models on the torch backend are torch modules too
        from xneuro.dnn.keras import KerasRunner, keras_layers

        checked = _check_layer_names(names, keras_layers(net))
        return KerasRunner(net, checked, preprocess=preprocess, size=size, dtype=dtype)
    if is_torch_module(net):
        checked = _check_layer_names(names, torch_layers(net))
        return TorchRunner(net, checked, device=resolve_device(device, engine="torch"),
                           preprocess=preprocess, size=size, dtype=dtype)
    layers(net)  # raises the error for an unknown network type
    raise AssertionError  # pragma: no cover


# ----------------------------------------------------------------------------- per batch


class _Post:
    """Per-batch masking and pooling, with the dims of each layer's result."""

    def __init__(self, shapes: dict[str, tuple[int, ...]], dmask: Mask | None,
                 pool: str | None, norm: str) -> None:
        self.pool, self.norm = pool, norm
        self.dims: dict[str, tuple[Hashable, ...]] = {}
        self.select: dict[str, dict[int, np.ndarray]] = {}
        for name, shape in shapes.items():
            if len(shape) not in _OUTPUT_DIMS:
                raise input_error("layers", f"{name!r} outputs a tensor of shape {shape}",
                                  expected="2-D to 5-D outputs (batch first)")
            dims = (STIMULUS, *_OUTPUT_DIMS[len(shape)])
            entry = dmask.get(name) if dmask is not None and name in dmask.layers else None
            sel: dict[Hashable, np.ndarray] = {}
            if entry is not None:
                probe = xr.DataArray(dsa.empty(shape, chunks=shape), dims=dims)
                sel = selection(probe, name, entry["chn"], entry["row"], entry["col"])
            self.select[name] = {dims.index(d): idx for d, idx in sel.items()}
            spatial = "row" in dims and "column" in dims
            pooled = ("row", "column") if pool and spatial else ()
            self.dims[name] = tuple(d for d in dims if d not in pooled)

    def __call__(self, outputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        result = {}
        for name, values in outputs.items():
            for axis, index in self.select[name].items():
                values = np.take(values, index, axis=axis)
            if self.pool is not None:
                if values.ndim >= 4:  # pool the last two axes, row and column
                    values = pool_kernel(values, self.pool, self.norm)
                elif self.pool in ("L1", "L2"):
                    values = np.abs(values)
            result[name] = values
        return result


def _run_batches(runner: Any, post: _Post, block: np.ndarray, batch_size: int) -> dict:
    parts: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(block), batch_size):
        for name, values in post(runner.run(block[start:start + batch_size])).items():
            parts.setdefault(name, []).append(values)
    return {name: np.concatenate(values) for name, values in parts.items()}


def _dry_run(runner: Any, source: ImageSource) -> dict[str, np.ndarray]:
    first = source.load(0, 1)
    try:
        outputs = runner.run(first)
    except InputError:
        raise
    except Exception as err:
        raise input_error(
            "images",
            f"the network failed on images of shape {tuple(first.shape[1:])} "
            f"(channel, row, column)"
            + (f" resized to {tuple(runner.size)}" if runner.size else "")
            + f" after preprocessing ({type(err).__name__}: {err})",
            expected="images of the size and channel count the network was built for",
            fix="pass size=(rows, columns) to resize, or a preprocess callable",
        ) from err
    return outputs


# ----------------------------------------------------------------------------- results


def _stimulus_coords(source: ImageSource) -> dict[str, Any]:
    coords = {}
    for name, values in source.coords.items():
        values = np.asarray(values)
        if len(values) != source.n:
            raise input_error(f"images coordinate {name!r}", f"has {len(values)} values",
                              expected=f"{source.n}, one per stimulus")
        coords[name] = (STIMULUS, values)
    return coords


def _tree(arrays: dict[str, np.ndarray], post: _Post, coords: dict, attrs: dict) -> xr.DataTree:
    nodes = {"/": xr.Dataset(attrs=attrs)}
    for name, values in arrays.items():
        da = xr.DataArray(values, dims=post.dims[name], coords=coords)
        nodes[f"/{name}"] = xr.Dataset({ACTIVATION: da})
    return xr.DataTree.from_dict(nodes)


def _check_args(batch_size: Any, pool: Any, norm: Any, dmask: Any, dtype: Any,
                unit_size: Any, store: Any) -> None:
    for label, value in (("batch_size", batch_size), ("unit_size", unit_size)):
        if value is None and label == "unit_size":
            continue
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise input_error(label, f"is {value!r}", expected="a positive int")
    if pool is not None and pool not in POOL_METHODS:
        raise input_error("pool", f"is {pool!r}", expected=f"None or one of {POOL_METHODS}")
    if norm not in ("vector", "matrix"):
        raise input_error("norm", f"is {norm!r}", expected="'vector' or 'matrix'")
    if dmask is not None and not isinstance(dmask, Mask):
        raise input_error("dmask", f"is a {type(dmask).__name__}", expected="an xneuro.dnn.Mask")
    if dtype not in ("float16", "float32", "float64"):
        raise input_error("dtype", f"is {dtype!r}", expected="'float16', 'float32' or 'float64'")
    if store is not None and not isinstance(store, str | os.PathLike):
        raise input_error("store", f"is a {type(store).__name__}",
                          expected="None or the path of a Zarr store")


def extract(
    net: Any,
    images: Any,
    layers: str | Sequence[str],
    *,
    batch_size: int = 64,
    device: str | None = "auto",
    store: str | os.PathLike[str] | None = None,
    preprocess: Any = "imagenet",
    size: int | tuple[int, int] | None = None,
    pool: str | None = None,
    norm: str = "vector",
    dmask: Mask | None = None,
    dtype: str = "float32",
    unit_size: int | None = None,
    fresh: bool = False,
    progress: bool | None = None,
) -> xr.DataTree:
    """Extract the activations of several layers in one forward pass per batch.

    Parameters
    ----------
    net : torch.nn.Module or keras.Model
        The network (eval mode is used; its training flag is restored).
    images : array, DataArray, folder, ``.stim.csv``, Stimulus or list of files
        uint8 images (or floats in [0, 1]) ``(stimulus, channel, row, column)``;
        see :func:`xneuro.dnn.images.as_image_source`.
    layers : str or list of str
        Module paths as ``net.named_modules()`` gives them (Keras: layer
        names); :func:`xneuro.dnn.layers` lists them.
    batch_size : int, default 64
        Stimuli per forward pass.
    device : str, default "auto"
        ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` (PyTorch).
    store : str or PathLike, optional
        A Zarr store to extract into, resumably, one dask task per unit.
    preprocess : "imagenet", None or callable, default "imagenet"
        Scaling to [0, 1] then ImageNet normalisation; ``None`` scales only;
        a callable receives the [0, 1] float batch (torch tensor ``(n, channel,
        row, column)``; Keras: numpy ``(n, row, column, channel)``).
    size : int or (int, int), optional
        Resize images to this size (bilinear) before ``preprocess``.
    pool : {"max", "mean", "median", "L1", "L2"}, optional
        Pool every layer per batch (see :func:`xneuro.dnn.pool`).
    norm : {"vector", "matrix"}
        Meaning of ``L1``/``L2`` pooling.
    dmask : Mask, optional
        0-based channels/rows/columns to keep per layer, applied per batch.
    dtype : {"float32", "float16", "float64"}
        Stored dtype.
    unit_size : int, optional
        Stimuli per unit (task and Zarr chunk) of a store; default ``batch_size``.
    fresh : bool, default False
        Discard an existing store and start over.
    progress : bool, optional
        Show a progress bar (default: the ``progress`` option).

    Returns
    -------
    DataTree
        One node per layer with ``activation`` ``(stimulus, channel, row,
        column)`` (``(stimulus, unit)`` for fully connected layers; pooled:
        ``(stimulus, channel)``); coordinates along ``stimulus`` from the
        input. In memory without ``store``, lazily reopened from it with one.

    Raises
    ------
    InputError
        Before any batch runs: an unknown layer (with close matches), image
        values out of range, images the network rejects, mask indices out of
        range, or a bad argument.
    JobSettingsError
        If ``store`` was made by an extraction with other settings.

    Examples
    --------
    >>> act = xneuro.dnn.extract(net, images, ["features.3", "classifier.4"],
    ...                          store="act.zarr")  # doctest: +SKIP
    """
    _check_args(batch_size, pool, norm, dmask, dtype, unit_size, store)
    source = as_image_source(images, size)
    runner = _make_runner(net, layers, device, preprocess, _pair(size), dtype)
    if dmask is not None:
        unknown = [name for name in dmask.layers if name not in runner.layers]
        if unknown:
            raise input_error("dmask", f"has layers {unknown} that are not extracted",
                              expected=f"layers among {runner.layers}")
    settings = {
        "layers": runner.layers, "batch_size": int(batch_size), "preprocess":
        runner.describe_preprocess(), "size": _pair(size), "pool": pool, "norm": norm,
        "mask": {n: dmask.get(n) for n in dmask.layers} if dmask is not None else None,
        "dtype": dtype,
    }
    coords = _stimulus_coords(source)
    runner.open()
    try:
        first = _dry_run(runner, source)
        post = _Post({name: values.shape for name, values in first.items()}, dmask, pool, norm)
        if store is None:
            return _in_memory(runner, post, source, int(batch_size), coords, settings, progress)
        settings.update(net=runner.fingerprint(), images=source.fingerprint())
        return _to_store(runner, post, post(first), source, int(batch_size), coords, settings,
                         store, int(unit_size or batch_size), fresh, progress)
    finally:
        runner.close()


def _pair(size: Any) -> tuple[int, int] | None:
    if size is None:
        return None
    return (int(size), int(size)) if isinstance(size, int | np.integer) else tuple(size)


def _in_memory(runner: Any, post: _Post, source: ImageSource, batch_size: int, coords: dict,
               settings: dict, progress: bool | None) -> xr.DataTree:
    parts: dict[str, list[np.ndarray]] = {}
    starts = range(0, source.n, batch_size)
    for start in progress_bar(starts, desc="extracting", progress=progress):
        block = source.load(start, min(start + batch_size, source.n))
        for name, values in _run_batches(runner, post, block, batch_size).items():
            parts.setdefault(name, []).append(values)
    arrays = {name: np.concatenate(values) for name, values in parts.items()}
    tree = _tree(arrays, post, coords, {})
    return stamp(tree, "xneuro.dnn.extract", settings)


def _to_store(runner: Any, post: _Post, probe: dict[str, np.ndarray], source: ImageSource,
              batch_size: int, coords: dict, settings: dict, store: Any, unit_size: int,
              fresh: bool, progress: bool | None) -> xr.DataTree:
    dims = {name: post.dims[name] for name in runner.layers}
    template_layers = {
        name: xr.DataArray(
            dsa.zeros((source.n, *probe[name].shape[1:]), dtype=probe[name].dtype),
            dims=dims[name], coords=coords,
        )
        for name in runner.layers
    }
    template = tree_to_flat(template_layers)
    job = ResumableJob(store, template, settings=settings, unit_dim=STIMULUS,
                       unit_size=unit_size, function="xneuro.dnn.extract", fresh=fresh)
    stimulus_values = np.asarray(coords[STIMULUS][1])
    client = current_client()
    scratch: list[str] = []
    if client is not None:
        if not source.files and not isinstance(source.data, dsa.Array):
            # tasks read their images from a Zarr copy beside the store (no arrays in tasks)
            images_path = f"{Path(store).absolute()}.xneuro-images.zarr"
            copy = zarr.open_array(images_path, mode="w", shape=source.data.shape,
                                   chunks=(unit_size, *source.data.shape[1:]),
                                   dtype=source.data.dtype)
            copy[:] = source.data
            source = ImageSource(dsa.from_zarr(images_path), source.coords)
            scratch.append(images_path)
        if isinstance(runner, TorchRunner):
            scratch.append(f"{Path(store).absolute()}.xneuro-net.pt")
            runner.for_workers(scratch[-1])

    def compute_unit(index: int, region: slice) -> xr.Dataset:
        block = source.load(region.start, region.stop)
        arrays = _run_batches(runner, post, block, batch_size)
        return xr.Dataset(
            {name: ([flat_dim(d, name) for d in dims[name]], values)
             for name, values in arrays.items()},
            coords={STIMULUS: stimulus_values[region]},
        )

    try:
        result = job.run(compute_unit, progress=progress)
    finally:
        for path in scratch:
            if os.path.isdir(path):
                shutil.rmtree(path)
            elif os.path.exists(path):
                os.remove(path)
    return flat_to_tree(result)
