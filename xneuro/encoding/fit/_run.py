"""Run a fit plan over the voxels of labeled data: in memory, lazily over dask chunks, or
unit by unit into a resumable Zarr store.

All three call :func:`~xneuro.encoding.fit._block.fit_block` on blocks of
voxels (``time`` whole) and assemble the same Dataset: one variable per
parameter, ``r2``, ``sigma2`` (Gaussian noise model) and, when intermediate
parameters are stored, ``<label>_history`` and ``r2_history`` over
``(iteration, voxel)`` (NaN after a voxel's last iteration).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from xneuro.core.chunks import choose_chunks
from xneuro.core.jobs import run_resumable
from xneuro.core.parallel import map_units
from xneuro.encoding.fit._block import BlockResult, FitPlan, fit_block

__all__ = ["RunInfo", "output_names", "run_dask", "run_memory", "run_store"]

logger = logging.getLogger("xneuro.encoding.fit")


def output_names(plan: FitPlan) -> list[str]:
    """Names of the per-voxel outputs, in column order."""
    return [*plan.labels, "r2", *(["sigma2"] if plan.gaussian else [])]


@dataclass
class RunInfo:
    """What an eager run learnt besides the Dataset (for :class:`ParameterFitter`)."""

    n_iterations: int = 0
    histories: list[np.ndarray] = field(default_factory=list)
    n_masked: int = 0


def _block_name(start: int, stop: int) -> str:
    return f"voxels_{start:07d}-{stop:07d}"


def _columns(plan: FitPlan, result: BlockResult) -> tuple[np.ndarray, np.ndarray | None]:
    """``(V, n_out)`` outputs and the ``(V, n_trace, P + 1)`` trace of a block result."""
    parts = [result.theta, result.r2[:, None]]
    if plan.gaussian:
        sigma2 = result.sigma2 if result.sigma2 is not None else np.full(len(result.r2), np.nan)
        parts.append(sigma2[:, None])
    main = np.concatenate(parts, axis=1).astype(plan.dtype)
    if not plan.n_trace:
        return main, None
    n_vox = main.shape[0]
    trace = np.full((n_vox, plan.n_trace, len(plan.labels) + 1), np.nan, dtype=plan.dtype)
    if result.trace is not None:
        count = result.trace.shape[0]
        trace[:, :count] = np.transpose(result.trace, (1, 0, 2))
    return main, trace


def _assemble(plan: FitPlan, main: xr.DataArray, trace: xr.DataArray | None,
              bold: xr.DataArray) -> xr.Dataset:
    names = output_names(plan)
    ds = xr.Dataset({name: main.isel(output=i, drop=True) for i, name in enumerate(names)})
    if trace is not None:
        for j, label in enumerate([*plan.labels, "r2"]):
            ds[f"{label}_history"] = trace.isel(column=j, drop=True).transpose("iteration",
                                                                                "voxel")
        ds = ds.assign_coords(iteration=np.arange(plan.n_trace))
    coords = {k: v for k, v in bold.coords.items() if "time" not in v.dims}
    return ds.assign_coords(coords)


def _rows(table: xr.DataArray | None, region: slice) -> np.ndarray | None:
    if table is None:
        return None
    return np.asarray(table.isel(voxel=region).values, dtype=np.float64)


def memory_block_size(plan: FitPlan, n_voxels: int) -> int:
    """Voxels per block of an in-memory fit, so that a block's arrays stay near memory_limit."""
    itemsize = np.dtype(plan.dtype).itemsize
    per_voxel = 8 * plan.predictor.per_voxel() + 4 * plan.predictor.n_time
    if plan.gradient is not None:
        per_voxel += plan.gradient.lag + 1 + plan.n_trace * (len(plan.labels) + 1)
    return int(max(1, min(n_voxels, plan.memory_limit // (itemsize * per_voxel))))


def run_memory(plan: FitPlan, bold: xr.DataArray, init: xr.DataArray | None,
               fixed: xr.DataArray | None, *, progress: bool = False,
               block_size: int | None = None) -> tuple[xr.Dataset, RunInfo]:
    """Fit numpy-backed data now, in blocks of voxels."""
    n_vox = bold.sizes["voxel"]
    size = block_size or memory_block_size(plan, n_vox)
    Y = np.asarray(bold.transpose("time", "voxel").values)
    mains, traces, info = [], [], RunInfo()
    starts = range(0, n_vox, size)
    for start in starts:
        region = slice(start, min(start + size, n_vox))
        result = fit_block(plan, Y[:, region], _rows(init, region), _rows(fixed, region),
                           progress=progress, name=_block_name(region.start, region.stop),
                           threads=os.cpu_count() or 1)
        main, trace = _columns(plan, result)
        mains.append(main)
        traces.append(trace)
        info.n_iterations = max(info.n_iterations, result.n_iterations)
        info.histories.append(result.history)
        info.n_masked += int((~result.usable).sum())
    main = xr.DataArray(np.concatenate(mains) if mains else np.zeros((0, len(
        output_names(plan))), plan.dtype), dims=("voxel", "output"))
    trace = None
    if plan.n_trace:
        trace = xr.DataArray(np.concatenate(traces), dims=("voxel", "iteration", "column"))
    return _assemble(plan, main, trace, bold), info


def _dask_kernel(data: np.ndarray, position: np.ndarray, *tables: np.ndarray, plan: FitPlan,
                 has_init: bool) -> Any:
    """map_units kernel: ``(V, T)`` data of one chunk -> outputs (and trace)."""
    init = tables[0] if has_init else None
    fixed = tables[1 if has_init else 0] if len(tables) > int(has_init) else None
    name = _block_name(int(position.min()), int(position.max()) + 1) if position.size else "empty"
    result = fit_block(plan, data.T, init, fixed, name=name)
    main, trace = _columns(plan, result)
    return main if trace is None else (main, trace)


def run_dask(plan: FitPlan, bold: xr.DataArray, init: xr.DataArray | None,
             fixed: xr.DataArray | None) -> xr.Dataset:
    """A lazy fit of dask-backed data: one task per voxel chunk."""
    chunks = bold.chunksizes["voxel"]
    position = xr.DataArray(np.arange(bold.sizes["voxel"]), dims="voxel").chunk(
        {"voxel": chunks})
    voxel_coords = {k: v for k, v in bold.coords.items() if k == "voxel"}
    objs = [bold.transpose("voxel", "time"), position.assign_coords(voxel_coords)]
    core = [["time"], []]
    for table, dim in ((init, "parameter"), (fixed, "fixed")):
        if table is not None:
            objs.append(table.assign_coords(voxel_coords).chunk({"voxel": chunks, dim: -1}))
            core.append([dim])
    out_core = [["output"]] + ([["iteration", "column"]] if plan.n_trace else [])
    sizes = {"output": len(output_names(plan))}
    if plan.n_trace:
        sizes.update(iteration=plan.n_trace, column=len(plan.labels) + 1)
    result = map_units(_dask_kernel, *objs, core_dims=core, output_core_dims=out_core,
                       output_sizes=sizes, output_dtypes=[plan.dtype] * len(out_core),
                       kwargs={"plan": plan, "has_init": init is not None})
    main, trace = (result if plan.n_trace else (result, None))
    return _assemble(plan, main, trace, bold)


def default_unit_size(bold: xr.DataArray) -> int:
    """Voxels per unit of a resumable fit: the data's voxel chunks, else the chunking policy."""
    if bold.chunks is not None:
        return int(bold.chunksizes["voxel"][0])
    return int(choose_chunks(bold.to_dataset(name="bold"), "voxel")["voxel"])


def run_store(plan: FitPlan, bold: xr.DataArray, init: xr.DataArray | None,
              fixed: xr.DataArray | None, *, path: str | os.PathLike[str],
              unit_size: int | None, fresh: bool, progress: bool | None,
              settings: Mapping[str, Any], function: str) -> xr.Dataset:
    """Fit unit by unit into a resumable Zarr store; return the store, reopened lazily."""
    n_vox = bold.sizes["voxel"]
    names = output_names(plan)
    template_main = xr.DataArray(np.zeros((n_vox, len(names)), plan.dtype),
                                 dims=("voxel", "output"))
    template_trace = None
    if plan.n_trace:
        template_trace = xr.DataArray(
            np.zeros((n_vox, plan.n_trace, len(plan.labels) + 1), plan.dtype),
            dims=("voxel", "iteration", "column"))
    template = _assemble(plan, template_main, template_trace, bold)
    init_values = None if init is None else init.compute()
    fixed_values = None if fixed is None else fixed.compute()
    data = bold.transpose("time", "voxel")

    def compute_unit(index: int, region: slice) -> xr.Dataset:
        block = data.isel(voxel=region)
        Y = np.asarray(block.data.compute(scheduler="sync") if block.chunks is not None
                       else block.values)
        result = fit_block(plan, Y, _rows(init_values, region), _rows(fixed_values, region),
                           name=_block_name(region.start, region.stop))
        main, trace = _columns(plan, result)
        main = xr.DataArray(main, dims=("voxel", "output"))
        trace = None if trace is None else xr.DataArray(trace, dims=("voxel", "iteration",
                                                                     "column"))
        return _assemble(plan, main, trace, block)

    return run_resumable(path, template, compute_unit, settings=settings, unit_dim="voxel",
                         unit_size=unit_size or default_unit_size(bold), function=function,
                         fresh=fresh, progress=progress)
