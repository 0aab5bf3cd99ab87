"""Encoding image batches with a BERG model: in memory, lazily with Dask, or into Zarr.

- numpy input, no store: batches run one after another in this process.
- dask input, no store: a lazy DataArray, one task per batch (``map_blocks``);
  nothing runs until it is computed.
- ``store=path``: a resumable job (:mod:`xneuro.core.jobs`); each batch is a
  task that writes its region of the Zarr store and is then recorded, so a
  second call computes only the missing batches.

Tasks carry only the model's small :class:`~xneuro.berg.base.Recipe`; each
process loads the network once (:func:`xneuro.core.parallel.worker_cache`). On a
distributed cluster with a GPU model, tasks ask for a ``GPU`` resource.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import os
from typing import Any

import dask
import numpy as np
import xarray as xr

from xneuro.berg.base import EncodingModel, Recipe, network_for
from xneuro.berg.validate import as_stimulus, check_pixel_values
from xneuro.core.errors import input_error
from xneuro.core.jobs import ResumableJob
from xneuro.core.progress import current_client, progress_bar
from xneuro.core.provenance import stamp

__all__ = ["auto_batch_size", "encode"]

logger = logging.getLogger("xneuro.berg.encode")


@dataclasses.dataclass(frozen=True)
class _Predict:
    """Maps an image batch to responses; pickles as the recipe only."""

    recipe: Recipe
    shape: tuple[int, ...]
    check: bool

    def __call__(self, images: np.ndarray, first: int = 0) -> np.ndarray:
        images = np.asarray(images)
        if self.check:
            check_pixel_values(images, first)
        return network_for(self.recipe)(images).reshape((len(images), *self.shape))

    def __dask_tokenize__(self) -> tuple[Any, ...]:
        return ("xneuro.berg._Predict", *self.recipe.key(), self.shape, self.check)


def _block(images: np.ndarray, predict: _Predict, block_info: Any = None) -> np.ndarray:
    first = block_info[0]["array-location"][0][0] if block_info else 0
    return predict(images, first)


@dataclasses.dataclass(frozen=True)
class _StoreUnit:
    """One unit of the resumable job: encode ``data[region]``."""

    predict: _Predict
    data: Any
    dims: tuple[str, ...]

    def __call__(self, index: int, region: slice) -> xr.Dataset:
        block = self.data[region]
        if hasattr(block, "compute"):
            block = block.compute(scheduler="sync")
        return xr.Dataset({"response": (self.dims, self.predict(block, region.start))})


def auto_batch_size(model: EncodingModel) -> int:
    """A batch size whose working memory fits the device.

    CPU: about 64 MiB of working memory (batches that stay in cache run
    fastest; about 10 fwRF images), at most 64 images. GPU: half of the free
    device memory, at most 512 images.

    Parameters
    ----------
    model : EncodingModel
        The loaded model.

    Returns
    -------
    int
        Images per batch.
    """
    per_image = model.bytes_per_image()
    if model.recipe.precision == "bfloat16":
        per_image //= 2
    if model.device.startswith("cuda"):
        import torch

        free, _ = torch.cuda.mem_get_info(torch.device(model.device))
        budget, cap = free // 2, 512
    else:
        import psutil

        # small batches stay in cache: on 2 cores, 8 fwRF images per batch ran 1.35x
        # faster than 64 (benchmarks/bench_berg.py)
        budget, cap = min(psutil.virtual_memory().available // 4, 64 * 2**20), 64
    return int(max(1, min(cap, budget // max(per_image, 1))))


def _fingerprint_images(data: Any) -> str:
    if hasattr(data, "dask"):
        return "dask:" + dask.base.tokenize(data)
    digest = hashlib.sha256()
    array = np.ascontiguousarray(data)
    digest.update(repr((array.shape, array.dtype.str)).encode())
    digest.update(memoryview(array).cast("B"))
    return "sha256:" + digest.hexdigest()[:16]


def _resources(model: EncodingModel, resources: dict[str, float] | None) -> Any:
    if resources is None and model.device.startswith("cuda") and current_client():
        resources = {"GPU": 1}
    return dask.annotate(resources=resources) if resources else contextlib.nullcontext()


def encode(
    model: EncodingModel,
    stimulus: Any,
    *,
    return_metadata: bool = False,
    show_progress: bool = False,
    batch_size: int | None = None,
    store: str | os.PathLike[str] | None = None,
    fresh: bool = False,
    resources: dict[str, float] | None = None,
) -> xr.DataArray | tuple[xr.DataArray, xr.Dataset]:
    """Generate in-silico responses to images with a loaded BERG model.

    Parameters
    ----------
    model : EncodingModel
        From :meth:`xneuro.berg.BERG.get_encoding_model`.
    stimulus : array-like or path
        Integer images 0-255, shape ``(stimulus, 3, H, W)``, square, at least
        the model's input size: numpy, dask, a DataArray with dims
        ``("stimulus", "channel", "row", "column")``, or the path of a
        ``.npy`` file or Zarr store holding them.
    return_metadata : bool
        Also return the model's metadata aligned with the outputs.
    show_progress : bool
        Show a progress bar.
    batch_size : int, optional
        Images per batch (and per task / stored chunk); by default sized to
        the device's memory (:func:`auto_batch_size`). Results do not depend on it.
    store : path, optional
        Write the responses to this Zarr store batch by batch, resumably, and
        return them lazily from it.
    fresh : bool
        With ``store``: discard an existing store and its records first.
    resources : dict, optional
        Dask resources each batch task needs; by default ``{"GPU": 1}`` for a
        GPU model when a distributed client is active.

    Returns
    -------
    DataArray or (DataArray, Dataset)
        float32 ``response`` with dims ``("stimulus", "voxel")``,
        ``("stimulus", "vertex")`` or ``("stimulus", "subject", "vertex")``,
        labeled with the model's output coordinates and the stimulus coordinates;
        lazy for dask input or a store. With ``return_metadata``, also the
        metadata Dataset (noise ceilings etc.).

    Raises
    ------
    StimulusError
        For images that are not integer 0-255, 4-D, RGB, square and large enough.
    """
    if not isinstance(model, EncodingModel):
        raise input_error("model", f"is a {type(model).__name__}",
                          expected="a model from BERG.get_encoding_model(...)",
                          fix="load it with berg.get_encoding_model(model_id, subject, ...)")
    images, needs_check = as_stimulus(stimulus, min_size=model.input_size)
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer)
        or batch_size < 1
    ):
        raise input_error("batch_size", f"is {batch_size!r}", expected="a positive int or None")
    if not isinstance(return_metadata, bool) or not isinstance(show_progress, bool):
        raise input_error("return_metadata/show_progress", "must be True or False")
    size = int(batch_size) if batch_size is not None else auto_batch_size(model)
    predict = _Predict(model.recipe, model.output_shape, needs_check)
    dims = ("stimulus", *model.output_dims)
    coords = {**{k: v for k, v in images.coords.items() if set(v.dims) <= {"stimulus"}},
              **model.labels}
    attrs = {**model.attrs, "model_id": model.recipe.model_id, "long_name": "in silico response"}
    settings = {**model.recipe.settings(), "batch_size": size}
    with _resources(model, resources):
        if store is not None:
            result = _to_store(images, predict, dims, coords, attrs, size, settings, store,
                               fresh, show_progress)
        elif hasattr(images.data, "dask"):
            result = _lazy(images, predict, dims, coords, attrs, size)
        else:
            result = _in_memory(images, predict, dims, coords, attrs, size, show_progress)
    if store is None:
        result = stamp(result, "xneuro.berg.encode", settings)
    return (result, model.metadata_dataset()) if return_metadata else result


def _in_memory(images: xr.DataArray, predict: _Predict, dims: tuple[str, ...], coords: Any,
               attrs: dict[str, Any], size: int, show: bool) -> xr.DataArray:
    data = images.data
    n = len(data)
    out = np.empty((n, *predict.shape), np.float32)
    with progress_bar(total=n, desc="Encoding fMRI responses", progress=show) as bar:
        for start in range(0, n, size):
            stop = min(start + size, n)
            out[start:stop] = predict(np.asarray(data[start:stop]), start)
            bar.update(stop - start)
    return xr.DataArray(out, dims=dims, coords=coords, name="response", attrs=attrs)


def _lazy(images: xr.DataArray, predict: _Predict, dims: tuple[str, ...], coords: Any,
          attrs: dict[str, Any], size: int) -> xr.DataArray:
    data = images.data.rechunk({0: size, 1: -1, 2: -1, 3: -1})
    out_chunks = (data.chunks[0], *((n,) for n in predict.shape))
    drop = [2, 3] if len(predict.shape) == 1 else [3]
    out = data.map_blocks(
        _block, predict, dtype=np.float32, drop_axis=drop, chunks=out_chunks,
        meta=np.empty((0,) * len(out_chunks), np.float32), name="xneuro-berg-encode",
    )
    return xr.DataArray(out, dims=dims, coords=coords, name="response", attrs=attrs)


def _to_store(images: xr.DataArray, predict: _Predict, dims: tuple[str, ...], coords: Any,
              attrs: dict[str, Any], size: int, settings: dict[str, Any], store: Any,
              fresh: bool, show: bool) -> xr.DataArray:
    import dask.array as dsa

    shape = (images.sizes["stimulus"], *predict.shape)
    template = xr.Dataset(
        {"response": (dims, dsa.zeros(shape, chunks=(size, *predict.shape), dtype=np.float32),
                      attrs)},
        coords=coords,
    )
    settings = {**settings, "stimulus": _fingerprint_images(images.data)}
    if current_client() is not None and not hasattr(images.data, "dask"):
        logger.info("in-memory images are shipped with every batch task; pass a Zarr-backed "
                    "dask array to read them on the workers instead")
    job = ResumableJob(store, template, settings=settings, unit_dim="stimulus",
                       unit_size=size, function="xneuro.berg.encode", fresh=fresh)
    ds = job.run(_StoreUnit(predict, images.data, dims), progress=show)
    return ds["response"]
