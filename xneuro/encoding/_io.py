"""Inputs and outputs of the encoding models: numpy, pandas (braincoder's layout) or xarray.

Every input is converted to a labeled object (with :mod:`xneuro.core.schema`)
and remembers its kind and, for pandas, the index to give back:

- any xarray input -> xarray output: ``(time, voxel)``, parameters a Dataset
  over ``voxel``, weights ``(population, voxel)``;
- otherwise pandas output in braincoder's layout: index = the paradigm's index
  (``frame`` for arrays), columns = the parameters' index (``source`` for
  arrays) or the weights' columns (``unit`` for arrays).

Parameters are matched to the model's labels BY NAME (a bare array is read in
the model's label order); missing or unknown names, non-finite values and
values outside the model's bounds are errors that name the parameter.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from xneuro.core import schema
from xneuro.core.errors import DimensionError, input_error

__all__ = [
    "IGNORED_VARIABLES",
    "Labeled",
    "as_output",
    "kind_of",
    "parameters_input",
    "weights_input",
]

#: Variables of a parameters Dataset/DataFrame that are results, not parameters.
IGNORED_VARIABLES = ("r2", "sigma2")


@dataclass
class Labeled:
    """An input converted to xarray, with what is needed to give results back alike.

    Attributes
    ----------
    value : DataArray or Dataset
        The labeled input.
    kind : {"xarray", "pandas", "array"}
        What the user passed.
    index : pandas.Index, optional
        For pandas inputs, the index to give back (time rows of a paradigm,
        voxel columns of parameters, voxel columns of weights).
    """

    value: Any
    kind: str
    index: pd.Index | None = None


def kind_of(obj: Any) -> str:
    """``"xarray"``, ``"pandas"`` or ``"array"``."""
    if isinstance(obj, xr.DataArray | xr.Dataset):
        return "xarray"
    if isinstance(obj, pd.DataFrame | pd.Series):
        return "pandas"
    return "array"


def _show(names: Sequence[Hashable]) -> str:
    return "[" + ", ".join(repr(n) for n in names) + "]"


def parameters_input(parameters: Any, labels: Sequence[str], model: str,
                     argument: str = "parameters") -> Labeled:
    """Convert parameters and match them to ``labels`` by name.

    Parameters
    ----------
    parameters : DataFrame, Dataset, mapping or array
        DataFrame (index voxel/source, columns labels), Dataset over
        ``voxel``, ``{label: values}``, or a ``(voxel, parameter)`` array in
        the order of ``labels``. A ``r2`` variable is ignored.
    labels : sequence of str
        The model's parameter labels.
    model : str
        The model's name, for messages.
    argument : str
        The argument's name, for messages.

    Returns
    -------
    Labeled
        ``value`` is a Dataset with exactly ``labels``, in order.
    """
    labels = list(labels)
    kind = kind_of(parameters)
    if kind == "array" and not isinstance(parameters, Mapping):
        arr = np.asarray(parameters) if isinstance(parameters, list | tuple) else parameters
        if not hasattr(arr, "ndim"):
            raise input_error(argument, f"is a {type(parameters).__name__}",
                              expected="a DataFrame, Dataset, dict or (voxel, parameter) array")
        if arr.ndim == 1 and len(labels) == 1:
            arr = arr[:, None]
        if arr.ndim != 2 or arr.shape[1] != len(labels):
            raise input_error(argument, f"has shape {tuple(arr.shape)}", cls=DimensionError,
                              expected=f"(voxel, {len(labels)}) columns in {model}'s order "
                              f"{_show(labels)}",
                              fix="pass a DataFrame or Dataset with one named column per "
                              "parameter, so that they are matched by name")
        ds = schema.as_parameters(arr, labels=labels, argument=argument)
        return Labeled(ds, kind, pd.RangeIndex(arr.shape[0], name="source"))
    ds = schema.as_parameters(parameters, argument=argument)
    names = [n for n in ds.data_vars if n not in IGNORED_VARIABLES]
    missing = [n for n in labels if n not in names]
    unknown = [n for n in names if n not in labels]
    if missing or unknown:
        problem = "; ".join(p for p in (
            f"lacks {_show(missing)}" if missing else "",
            f"has unknown names {_show(unknown)}" if unknown else "") if p)
        fix = ("rename the columns to the model's labels" if missing and unknown else
               "add the missing parameters" if missing else
               f"drop them, e.g. {argument}.drop_vars({_show(unknown)}) "
               f"(or .drop(columns=...) for a DataFrame), or use the model they belong to")
        raise input_error(argument, problem, expected=f"{model}'s parameters {_show(labels)}",
                          fix=fix)
    index = parameters.index if isinstance(parameters, pd.DataFrame) else None
    return Labeled(ds[labels], kind, index)


def check_parameter_values(ds: xr.Dataset, bounds: Mapping[str, tuple[float, float]],
                           model: str, argument: str = "parameters") -> None:
    """Raise if a numpy-backed parameter is non-finite or outside its bounds.

    Dask-backed variables are skipped here (nothing is computed); the block
    kernels check them when they run.
    """
    for name, var in ds.data_vars.items():
        if var.chunks is not None:
            continue
        schema.check_finite(var, f"{argument}[{name!r}]", dim="voxel")
        check_block_bounds(np.asarray(var.values), name, bounds, model, argument)


def check_block_bounds(values: np.ndarray, name: str, bounds: Mapping[str, tuple[float, float]],
                       model: str, argument: str = "parameters") -> None:
    """Raise if ``values`` of parameter ``name`` are non-finite or outside ``bounds[name]``."""
    if not np.isfinite(values).all():
        n_bad = int((~np.isfinite(values)).sum())
        raise input_error(f"{argument}[{name!r}]", f"contains {n_bad} NaN or infinite values",
                          expected="finite values only",
                          fix="drop those voxels, or fill them, before predicting")
    lower, upper = bounds.get(name, (-np.inf, np.inf))
    bad = (values < lower) | (values > upper)
    if bad.any():
        raise input_error(
            f"{argument}[{name!r}]",
            f"has {int(bad.sum())} values outside [{lower:g}, {upper:g}] "
            f"(first: {values[bad][:3].tolist()})",
            expected=f"values within {model}'s bounds for {name!r}",
            fix=_bounds_fix(name, model))


def _bounds_fix(name: str, model: str) -> str:
    if name == "amplitude":
        return f"pass allow_neg_amplitudes=True to {model} for negative amplitudes"
    if name.startswith("hrf_"):
        return "widen the HRF model's bounds (min_/max_ arguments), or clip the values"
    return f"use values in the range, e.g. a positive {name}"


def check_parameter_block(block: np.ndarray, labels: Sequence[str],
                          bounds: Mapping[str, tuple[float, float]], model: str) -> None:
    """Check a ``(..., n_parameters)`` block (inside dask tasks)."""
    for i, name in enumerate(labels):
        check_block_bounds(block[..., i], name, bounds, model)


def parameter_table(ds: xr.Dataset) -> xr.DataArray:
    """Stack a parameters Dataset into a ``(voxel, parameter)`` DataArray (lazy for dask)."""
    return ds.to_dataarray(dim="parameter").transpose("voxel", "parameter")


def weights_input(weights: Any, argument: str = "weights") -> Labeled:
    """Convert weights to a ``(population, voxel)`` DataArray.

    Parameters
    ----------
    weights : DataFrame, DataArray or array
        DataFrame: index = population, columns = voxel; array ``(population,
        voxel)`` (populations numbered from 1, as braincoder); DataArray with
        ``voxel`` and one other dim (renamed ``population``).
    argument : str
        The argument's name, for messages.
    """
    kind = kind_of(weights)
    if isinstance(weights, pd.DataFrame):
        da = xr.DataArray(weights.to_numpy(), dims=("population", "voxel"),
                          coords={"population": np.asarray(weights.index),
                                  "voxel": np.asarray(weights.columns)})
        index = weights.columns
    elif isinstance(weights, xr.DataArray):
        schema.check_dims(weights, ("voxel",), argument, allow_extra=True)
        other = [d for d in weights.dims if d != "voxel"]
        if len(other) != 1:
            raise input_error(argument, f"has dims {weights.dims}", cls=DimensionError,
                              expected="('population', 'voxel')",
                              fix="select or stack the extra dims")
        da = weights.rename({other[0]: "population"}).transpose("population", "voxel")
        index = None
    else:
        arr = np.asarray(weights) if isinstance(weights, list | tuple) else weights
        if not hasattr(arr, "ndim") or arr.ndim != 2:
            raise input_error(argument, f"has shape {getattr(arr, 'shape', None)}",
                              cls=DimensionError, expected="a 2-D (population, voxel) array",
                              fix="pass one row per population (or feature), one column per voxel")
        da = xr.DataArray(arr, dims=("population", "voxel"),
                          coords={"population": np.arange(1, arr.shape[0] + 1),
                                  "voxel": np.arange(arr.shape[1])})
        index = pd.RangeIndex(arr.shape[1], name="unit")
    if da.dtype.kind not in "biuf":
        raise input_error(argument, f"has dtype {da.dtype}", expected="numbers")
    if da.chunks is None:
        schema.check_finite(da, argument)
    return Labeled(da, kind, index)


def as_output(da: xr.DataArray, inputs: Sequence[Labeled | None], time_index: pd.Index | None,
              voxel_index: pd.Index | None) -> xr.DataArray | pd.DataFrame:
    """Give ``da`` ``(time, voxel)`` back as xarray (any xarray input) or pandas."""
    if any(i is not None and i.kind == "xarray" for i in inputs):
        return da
    values = np.asarray(da.values)
    index = time_index
    if index is None or len(index) != values.shape[0]:
        seconds = da["time"].attrs.get("units") == "s"
        index = pd.Index(np.asarray(da["time"].values), name="time" if seconds else "frame")
    columns = voxel_index if voxel_index is not None and len(voxel_index) == values.shape[1] \
        else pd.Index(np.asarray(da["voxel"].values), name="source")
    return pd.DataFrame(values, index=index, columns=columns)
