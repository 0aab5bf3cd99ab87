"""MAP stimuli from data: by grid over candidate stimuli, and by gradient (braincoder's ``StimulusFitter``).

Given an encoding model, its parameters (and weights), the noise covariance
omega (and a Student-t ``dof``), :class:`StimulusFitter` finds the stimulus of
each frame that maximises the likelihood of the data:

- :meth:`StimulusFitter.fit_grid`: the best of a set of candidates per frame
  (values of a 1-D stimulus, or candidate images), from the posterior of
  :func:`~xneuro.encoding.get_stimulus_pdf` (models with an HRF are evaluated
  without it, one response per frame);
- :meth:`StimulusFitter.fit`: Adam on the whole stimulus time series (1-D
  values or image pixels) through the full model, HRF included, with optional
  L1/L2 penalties, a pixel mask, and bounds (pixels of 2-D pRF models with
  ``positive_image_values_only`` are kept positive by a softplus). It starts
  from ``init_pars``, else from the last grid fit.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import xarray as xr

from xneuro.core import schema
from xneuro.core.backend import resolve_dtype
from xneuro.core.errors import DimensionError, input_error
from xneuro.encoding import _likelihood as lik
from xneuro.encoding._adam import minimize
from xneuro.encoding._stimulus import align_data, model_arrays, omega_cholesky
from xneuro.encoding._transforms import softplus_inverse
from xneuro.encoding.base import EncodingModel
from xneuro.encoding.decode import check_dof, get_stimulus_pdf

__all__ = ["StimulusFitter"]

logger = logging.getLogger("xneuro.encoding.stimulus_fitter")


@dataclass(frozen=True)
class _Bounds:
    """The map from unconstrained values to a stimulus range ``(lower, upper)``."""

    lower: float = -math.inf
    upper: float = math.inf

    def forward(self, u: Any) -> Any:
        if math.isinf(self.lower) and math.isinf(self.upper):
            return u
        if math.isinf(self.upper):
            return self.lower + jax.nn.softplus(u)
        if math.isinf(self.lower):
            return self.upper - jax.nn.softplus(u)
        return self.lower + (self.upper - self.lower) * jax.nn.sigmoid(u)

    def backward(self, x: np.ndarray) -> np.ndarray:
        lo, hi = self.lower, self.upper
        if math.isinf(lo) and math.isinf(hi):
            return x
        span = (hi - lo) if not (math.isinf(lo) or math.isinf(hi)) else max(
            1.0, float(np.abs(x).max(initial=1.0)))
        eps = 1e-4 * span
        x = np.clip(x, lo + eps, hi - eps)
        with jax.enable_x64(True):
            if math.isinf(hi):
                return np.asarray(softplus_inverse(jnp.asarray(x - lo)))
            if math.isinf(lo):
                return np.asarray(softplus_inverse(jnp.asarray(hi - x)))
            z = (x - lo) / (hi - lo)
            return np.log(z) - np.log1p(-z)


@dataclass(frozen=True)
class _StimulusLoss:
    """Negative log-likelihood of the data for a stimulus time series, plus penalties."""

    model: EncodingModel
    bounds: _Bounds
    dof: float | None
    constant: float
    l1: float
    l2: float

    def stimulus(self, u: Any, fixed: Any, mask: Any) -> Any:
        return jnp.where(mask, self.bounds.forward(u), fixed)

    def __call__(self, u: Any, data: Any, linv: Any, theta: Any, weights: Any, fixed: Any,
                 mask: Any) -> Any:
        X = self.stimulus(u, fixed, mask)
        residual = (data - self.model.predict_array(X, theta, weights)) @ linv.T
        m = jnp.sum(residual * residual, axis=1)
        ll = lik.loglik_from_distance(m, self.constant, data.shape[1], self.dof, xp=jnp)
        penalty = self.l1 * jnp.sum(jnp.abs(X)) + self.l2 * jnp.sum(X * X)
        return -jnp.sum(ll) + penalty


class StimulusFitter:
    """Find the stimuli that best explain data under an encoding model and a noise model.

    Parameters
    ----------
    data : DataArray, DataFrame or array
        ``(time, voxel)`` data to decode (computed if dask-backed).
    model : EncodingModel
        The encoding model; its stored parameters, weights and omega are used
        when those arguments are None.
    omega : array-like ``(voxel, voxel)``, optional
        Noise covariance (symmetric positive definite).
    parameters, weights
        As in :meth:`EncodingModel.predict`.
    dof : float, optional
        Student-t degrees of freedom (None: Gaussian).

    Attributes
    ----------
    grid_stimuli : DataArray or None
        The last :meth:`fit_grid` result (labeled), where :meth:`fit` starts.
    costs : numpy.ndarray
        Loss per Adam step of the last :meth:`fit`.

    Examples
    --------
    >>> fitter = StimulusFitter(bold, model, omega, parameters=pars)  # doctest: +SKIP
    >>> grid = fitter.fit_grid(np.linspace(0, 20, 200))     # best candidate per frame
    >>> refined = fitter.fit(learning_rate=0.05)             # gradient from there
    """

    def __init__(self, data: Any, model: EncodingModel, omega: Any = None,
                 parameters: Any = None, weights: Any = None, dof: float | None = None) -> None:
        self.model = model
        self._arrays = model_arrays(model, parameters, weights)
        self._parameters, self._weights = parameters, weights
        self._kind = "xarray" if isinstance(data, xr.DataArray | xr.Dataset) else "other"
        self._index = data.index if isinstance(data, pd.DataFrame) else None
        self.data = align_data(data, self._arrays)
        self.omega = model.omega if omega is None else omega
        self._chol = omega_cholesky(self.omega, self._arrays.n_voxels)
        self.dof = check_dof(dof)
        self.grid_stimuli: xr.DataArray | None = None
        self.costs = np.empty(0)

    # ------------------------------------------------------------------ grid
    def fit_grid(self, stimulus_range: Any, prior: Any = None, *, time_chunk: int | None = None,
                 progress: bool | None = None) -> pd.DataFrame | xr.DataArray:
        """The candidate of highest posterior in each frame (flat prior: the maximum likelihood).

        Parameters
        ----------
        stimulus_range : array-like, DataFrame or DataArray
            Candidates: 1-D stimulus values, or images ``(stimulus, y, x)``.
        prior : array-like of shape (stimulus,), optional
            Prior weights of the candidates.
        time_chunk, progress
            As in :func:`~xneuro.encoding.get_stimulus_pdf`.

        Returns
        -------
        DataFrame or DataArray
            A paradigm ``(time, *stimulus_dims)`` of the chosen candidates:
            a DataArray for xarray data, else a DataFrame (index time,
            columns the stimulus dims).
        """
        from xneuro.encoding._stimulus import stimulus_grid

        grid = stimulus_grid(self.model, stimulus_range)
        post = get_stimulus_pdf(self.model, self.data, grid.labeled.rename(
            stimulus="stimulus"), self._parameters, self._weights, self.omega,
            self.dof, normalize=False, prior=None if prior is None else np.asarray(
                getattr(prior, "values", prior), dtype=float)[grid.order],
            time_chunk=time_chunk, progress=progress)
        best = np.asarray(post.argmax("stimulus").values)
        chosen = grid.labeled.isel(stimulus=best).drop_vars("stimulus")
        chosen = chosen.rename(stimulus="time").assign_coords(time=self.data["time"])
        self.grid_stimuli = chosen.rename("stimulus")
        return self._give(self.grid_stimuli)

    # -------------------------------------------------------------- gradient
    def _init(self, init_pars: Any) -> xr.DataArray:
        if init_pars is not None:
            da = self.model._get_paradigm(init_pars).value
        elif self.grid_stimuli is not None:
            da = self.grid_stimuli
        elif getattr(self.model, "_grid", None) is not None:
            n = self.data.sizes["time"]
            start = 0.1 if getattr(self.model, "positive_image_values_only", False) else 0.0
            da = xr.DataArray(np.full((n, len(self.model._grid)), start), dims=("time", "pixel"),
                              coords={"x": ("pixel", self.model._grid[:, 0]),
                                      "y": ("pixel", self.model._grid[:, 1])})
        else:
            raise input_error("init_pars", "was not given and there is no grid fit to start from",
                              expected="a starting stimulus per frame",
                              fix="call fit_grid(stimulus_range) first, or pass init_pars")
        if da.sizes["time"] != self.data.sizes["time"]:
            raise input_error("init_pars", f"has {da.sizes['time']} frames for "
                              f"{self.data.sizes['time']} frames of data", cls=DimensionError,
                              expected="one starting stimulus per frame")
        self.model._check_paradigm(da)
        return da

    def _bounds(self, bounds: Any) -> _Bounds:
        if bounds is None:
            positive = getattr(self.model, "positive_image_values_only", False)
            return _Bounds(0.0, math.inf) if positive else _Bounds()
        try:
            lower, upper = (float(b) for b in bounds)
        except (TypeError, ValueError):
            raise input_error("bounds", f"is {bounds!r}", expected="(lower, upper) numbers, "
                              "e.g. (0, np.inf)") from None
        if not lower < upper:
            raise input_error("bounds", f"is {bounds!r}", expected="lower < upper")
        return _Bounds(lower, upper)

    def _mask(self, mask: Any, n_features: int) -> np.ndarray:
        if mask is None:
            return np.ones(n_features, dtype=bool)
        values = np.asarray(getattr(mask, "values", mask), dtype=bool).reshape(-1)
        if values.size != n_features:
            raise input_error("mask", f"has {values.size} entries", cls=DimensionError,
                              expected=f"{n_features}: one per stimulus feature (pixel)",
                              fix="pass a boolean image of the model's grid")
        return values

    def fit(self, init_pars: Any = None, max_n_iterations: int = 1000,
            min_n_iterations: int = 100, lag: int = 100, rtol: float = 1e-6,
            learning_rate: float = 0.01, l1_norm: float = 0.0, l2_norm: float = 0.0,
            mask: Any = None, bounds: Any = None, *, dtype: str | None = None,
            progress: bool | None = None) -> pd.DataFrame | xr.DataArray:
        """MAP stimulus time series by gradient descent (Adam) on the negative log-likelihood.

        Parameters
        ----------
        init_pars : paradigm-like, optional
            Starting stimulus per frame; default the last grid fit, or (2-D
            pRFs) a uniform 0.1 image.
        max_n_iterations, min_n_iterations, lag, rtol, learning_rate
            Adam's schedule (early stopping as in :class:`~xneuro.encoding.ResidualFitter`).
        l1_norm, l2_norm : float
            Penalties ``l1 sum |s| + l2 sum s^2`` on the stimulus values.
        mask : array-like of bool, optional
            Features (pixels) to fit; the others stay at their starting values.
        bounds : (lower, upper), optional
            Range of the stimulus values (default: positive pixels for 2-D pRFs
            with ``positive_image_values_only``, else unbounded).
        dtype : {"float32", "float64"}, optional
            Precision (default: the ``dtype`` option).
        progress : bool, optional
            Show a progress bar.

        Returns
        -------
        DataFrame or DataArray
            The fitted paradigm, laid out as ``init_pars`` (or the grid fit).
        """
        for name, value in (("l1_norm", l1_norm), ("l2_norm", l2_norm)):
            if isinstance(value, bool) or not np.isscalar(value) or not value >= 0:
                raise input_error(name, f"is {value!r}", expected="a number >= 0")
        template = self._init(init_pars)
        X0 = np.asarray(self.model._paradigm_values(template), dtype=float)
        box = self._bounds(bounds)
        mask = self._mask(mask, X0.shape[1])
        dtype = resolve_dtype(dtype)
        n_voxels = self._arrays.n_voxels
        logdet = 2.0 * float(np.log(np.diag(self._chol)).sum())
        loss = _StimulusLoss(self.model, box, self.dof, lik.log_constant(logdet, n_voxels,
                                                                         self.dof),
                             float(l1_norm), float(l2_norm))
        linv = lik.whiten(self._chol, np.eye(n_voxels)).T  # rows of L^-1
        data = np.asarray(self.data.values, dtype=float)
        if not np.isfinite(data).all():
            raise input_error("data", "contains NaN or infinite values", expected="finite data")
        u0 = box.backward(X0)
        with jax.enable_x64(dtype == "float64"):
            cast = lambda a: None if a is None else jnp.asarray(a, dtype=dtype)
            args = (cast(data), cast(linv), cast(self._arrays.theta), cast(self._arrays.weights),
                    cast(X0), jnp.asarray(mask[None, :]))
            result = minimize(loss, cast(u0), args, learning_rate=learning_rate,
                              max_n_iterations=max_n_iterations,
                              min_n_iterations=min_n_iterations, lag=lag, rtol=rtol,
                              progress=progress, desc="stimulus")
            X = np.asarray(loss.stimulus(result.params, args[4], args[5]), dtype=float)
        self.costs = result.costs
        if not np.isfinite(result.best_cost):
            raise input_error("StimulusFitter.fit", "found no finite likelihood",
                              expected="a starting stimulus inside the model's domain",
                              fix="pass init_pars within bounds, or lower learning_rate")
        return self._give(self._as_template(X, template))

    def _as_template(self, X: np.ndarray, template: xr.DataArray) -> xr.DataArray:
        """Put ``(T, F)`` values (model feature order) back in the layout of ``template``."""
        order = self.model._pixel_order(template) if hasattr(self.model, "_pixel_order") \
            else None
        values = X
        if order is not None:
            values = np.empty_like(X)
            values[:, order] = X
        out = template.copy(data=values.reshape(template.shape).astype(float))
        return out.assign_coords(time=self.data["time"]).rename("stimulus")

    def _give(self, da: xr.DataArray) -> pd.DataFrame | xr.DataArray:
        if self._kind == "xarray":
            return da
        frame = schema.to_pandas(da)
        return frame.set_axis(self._index, axis=0) if self._index is not None else frame
