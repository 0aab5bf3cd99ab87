"""Labeled HRF convolution: :func:`convolve` (the twin of ``ts.hrf.convolve``)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from xneuro.core.errors import DimensionError, input_error
from xneuro.core.parallel import map_units
from xneuro.core.schema import check_dims
from xneuro.hrf.models import HRFModel

__all__ = ["check_kernel_fits", "check_tr", "convolve"]

logger = logging.getLogger("xneuro.hrf.convolve")

_PADDINGS = ("edge", "zero")


def check_kernel_fits(hrf_model: HRFModel, n_time: int, argument: str = "timeseries") -> None:
    """Raise if the HRF kernel is longer than the run it convolves.

    Parameters
    ----------
    hrf_model : HRFModel
        The HRF.
    n_time : int
        Frames in the run.
    argument : str
        Name of the run's argument, for the message.
    """
    n_taps = hrf_model.n_taps
    if n_taps > n_time:
        length = getattr(hrf_model, "time_length", None)
        detail = f" ({length:g} s at tr={hrf_model.tr:g} s)" if length and hrf_model.tr else ""
        raise input_error(
            "hrf_model", f"has a kernel of {n_taps} samples{detail}, longer than the "
            f"{n_time} frames of {argument}", cls=DimensionError,
            expected="an HRF no longer than the run",
            fix="use a longer run, or a shorter kernel, e.g. SPMHRFModel(tr, time_length="
            f"{max(n_time - 1, 1) * (hrf_model.tr or 1):g})")


def _series_tr(obj: Any) -> float | None:
    """Seconds per frame of a labeled series, when it says."""
    if isinstance(obj, xr.DataArray):
        if "tr" in obj.attrs:
            return float(obj.attrs["tr"])
        index = obj.indexes.get("time")
        if index is None or obj["time"].attrs.get("units") != "s":
            return None
    elif isinstance(obj, pd.DataFrame | pd.Series):
        index = obj.index
        if index.dtype.kind not in "f" and not isinstance(index, pd.TimedeltaIndex):
            return None  # integer frame numbers say nothing about seconds
        if isinstance(index, pd.TimedeltaIndex):
            index = pd.Index(index.total_seconds())
    else:
        return None
    steps = np.diff(np.asarray(index, dtype=float))
    return float(np.median(steps)) if steps.size else None


def check_tr(hrf_model: HRFModel, obj: Any, argument: str = "timeseries") -> None:
    """Raise if ``obj`` says its TR and it differs from ``hrf_model.tr``."""
    tr = _series_tr(obj)
    if tr is not None and hrf_model.tr is not None and not np.isclose(tr, hrf_model.tr,
                                                                          rtol=1e-3):
        raise input_error(
            f"{argument} tr", f"is {tr:g} s but hrf_model.tr is {hrf_model.tr:g} s",
            expected="the HRF sampled at the TR of the data",
            fix=f"make the HRF with tr={tr:g}, e.g. SPMHRFModel(tr={tr:g})")


def _check_model(hrf_model: Any, padding: str) -> None:
    if not isinstance(hrf_model, HRFModel):
        raise input_error("hrf_model", f"is a {type(hrf_model).__name__}",
                          expected="an xneuro.hrf.HRFModel, e.g. SPMHRFModel(tr=1.5)",
                          fix="pass hrf_model=xneuro.hrf.SPMHRFModel(tr=<your TR>)")
    if padding not in _PADDINGS:
        raise input_error("padding", f"is {padding!r}", expected=f"one of {_PADDINGS}")


def _block_kernel(block: np.ndarray, *params: np.ndarray, hrf_model: HRFModel,
                  padding: str, shared: np.ndarray | None) -> np.ndarray:
    """``(..., time)`` block -> convolved block; ``params`` broadcast like the block."""
    table = shared
    if params:
        table = np.stack(params, axis=-1)
        hrf_model.check_parameters(table.reshape(-1, table.shape[-1]))  # lazy inputs: here
    x = np.moveaxis(block, -1, 0)
    out = hrf_model.convolve_array(x, table, np, padding=padding)
    return np.moveaxis(out.astype(block.dtype, copy=False), 0, -1)


def convolve(timeseries: Any, hrf_model: HRFModel, *, padding: str = "edge",
             **hrf_parameters: Any) -> Any:
    """Convolve timeseries with an HRF: causal, output as long as the input.

    ``y[t] = sum_k h[k] x[t - k]``, with the first frame repeated before the
    start (``padding="edge"``, as braincoder does; with the sum-1 kernels of
    :class:`~xneuro.hrf.SPMHRFModel` a constant series is left unchanged).

    Parameters
    ----------
    timeseries : xarray.DataArray, pandas.DataFrame or Series, or numpy array
        A DataArray with a ``time`` dim (any other dims, e.g. ``voxel`` or a
        paradigm's ``y, x``; dask-backed stays lazy, with ``time`` in one
        chunk); a DataFrame with time as index; an array with time first.
    hrf_model : HRFModel
        The HRF, e.g. ``SPMHRFModel(tr=1.5)``.
    padding : {"edge", "zero"}, default "edge"
        What precedes the first frame.
    **hrf_parameters : float, array or DataArray
        Values of ``hrf_model.parameter_labels`` (e.g. ``hrf_delay``): a
        scalar gives one shared HRF; an array with one value per series of
        the last axis (or a DataArray over some of the non-time dims) gives
        one HRF per series.

    Returns
    -------
    Same type as ``timeseries``
        Same shape, coords and attrs; float.

    Raises
    ------
    InputError
        For a wrong ``hrf_model``, unknown or out-of-bounds parameters, a TR
        that differs from ``hrf_model.tr``, or a kernel longer than the run.
    DimensionError
        If there is no time dim, or ``time`` is split into several dask chunks.

    Examples
    --------
    >>> bold = xneuro.hrf.convolve(neural, SPMHRFModel(tr=1.5))  # doctest: +SKIP
    >>> bold = neural.hrf.convolve(SPMHRFModel(tr=1.5), hrf_delay=delays)  # doctest: +SKIP
    """
    _check_model(hrf_model, padding)
    if isinstance(timeseries, xr.DataArray):
        return _convolve_labeled(timeseries, hrf_model, padding, hrf_parameters)
    if isinstance(timeseries, pd.DataFrame | pd.Series):
        check_tr(hrf_model, timeseries)
        values = timeseries.to_numpy(dtype=float)
        out = _convolve_numpy(values, hrf_model, padding, hrf_parameters, "timeseries")
        if isinstance(timeseries, pd.Series):
            return pd.Series(out, index=timeseries.index, name=timeseries.name)
        return pd.DataFrame(out, index=timeseries.index, columns=timeseries.columns)
    values = np.asarray(timeseries)
    if values.dtype.kind not in "biuf" or values.ndim == 0:
        raise input_error("timeseries", f"has dtype {values.dtype} and shape {values.shape}",
                          expected="numbers with time first",
                          fix="pass a (time, ...) numeric array or a labeled DataArray")
    return _convolve_numpy(values.astype(np.result_type(values, np.float32), copy=False),
                           hrf_model, padding, hrf_parameters, "timeseries")


def _convolve_numpy(values: np.ndarray, hrf_model: HRFModel, padding: str,
                    hrf_parameters: dict[str, Any], argument: str) -> np.ndarray:
    check_kernel_fits(hrf_model, values.shape[0], argument)
    per_unit = any(np.ndim(v) for v in hrf_parameters.values())
    n_units = values.shape[-1] if per_unit and values.ndim > 1 else None
    table = hrf_model._parameter_array(hrf_parameters, n_units)
    out = hrf_model.convolve_array(values, table, np, padding=padding)
    return out.astype(values.dtype, copy=False)


def _convolve_labeled(ts: xr.DataArray, hrf_model: HRFModel, padding: str,
                      hrf_parameters: dict[str, Any]) -> xr.DataArray:
    check_dims(ts, ("time",), "timeseries", allow_extra=True)
    check_tr(hrf_model, ts)
    check_kernel_fits(hrf_model, ts.sizes["time"])
    unknown = set(hrf_parameters) - set(hrf_model.parameter_labels)
    hrf_model._parameter_array(dict.fromkeys(unknown, 0.0))  # raises, naming unknown ones
    others = [d for d in ts.dims if d != "time"]
    params: list[xr.DataArray] = []
    shared = None
    if all(not isinstance(v, xr.DataArray) and np.ndim(v) == 0 for v in hrf_parameters.values()):
        shared = hrf_model._parameter_array(hrf_parameters)  # one kernel for all series
    else:
        defaults = hrf_model.default_parameters()
        for label in hrf_model.parameter_labels:
            value = hrf_parameters.get(label, defaults[label])
            params.append(_as_unit_array(label, value, ts, others))
        template = ts.isel(time=0, drop=True)
        params = [p.broadcast_like(template) for p in params]
        if ts.chunks is not None:
            params = [p.chunk(dict(template.chunksizes)) for p in params]
    dtype = np.result_type(ts.dtype, np.float32)
    out = map_units(_block_kernel, ts.astype(dtype), *params,
                    core_dims=[["time"]] + [[]] * len(params), output_core_dims=[["time"]],
                    output_dtypes=[dtype],
                    kwargs={"hrf_model": hrf_model, "padding": padding, "shared": shared})
    out = out.transpose(*ts.dims).assign_coords(ts.coords)
    out.attrs = dict(ts.attrs)
    return out.rename(ts.name)


def _as_unit_array(label: str, value: Any, ts: xr.DataArray, others: list) -> xr.DataArray:
    """One HRF parameter as a DataArray over (some of) the non-time dims of ``ts``."""
    if not isinstance(value, xr.DataArray):
        value = np.asarray(value, dtype=float)
        if value.ndim == 1 and len(others) == 1 and value.size == ts.sizes[others[0]]:
            value = xr.DataArray(value, dims=others)
        elif value.ndim == 0:
            value = xr.DataArray(value)
        else:
            raise input_error(label, f"has shape {value.shape} for timeseries dims "
                              f"{dict(ts.sizes)}", cls=DimensionError,
                              expected="a scalar, one value per series, or a DataArray over "
                              "non-time dims",
                              fix=f"pass {label}=xr.DataArray(values, dims=['voxel'])")
    elif "time" in value.dims or set(value.dims) - set(others):
        raise input_error(label, f"has dims {value.dims}", cls=DimensionError,
                          expected=f"a subset of the non-time dims {others}",
                          fix="select or rename its dims")
    return value.astype(float)
