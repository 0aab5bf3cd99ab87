"""Closed-form weights: :class:`WeightFitter` (braincoder's) and :func:`fit_weights` (labeled).

For a model's basis ``X`` (``(T, P)``: population responses of a pRF model,
or the paradigm's features, convolved, of a linear model) and data ``Y``
``(T, V)``, the weights ``W`` ``(P, V)`` solve

- ``alpha == 0``: least squares, ``W = pinv(X) (Y - offset)`` (the minimum-norm
  solution, as ``numpy.linalg.lstsq``);
- ``alpha > 0``: ridge, ``W = (X^T X + alpha I)^-1 X^T (Y - offset)``;

for all voxels at once: the ``(P, T)`` projection is computed once, then each
voxel block is one matrix product. ``offset`` is the per-voxel baseline of
linear models (given as parameters; zero when none), and R² per voxel is
``1 - sum (y - yhat)^2 / sum (y - mean y)^2`` (NaN where ``y`` is constant).

Data may be numpy, pandas, xarray (dask-backed data stays lazy, chunked over
voxels), or any array-API array (cupy, torch ...): the projection is moved to
the data's namespace and device, and the products run there.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from xneuro.core import schema
from xneuro.core.errors import DimensionError, input_error
from xneuro.core.parallel import map_units
from xneuro.core.provenance import stamp
from xneuro.encoding import _io
from xneuro.encoding.base import EncodingModel

__all__ = ["SUB_BLOCK_ELEMENTS", "WeightFitter", "fit_weights", "projection", "solve_block"]

logger = logging.getLogger("xneuro.encoding.weights")


def projection(basis: np.ndarray, alpha: float = 0.0) -> np.ndarray:
    """The ``(P, T)`` matrix ``A`` with ``W = A @ Y`` (float64).

    ``alpha == 0``: ``pinv(basis)``; ``alpha > 0``: ``(X^T X + alpha I)^-1 X^T``.
    """
    basis = np.asarray(basis, dtype=float)
    if alpha == 0:
        return np.linalg.pinv(basis)
    gram = basis.T @ basis + alpha * np.eye(basis.shape[1])
    return np.linalg.solve(gram, basis.T)


def _namespace(array: Any) -> Any:
    """The array-API namespace of ``array`` (numpy, cupy, torch ...)."""
    if hasattr(array, "__array_namespace__"):
        return array.__array_namespace__()
    module = type(array).__module__.split(".")[0]
    if module == "torch":  # torch tensors are array-API compatible but lack the dunder
        import torch

        return torch
    return np


def _like(xp: Any, values: np.ndarray, like: Any) -> Any:
    """``values`` in the namespace, dtype and device of ``like``."""
    if xp.__name__.startswith("torch"):
        return xp.asarray(values, dtype=like.dtype, device=like.device)
    return xp.asarray(values, dtype=like.dtype)


def solve_block(data: Any, proj: Any, basis: Any, offset: Any = None) -> tuple[Any, Any]:
    """Weights and R² of a ``(T, V)`` block, in the block's own array namespace.

    Parameters
    ----------
    data : array, shape (T, V)
        numpy, cupy, torch ... (any array-API array).
    proj, basis : array, shapes (P, T) and (T, P)
        In the same namespace (and device) as ``data``.
    offset : array of shape (V,), optional
        Subtracted from ``data`` before solving, added back for R².

    Returns
    -------
    weights : array, shape (P, V)
    r2 : array, shape (V,)
        NaN where a voxel's data are constant.
    """
    xp = _namespace(data)
    target = data if offset is None else data - offset[None, :]
    weights = proj @ target
    residual = target - basis @ weights
    ss_res = xp.sum(residual * residual, axis=0)
    centred = data - xp.mean(data, axis=0)[None, :]
    ss_tot = xp.sum(centred * centred, axis=0)
    safe = xp.where(ss_tot > 0, ss_tot, xp.ones_like(ss_tot))
    r2 = xp.where(ss_tot > 0, 1.0 - ss_res / safe, xp.full_like(ss_tot, float("nan")))
    return weights, r2


#: Values of one sub-block of a chunk (bounds the temporaries of the R² computation).
SUB_BLOCK_ELEMENTS = 2**22


def _block_kernel(data: np.ndarray, *offset: np.ndarray, proj: np.ndarray,
                  basis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """map_units kernel: ``(V_chunk, T)`` -> weights ``(V_chunk, P)``, r2 ``(V_chunk,)``."""
    proj, basis = proj.astype(data.dtype), basis.astype(data.dtype)
    n_voxels, n_time = data.shape
    weights = np.empty((n_voxels, proj.shape[0]), dtype=data.dtype)
    r2 = np.empty(n_voxels, dtype=data.dtype)
    step = max(1, SUB_BLOCK_ELEMENTS // max(n_time, 1))
    for start in range(0, n_voxels, step):
        s = slice(start, start + step)
        w, r = solve_block(data[s].T, proj, basis,
                           offset[0][s].astype(data.dtype) if offset else None)
        weights[s], r2[s] = w.T, r
    return weights, r2


def _check_alpha(alpha: Any) -> float:
    if isinstance(alpha, bool) or not np.isscalar(alpha) or not np.isfinite(alpha) or alpha < 0:
        raise input_error("alpha", f"is {alpha!r}", expected="a finite number >= 0 "
                          "(0: least squares; > 0: ridge penalty)", fix="pass e.g. alpha=1.0")
    return float(alpha)


class WeightFitter:
    """Closed-form weights for fixed parameters, all voxels at once (braincoder's ``WeightFitter``).

    Parameters
    ----------
    model : EncodingModel
        The model whose basis the weights multiply.
    parameters : DataFrame, Dataset, dict, array or None
        pRF models: one row per population (the basis columns). Linear models
        with a baseline: one baseline per voxel of ``data`` (None: zero).
    data : array, DataFrame or DataArray
        ``(time, voxel)``: numpy, pandas, xarray (dask stays lazy), or an
        array-API array (cupy, torch) solved in its own namespace and device.
    paradigm : array-like, DataFrame or DataArray, optional
        The stimulus per frame (the model's when None); its frames must match
        the data's.

    Notes
    -----
    Unlike braincoder, the basis of a model with an HRF is convolved (braincoder's
    ``WeightFitter`` uses the basis before the HRF), and a linear model's
    baseline is subtracted from the data before solving.

    Examples
    --------
    >>> fitter = WeightFitter(model, parameters, data, paradigm)  # doctest: +SKIP
    >>> weights = fitter.fit(alpha=1.0)   # (population, voxel); fitter.r2 per voxel
    """

    def __init__(self, model: EncodingModel, parameters: Any, data: Any,
                 paradigm: Any = None) -> None:
        if not isinstance(model, EncodingModel):
            raise input_error("model", f"is a {type(model).__name__}",
                              expected="an xneuro.encoding model, e.g. GaussianPRF2D(...)")
        self.model = model
        self._paradigm = model._get_paradigm(paradigm)
        self._kind = _io.kind_of(data)
        self._namespace = None
        if self._kind == "array" and not isinstance(data, np.ndarray | list | tuple) and \
                _namespace(data) is not np:
            self._namespace = _namespace(data)
            self._data = data
            if data.ndim != 2:
                raise input_error("data", f"has shape {tuple(data.shape)}", cls=DimensionError,
                                  expected="a 2-D (time, voxel) array")
            n_time, n_voxels = data.shape
        else:
            self._data = schema.as_timeseries(data, argument="data")
            n_time, n_voxels = self._data.sizes["time"], self._data.sizes["voxel"]
            _check_frames(self._data, self._paradigm.value)
        if n_time != self._paradigm.value.sizes["time"]:
            raise input_error(
                "data, paradigm", f"data has {n_time} frames and paradigm has "
                f"{self._paradigm.value.sizes['time']}", cls=DimensionError,
                expected="one paradigm frame per data frame",
                fix="trim both to the shared frames, or check the paradigm's frame rate")
        self._parameters = self._parameters_for(parameters, n_voxels)
        self.data, self.parameters, self.paradigm = data, parameters, paradigm
        self.weights: Any = None
        self.r2: Any = None
        #: After :meth:`fit` on numpy, pandas or xarray data: the labeled Dataset
        #: (``weights``, ``r2``, provenance), lazy for dask data.
        self.result: xr.Dataset | None = None

    def _parameters_for(self, parameters: Any, n_voxels: int) -> _io.Labeled | None:
        if self.model.parameters_are_populations:
            return self.model._get_parameters(parameters)
        if parameters is None and self.model._parameters is None:
            return None  # a linear model without baseline values: offset zero
        labeled = self.model._get_parameters(parameters)
        if labeled.value.sizes["voxel"] != n_voxels:
            raise input_error("parameters", f"has {labeled.value.sizes['voxel']} rows for "
                              f"{n_voxels} data voxels", cls=DimensionError,
                              expected="one baseline per voxel of data",
                              fix="pass one row per data column, or None")
        return labeled

    def fit(self, alpha: float = 0.0) -> Any:
        """Solve for the weights; also sets ``self.weights`` and ``self.r2``.

        Parameters
        ----------
        alpha : float, default 0
            Ridge penalty; 0 gives least squares.

        Returns
        -------
        DataFrame, DataArray or array
            ``(population, voxel)`` weights: a DataFrame (index = the
            parameters' index for pRFs, columns = the data's) for numpy or
            pandas data, a lazy-when-dask DataArray for xarray data, an array
            of the data's namespace for array-API data.
        """
        alpha = _check_alpha(alpha)
        basis, population, offset = self.model._weights_design(self._paradigm.value,
                                                               self._parameters)
        proj = projection(basis, alpha)
        if self._namespace is not None:
            xp, data = self._namespace, self._data
            off = None if offset is None else _like(xp, np.asarray(offset.values), data[0])
            self.weights, self.r2 = solve_block(data, _like(xp, proj, data),
                                                _like(xp, basis, data), off)
            return self.weights
        labeled = self._solve_labeled(proj, basis, population, offset, alpha)
        self.result = labeled
        self.weights, self.r2 = labeled["weights"], labeled["r2"]
        if self._kind == "xarray":
            return self.weights
        columns = self.data.columns if isinstance(self.data, pd.DataFrame) else pd.RangeIndex(
            self._data.sizes["voxel"], name="unit")
        index = self._population_index(population)
        self.r2 = pd.Series(np.asarray(labeled["r2"].values), index=columns, name="r2")
        self.weights = pd.DataFrame(np.asarray(labeled["weights"].values), index=index,
                                    columns=columns)
        return self.weights

    def _population_index(self, population: xr.DataArray) -> pd.Index:
        prm = self._parameters
        if self.model.parameters_are_populations and prm is not None and prm.index is not None:
            return prm.index
        return pd.Index(np.asarray(population.values), name="population")

    def _solve_labeled(self, proj: np.ndarray, basis: np.ndarray, population: xr.DataArray,
                       offset: xr.DataArray | None, alpha: float) -> xr.Dataset:
        data = self._data
        dtype = np.result_type(data.dtype, np.float32)
        data = data.astype(dtype, copy=False)
        inputs = [data]
        if offset is not None:
            offset = offset.astype(dtype).assign_coords(voxel=data["voxel"].values) \
                if offset.sizes["voxel"] == data.sizes["voxel"] else offset
            if data.chunks is not None:
                offset = offset.chunk({"voxel": data.chunksizes["voxel"]})
            inputs.append(offset.drop_vars([c for c in offset.coords if c != "voxel"]))
        weights, r2 = map_units(
            _block_kernel, *inputs, core_dims=[["time"]] + [[]] * (len(inputs) - 1),
            output_core_dims=[["population"], []], output_sizes={"population": basis.shape[1]},
            output_dtypes=[dtype, dtype], kwargs={"proj": proj, "basis": basis})
        coords = {k: v for k, v in data.coords.items() if "time" not in v.dims}
        out = xr.Dataset({"weights": weights.transpose("population", "voxel"), "r2": r2},
                         coords=coords).assign_coords(population=population.values)
        out["weights"].attrs["long_name"] = "closed-form weights"
        out["r2"].attrs["long_name"] = "coefficient of determination"
        return stamp(out, "xneuro.encoding.fit_weights",
                     {"model": type(self.model).__name__, "alpha": alpha,
                      "parameter_labels": list(self.model.parameter_labels)})


def _check_frames(data: xr.DataArray, paradigm: xr.DataArray) -> None:
    """Compare the time coords of data and paradigm when both are in seconds."""
    if data.sizes["time"] != paradigm.sizes["time"]:
        return  # the caller words the size mismatch
    seconds = [a["time"].attrs.get("units") == "s" for a in (data, paradigm)]
    if all(seconds):
        schema.check_aligned(data, paradigm, "time", ("data", "paradigm"))


def fit_weights(data: Any, model: EncodingModel, parameters: Any = None, paradigm: Any = None,
                alpha: float = 0.0) -> xr.Dataset:
    """Closed-form weights and R² per voxel, as a labeled Dataset (twin of ``data.encode.fit_weights``).

    Parameters
    ----------
    data : DataArray, DataFrame or array
        ``(time, voxel)``; dask-backed data stays lazy (chunk it over voxels).
    model : EncodingModel
        The model; its stored parameters and paradigm are used when those
        arguments are None.
    parameters : DataFrame, Dataset, dict, array or None
        See :class:`WeightFitter`.
    paradigm : array-like, DataFrame or DataArray, optional
        The stimulus per frame.
    alpha : float, default 0
        Ridge penalty (0: least squares).

    Returns
    -------
    xarray.Dataset
        ``weights`` ``(population, voxel)`` and ``r2`` ``(voxel,)``, the data's
        voxel coords, provenance attrs.
    """
    if _io.kind_of(data) == "array" and not isinstance(data, np.ndarray | list | tuple) and \
            _namespace(data) is not np:
        raise input_error("data", f"is a {type(data).__name__}",
                          expected="numpy, pandas or xarray data for a labeled result",
                          fix="use WeightFitter(...).fit() for cupy or torch arrays")
    fitter = WeightFitter(model, parameters, schema.as_timeseries(data, argument="data"),
                          paradigm)
    fitter.fit(alpha)
    return fitter.result
