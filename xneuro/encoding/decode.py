"""Bayesian decoding of stimuli: likelihood, posterior over a stimulus range, Fisher information.

An encoding model ``f`` (parameters, optional weights) plus a noise covariance
``omega`` (from :class:`~xneuro.encoding.ResidualFitter`) give the likelihood of
a frame of data ``y`` for any stimulus ``s``: ``p(y | s) = N(y; f(s), omega)``,
or a multivariate Student-t with ``dof``. With a flat (or given) prior over a
stimulus range the posterior of each frame is ``p(s | y) ~ p(y | s) p(s)``
(braincoder's ``get_stimulus_pdf``).

- :func:`get_stimulus_pdf` / ``model.get_stimulus_pdf``: the ``(time,
  stimulus)`` posterior, each row integrating to 1 (trapezoid rule over the
  values of a 1-D stimulus; a sum over candidate images);
- :func:`decode` / ``bold.encode.decode``: the posterior and its summaries
  (MAP, mean, SD) as a Dataset;
- :func:`get_map`, :func:`get_expected_value`, :func:`get_sd_posterior`,
  :func:`summarize_posterior`: summaries of a posterior;
- :func:`likelihood` / ``model.likelihood``: the likelihood of each frame under
  its own stimulus;
- :func:`get_fisher_information` / ``model.get_fisher_information``: analytic
  ``J^T omega^-1 J`` or its Monte Carlo estimate.

Scale: the Cholesky factor of omega is computed once and the predictions are
whitened once; frames are decoded in ``time`` chunks with Dask (dask-backed
data stays lazy; the voxels of a chunk are one block). Per-stimulus decoding
evaluates models with an HRF without it (see :mod:`xneuro.encoding._stimulus`):
the data are one response per trial or frame.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from xneuro.core.backend import resolve_dtype
from xneuro.core.errors import DimensionError, input_error
from xneuro.core.parallel import map_units
from xneuro.core.progress import compute
from xneuro.core.provenance import stamp
from xneuro.encoding import _likelihood as lik
from xneuro.encoding._stimulus import (
    ModelArrays,
    StimulusGrid,
    align_data,
    model_arrays,
    omega_cholesky,
    responses,
    stimulus_grid,
    stimulus_response,
)
from xneuro.encoding.base import EncodingModel

__all__ = [
    "decode",
    "get_expected_value",
    "get_fisher_information",
    "get_map",
    "get_sd_posterior",
    "get_stimulus_pdf",
    "likelihood",
    "summarize_posterior",
]

logger = logging.getLogger("xneuro.encoding.decode")

#: Elements of the largest per-chunk intermediate (frames x max(stimuli, voxels)).
CHUNK_ELEMENTS = 2**22


def check_dof(dof: Any) -> float | None:
    """``None`` (Gaussian) or a positive finite number of degrees of freedom."""
    if dof is None:
        return None
    try:
        value = np.asarray(getattr(dof, "values", dof), dtype=float)
    except (TypeError, ValueError):
        value = np.asarray(np.nan)
    if isinstance(dof, bool) or value.size != 1 or not np.isfinite(value).all() or \
            float(value.ravel()[0]) <= 0:
        raise input_error("dof", f"is {dof!r}", expected="a positive number of degrees of "
                          "freedom (Student-t noise), or None (Gaussian)", fix="pass e.g. dof=5")
    return float(value.ravel()[0])


def predictions(model: EncodingModel, grid: StimulusGrid, arrays: ModelArrays,
                dtype: str | None = None) -> np.ndarray:
    """``(S, V)`` float64: the response of every voxel to every stimulus of ``grid``."""
    if not model.parameters_are_populations and arrays.weights.shape[0] != grid.values.shape[1]:
        raise input_error("stimulus_range", f"has {grid.values.shape[1]} features per "
                          f"stimulus but the weights have {arrays.weights.shape[0]} rows",
                          cls=DimensionError, expected="one feature per weights row",
                          fix="pass stimuli in the features of the paradigm the weights fit")
    out = responses(model, grid.values, arrays.theta, arrays.weights, resolve_dtype(dtype))
    if not np.isfinite(out).all():
        raise input_error("stimulus_range", "gives non-finite predictions", expected=(
            "stimuli inside the model's domain (e.g. positive values for LogGaussianPRF)"),
            fix="restrict the stimulus range")
    return out


def _prior(prior: Any, grid: StimulusGrid) -> np.ndarray | None:
    if prior is None:
        return None
    values = np.asarray(getattr(prior, "values", prior), dtype=float).ravel()
    if values.size != grid.size or not np.isfinite(values).all() or np.any(values < 0) \
            or not np.any(values > 0):
        raise input_error("prior", f"has {values.size} values" + (
            "" if values.size != grid.size else " that are not all finite and >= 0"),
            expected=f"{grid.size} non-negative prior weights, one per stimulus of the range",
            fix="pass e.g. prior=np.ones(len(stimulus_range))")
    with np.errstate(divide="ignore"):
        return np.log(values[grid.order])


def _time_chunks(bold: xr.DataArray, time_chunk: int | None, n_stimuli: int) -> xr.DataArray:
    if time_chunk is not None and (isinstance(time_chunk, bool) or not isinstance(
            time_chunk, int | np.integer) or time_chunk < 1):
        raise input_error("time_chunk", f"is {time_chunk!r}", expected="a positive int or None")
    if bold.chunks is not None and time_chunk is None:
        return bold.chunk({"voxel": -1})
    size = time_chunk or max(1, CHUNK_ELEMENTS // max(n_stimuli, bold.sizes["voxel"], 1))
    return bold.chunk({"time": min(int(size), bold.sizes["time"]), "voxel": -1})


class _Setup:
    """Checked inputs of a posterior: data, stimuli, Cholesky factor, whitened predictions."""

    def __init__(self, model: EncodingModel, data: Any, stimulus_range: Any, parameters: Any,
                 weights: Any, omega: Any, dof: Any, prior: Any = None,
                 as_range: bool = True) -> None:
        self.arrays = model_arrays(model, parameters, weights)
        self.grid = stimulus_grid(model, stimulus_range, as_range=as_range)
        self.data_kind = "xarray" if isinstance(data, xr.DataArray | xr.Dataset) else "other"
        self.index = data.index if isinstance(data, pd.DataFrame) else None
        self.bold = align_data(data, self.arrays)
        self.dof = check_dof(dof)
        self.log_prior = _prior(prior, self.grid)
        self.chol = omega_cholesky(model.omega if omega is None else omega,
                                   self.arrays.n_voxels)
        self.logdet = 2.0 * float(np.log(np.diag(self.chol)).sum())
        self.constant = lik.log_constant(self.logdet, self.arrays.n_voxels, self.dof)
        self.predictions = predictions(model, self.grid, self.arrays)

    def kernel_kwargs(self) -> dict[str, Any]:
        white = lik.whiten(self.chol, self.predictions)
        return {"chol": self.chol, "white": white, "white_sq": (white * white).sum(axis=1),
                "constant": self.constant, "dof": self.dof, "log_prior": self.log_prior}

    def time_index(self) -> pd.Index:
        if self.index is not None:
            return self.index
        time = self.bold["time"]
        return pd.Index(np.asarray(time.values),
                        name="time" if time.attrs.get("units") == "s" else "frame")


def _posterior(setup: _Setup, normalize: bool, time_chunk: int | None) -> xr.DataArray:
    grid = setup.grid
    bold = _time_chunks(setup.bold, time_chunk, grid.size)
    kwargs = setup.kernel_kwargs()
    kwargs.update(weights=grid.trapezoid_weights(), normalize=bool(normalize))
    out = map_units(lik.posterior_block, bold.drop_vars(
        [c for c in bold.coords if c not in ("time", "voxel")]), core_dims=[["voxel"]],
        output_core_dims=[["stimulus"]], output_sizes={"stimulus": grid.size},
        output_dtypes=[np.float64], kwargs=kwargs)
    coords = {k: v for k, v in bold.coords.items() if "voxel" not in v.dims}
    out = out.assign_coords(coords).assign_coords(stimulus=grid.stimulus).rename("posterior")
    out.attrs = {"long_name": "posterior density over the stimulus" if grid.scalar else
                 "posterior probability of each candidate stimulus",
                 "normalized": int(bool(normalize)), "noise": "gaussian" if setup.dof is None
                 else f"student-t (dof={setup.dof:g})"}
    return out


def get_stimulus_pdf(model: EncodingModel, data: Any, stimulus_range: Any,
                     parameters: Any = None, weights: Any = None, omega: Any = None,
                     dof: float | None = None, normalize: bool = True, prior: Any = None, *,
                     time_chunk: int | None = None, progress: bool | None = None
                     ) -> pd.DataFrame | xr.DataArray:
    """Posterior over a stimulus range for every frame of data (braincoder's ``get_stimulus_pdf``).

    Parameters
    ----------
    model : EncodingModel
        The encoding model; its stored parameters, weights and omega are used
        when those arguments are None.
    data : DataArray, DataFrame or array
        ``(time, voxel)``: one response per frame (e.g. per trial). Dask-backed
        data stays lazy.
    stimulus_range : array-like, Series, DataFrame or DataArray
        1-D pRFs: the stimulus values to evaluate (sorted here); 2-D pRFs:
        candidate images ``(stimulus, y, x)``; linear models: ``(stimulus,
        feature)`` rows.
    parameters, weights
        As in :meth:`EncodingModel.predict`; the voxels they describe must be
        the data's.
    omega : array-like ``(voxel, voxel)``, optional
        Noise covariance (Student-t scale matrix with ``dof``); ``model.omega``
        when None. Must be symmetric positive definite.
    dof : float, optional
        Student-t degrees of freedom; None for Gaussian noise.
    normalize : bool, default True
        Rows integrate to 1 (trapezoid rule over a 1-D stimulus, a sum over
        candidates); False: ``exp(ll - max ll)`` per row (peak 1).
    prior : array-like of shape (stimulus,), optional
        Non-negative prior weights in the order of ``stimulus_range``; flat when None.
    time_chunk : int, optional
        Frames per Dask task (default: a memory budget; dask data keeps its chunks).
    progress : bool, optional
        Show a progress bar while computing (non-dask data).

    Returns
    -------
    DataFrame or DataArray
        ``(time, stimulus)``: a DataArray named ``posterior`` for xarray data
        (lazy for dask data), else a DataFrame (index = the data's time index,
        columns = stimulus values, braincoder's layout).

    Raises
    ------
    InputError
        For an omega that is not positive definite, a stimulus range that
        does not fit the model, or data whose voxels are not the model's.
    """
    setup = _Setup(model, data, stimulus_range, parameters, weights, omega, dof, prior)
    post = _posterior(setup, normalize, time_chunk)
    if setup.data_kind == "xarray":
        return post if setup.bold.chunks is not None else compute(
            post, progress=progress, desc="posterior")
    values = np.asarray(compute(post, progress=progress, desc="posterior").values)
    return pd.DataFrame(values, index=setup.time_index(),
                        columns=pd.Index(setup.grid.stimulus, name="stimulus"))


def likelihood(model: EncodingModel, stimuli: Any, data: Any, parameters: Any = None,
               weights: Any = None, omega: Any = None, dof: float | None = None,
               logp: bool = False) -> pd.Series | xr.DataArray:
    """Likelihood of each frame of data under its own stimulus (braincoder's ``likelihood``).

    Parameters
    ----------
    model : EncodingModel
        The encoding model.
    stimuli : array-like, DataFrame or DataArray
        One stimulus per frame of ``data`` (same formats as ``stimulus_range``
        of :func:`get_stimulus_pdf`).
    data : DataArray, DataFrame or array
        ``(time, voxel)``.
    parameters, weights, omega, dof
        As in :func:`get_stimulus_pdf`.
    logp : bool, default False
        Return the log-likelihood.

    Returns
    -------
    Series or DataArray
        ``(time,)``, named ``likelihood`` (or ``log_likelihood``); computed.
    """
    setup = _Setup(model, data, stimuli, parameters, weights, omega, dof, as_range=False)
    n_time = setup.bold.sizes["time"]
    if setup.grid.size != n_time:
        raise input_error("stimuli", f"has {setup.grid.size} stimuli for {n_time} frames",
                          cls=DimensionError, expected="one stimulus per frame of data",
                          fix="pass the stimulus shown in each frame")
    residual = np.asarray(setup.bold.values, dtype=float) - setup.predictions
    if not np.isfinite(residual).all():
        raise input_error("data", "contains NaN or infinite values", expected="finite data")
    white = lik.whiten(setup.chol, residual)
    ll = lik.loglik_from_distance((white * white).sum(axis=1), setup.constant,
                                  white.shape[1], setup.dof)
    name = "log_likelihood" if logp else "likelihood"
    values = ll if logp else np.exp(ll)
    if setup.data_kind == "xarray":
        return xr.DataArray(values, dims="time", coords={"time": setup.bold["time"]}, name=name)
    return pd.Series(values, index=setup.time_index(), name=name)


def get_fisher_information(model: EncodingModel, stimuli: Any, omega: Any = None,
                           dof: float | None = None, parameters: Any = None,
                           weights: Any = None, analytical: bool = True, n: int = 1000, *,
                           seed: int | np.random.Generator | None = None,
                           dtype: str | None = None) -> pd.Series | xr.DataArray:
    """Fisher information about the stimulus carried by the voxels, at each stimulus.

    Parameters
    ----------
    model : EncodingModel
        The encoding model.
    stimuli : array-like, Series, DataFrame or DataArray
        Where to evaluate it (formats as ``stimulus_range`` of :func:`get_stimulus_pdf`).
    omega : array-like ``(voxel, voxel)``, optional
        Noise covariance (``model.omega`` when None).
    dof : float, optional
        Student-t degrees of freedom; None for Gaussian noise.
    parameters, weights
        As in :meth:`EncodingModel.predict`.
    analytical : bool, default True
        ``J^T omega^-1 J`` with ``J = d f / d s`` (times ``(dof + V) / (dof + V
        + 2)`` for Student-t noise); False: the mean squared score over ``n``
        simulated noise draws per stimulus.
    n : int, default 1000
        Monte Carlo draws per stimulus.
    seed : int or numpy.random.Generator, optional
        Seed of the Monte Carlo draws.
    dtype : {"float32", "float64"}, optional
        Precision of the JAX derivatives (default: the ``dtype`` option).

    Returns
    -------
    Series or DataArray
        ``(stimulus,)`` named ``fisher_information`` for a 1-D stimulus (a
        DataArray for xarray stimuli); ``(stimulus, feature, feature_)``
        matrices as a DataArray for stimuli with several features.
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 2:
        raise input_error("n", f"is {n!r}", expected="an int >= 2 (Monte Carlo draws)")
    arrays = model_arrays(model, parameters, weights)
    grid = stimulus_grid(model, stimuli, argument="stimuli", as_range=False)
    dof = check_dof(dof)
    chol = omega_cholesky(model.omega if omega is None else omega, arrays.n_voxels)
    predictions(model, grid, arrays)  # checks the stimuli and the features
    dtype = resolve_dtype(dtype)
    theta = None if arrays.theta is None else np.asarray(arrays.theta, dtype=dtype)
    w = None if arrays.weights is None else np.asarray(arrays.weights, dtype=dtype)
    response = functools.partial(_response_of, model, theta, w)
    if analytical:
        info = lik.fisher_analytic(response, grid.values, chol, dof, dtype)
    else:
        info = lik.fisher_monte_carlo(response, grid.values, chol, dof, int(n),
                                      np.random.default_rng(seed), dtype)
    if grid.scalar:
        if grid.kind == "xarray":
            return xr.DataArray(info[:, 0, 0], dims="stimulus",
                                coords={"stimulus": grid.stimulus}, name="fisher_information")
        return pd.Series(info[:, 0, 0], index=pd.Index(grid.stimulus, name="stimulus"),
                         name="fisher_information")
    return xr.DataArray(info, dims=("stimulus", "feature", "feature_"),
                        coords={"stimulus": grid.stimulus}, name="fisher_information")


def _response_of(model: EncodingModel, theta: Any, weights: Any, X: Any) -> Any:
    return stimulus_response(model, X, theta, weights)


# ---------------------------------------------------------------- summaries
def _as_posterior(posterior: Any) -> tuple[xr.DataArray, str, pd.Index | None]:
    if isinstance(posterior, pd.DataFrame):
        columns = np.asarray(posterior.columns, dtype=float)
        da = xr.DataArray(posterior.to_numpy(dtype=float), dims=("time", "stimulus"),
                          coords={"stimulus": columns})
        return da, "pandas", posterior.index
    if isinstance(posterior, xr.DataArray) and "stimulus" in posterior.dims:
        return posterior, "xarray", None
    raise input_error("posterior", f"is a {type(posterior).__name__}" + (
        f" with dims {posterior.dims}" if hasattr(posterior, "dims") else ""),
        cls=DimensionError, expected="a DataFrame (columns = stimulus values) or a DataArray "
        "with a 'stimulus' dim, e.g. from get_stimulus_pdf", fix="pass get_stimulus_pdf(...)")


def _give_back(result: xr.DataArray, kind: str, index: pd.Index | None) -> Any:
    if kind == "pandas":
        return pd.Series(np.asarray(result.values), index=index, name=result.name)
    return result


def _weights(post: xr.DataArray) -> xr.DataArray:
    s = np.asarray(post["stimulus"].values)
    if s.dtype.kind not in "iuf" or s.size < 2 or np.any(np.diff(s) <= 0):
        raise input_error("posterior", "has no increasing numeric 'stimulus' coord",
                          expected="the posterior of a 1-D stimulus (values sorted)",
                          fix="summaries other than get_map need a 1-D stimulus range")
    grid = StimulusGrid(s[:, None].astype(float), s.astype(float), True, post["stimulus"],
                        "xarray", np.arange(s.size))
    return xr.DataArray(grid.trapezoid_weights(), dims="stimulus",
                        coords={"stimulus": post["stimulus"].values})


def _moments(post: xr.DataArray, circular: bool) -> tuple[xr.DataArray, xr.DataArray]:
    w = _weights(post)
    s = post["stimulus"].astype(float)
    mass = (post * w).sum("stimulus")
    if circular:
        c = (post * np.cos(s) * w).sum("stimulus") / mass
        si = (post * np.sin(s) * w).sum("stimulus") / mass
        mean = np.arctan2(si, c)
        resultant = np.sqrt(c**2 + si**2).clip(1e-300, 1.0)
        return mean, np.sqrt(-2.0 * np.log(resultant))
    mean = (post * s * w).sum("stimulus") / mass
    var = (post * (s - mean) ** 2 * w).sum("stimulus") / mass
    return mean, np.sqrt(var.clip(0.0))


def get_map(posterior: Any) -> pd.Series | xr.DataArray:
    """The stimulus of highest posterior density in each frame (lazy for dask posteriors)."""
    post, kind, index = _as_posterior(posterior)
    return _give_back(post.idxmax("stimulus").rename("map").drop_vars(
        "stimulus", errors="ignore"), kind, index)


def get_expected_value(posterior: Any, circular: bool = False) -> pd.Series | xr.DataArray:
    """Posterior mean of a 1-D stimulus per frame (trapezoid rule; circular mean in radians)."""
    post, kind, index = _as_posterior(posterior)
    return _give_back(_moments(post, circular)[0].rename("mean"), kind, index)


def get_sd_posterior(posterior: Any, circular: bool = False) -> pd.Series | xr.DataArray:
    """Posterior SD of a 1-D stimulus per frame (circular SD ``sqrt(-2 ln R)`` when circular)."""
    post, kind, index = _as_posterior(posterior)
    return _give_back(_moments(post, circular)[1].rename("sd"), kind, index)


def summarize_posterior(posterior: Any, circular: bool = False) -> xr.Dataset:
    """MAP, mean and SD per frame as a Dataset (MAP only for candidate images).

    Parameters
    ----------
    posterior : DataFrame or DataArray
        ``(time, stimulus)`` from :func:`get_stimulus_pdf`.
    circular : bool, default False
        The stimulus is an angle in radians: circular mean and SD.

    Returns
    -------
    xarray.Dataset
        ``map``, and for a 1-D stimulus ``mean`` and ``sd`` over ``time``.
    """
    post, _, index = _as_posterior(posterior)
    out = xr.Dataset({"map": post.idxmax("stimulus")})
    s = post["stimulus"]
    if s.dtype.kind in "iuf" and s.size > 1 and bool(np.all(np.diff(s.values) > 0)):
        mean, sd = _moments(post, circular)
        out["mean"], out["sd"] = mean, sd
    if index is not None:
        out = out.assign_coords(time=np.asarray(index))
    for name, text in (("map", "posterior mode"), ("mean", "posterior mean"),
                       ("sd", "posterior standard deviation")):
        if name in out:
            out[name].attrs["long_name"] = text
    return out


def decode(data: Any, model: EncodingModel, stimulus_range: Any = None, parameters: Any = None,
           weights: Any = None, omega: Any = None, dof: float | None = None, prior: Any = None,
           *, circular: bool = False, time_chunk: int | None = None,
           progress: bool | None = None) -> xr.Dataset:
    """Decode the stimulus of every frame: posterior and summaries (twin of ``bold.encode.decode``).

    Parameters
    ----------
    data : DataArray, DataFrame or array
        ``(time, voxel)``; dask-backed data stays lazy (chunked over time).
    model, stimulus_range, parameters, weights, omega, dof, prior, time_chunk, progress
        As in :func:`get_stimulus_pdf`.
    circular : bool, default False
        Circular mean and SD (a stimulus in radians).

    Returns
    -------
    xarray.Dataset
        ``posterior`` ``(time, stimulus)``; ``map`` ``(time,)``; for a 1-D
        stimulus also ``mean`` and ``sd``. Provenance in attrs.
    """
    setup = _Setup(model, data, stimulus_range, parameters, weights, omega, dof, prior)
    post = _posterior(setup, True, time_chunk)
    out = summarize_posterior(post, circular=circular)
    out["posterior"] = post
    out = out[["posterior", *[v for v in ("map", "mean", "sd") if v in out]]]
    if setup.bold.chunks is None:
        out = compute(out, progress=progress, desc="decode")
    return stamp(out, "xneuro.encoding.decode", {
        "model": type(model).__name__, "n_stimuli": setup.grid.size,
        "n_voxels": setup.arrays.n_voxels, "dof": setup.dof, "prior": prior is not None,
        "circular": bool(circular)})
