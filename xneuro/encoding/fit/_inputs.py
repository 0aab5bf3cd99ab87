"""Read the per-voxel inputs of a fit: initial parameters, fixed values and confounds.

Each is converted to a labeled array aligned with the data's voxels (by voxel
label when both carry the same labels, else by position) and checked before
any work starts. NaN initial or fixed values are allowed: those voxels are
skipped and reported, as voxels with NaN or constant data are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from xneuro.core import schema
from xneuro.core.errors import DimensionError, input_error
from xneuro.encoding import _io
from xneuro.encoding.base import EncodingModel

__all__ = ["as_confounds", "fixed_input", "parameter_table"]

#: Variables of a fit result that are not parameters.
RESULT_VARIABLES = ("r2", "sigma2")


def _strip_results(parameters: Any) -> Any:
    if isinstance(parameters, xr.Dataset):
        extra = [n for n in parameters.data_vars
                 if n in RESULT_VARIABLES or str(n).endswith("_history")]
        return parameters.drop_vars(extra)
    if isinstance(parameters, pd.DataFrame):
        return parameters.drop(columns=[c for c in parameters.columns if c in RESULT_VARIABLES])
    return parameters


def _align(table: xr.DataArray, bold: xr.DataArray, argument: str) -> xr.DataArray:
    """Rows of ``table`` (``(voxel, k)``) in the order of the data's voxels."""
    n = bold.sizes["voxel"]
    if table.sizes["voxel"] != n:
        raise input_error(argument, f"has {table.sizes['voxel']} voxels for data with {n}",
                          cls=DimensionError, expected="one row per voxel of the data",
                          fix="pass values for exactly the data's voxels")
    if "voxel" in table.indexes and "voxel" in bold.indexes:
        mine, theirs = bold.indexes["voxel"], table.indexes["voxel"]
        if not mine.equals(theirs) and set(mine) == set(theirs):
            table = table.sel(voxel=mine)
    coords = [c for c in table.coords if "voxel" in table[c].dims]
    return table.drop_vars(coords)


def parameter_table(model: EncodingModel, parameters: Any, bold: xr.DataArray,
                    argument: str = "init_pars") -> xr.DataArray:
    """``(voxel, parameter)`` table of initial parameters in the model's label order.

    NaN rows are kept (those voxels are skipped); finite values must be inside
    the model's bounds. Dask-backed values stay lazy (checked inside the tasks).
    """
    labeled = _io.parameters_input(_strip_results(parameters), model.parameter_labels,
                                   type(model).__name__, argument)
    ds = labeled.value
    for name, var in ds.data_vars.items():
        if var.chunks is None:
            values = np.asarray(var.values, dtype=float)
            finite = values[np.isfinite(values)]
            _io.check_block_bounds(finite, name, model.bounds, type(model).__name__, argument)
    table = _io.parameter_table(ds).astype(np.float64)
    return _align(table, bold, argument)


def fixed_input(model: EncodingModel, fixed_pars: Any, bold: xr.DataArray
                ) -> tuple[tuple[str, ...], xr.DataArray | None]:
    """Names of the fixed parameters, and their values when given.

    Parameters
    ----------
    fixed_pars : None, str, list of str, mapping, DataFrame or Dataset
        Names: held at their initial values during the gradient fit. Values
        (``{name: scalar or per-voxel array}``, a DataFrame or a Dataset):
        used in the grid and held during the gradient fit.

    Returns
    -------
    names : tuple of str
        In label order.
    values : DataArray or None
        ``(voxel, fixed)`` values, when given.
    """
    labels = tuple(model.parameter_labels)
    if fixed_pars is None:
        return (), None
    if isinstance(fixed_pars, str) or (isinstance(fixed_pars, list | tuple) and all(
            isinstance(n, str) for n in fixed_pars)):
        from xneuro.encoding.fit._config import check_names

        return check_names("fixed_pars", fixed_pars, labels), None
    n = bold.sizes["voxel"]
    if isinstance(fixed_pars, Mapping) and not isinstance(fixed_pars, xr.Dataset):
        fixed_pars = {k: np.broadcast_to(np.asarray(v, dtype=float), (n,)) if np.ndim(v) == 0
                      else v for k, v in fixed_pars.items()}
    ds = schema.as_parameters(_strip_results(fixed_pars), argument="fixed_pars")
    unknown = [k for k in ds.data_vars if k not in labels]
    if unknown:
        raise input_error("fixed_pars", f"names unknown parameters {unknown}",
                          expected=f"names from {list(labels)}", fix="check the spelling")
    names = tuple(label for label in labels if label in ds.data_vars)
    ds = ds[list(names)]
    for name, var in ds.data_vars.items():
        if var.chunks is None:  # dask values stay lazy (NaN marks skipped voxels)
            values = np.asarray(var.values, dtype=float)
            _io.check_block_bounds(values[np.isfinite(values)], name, model.bounds,
                                   type(model).__name__, "fixed_pars")
    table = ds.to_dataarray(dim="fixed").transpose("voxel", "fixed").astype(np.float64)
    return names, _align(table, bold, "fixed_pars").assign_coords(fixed=list(names))


def as_confounds(confounds: Any, n_time: int) -> np.ndarray | None:
    """Confounds as a finite ``(T, k)`` float array (None stays None)."""
    if confounds is None:
        return None
    if isinstance(confounds, pd.Series | pd.DataFrame):
        values = np.asarray(confounds.to_numpy(), dtype=float)
    elif isinstance(confounds, xr.DataArray):
        if "time" not in confounds.dims:
            raise input_error("confounds", f"has dims {confounds.dims}", cls=DimensionError,
                              expected="a 'time' dim", fix="name the frames' dim 'time'")
        values = np.asarray(confounds.transpose("time", ...).values, dtype=float)
    else:
        try:
            values = np.asarray(confounds, dtype=float)
        except (TypeError, ValueError) as err:
            raise input_error("confounds", f"is a {type(confounds).__name__}",
                              expected="a (time, k) array or DataFrame") from err
    values = values.reshape(values.shape[0], -1) if values.ndim else values
    if values.ndim != 2 or values.shape[0] != n_time:
        raise input_error("confounds", f"has shape {values.shape} for {n_time} frames",
                          cls=DimensionError, expected=f"({n_time}, k): one row per frame",
                          fix="pass one column per confound, one row per frame")
    if not np.isfinite(values).all():
        raise input_error("confounds", "contains NaN or infinite values",
                          expected="finite values", fix="fill or drop them")
    return values
