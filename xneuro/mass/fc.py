"""Functional connectivity (FC), its dynamics (FCD) and their similarity to empirical data.

All functions are labeled over any extra (sweep) dims and keep dask input lazy;
``time`` (and ``region`` for FC) must be one chunk.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import xarray as xr

from xneuro.core.errors import input_error
from xneuro.core.parallel import map_units

__all__ = ["fc", "fc_similarity", "fcd", "fcd_ks"]

log = logging.getLogger("xneuro.mass.fc")


def _corr_kernel(x: np.ndarray) -> np.ndarray:
    """``(..., time, region)`` -> ``(..., region, region)`` Pearson correlations."""
    z = x - x.mean(axis=-2, keepdims=True)
    norm = np.linalg.norm(z, axis=-2, keepdims=True)
    z = z / np.where(norm > 0, norm, np.nan)
    return np.einsum("...tr,...tq->...rq", z, z)


def _check(ts: Any, argument: str, dims: tuple[str, ...]) -> xr.DataArray:
    if not isinstance(ts, xr.DataArray):
        raise input_error(argument, f"is a {type(ts).__name__}",
                          expected=f"a DataArray with dims {dims}")
    missing = [d for d in dims if d not in ts.dims]
    if missing:
        raise input_error(argument, f"has dims {ts.dims}", expected=f"dims including {dims}",
                          fix="pass a (time, region, ...) timeseries, e.g. xneuro.mass.bold(sim)")
    return ts


def fc(ts: xr.DataArray) -> xr.DataArray:
    """Pearson functional connectivity between regions.

    Parameters
    ----------
    ts : DataArray
        ``(time, region, *other)`` timeseries (e.g. BOLD).

    Returns
    -------
    DataArray
        ``(region, region_, *other)`` correlation matrices.
    """
    ts = _check(ts, "ts", ("time", "region"))
    out = map_units(
        _corr_kernel, ts, core_dims=[["time", "region"]],
        output_core_dims=[["region", "region_"]], output_sizes={"region_": ts.sizes["region"]},
        output_dtypes=[ts.dtype if ts.dtype.kind == "f" else np.float64],
    )
    out = out.assign_coords(region_=("region_", ts["region"].values)) \
        if "region" in ts.coords else out
    out = out.transpose("region", "region_", ...)
    out.name = "fc"
    out.attrs = {"long_name": "functional connectivity (Pearson)"}
    return out


def _upper(matrix: np.ndarray) -> np.ndarray:
    n = matrix.shape[-1]
    i, j = np.triu_indices(n, k=1)
    return matrix[..., i, j]


def _pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a - a.mean(axis=-1, keepdims=True)
    b = b - b.mean(axis=-1, keepdims=True)
    return (a * b).sum(-1) / np.sqrt((a * a).sum(-1) * (b * b).sum(-1))


def fc_similarity(sim: xr.DataArray, empirical: xr.DataArray | np.ndarray) -> xr.DataArray:
    """Pearson correlation of the upper triangles of a simulated and an empirical FC.

    Parameters
    ----------
    sim : DataArray
        A simulated FC ``(region, region_, *sweep)``, or a timeseries
        ``(time, region, *sweep)`` whose FC is taken first.
    empirical : DataArray or ndarray
        The empirical FC ``(region, region_)`` (e.g. ``connectome("hcp").fc``).

    Returns
    -------
    DataArray
        The similarity over the sweep dims (a scalar without sweep).
    """
    sim = _check(sim, "sim", ("region",))
    if "time" in sim.dims:
        sim = fc(sim)
    if "region_" not in sim.dims:
        raise input_error("sim", f"has dims {sim.dims}",
                          expected="an FC (region, region_, ...) or a (time, region, ...) series")
    emp = np.asarray(empirical.values if isinstance(empirical, xr.DataArray) else empirical,
                     dtype=float)
    n = sim.sizes["region"]
    if emp.shape != (n, n):
        raise input_error("empirical", f"has shape {emp.shape}",
                          expected=f"({n}, {n}) like the simulated FC",
                          fix="use the FC of the connectome the simulation ran on")
    target = _upper(emp)
    out = xr.apply_ufunc(
        lambda m: _pearson(_upper(m), target), sim,
        input_core_dims=[["region", "region_"]], dask="parallelized", output_dtypes=[float],
    )
    out.name = "fc_similarity"
    out.attrs = {"long_name": "Pearson r of FC upper triangles, simulated vs empirical"}
    return out


def _fcd_kernel(x: np.ndarray, window: int, step: int) -> np.ndarray:
    """``(..., time, region)`` -> ``(..., w, w)`` correlations of windowed-FC vectors."""
    starts = np.arange(0, x.shape[-2] - window + 1, step)
    mats = np.stack([_corr_kernel(x[..., s:s + window, :]) for s in starts], axis=-3)
    vec = _upper(mats)  # (..., w, pairs)
    vec = vec - vec.mean(-1, keepdims=True)
    vec = vec / np.linalg.norm(vec, axis=-1, keepdims=True)
    return np.einsum("...ap,...bp->...ab", vec, vec)


def fcd(ts: xr.DataArray, window: int = 30, step: int = 5) -> xr.DataArray:
    """Functional connectivity dynamics: correlations between sliding-window FCs.

    Parameters
    ----------
    ts : DataArray
        ``(time, region, *other)`` timeseries.
    window : int, default 30
        Window length in samples.
    step : int, default 5
        Window step in samples.

    Returns
    -------
    DataArray
        ``(window, window_, *other)`` FCD matrices.
    """
    ts = _check(ts, "ts", ("time", "region"))
    if not (isinstance(window, int) and isinstance(step, int) and 2 < window <= ts.sizes["time"]
            and step >= 1):
        raise input_error("window", f"is {window!r} (step {step!r})",
                          expected=f"ints with 2 < window <= {ts.sizes['time']}, step >= 1")
    n_win = len(range(0, ts.sizes["time"] - window + 1, step))
    out = map_units(
        _fcd_kernel, ts, core_dims=[["time", "region"]],
        output_core_dims=[["window", "window_"]],
        output_sizes={"window": n_win, "window_": n_win},
        output_dtypes=[np.float64], kwargs={"window": window, "step": step},
    )
    out.name = "fcd"
    return out.transpose("window", "window_", ...)


def _ks(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Two-sample KS statistic along the last axis (``b`` 1-D, shared)."""
    b = np.sort(b)
    a = np.sort(a, axis=-1)
    grid = np.concatenate([a, np.broadcast_to(b, (*a.shape[:-1], b.size))], axis=-1)
    cdf_a = np.stack([np.searchsorted(row, g, side="right") for row, g in
                      zip(a.reshape(-1, a.shape[-1]), grid.reshape(-1, grid.shape[-1]),
                          strict=True)]).reshape(grid.shape) / a.shape[-1]
    cdf_b = np.searchsorted(b, grid, side="right") / b.size
    return np.abs(cdf_a - cdf_b).max(-1)


def fcd_ks(sim: xr.DataArray, empirical: xr.DataArray, window: int = 30,
           step: int = 5) -> xr.DataArray:
    """Kolmogorov-Smirnov distance between simulated and empirical FCD value distributions.

    Parameters
    ----------
    sim : DataArray
        Simulated ``(time, region, *sweep)`` BOLD.
    empirical : DataArray
        Empirical ``(time, region)`` BOLD, or ``(subject, time, region)`` (the
        subjects' FCD values are pooled).
    window, step : int
        FCD window and step, in samples.

    Returns
    -------
    DataArray
        KS distance over the sweep dims (0 = same distribution).
    """
    emp = _check(empirical, "empirical", ("time", "region"))
    emp_fcd = fcd(emp.transpose(..., "time", "region"), window, step).values
    target = _upper(np.moveaxis(emp_fcd, (0, 1), (-2, -1))).ravel()
    sim_fcd = fcd(sim, window, step)
    out = xr.apply_ufunc(lambda m: _ks(_upper(m), target), sim_fcd,
                         input_core_dims=[["window", "window_"]], dask="parallelized",
                         output_dtypes=[float])
    out.name = "fcd_ks"
    return out
