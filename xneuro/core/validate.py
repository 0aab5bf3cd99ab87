"""Validators for labeled inputs: dims, chunking, finiteness, constancy, alignment.

Each validator raises a :class:`~xneuro.core.errors.DimensionError` or
:class:`~xneuro.core.errors.InputError` whose message names the argument, what
was found (dims, sizes, labels), what was expected, and the fix. They return
the object they checked, so that they can be chained.

The converters that turn numpy and pandas inputs into labeled objects live in
:mod:`xneuro.core.schema`, which re-exports these validators; the private
helpers here that check their arguments (arrays, labels, ``tr``, time
coordinates) are shared with it.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from xneuro.core.errors import DimensionError, input_error

__all__ = [
    "check_aligned",
    "check_core_dim_unchunked",
    "check_dims",
    "check_finite",
    "check_nonconstant",
]

XObj = xr.DataArray | xr.Dataset

_POSITIONAL = re.compile(r"dim_\d+")
_N_SHOWN = 5
_TIME = "time"


def _show(value: Any) -> str:
    return repr(value.item() if isinstance(value, np.generic) else value)


def _dims(obj: Any) -> tuple[Hashable, ...]:
    return tuple(obj.dims)


def _sizes(obj: Any) -> str:
    return "{" + ", ".join(f"{d!r}: {n}" for d, n in obj.sizes.items()) + "}"


def _converter_for(expected: tuple[str, ...]) -> str | None:
    if expected == ("time", "voxel"):
        return "as_timeseries"
    if expected and expected[0] == "time":
        return "as_paradigm"
    if expected == ("voxel",):
        return "as_parameters"
    return None


def _dims_fix(
    argument: str, found: tuple[Hashable, ...], missing: list[str], extra: list[Hashable],
    expected: tuple[str, ...],
) -> str:
    converter = _converter_for(expected)
    positional = found and all(isinstance(d, str) and _POSITIONAL.fullmatch(d) for d in found)
    if positional and converter is not None:
        return f"label the axes with xneuro.core.schema.{converter}({argument})"
    if missing and len(missing) == len(extra):
        pairs = ", ".join(f"{e!r}: {m!r}" for e, m in zip(extra, missing, strict=True))
        return f"rename the dims, e.g. {argument}.rename({{{pairs}}})"
    if missing and not extra:
        return f"add the missing dims, e.g. {argument}.expand_dims({missing[0]!r})"
    if extra and not missing:
        return (
            f"select or reduce the extra dims, e.g. {argument}.isel({extra[0]}=0) "
            f"or {argument}.squeeze({extra[0]!r})"
        )
    hint = f"; or build it with xneuro.core.schema.{converter}" if converter else ""
    return f"rename or transpose {argument} to dims {expected}{hint}"


# ------------------------------------------- helpers shared with the converters
_ACCEPTED = "a numpy or dask array, a pandas DataFrame or Series, or an xarray DataArray"


def _is_positional(da: xr.DataArray) -> bool:
    return da.ndim > 0 and all(isinstance(d, str) and _POSITIONAL.fullmatch(d) for d in da.dims)


def _as_array(data: Any, argument: str) -> Any:
    if isinstance(data, np.ndarray) or all(
        hasattr(data, a) for a in ("shape", "dtype", "ndim", "__array_function__")
    ):
        return data  # numpy, dask, cupy: kept as they are (dask stays lazy)
    if isinstance(data, list | tuple) or np.isscalar(data):
        return np.asarray(data)
    raise input_error(argument, f"is a {type(data).__name__}", expected=_ACCEPTED,
                      fix="convert it to one of those first")


def _check_numeric(dtype: Any, argument: str) -> None:
    if getattr(dtype, "kind", "O") not in "biufc":
        raise input_error(argument, f"has non-numeric dtype {dtype}",
                          expected="numbers (bool, int, float or complex)",
                          fix="convert the values, e.g. .astype(float), or drop text columns")


def _check_tr(tr: float | None, argument: str) -> float | None:
    if tr is None:
        return None
    if isinstance(tr, bool) or not isinstance(tr, int | float | np.number) or not (
        np.isfinite(tr) and tr > 0
    ):
        raise input_error(f"{argument} tr", f"is {tr!r}",
                          expected="a positive number of seconds per frame",
                          fix="pass e.g. tr=1.5")
    return float(tr)


def _index_coords(labels: Any, dim: str, n: int, argument: str) -> xr.Coordinates:
    """Coordinates for ``dim`` from labels (default ``arange(n)``); MultiIndex kept."""
    if labels is None:
        return xr.Coordinates({dim: np.arange(n)})
    index = labels if isinstance(labels, pd.Index) else pd.Index(np.asarray(labels))
    if len(index) != n:
        raise input_error(f"{argument} {dim} labels", f"has {len(index)} labels",
                          expected=f"{n}, one per {dim}", fix=f"pass {n} labels",
                          cls=DimensionError)
    if not index.is_unique:
        dup = list(index[index.duplicated()].unique()[:5])
        raise input_error(f"{argument} {dim} labels", f"has duplicates {dup}",
                          expected="unique labels",
                          fix="make the labels unique, e.g. drop or rename the duplicates")
    if isinstance(index, pd.MultiIndex):
        return xr.Coordinates.from_pandas_multiindex(index, dim)
    return xr.Coordinates({dim: index.rename(dim)})


def _time_from_index(index: pd.Index, tr: float | None) -> pd.Index | None:
    """Time in seconds from a DataFrame index, or None where it holds no seconds."""
    if isinstance(index, pd.TimedeltaIndex):
        return pd.Index(index.total_seconds(), name=_TIME)
    if isinstance(index, pd.MultiIndex) or index.dtype.kind not in "iuf":
        return None  # labels (e.g. strings): replaced by tr * arange(n) or arange(n)
    if tr is not None and np.array_equal(index.to_numpy(), np.arange(len(index))):
        return None  # frame numbers: time = tr * frame
    return index.rename(_TIME)


def _single_variable(ds: xr.Dataset, name: str, argument: str) -> xr.DataArray:
    if name in ds.data_vars:
        return ds[name]
    if len(ds.data_vars) == 1:
        return next(iter(ds.data_vars.values()))
    raise input_error(argument, f"is a Dataset with variables {list(ds.data_vars)}",
                      expected="a DataArray", fix=f"pick one, e.g. {argument}['{name}']")


def _finish_time(da: xr.DataArray, tr: float | None, time: Any, argument: str) -> xr.DataArray:
    """Give ``da`` a checked time coordinate (seconds) and ``attrs['tr']``."""
    n = da.sizes[_TIME]
    if time is not None:
        index = time if isinstance(time, pd.Index) else pd.Index(np.asarray(time))
        if index.ndim != 1 or len(index) != n:
            raise input_error(f"{argument} time", f"has {len(index)} values", cls=DimensionError,
                              expected=f"{n}, one per time point", fix="pass one time per frame")
        da = da.assign_coords({_TIME: (_TIME, index.rename(_TIME), {"units": "s"})})
    elif _TIME not in da.indexes:
        values = np.arange(n) * tr if tr is not None else np.arange(n)
        da = da.assign_coords({_TIME: (_TIME, values, {"units": "s"} if tr else {})})
    values = da.indexes[_TIME].to_numpy()
    if values.dtype.kind not in "iuf":
        raise input_error(f"{argument} time", f"has dtype {values.dtype}",
                          expected="numbers of seconds", fix="pass time= as seconds")
    steps = np.diff(values)
    if np.any(steps <= 0):
        first = int(np.flatnonzero(steps <= 0)[0])
        raise input_error(f"{argument} time",
                          f"is not strictly increasing (at position {first + 1}: "
                          f"{_show(values[first])} then {_show(values[first + 1])})",
                          expected="strictly increasing seconds",
                          fix=f"sort it, e.g. {argument}.sortby('time'), or drop repeated frames")
    if tr is not None:
        if steps.size and not np.allclose(steps, tr, rtol=1e-3, atol=0.0):
            raise input_error(f"{argument} time",
                              f"has steps of {np.median(steps):g} s (median) but tr={tr:g}",
                              expected="time steps equal to tr",
                              fix="drop tr= or pass time= consistent with it")
        da = da.assign_attrs(tr=tr)
    return da


# ------------------------------------------------------------------ validators
def check_dims(
    obj: XObj,
    expected: Sequence[str],
    argument: str,
    *,
    allow_extra: bool = False,
    ordered: bool = False,
) -> XObj:
    """Check that ``obj`` has the ``expected`` dims.

    Parameters
    ----------
    obj : xarray.DataArray or xarray.Dataset
        The object to check.
    expected : sequence of str
        Dims that must be present.
    argument : str
        Name of the argument, used in the error message.
    allow_extra : bool, default False
        Whether dims other than ``expected`` may be present.
    ordered : bool, default False
        Whether ``expected`` must also be the order of the dims (extra dims, when
        allowed, must follow them). Ignored for a Dataset.

    Returns
    -------
    xarray.DataArray or xarray.Dataset
        ``obj``, unchanged.

    Raises
    ------
    DimensionError
        With the dims and sizes found, the dims expected, and a ``.rename``,
        ``.transpose`` or converter to use.
    """
    if not isinstance(obj, xr.DataArray | xr.Dataset):
        raise input_error(
            argument, f"is a {type(obj).__name__}", expected="an xarray.DataArray or Dataset",
            fix="convert it with xneuro.core.schema.as_timeseries / as_paradigm / as_parameters",
        )
    expected = tuple(expected)
    found = _dims(obj)
    missing = [d for d in expected if d not in found]
    extra = [d for d in found if d not in expected]
    if missing or (extra and not allow_extra):
        raise input_error(
            argument,
            f"has dims {found} with sizes {_sizes(obj)}",
            expected=f"dims {expected}" + (" (plus any others)" if allow_extra else ""),
            fix=_dims_fix(argument, found, missing, [] if allow_extra else extra, expected),
            cls=DimensionError,
        )
    if ordered and isinstance(obj, xr.DataArray) and found[: len(expected)] != expected:
        order = ", ".join(repr(d) for d in expected) + (", ..." if extra else "")
        raise input_error(
            argument,
            f"has dims in the order {found}",
            expected=f"the order {expected}",
            fix=f"{argument}.transpose({order})",
            cls=DimensionError,
        )
    return obj


def check_core_dim_unchunked(obj: XObj, dim: str, argument: str) -> XObj:
    """Check that a dask-backed ``obj`` holds ``dim`` in a single chunk.

    Nothing is computed: only the chunk layout is read. Objects backed by numpy
    pass unchecked.

    Parameters
    ----------
    obj : xarray.DataArray or xarray.Dataset
        The object to check.
    dim : str
        The core dimension (e.g. ``"time"``) that kernels need whole.
    argument : str
        Name of the argument, used in the error message.

    Returns
    -------
    xarray.DataArray or xarray.Dataset
        ``obj``, unchanged.

    Raises
    ------
    DimensionError
        If ``dim`` is absent or split into several chunks (fix: ``.chunk({dim: -1})``).
    """
    check_dims(obj, (dim,), argument, allow_extra=True)
    arrays = obj.data_vars.items() if isinstance(obj, xr.Dataset) else [(None, obj)]
    for name, array in arrays:
        chunks = array.chunksizes.get(dim)
        if chunks is not None and len(chunks) > 1:
            where = argument if name is None else f"{argument}[{name!r}]"
            shown = chunks if len(chunks) <= 8 else (*chunks[:8], "...")
            raise input_error(
                where,
                f"is split into {len(chunks)} chunks along the core dim {dim!r} "
                f"(chunk sizes {shown})",
                expected=f"{dim!r} in one chunk",
                fix=f"{argument} = {argument}.chunk({{{dim!r}: -1}}) "
                "(chunk the other dims instead)",
                cls=DimensionError,
            )
    return obj


def _is_lazy(array: xr.DataArray) -> bool:
    return array.chunks is not None


def _labels(array: xr.DataArray, dim: Hashable, mask: np.ndarray) -> str:
    positions = np.flatnonzero(mask)[:_N_SHOWN]
    if dim in array.indexes:
        shown = [array.indexes[dim][p] for p in positions]
    else:
        shown = [int(p) for p in positions]
    more = ", ..." if mask.sum() > _N_SHOWN else ""
    return ", ".join(_show(v) for v in shown) + more


def _per_label(bad: xr.DataArray, dim: Hashable) -> np.ndarray:
    others = [d for d in bad.dims if d != dim]
    return np.asarray(bad.any(others).values) if others else np.asarray(bad.values)


def check_finite(
    obj: XObj, argument: str, dim: str | None = "voxel", *, compute: bool = True
) -> XObj:
    """Check that ``obj`` holds no NaN or infinite values.

    Parameters
    ----------
    obj : xarray.DataArray or xarray.Dataset
        The object to check; only float and complex variables are inspected.
    argument : str
        Name of the argument, used in the error message.
    dim : str or None, default "voxel"
        Dim along which the offending labels are reported (the first few of
        them). With None, or when ``obj`` lacks ``dim``, positions are reported.
    compute : bool, default True
        For dask-backed variables the check computes one reduction (the count
        of non-finite values; two more only to word the error when some are
        found). With False, dask-backed variables are skipped and nothing is
        computed.

    Returns
    -------
    xarray.DataArray or xarray.Dataset
        ``obj``, unchanged.

    Raises
    ------
    InputError
        Naming the counts of NaN and inf values and where they are.
    """
    arrays = obj.data_vars.items() if isinstance(obj, xr.Dataset) else [(None, obj)]
    for name, array in arrays:
        if array.dtype.kind not in "fc" or (_is_lazy(array) and not compute):
            continue
        finite = np.isfinite(array)
        n_bad = int((~finite).sum().values)
        if n_bad == 0:
            continue
        n_nan = int(np.isnan(array).sum().values)
        where = argument if name is None else f"{argument}[{name!r}]"
        if dim is not None and dim in array.dims:
            bad = _per_label(~finite, dim)
            location = (
                f" in {int(bad.sum())} of {bad.size} {dim} labels (first: {_labels(array, dim, bad)})"
            )
            others = [d for d in array.dims if d != dim]
            fix = (
                f"drop them, e.g. ok = np.isfinite({argument}).all({others!r}); "
                f"{argument}.sel({dim}=ok); or fill them with {argument}.fillna(...) "
                f"or .interpolate_na(...)"
            )
        else:
            first = np.argwhere(~np.asarray(finite.values))[:_N_SHOWN]
            dims = array.dims
            shown = ", ".join(str(dict(zip(dims, map(int, p), strict=True))) for p in first)
            location = f" (first at {shown})"
            fix = f"fill them with {argument}.fillna(...) or drop those entries"
        raise input_error(
            where,
            f"contains {n_nan} NaN and {n_bad - n_nan} infinite values{location}",
            expected="finite values only",
            fix=fix,
        )
    return obj


def check_nonconstant(
    obj: xr.DataArray, dim: str = "time", argument: str = "data", *, return_mask: bool = False
) -> xr.DataArray:
    """Check that no series of ``obj`` is constant along ``dim``.

    A constant series (e.g. a voxel outside the brain) has no variance, so
    correlations and R² on it are undefined.

    Parameters
    ----------
    obj : xarray.DataArray
        E.g. BOLD ``(time, voxel)``.
    dim : str, default "time"
        The dim along which each series must vary.
    argument : str, default "data"
        Name of the argument, used in the error message.
    return_mask : bool, default False
        If True, return the mask (True where the series is constant, over the
        dims other than ``dim``) instead of raising.

    Returns
    -------
    xarray.DataArray
        ``obj`` unchanged, or the boolean mask when ``return_mask`` is True.

    Raises
    ------
    InputError
        Listing the first constant series and how to mask them out.

    Notes
    -----
    For dask-backed objects the mask is computed (one min/max reduction), unless
    ``return_mask`` is True, in which case it is returned lazily.
    """
    check_dims(obj, (dim,), argument, allow_extra=True)
    constant = obj.max(dim) == obj.min(dim)
    if return_mask:
        return constant.rename("constant")
    values = np.asarray(constant.values)
    if not values.any():
        return obj
    others = constant.dims
    if len(others) == 1:
        where = f"{others[0]} labels {_labels(constant, others[0], values)}"
        fix = (
            f"mask them out: constant = xneuro.core.schema.check_nonconstant({argument}, "
            f"return_mask=True); {argument}.sel({others[0]}=~constant)"
        )
    else:
        where = f"positions {[tuple(map(int, p)) for p in np.argwhere(values)[:_N_SHOWN]]}"
        fix = f"mask them out with check_nonconstant({argument}, return_mask=True)"
    raise input_error(
        argument,
        f"has {int(values.sum())} of {values.size} series constant along {dim!r} ({where})",
        expected=f"series that vary along {dim!r}",
        fix=fix,
    )


def check_aligned(
    a: XObj, b: XObj, dim: str = "time", names: tuple[str, str] = ("data", "paradigm")
) -> None:
    """Check that ``a`` and ``b`` share the same ``dim`` (size and coordinate values).

    Parameters
    ----------
    a, b : xarray.DataArray or xarray.Dataset
        The two objects, e.g. BOLD data and its stimulus paradigm.
    dim : str, default "time"
        The shared dim.
    names : tuple of str, default ("data", "paradigm")
        The argument names of ``a`` and ``b``, used in the error message.

    Raises
    ------
    DimensionError
        If either lacks ``dim`` or the sizes differ.
    InputError
        If both carry coordinates on ``dim`` and their values differ (floats are
        compared with a relative tolerance of 1e-9).
    """
    name_a, name_b = names
    check_dims(a, (dim,), name_a, allow_extra=True)
    check_dims(b, (dim,), name_b, allow_extra=True)
    n_a, n_b = a.sizes[dim], b.sizes[dim]
    if n_a != n_b:
        n = min(n_a, n_b)
        raise input_error(
            f"{name_a}, {name_b}",
            f"{name_a} has {n_a} {dim!r} points and {name_b} has {n_b}",
            expected=f"the same number of {dim!r} points",
            fix=f"trim both to the shared frames, e.g. .isel({dim}=slice(0, {n})), "
            f"or check the TR and the paradigm's frame rate",
            cls=DimensionError,
        )
    if dim not in a.indexes or dim not in b.indexes:
        return
    va, vb = np.asarray(a.indexes[dim]), np.asarray(b.indexes[dim])
    if va.dtype.kind in "fiu" and vb.dtype.kind in "fiu":
        same = np.isclose(va, vb, rtol=1e-9, atol=0.0)
    else:
        same = va == vb
    if not np.all(same):
        first = int(np.flatnonzero(~np.asarray(same))[0])
        raise input_error(
            f"{name_a}, {name_b}",
            f"{dim!r} coordinates differ in {int((~np.asarray(same)).sum())} places "
            f"(first at position {first}: {name_a} {_show(va[first])}, {name_b} {_show(vb[first])})",
            expected=f"identical {dim!r} coordinates",
            fix=f"if they are the same frames, {name_b} = {name_b}.assign_coords("
            f"{dim}={name_a}.{dim}); otherwise resample, e.g. {name_b}.interp({dim}={name_a}.{dim})",
        )

