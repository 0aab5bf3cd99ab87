"""Canonical dims of xneuro objects, and converters from numpy and pandas.

Every object xneuro handles is a labeled xarray object with the dims listed in
:data:`KINDS`. The converters :func:`as_timeseries`, :func:`as_paradigm` and
:func:`as_parameters` accept numpy (or dask) arrays, pandas objects in the
conventions of braincoder, or already-labeled xarray objects (which are
validated, put in canonical dim order and returned); :func:`to_pandas` goes back.
Dask arrays stay lazy throughout the converters.

Pandas conventions
------------------
- timeseries: ``DataFrame`` with index = time, columns = voxels (or units).
- paradigm: ``DataFrame`` with index = time (or frame), columns = the values of
  one stimulus dim (e.g. positions along ``x``), or an ``(x, y)`` / ``(y, x)``
  ``MultiIndex`` for images.
- parameters: ``DataFrame`` with index = voxel (or source), columns = parameter
  labels.

The validators of :mod:`xneuro.core.validate` are re-exported here.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from xneuro.core.errors import DimensionError, input_error
from xneuro.core.validate import (
    _as_array,
    _check_numeric,
    _check_tr,
    _finish_time,
    _index_coords,
    _is_positional,
    _single_variable,
    _time_from_index,
    check_aligned,
    check_core_dim_unchunked,
    check_dims,
    check_finite,
    check_nonconstant,
)

__all__ = [
    "CHANNEL", "COLUMN", "HEMI", "ITERATION", "PAIR", "PIXEL", "REGION", "ROI", "ROW",
    "STIMULUS", "STIMULUS_", "SUBJECT", "TIME", "UNIT", "VERTEX", "VOXEL", "X", "Y",
    "KINDS", "Kind",
    "as_paradigm", "as_parameters", "as_timeseries", "to_pandas",
    "check_aligned", "check_core_dim_unchunked", "check_dims", "check_finite",
    "check_nonconstant",
]

# Canonical dim names: lowercase, singular, the same everywhere.
TIME = "time"
VOXEL = "voxel"
VERTEX = "vertex"
STIMULUS = "stimulus"
STIMULUS_ = "stimulus_"
CHANNEL = "channel"
ROW = "row"
COLUMN = "column"
UNIT = "unit"
PAIR = "pair"
ITERATION = "iteration"
REGION = "region"
X = "x"
Y = "y"
PIXEL = "pixel"
# Canonical coordinate names (not dims).
ROI = "roi"
HEMI = "hemi"
SUBJECT = "subject"


@dataclass(frozen=True)
class Kind:
    """The canonical layout of one kind of object.

    Attributes
    ----------
    container : str
        ``"DataArray"``, ``"Dataset"`` or ``"DataTree"``.
    layouts : tuple of tuple of str
        Accepted leading dims, one tuple per alternative layout.
    extra_dims : str or None
        What may follow the leading dims, or None when nothing may.
    notes : str
        Coords, attrs and units that go with the kind.
    """

    container: str
    layouts: tuple[tuple[str, ...], ...]
    extra_dims: str | None
    notes: str


KINDS: Mapping[str, Kind] = MappingProxyType({
    "timeseries": Kind(
        "DataArray", ((TIME, VOXEL),), None,
        "time in seconds (coord attrs units 's'), attrs tr; voxel may carry coords "
        "i, j, k (volume), vertex (surface), roi, hemi",
    ),
    "paradigm": Kind(
        "DataArray", ((TIME,),), "stimulus dims, e.g. ('x',) or ('y', 'x') for images, "
        "('pixel',) for a non-grid set of positions",
        "stimulus coords in degrees; attrs tr",
    ),
    "parameters": Kind(
        "Dataset", ((VOXEL,),), None,
        "one variable per parameter (x, y, sd, amplitude, baseline, ...) plus r2; "
        "attrs carry provenance",
    ),
    "activation": Kind(
        "DataTree", ((STIMULUS, CHANNEL, ROW, COLUMN), (STIMULUS, UNIT)), None,
        "one node per layer, variable 'activation'",
    ),
    "rdm": Kind(
        "DataArray", ((STIMULUS, STIMULUS_), (PAIR,)), "iteration, for repeated RDMs",
        "square with coords on both stimulus dims; the condensed form uses pair",
    ),
    "berg_response": Kind(
        "DataArray", ((STIMULUS, VOXEL), (STIMULUS, VERTEX)), None,
        "coords roi, subject, volume i, j, k or the 91k grayordinate index",
    ),
    "mass_output": Kind(
        "Dataset", ((TIME, REGION),), "sweep dims, with the swept values as coords",
        "one variable per state; time in seconds",
    ),
})


# --------------------------------------------------------------------- helpers
def _frame_to_array(df: pd.DataFrame, column_dim: str, tr: float | None,
                    argument: str) -> xr.DataArray:
    for dtype in set(df.dtypes):
        _check_numeric(dtype, argument)
    coords = _index_coords(df.columns, column_dim, df.shape[1], argument)
    da = xr.DataArray(df.to_numpy(), dims=(TIME, column_dim), coords=coords)
    time = _time_from_index(df.index, tr)
    if time is not None:
        da = da.assign_coords({TIME: (TIME, time, {"units": "s"})})
    return da


def _dims_tuple(dims: str | Sequence[str] | None) -> tuple[str, ...] | None:
    return (dims,) if isinstance(dims, str) else (None if dims is None else tuple(dims))


# ------------------------------------------------------------------ converters
def as_timeseries(
    data: Any,
    *,
    tr: float | None = None,
    time: Any = None,
    voxel: Any = None,
    name: str = "bold",
    argument: str = "data",
) -> xr.DataArray:
    """Return ``data`` as a ``(time, voxel)`` DataArray.

    Parameters
    ----------
    data : array-like, pandas.DataFrame, pandas.Series, xarray.DataArray or xarray.Dataset
        - numpy/dask array: 2-D ``(time, voxel)``; 1-D is one voxel.
        - DataFrame: index = time, columns = voxel labels. A numeric index is
          taken as seconds and kept (a ``TimedeltaIndex`` is converted to
          seconds); with ``tr`` given, an index equal to ``0..n-1`` is taken as
          frame numbers. Any other index is replaced by ``tr * arange(n)`` (or
          ``arange(n)``). A ``MultiIndex`` of columns (e.g. ``i, j, k``) is kept
          as a pandas MultiIndex coord on ``voxel`` whose levels become coords
          (unnamed levels are named ``voxel_level_N`` by xarray). A Series is
          one voxel.
        - DataArray: dims ``("time", "voxel")`` in any order (or ``("time",)``,
          one voxel); unnamed ``dim_0, dim_1`` are read as ``(time, voxel)``.
          A Dataset holding one variable (or one called ``name``) is accepted.
    tr : float, optional
        Seconds per frame, stored in ``attrs["tr"]``; defines
        ``time = tr * arange(n)`` when the time values are not otherwise known,
        and is checked against them when they are.
    time : array-like, optional
        Time of each frame in seconds, overriding any found in ``data``.
    voxel : array-like or pandas.MultiIndex, optional
        Voxel labels, overriding any found in ``data``; default ``arange(n_voxel)``
        for arrays.
    name : str, default "bold"
        Name of the result, unless an xarray input already has one.
    argument : str, default "data"
        Name of the argument, used in error messages.

    Returns
    -------
    xarray.DataArray
        Dims ``("time", "voxel")``, strictly increasing ``time`` coord (attrs
        ``units="s"`` when the times are seconds; plain frame numbers without
        ``tr``), ``attrs["tr"]`` when ``tr`` is given.

    Raises
    ------
    DimensionError
        If the array is not 1-D or 2-D, or the dims or label counts are wrong.
    InputError
        For non-numeric values, bad ``tr``, or times that are not increasing.
    """
    tr = _check_tr(tr, argument)
    if isinstance(data, pd.Series):
        data = data.to_frame()
    if isinstance(data, xr.Dataset):
        data = _single_variable(data, name, argument)
    if isinstance(data, pd.DataFrame):
        da = _frame_to_array(data, VOXEL, tr, argument).rename(name)
    elif isinstance(data, xr.DataArray):
        da = data
        if _is_positional(da) and da.ndim <= 2:
            da = da.rename(dict(zip(da.dims, (TIME, VOXEL), strict=False)))
        if da.dims == (TIME,):
            da = da.expand_dims(VOXEL, axis=1)
        check_dims(da, (TIME, VOXEL), argument)
        da = da.transpose(TIME, VOXEL)
        if da.name is None:
            da = da.rename(name)
    else:
        arr = _as_array(data, argument)
        arr = arr[:, None] if arr.ndim == 1 else arr
        if arr.ndim != 2:
            raise input_error(argument, f"has shape {arr.shape}", cls=DimensionError,
                              expected="a 2-D (time, voxel) array (1-D for one voxel)",
                              fix="flatten the spatial axes under a brain mask, e.g. "
                              "vol[mask].T for a (x, y, z, time) volume")
        da = xr.DataArray(arr, dims=(TIME, VOXEL), name=name,
                          coords=_index_coords(None, VOXEL, arr.shape[1], argument))
    _check_numeric(da.dtype, argument)
    if voxel is not None:
        da = da.assign_coords(_index_coords(voxel, VOXEL, da.sizes[VOXEL], argument))
    return _finish_time(da, tr, time, argument)


def _grid_order(names: list[Hashable]) -> tuple[Hashable, ...]:
    return (Y, X) if sorted(map(str, names)) == [X, Y] else tuple(names)


def _paradigm_from_frame(df: pd.DataFrame, dims: tuple[str, ...] | None, tr: float | None,
                         argument: str) -> xr.DataArray:
    cols = df.columns
    if not isinstance(cols, pd.MultiIndex):
        if dims is not None and len(dims) != 1:
            raise input_error(f"{argument} stimulus_dims", f"is {dims}", cls=DimensionError,
                              expected="one name for single-level columns",
                              fix="pass stimulus_dims=('x',)")
        default = cols.name if isinstance(cols.name, str) and cols.name != TIME else X
        return _frame_to_array(df, dims[0] if dims else default, tr, argument)
    names = list(cols.names)
    if any(n is None for n in names):
        raise input_error(argument, f"has unnamed column levels {names}",
                          expected="named levels, e.g. ('x', 'y')",
                          fix=f"{argument}.columns = {argument}.columns.set_names(['x', 'y'])")
    order = tuple(dims) if dims is not None and len(dims) > 1 else _grid_order(names)
    if set(order) != set(names):
        raise input_error(f"{argument} stimulus_dims", f"is {dims}", cls=DimensionError,
                          expected=f"an ordering of the column levels {names}",
                          fix=f"pass stimulus_dims={tuple(names)!r}")
    levels = [cols.get_level_values(n).unique() for n in order]
    full = pd.MultiIndex.from_product(levels, names=order)
    if not cols.is_unique or len(cols) != len(full):  # not a grid: one stacked dim
        dim = dims[0] if dims is not None and len(dims) == 1 else PIXEL
        return _frame_to_array(df, dim, tr, argument)
    flat = df.set_axis(cols.reorder_levels(list(order)), axis=1).reindex(columns=full)
    da = _frame_to_array(flat, PIXEL, tr, argument)
    values = da.data.reshape((df.shape[0], *map(len, levels)))
    coords = {n: level.rename(n) for n, level in zip(order, levels, strict=True)}
    if TIME in da.indexes:
        coords[TIME] = da[TIME]
    return xr.DataArray(values, dims=(TIME, *order), coords=coords)


def as_paradigm(
    data: Any,
    *,
    tr: float | None = None,
    time: Any = None,
    stimulus_dims: str | Sequence[str] | None = None,
    argument: str = "paradigm",
) -> xr.DataArray:
    """Return ``data`` as a ``(time, *stimulus_dims)`` DataArray.

    Parameters
    ----------
    data : array-like, pandas.DataFrame, pandas.Series or xarray.DataArray
        - numpy/dask array: 1-D ``(time,)`` is one stimulus value per frame, a
          stimulus dim ``x`` of size 1; 2-D ``(time, n)`` gives ``("time", "x")``;
          3-D ``(time, ny, nx)`` gives images ``("time", "y", "x")``. Stimulus
          dims made from arrays carry no coords (their positions are unknown).
        - DataFrame: index = time or frame (read as in :func:`as_timeseries`);
          single-level columns give one stimulus dim named after
          ``stimulus_dims``, else the columns' name, else ``"x"``, with the
          column labels as its coord. A ``MultiIndex`` with named levels (e.g.
          ``(x, y)``) that forms a full grid is reshaped to one dim per level,
          ``("time", "y", "x")`` for x and y; one that is not a full grid is kept
          stacked on one ``"pixel"`` dim. A Series is one column.
        - DataArray: must have ``time``; other dims are the stimulus dims;
          unnamed ``dim_N`` are read positionally as for arrays.
    tr : float, optional
        Seconds per frame; see :func:`as_timeseries`.
    time : array-like, optional
        Time of each frame in seconds.
    stimulus_dims : str or sequence of str, optional
        Names (arrays) or order (DataFrame levels, DataArray dims) of the
        stimulus dims.
    argument : str, default "paradigm"
        Name of the argument, used in error messages.

    Returns
    -------
    xarray.DataArray
        Dims ``("time", *stimulus_dims)``.

    Raises
    ------
    DimensionError
        If there is no time dim, or ``stimulus_dims`` does not fit the data.
    InputError
        For non-numeric values, bad ``tr``, or times that are not increasing.
    """
    tr = _check_tr(tr, argument)
    dims = _dims_tuple(stimulus_dims)
    if dims is not None and (TIME in dims or len(set(dims)) != len(dims)):
        raise input_error(f"{argument} stimulus_dims", f"is {dims}", cls=DimensionError,
                          expected="distinct names other than 'time'", fix="rename them")
    if isinstance(data, pd.Series):
        data = data.to_frame()
    if isinstance(data, xr.Dataset):
        data = _single_variable(data, "paradigm", argument)
    if isinstance(data, pd.DataFrame):
        da = _paradigm_from_frame(data, dims, tr, argument).rename("paradigm")
    elif isinstance(data, xr.DataArray):
        da = data
        if _is_positional(da):
            da = da.rename(dict(zip(da.dims, (TIME, *_stimulus_dims(dims, da.ndim - 1,
                                                                     argument)), strict=True)))
        check_dims(da, (TIME,), argument, allow_extra=True)
        if da.ndim == 1:
            da = da.expand_dims(dims[0] if dims else X, axis=1)
        found = tuple(d for d in da.dims if d != TIME)
        if dims is not None and set(dims) != set(found):
            raise input_error(argument, f"has stimulus dims {found}", cls=DimensionError,
                              expected=f"stimulus_dims {dims}",
                              fix=f"rename the dims, or pass stimulus_dims={found!r}")
        da = da.transpose(TIME, *(dims or found))
    else:
        arr = _as_array(data, argument)
        if arr.ndim == 0:
            raise input_error(argument, "is a scalar", cls=DimensionError,
                              expected="an array with time first", fix="pass one value per frame")
        arr = arr[:, None] if arr.ndim == 1 else arr
        da = xr.DataArray(arr, name="paradigm",
                          dims=(TIME, *_stimulus_dims(dims, arr.ndim - 1, argument)))
    _check_numeric(da.dtype, argument)
    return _finish_time(da, tr, time, argument)


def _stimulus_dims(dims: tuple[str, ...] | None, n: int, argument: str) -> tuple[str, ...]:
    if dims is None and n in (1, 2):
        return (X,) if n == 1 else (Y, X)
    if dims is None or len(dims) != n:
        raise input_error(f"{argument} stimulus_dims", f"is {dims} for {n} stimulus axes",
                          expected=f"{n} names", cls=DimensionError,
                          fix=f"pass stimulus_dims with {n} names, e.g. {('z', 'y', 'x')[-n:]}"
                          if n <= 3 else f"pass stimulus_dims with {n} names")
    return dims


def as_parameters(
    data: Any,
    *,
    labels: str | Sequence[Hashable] | None = None,
    voxel: Any = None,
    argument: str = "parameters",
) -> xr.Dataset:
    """Return ``data`` as a Dataset over ``voxel``, one variable per parameter.

    Parameters
    ----------
    data : pandas.DataFrame, numpy/dask array, dict, xarray.Dataset or xarray.DataArray
        - DataFrame: index = voxel (a MultiIndex is kept), columns = labels,
          each column's dtype kept. A Series is one parameter.
        - 2-D array ``(voxel, parameter)`` with ``labels``; 1-D with one label.
        - dict ``{label: 1-D array}`` (dask arrays stay lazy) or of Series.
        - Dataset whose variables all have a ``voxel`` dim; DataArray
          ``(voxel, p)`` whose ``p`` coord (or ``labels``) names the parameters.
    labels : str or sequence of hashable, optional
        Parameter names (a str is one name). Required for arrays; for the other inputs, selects and
        orders the variables (others, e.g. ``r2``, are dropped).
    voxel : array-like or pandas.MultiIndex, optional
        Voxel labels; default the DataFrame index, or ``arange(n_voxel)``.
    argument : str, default "parameters"
        Name of the argument, used in error messages.

    Returns
    -------
    xarray.Dataset
        One variable per parameter, each with dims ``("voxel", ...)``.

    Raises
    ------
    DimensionError
        If a variable lacks ``voxel`` or the shapes do not fit the labels.
    InputError
        For missing labels or non-numeric values.
    """
    names = None if labels is None else [labels] if isinstance(labels, str) else list(labels)
    if isinstance(data, pd.Series):
        data = data.to_frame()
    if isinstance(data, Mapping) and data and all(isinstance(v, pd.Series) for v in data.values()):
        data = pd.DataFrame(dict(data))
    if isinstance(data, pd.DataFrame):
        if not data.columns.is_unique:
            raise input_error(argument, f"has duplicate columns {list(data.columns)}",
                              expected="one column per parameter", fix="drop the duplicates")
        ds = xr.Dataset({c: (VOXEL, data[c].to_numpy()) for c in data.columns},
                        coords=_index_coords(data.index, VOXEL, len(data), argument))
    elif isinstance(data, xr.Dataset):
        ds = data
    elif isinstance(data, xr.DataArray):
        if data.ndim == 1:
            ds = data.to_dataset(name=names[0] if names else (data.name or "parameter"))
        else:
            check_dims(data, (VOXEL,), argument, allow_extra=True)
            other = [d for d in data.dims if d != VOXEL]
            if len(other) != 1:
                raise input_error(argument, f"has dims {data.dims}", cls=DimensionError,
                                  expected="('voxel', <parameter dim>)",
                                  fix="pass a Dataset with one variable per parameter")
            if names is not None and len(names) == data.sizes[other[0]]:
                data = data.assign_coords({other[0]: names})
            ds = data.to_dataset(dim=other[0])
    elif isinstance(data, Mapping):
        arrays = {k: _as_array(v, f"{argument}[{k!r}]") for k, v in data.items()}
        shapes = {k: tuple(v.shape) for k, v in arrays.items()}
        if len(set(shapes.values())) > 1 or any(len(v) != 1 for v in shapes.values()):
            raise input_error(argument, f"has arrays of shapes {shapes}", cls=DimensionError,
                              expected="1-D arrays of one length (one value per voxel)",
                              fix="pass one value per voxel for every parameter")
        ds = xr.Dataset({k: (VOXEL, v) for k, v in arrays.items()})
    else:
        arr = _as_array(data, argument)
        arr = arr[:, None] if arr.ndim == 1 else arr
        if arr.ndim != 2 or names is None or len(names) != arr.shape[1]:
            raise input_error(argument, f"has shape {arr.shape} with labels {names}",
                              expected="a (voxel, parameter) array and one label per column",
                              fix="pass labels=[...], e.g. ['x', 'sd', 'amplitude', 'baseline']",
                              cls=DimensionError)
        ds = xr.Dataset({n: (VOXEL, arr[:, i]) for i, n in enumerate(names)},
                        coords=_index_coords(None, VOXEL, arr.shape[0], argument))
    if not ds.data_vars:
        raise input_error(argument, "holds no parameters", expected="at least one",
                          fix="pass one column or variable per parameter")
    if names is not None:
        missing = [n for n in names if n not in ds.data_vars]
        if missing:
            raise input_error(argument, f"lacks parameters {missing} (has {list(ds.data_vars)})",
                              expected=f"labels {names}", fix="add them or correct labels=")
        ds = ds[names]
    for k, var in ds.data_vars.items():
        check_dims(var, (VOXEL,), f"{argument}[{k!r}]", allow_extra=True)
        _check_numeric(var.dtype, f"{argument}[{k!r}]")
    if voxel is not None:
        ds = ds.assign_coords(_index_coords(voxel, VOXEL, ds.sizes[VOXEL], argument))
    return ds


def _axis_index(obj: xr.DataArray | xr.Dataset, dim: Hashable) -> pd.Index:
    if dim in obj.indexes:
        index = obj.indexes[dim]
        return index if isinstance(index, pd.MultiIndex) else index.rename(dim)
    return pd.RangeIndex(obj.sizes[dim], name=dim)


def to_pandas(obj: xr.DataArray | xr.Dataset) -> pd.DataFrame | pd.Series:
    """Convert a labeled xneuro object to pandas (the inverse of the converters).

    Parameters
    ----------
    obj : xarray.DataArray or xarray.Dataset
        - timeseries ``(time, voxel)`` -> DataFrame, index ``time``, columns ``voxel``;
        - paradigm ``(time, d)`` -> DataFrame, index ``time``, columns the ``d`` coord;
          ``(time, y, x)`` -> columns a ``(y, x)`` MultiIndex (C order); any
          DataArray with more dims is handled alike (first dim = index);
        - 1-D DataArray -> Series;
        - parameters Dataset over ``voxel`` -> DataFrame, index ``voxel``, columns
          the labels in variable order.

    Returns
    -------
    pandas.DataFrame or pandas.Series
        Index and columns are named after the dims; dims without coords get a
        ``RangeIndex``. Dask-backed data is computed.

    Raises
    ------
    InputError
        For a 0-D array, or a Dataset whose variables are not all 1-D over one dim.
    """
    if isinstance(obj, xr.Dataset):
        dims = {v.dims for v in obj.data_vars.values()}
        if len(dims) != 1 or len(next(iter(dims))) != 1:
            raise input_error("obj", f"is a Dataset with variable dims {sorted(dims)}",
                              expected="parameters: every variable 1-D over 'voxel'",
                              fix="use obj.to_dataframe() for other Datasets")
        ds = obj.compute()
        (dim,) = next(iter(dims))
        return pd.DataFrame({k: v.to_numpy() for k, v in ds.data_vars.items()},
                            index=_axis_index(ds, dim), columns=pd.Index(list(ds.data_vars)))
    if not isinstance(obj, xr.DataArray) or obj.ndim == 0:
        raise input_error("obj", f"is {type(obj).__name__} with no dims", expected=(
            "a labeled DataArray or a parameters Dataset"), fix="pass an xneuro object")
    if TIME in obj.dims:
        obj = obj.transpose(TIME, ...)
    if obj.ndim == 1:
        return pd.Series(obj.to_numpy(), index=_axis_index(obj, obj.dims[0]), name=obj.name)
    first, *rest = obj.dims
    values = np.asarray(obj.values).reshape(obj.shape[0], -1)
    if len(rest) == 1:
        columns = _axis_index(obj, rest[0])
    else:
        columns = pd.MultiIndex.from_product([_axis_index(obj, d) for d in rest], names=rest)
    return pd.DataFrame(values, index=_axis_index(obj, first), columns=columns)
