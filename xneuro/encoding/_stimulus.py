"""What decoders share: stimulus ranges, the per-stimulus response, a model's arrays, omega.

Decoding evaluates a model on *candidate stimuli* rather than on a paradigm
over time. This module turns the user's inputs into the arrays the kernels
take, checking them first:

- :func:`stimulus_grid`: a stimulus range (values of a 1-D stimulus, rows of
  features, or candidate images) -> ``(S, F)`` numpy in the model's feature
  order, with the labels the outputs carry;
- :func:`stimulus_response`: the pure ``(S, F), theta, weights -> (S, V)``
  response to each stimulus. Models with an HRF are evaluated **without** it
  (the response to a sustained stimulus, amplitude and baseline included):
  per-stimulus decoding reads one response per trial (e.g. GLM estimates);
- :func:`model_arrays`: the parameters and weights as numpy, and the voxels they describe;
- :func:`omega_cholesky`: a user's omega checked (shape, symmetry, positive
  definiteness) and factorised once.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np
import pandas as pd
import xarray as xr

from xneuro.core import schema
from xneuro.core.errors import DimensionError, InputError, input_error
from xneuro.encoding import _io
from xneuro.encoding.base import EncodingModel

__all__ = [
    "ModelArrays",
    "StimulusGrid",
    "align_data",
    "model_arrays",
    "omega_cholesky",
    "responses",
    "stimulus_grid",
    "stimulus_response",
]


@dataclass
class StimulusGrid:
    """Candidate stimuli as the kernels take them, and the labels of the results.

    Attributes
    ----------
    values : numpy.ndarray, shape (S, F)
        float64, in the model's feature order (pixels in the order of its grid).
    stimulus : numpy.ndarray, shape (S,)
        The ``stimulus`` coord of results: the values of a scalar stimulus,
        else the given labels (or ``0..S-1``).
    scalar : bool
        One number per stimulus: posteriors are densities over it
        (trapezoid-normalised) and have a mean and an SD.
    labeled : xarray.DataArray
        The candidates as ``(stimulus, *stimulus_dims)`` (images keep ``y, x``).
    kind : {"xarray", "pandas", "array"}
        What the user passed.
    order : numpy.ndarray
        Position in the user's range of each row (the sort of a scalar range).
    """

    values: np.ndarray
    stimulus: np.ndarray
    scalar: bool
    labeled: xr.DataArray
    kind: str
    order: np.ndarray

    @property
    def size(self) -> int:
        """Number of candidate stimuli."""
        return int(self.values.shape[0])

    def trapezoid_weights(self) -> np.ndarray:
        """``(S,)`` weights ``w`` with ``sum(w * p) = trapezoid integral of p`` (ones if not scalar)."""
        if not self.scalar or self.size < 2:
            return np.ones(self.size)
        s = self.stimulus.astype(float)
        w = np.empty_like(s)
        w[1:-1] = (s[2:] - s[:-2]) / 2.0
        w[0], w[-1] = (s[1] - s[0]) / 2.0, (s[-1] - s[-2]) / 2.0
        return w


def _expected_features(model: EncodingModel) -> str:
    from xneuro.encoding.prf1d import GaussianPRF
    from xneuro.encoding.prf2d import GaussianPRF2D

    if isinstance(model, GaussianPRF2D):
        return "candidate images (stimulus, y, x), or (stimulus, pixel) on the model's grid"
    if isinstance(model, GaussianPRF):
        if model.model_stimulus_amplitude:
            return "(stimulus, 2) rows of stimulus value and amplitude"
        return "a 1-D range of stimulus values, e.g. np.linspace(0, 20, 200)"
    return "(stimulus, feature) rows of the paradigm's features"


def _as_paradigm_like(stimulus_range: Any, argument: str) -> tuple[xr.DataArray, np.ndarray | None]:
    """The range as a ``(time, ...)`` paradigm (``time`` standing for ``stimulus``), and labels."""
    if isinstance(stimulus_range, xr.DataArray):
        da = stimulus_range
        if "stimulus" in da.dims:
            labels = np.asarray(da["stimulus"].values) if "stimulus" in da.coords else None
            da = da.drop_vars([c for c in da.coords if "stimulus" in da[c].dims])
            return da.rename(stimulus="time").transpose("time", ...), labels
        if da.ndim == 1:
            return schema.as_paradigm(np.asarray(da.values), argument=argument), None
        raise input_error(argument, f"has dims {da.dims} and no 'stimulus' dim",
                          cls=DimensionError, expected="a 'stimulus' dim listing the candidates",
                          fix=f"rename the candidates' dim, e.g. {argument}.rename("
                          f"{{{da.dims[0]!r}: 'stimulus'}})")
    if isinstance(stimulus_range, pd.Index):
        stimulus_range = pd.Series(np.asarray(stimulus_range))
    if isinstance(stimulus_range, pd.Series):
        return schema.as_paradigm(np.asarray(stimulus_range, dtype=float), argument=argument), \
            None
    if isinstance(stimulus_range, pd.DataFrame):
        frame = stimulus_range.reset_index(drop=True)
        return schema.as_paradigm(frame, argument=argument), np.asarray(stimulus_range.index)
    arr = np.asarray(stimulus_range)
    if arr.dtype.kind not in "biuf":
        raise input_error(argument, f"has dtype {arr.dtype}", expected="numbers")
    if arr.ndim == 0:
        arr = arr[None]
    return schema.as_paradigm(arr, argument=argument), None


def stimulus_grid(model: EncodingModel, stimulus_range: Any, argument: str = "stimulus_range",
                  as_range: bool = True) -> StimulusGrid:
    """Check a stimulus range against ``model`` and return it as a :class:`StimulusGrid`.

    Parameters
    ----------
    model : EncodingModel
        The model that will respond to the stimuli.
    stimulus_range : array-like, Series, DataFrame or DataArray
        1-D pRFs: the values of the stimulus (1-D; ``(S, 2)`` with
        ``model_stimulus_amplitude``); 2-D pRFs: candidate images ``(S, ny,
        nx)`` or a DataArray ``(stimulus, y, x)``; linear models: ``(S,
        feature)`` rows.
    argument : str
        The argument's name, for messages.
    as_range : bool, default True
        A range to integrate over: the values of a scalar stimulus must be
        distinct, and are sorted (``order`` records the permutation). False:
        one stimulus per frame, kept as given.

    Raises
    ------
    DimensionError
        If the range's dims do not fit the model.
    InputError
        For non-finite, non-numeric or repeated scalar values.
    """
    if stimulus_range is None:
        raise input_error(argument, "was not given", expected=_expected_features(model),
                          fix=f"pass {argument}=...")
    da, labels = _as_paradigm_like(stimulus_range, argument)
    try:
        model._check_paradigm(da)
    except InputError as error:
        message = str(error).split(";")[0].replace("paradigm: ", "")
        raise input_error(argument, message, cls=DimensionError,
                          expected=f"{_expected_features(model)} for {type(model).__name__}",
                          fix=f"pass {argument} with one row (or image) per candidate "
                          "stimulus") from None
    values = np.asarray(model._paradigm_values(da), dtype=float)
    if values.shape[0] == 0:
        raise input_error(argument, "is empty", expected=_expected_features(model))
    if not np.isfinite(values).all():
        raise input_error(argument, f"has {int((~np.isfinite(values)).sum())} NaN or infinite "
                          "values", expected="finite stimulus values", fix="drop them")
    scalar = values.shape[1] == 1
    labeled = da.rename(time="stimulus")
    order = np.arange(len(values))
    if scalar:
        stimulus = values[:, 0].copy()
        if as_range and np.unique(stimulus).size != stimulus.size:
            raise input_error(argument, "repeats stimulus values", expected="distinct values",
                              fix=f"use np.unique({argument})")
        if as_range and np.any(np.diff(stimulus) < 0):
            order = np.argsort(stimulus)
            values, stimulus, labeled = values[order], stimulus[order], labeled.isel(
                stimulus=order)
    else:
        stimulus = labels if labels is not None and len(labels) == len(values) \
            else np.arange(len(values))
    labeled = labeled.assign_coords(stimulus=stimulus)
    return StimulusGrid(values, np.asarray(stimulus), scalar, labeled,
                        _io.kind_of(stimulus_range), order)


def stimulus_response(model: EncodingModel, X: Any, theta: Any, weights: Any = None) -> Any:
    """Pure ``(S, F), theta, weights -> (S, V)``: each stimulus's response, without any HRF.

    jit-, grad- and vmap-safe (JAX); ``theta`` may be None for a linear model
    without parameters.
    """
    if model.hrf_model is None:
        return model.predict_array(X, theta, weights)
    if model.parameters_are_populations:
        encoding, _ = model._split_hrf(theta)
        response = model._neural(X, encoding)
        return response if weights is None else response @ weights
    response = X @ weights
    offset = model.offset_array(theta) if theta is not None else None
    return response if offset is None else response + offset


def responses(model: EncodingModel, values: np.ndarray, theta: np.ndarray | None,
              weights: np.ndarray | None = None, dtype: str = "float32") -> np.ndarray:
    """``(S, V)`` float64 :func:`stimulus_response`, jitted once per model (cached on it)."""
    cache = model.__dict__.setdefault("_jit_cache", {})
    if "stimulus_response" not in cache:
        cache["stimulus_response"] = jax.jit(functools.partial(stimulus_response, model))
    cast = lambda a: None if a is None else np.asarray(a, dtype=dtype)
    with jax.enable_x64(dtype == "float64"):
        out = cache["stimulus_response"](cast(values), cast(theta), cast(weights))
        return np.asarray(out, dtype=float)


@dataclass
class ModelArrays:
    """A model's parameters and weights as numpy, and the voxels they describe.

    Attributes
    ----------
    theta : numpy.ndarray or None
        ``(rows, P)`` parameters in ``model.parameter_labels`` order.
    weights : numpy.ndarray or None
        ``(population, voxel)``.
    voxel : numpy.ndarray
        Labels of the voxels (the weights' columns, else the parameter rows).
    voxel_index : pandas.Index or None
        Their pandas index, for pandas outputs.
    kind : str
        ``"xarray"`` when the parameters or weights were xarray.
    """

    theta: np.ndarray | None
    weights: np.ndarray | None
    voxel: np.ndarray
    voxel_index: pd.Index | None
    kind: str

    @property
    def n_voxels(self) -> int:
        """Number of voxels the model predicts."""
        return len(self.voxel)


def model_arrays(model: EncodingModel, parameters: Any = None, weights: Any = None
                 ) -> ModelArrays:
    """The parameters and weights of ``model`` (the given ones, else the stored ones) as numpy."""
    if not isinstance(model, EncodingModel):
        raise input_error("model", f"is a {type(model).__name__}",
                          expected="an xneuro.encoding model, e.g. GaussianPRF(...)",
                          fix="make one, e.g. xneuro.encoding.GaussianPRF()")
    w = model._get_weights(weights)
    if model.parameters_are_populations or parameters is not None or model._parameters is not None:
        prm = model._get_parameters(parameters) if model.parameter_labels else None
    else:
        prm = None
    if not model.parameters_are_populations and w is None:
        raise input_error("weights", f"were not given, and {type(model).__name__} holds none",
                          expected="(feature, voxel) weights", fix="pass weights=...")
    theta = None
    if prm is not None:
        theta = np.asarray(_io.parameter_table(prm.value).values, dtype=float)
        _io.check_parameter_block(theta, model.parameter_labels, model.bounds,
                                  type(model).__name__)
    w_values = None
    if w is not None:
        w_da = w.value.transpose("population", "voxel")
        w_values = np.asarray(w_da.values, dtype=float)
        if not np.isfinite(w_values).all():
            raise input_error("weights", "contains NaN or infinite values",
                              expected="finite weights")
        if model.parameters_are_populations and theta is not None and \
                w_values.shape[0] != theta.shape[0]:
            raise input_error("weights", f"has {w_values.shape[0]} populations (rows) but the "
                              f"parameters describe {theta.shape[0]}", cls=DimensionError,
                              expected="one weight row per parameter row",
                              fix="pass weights of shape (n_parameter_rows, n_voxel)")
        voxel, index = np.asarray(w_da["voxel"].values), w.index
    else:
        voxel, index = np.asarray(prm.value["voxel"].values), prm.index
    if not model.parameters_are_populations and theta is not None and \
            theta.shape[0] != len(voxel):
        raise input_error("parameters", f"has {theta.shape[0]} rows for {len(voxel)} voxels "
                          "of the weights", cls=DimensionError,
                          expected="one baseline per weights column")
    kind = "xarray" if any(x is not None and x.kind == "xarray" for x in (prm, w)) else "other"
    return ModelArrays(theta, w_values, voxel, index, kind)


def align_data(data: Any, arrays: ModelArrays, argument: str = "data") -> xr.DataArray:
    """``data`` as ``(time, voxel)``, checked to have the model's voxels (reordered by label)."""
    bold = schema.as_timeseries(data, argument=argument)
    n = bold.sizes["voxel"]
    if n != arrays.n_voxels:
        source = "weights" if arrays.weights is not None else "parameters"
        raise input_error(f"{argument}, {source}", f"{argument} has {n} voxels but the {source} "
                          f"describe {arrays.n_voxels}", cls=DimensionError,
                          expected=f"one {argument} column per voxel of the model",
                          fix=f"pass {source} (and omega) for the voxels of {argument}, or "
                          f"select those voxels of {argument}")
    if "voxel" in bold.indexes:
        mine = bold.indexes["voxel"]
        theirs = pd.Index(arrays.voxel)
        if not mine.equals(theirs) and mine.is_unique and set(mine) == set(theirs):
            bold = bold.sel(voxel=theirs)  # the same voxels in another order
    return bold


def omega_cholesky(omega: Any, n_voxels: int, argument: str = "omega") -> np.ndarray:
    """Check a noise covariance and return its lower Cholesky factor (float64).

    Raises
    ------
    DimensionError
        If it is not ``(n_voxels, n_voxels)``.
    InputError
        If it is missing, non-finite, not symmetric or not positive definite.
    """
    if omega is None:
        raise input_error(argument, "was not given, and the model holds none",
                          expected=f"a ({n_voxels}, {n_voxels}) noise covariance",
                          fix="fit one with ResidualFitter(model, data, ...).fit(), or pass "
                          "omega=np.eye(n_voxels) * noise_variance")
    values = np.asarray(getattr(omega, "values", omega), dtype=float)
    if values.shape != (n_voxels, n_voxels):
        raise input_error(argument, f"has shape {values.shape}", cls=DimensionError,
                          expected=f"({n_voxels}, {n_voxels}): one row and column per voxel",
                          fix="pass the covariance of the voxels being decoded")
    if not np.isfinite(values).all():
        raise input_error(argument, "contains NaN or infinite values",
                          expected="a finite covariance")
    scale = max(float(np.abs(values).max()), 1e-300)
    if not np.allclose(values, values.T, rtol=1e-5, atol=1e-7 * scale):
        raise input_error(argument, "is not symmetric", expected="a covariance matrix",
                          fix=f"use ({argument} + {argument}.T) / 2")
    values = (values + values.T) / 2.0
    try:
        return np.linalg.cholesky(values)
    except np.linalg.LinAlgError:
        smallest = float(np.linalg.eigvalsh(values)[0])
        raise input_error(argument, f"is not positive definite (smallest eigenvalue "
                          f"{smallest:.3g})", expected="a positive-definite covariance",
                          fix=f"fit it with ResidualFitter, or add a ridge: {argument} + "
                          f"{max(abs(smallest), 1e-6 * scale):.2g} * np.eye(n_voxels)") from None
