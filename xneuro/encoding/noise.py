"""Noise models of the residuals: omega, its shrinkage, the pseudo-WW^T and the ResidualFitter.

The residual covariance ``omega`` turns an encoding model into a likelihood
over stimuli (:mod:`xneuro.encoding.decode`). braincoder's model of it is

``omega = rho * tau tau^T + (1 - rho) * diag(tau^2) + sigma2 * WW^T``

with per-voxel noise SDs ``tau``, a shared correlation ``rho`` and a term
``sigma2 * WW^T`` for noise shared by voxels that are tuned alike: ``W^T W``
of the weights ``(population, voxel)``, or the *pseudo-WW^T* ``sum_s f_i(s)
f_j(s)`` of the voxels' responses ``f`` over a stimulus range
(:func:`pseudo_wwt`). :class:`ResidualFitter` fits ``tau, rho, sigma2`` (and
the distance variant's ``alpha, beta``, and the Student-t ``dof``) by maximum
likelihood with Adam in JAX; formulas in :mod:`xneuro.encoding._omega`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr
from scipy.optimize import minimize_scalar

from xneuro.core import schema
from xneuro.core.backend import resolve_dtype
from xneuro.core.errors import DimensionError, input_error
from xneuro.encoding import _omega
from xneuro.encoding._adam import AdamResult, check_schedule, minimize
from xneuro.encoding._stimulus import model_arrays, responses, stimulus_grid
from xneuro.encoding.base import EncodingModel

__all__ = ["ResidualFitter", "make_omega", "pseudo_wwt", "shrink_omega"]

logger = logging.getLogger("xneuro.encoding.noise")


def make_omega(tau: Any, rho: float | None = None, sigma2: float | None = None,
               wwt: Any = None, D: Any = None, alpha: float = 1.0,
               beta: float = 0.0) -> np.ndarray:
    """braincoder's omega from its parameters (float64).

    Parameters
    ----------
    tau : array-like of shape (V,)
        Noise SD of each voxel.
    rho : float, optional
        Correlation shared by all pairs of voxels; None gives the spherical
        ``diag(tau^2)``.
    sigma2 : float, optional
        Scale of the ``WW^T`` term.
    wwt : array-like ``(V, V)``, optional
        ``W^T W`` of the weights, or :func:`pseudo_wwt`.
    D : array-like ``(V, V)``, optional
        Voxel distances: ``rho * (alpha exp(-beta D) o tau tau^T + (1 - alpha)
        tau tau^T)`` replaces ``rho * tau tau^T``.
    alpha, beta : float
        Of the distance variant.

    Returns
    -------
    numpy.ndarray, shape (V, V)

    Examples
    --------
    >>> make_omega([1.0, 2.0], rho=0.5)
    array([[1., 1.],
           [1., 4.]])
    """
    tau = np.asarray(tau, dtype=float)
    n = tau.size
    wwt = None if wwt is None else _square(wwt, n, "wwt")
    D = None if D is None else _square(D, n, "D")
    return np.asarray(_omega.omega_matrix(tau, rho, sigma2, wwt, D, alpha, beta, xp=np))


def shrink_omega(omega: Any, sample_covariance: Any, lambd: float) -> np.ndarray:
    """Shrink omega towards the sample covariance (braincoder's ``lambd``).

    ``0``: omega; ``0 < lambd < 1``: ``(1 - lambd) omega + lambd S + 1e-9 I``;
    ``lambd >= 1``: ``S + 1e-6 I``.
    """
    lambd = _check_lambd(lambd)
    omega = np.asarray(omega, dtype=float)
    return np.asarray(_omega.shrink(omega, _square(sample_covariance, omega.shape[0],
                                                   "sample_covariance"), lambd, xp=np))


def _square(matrix: Any, n: int, argument: str) -> np.ndarray:
    values = np.asarray(getattr(matrix, "values", matrix), dtype=float)
    if values.shape != (n, n):
        raise input_error(argument, f"has shape {values.shape}", cls=DimensionError,
                          expected=f"({n}, {n}): one row and column per voxel")
    if not np.isfinite(values).all():
        raise input_error(argument, "contains NaN or infinite values", expected="finite values")
    return values


def _check_lambd(lambd: Any) -> float:
    if isinstance(lambd, bool) or not np.isscalar(lambd) or not np.isfinite(lambd) or lambd < 0:
        raise input_error("lambd", f"is {lambd!r}", expected="a number >= 0 (0: no shrinkage; "
                          "0 < lambd < 1: blend with the sample covariance; >= 1: it alone)",
                          fix="pass e.g. lambd=0.1")
    return float(lambd)


def pseudo_wwt(model: EncodingModel, stimulus_range: Any = None, parameters: Any = None,
               subtract_baseline: bool = False) -> np.ndarray:
    """braincoder's pseudo-WW^T: ``sum_s f_i(s) f_j(s)`` over a stimulus range (float64).

    Parameters
    ----------
    model : EncodingModel
        A pRF model whose parameter rows are the voxels.
    stimulus_range : array-like, optional
        The stimuli to sum over (as in :func:`~xneuro.encoding.get_stimulus_pdf`).
        2-D pRFs without it: one image per pixel, baseline subtracted, which
        gives ``rf rf^T`` of the receptive fields (braincoder's 2-D pseudo-WW^T).
    parameters : DataFrame, Dataset, dict or array, optional
        The model's when None.
    subtract_baseline : bool, default False
        Set the baseline to 0 first.

    Returns
    -------
    numpy.ndarray, shape (V, V)
        NaN entries (responses outside a model's domain) are set to 0.
    """
    from xneuro.encoding.prf2d import GaussianPRF2D

    arrays = model_arrays(model, parameters, None)
    if not model.parameters_are_populations:
        raise input_error("model", f"is a {type(model).__name__} (responses are weights)",
                          expected="a pRF model; linear models use W^T W of their weights",
                          fix="pass weights to ResidualFitter instead")
    theta = arrays.theta.copy()
    if stimulus_range is None:
        if not isinstance(model, GaussianPRF2D) or model._grid is None:
            raise input_error("stimulus_range", "was not given", expected=(
                "the stimulus values to sum the responses over, e.g. np.linspace(0, 20, 100)"),
                fix="pass stimulus_range=..., or weights, or fit with spherical=True")
        values = np.eye(len(model._grid))
        subtract_baseline = True
    else:
        values = stimulus_grid(model, stimulus_range).values
    if subtract_baseline and model.baseline_label in model.parameter_labels:
        theta[:, model.parameter_labels.index(model.baseline_label)] = 0.0
    f = responses(model, values, theta, None, "float64")
    wwt = f.T @ f
    return np.where(np.isnan(wwt), 0.0, wwt)


@dataclass(frozen=True)
class _ResidualLoss:
    """Negative log-likelihood of the residuals as a function of omega's unconstrained variables.

    Hashable, so that the compiled Adam steps are reused by fits of the same shapes.
    """

    method: str
    lambd: float
    n_time: int

    def omega(self, u: dict[str, Any], constants: tuple, xp: Any = jnp) -> Any:
        """Omega (shrunk) from the unconstrained variables and ``(wwt, distance, sample)``."""
        wwt, distance, sample = constants
        p = _omega.transform(u, xp)
        om = _omega.omega_matrix(p["tau"], p.get("rho"), p.get("sigma2"), wwt, distance,
                                 p.get("alpha"), p.get("beta"), xp=xp)
        return _omega.shrink(om, sample, self.lambd, xp=xp)

    def __call__(self, u: dict[str, Any], constants: tuple, target: Any) -> Any:
        om = self.omega(u, constants)
        if self.method == "t":
            return _omega.t_nll(om, target, jax.nn.softplus(u["dof"]))
        return _omega.gauss_nll(om, target, self.n_time)


class ResidualFitter:
    """Fit the residual covariance omega of an encoding model (braincoder's ``ResidualFitter``).

    Parameters
    ----------
    model : EncodingModel
        The encoding model.
    data : DataArray, DataFrame or array
        ``(time, voxel)`` data the model was fitted to (dask data is computed).
    paradigm : array-like, DataFrame or DataArray, optional
        The stimulus per frame (the model's when None).
    parameters, weights
        As in :meth:`EncodingModel.predict` (the model's when None); the
        prediction must have one voxel per data column.
    lambd : float, default 0
        Shrinkage towards the sample covariance (see :func:`shrink_omega`).

    Attributes
    ----------
    residuals : numpy.ndarray
        ``(time, voxel)`` data minus prediction.
    omega, dof
        After :meth:`fit`.
    fitted_omega_parameters : dict
        ``tau`` (per voxel), ``rho``, ``sigma2`` (and ``alpha``, ``beta``, ``dof``).
    costs : numpy.ndarray
        Negative log-likelihood per Adam step (``inf`` for failed steps).
    n_failures : int
        Steps whose Cholesky factorisation failed (each restored the best
        state and shrank the learning rate by 0.9).

    Examples
    --------
    >>> fitter = ResidualFitter(model, bold, paradigm, parameters)  # doctest: +SKIP
    >>> omega, dof = fitter.fit(stimulus_range=np.linspace(0, 20, 100))
    """

    def __init__(self, model: EncodingModel, data: Any, paradigm: Any = None,
                 parameters: Any = None, weights: Any = None, lambd: float = 0.0) -> None:
        arrays = model_arrays(model, parameters, weights)
        self.model, self.lambd = model, _check_lambd(lambd)
        self._parameters, self._weights = parameters, weights
        self._arrays = arrays
        self._paradigm = model._get_paradigm(paradigm)
        self._data = schema.as_timeseries(data, argument="data")
        self._kind = "xarray" if isinstance(data, xr.DataArray | xr.Dataset) else "other"
        n_voxels, n_time = self._data.sizes["voxel"], self._data.sizes["time"]
        if n_voxels != arrays.n_voxels:
            source = "weights" if arrays.weights is not None else "parameters"
            raise input_error(f"data, {source}", f"data has {n_voxels} voxels but the {source} "
                              f"describe {arrays.n_voxels}", cls=DimensionError,
                              expected="one data column per voxel of the model",
                              fix=f"pass {source} for the voxels of data")
        if n_time != self._paradigm.value.sizes["time"]:
            raise input_error("data, paradigm", f"data has {n_time} frames and paradigm has "
                              f"{self._paradigm.value.sizes['time']}", cls=DimensionError,
                              expected="one paradigm frame per data frame")
        self._residuals: np.ndarray | None = None
        self.omega: Any = None
        self.dof: float | None = None
        self.fitted_omega_parameters: dict[str, Any] = {}
        self.costs = np.empty(0)
        self.n_failures = 0

    @property
    def residuals(self) -> np.ndarray:
        """``(time, voxel)`` float64 data minus prediction (computed once)."""
        if self._residuals is None:
            prediction = self.model.predict(paradigm=self._paradigm.value,
                                            parameters=self._parameters, weights=self._weights)
            data = np.asarray(self._data.values, dtype=float)
            residuals = data - np.asarray(prediction.values, dtype=float)
            if not np.isfinite(residuals).all():
                raise input_error("data", f"gives {int((~np.isfinite(residuals)).sum())} NaN "
                                  "or infinite residuals", expected="finite data",
                                  fix="drop voxels or frames with missing values")
            self._residuals = residuals
        return self._residuals

    def _wwt(self, wwt: Any, stimulus_range: Any, normalize: bool,
             subtract_baseline: bool) -> np.ndarray:
        n = self._arrays.n_voxels
        if wwt is not None:
            out = _square(wwt, n, "wwt")
        elif self._arrays.weights is not None:
            w = self._arrays.weights
            out = w.T @ w
        else:
            logger.info("no weights: using the pseudo-WW^T of the voxels' responses")
            out = pseudo_wwt(self.model, stimulus_range, self._parameters,
                             subtract_baseline=subtract_baseline)
        out = np.clip(out, -1e10, 1e10)
        if normalize:
            mean = out.mean()
            if not mean > 0:
                raise input_error("wwt", f"has mean {mean:.3g}", expected="a positive mean "
                                  "to normalise by", fix="pass normalize_WWT=False")
            out = out / mean
        return out

    def fit(self, init_rho: float = 0.1, init_tau: Any = None, init_dof: float = 1.0,
            init_sigma2: float = 1e-3, D: Any = None, max_n_iterations: int = 1000,
            min_n_iterations: int = 100, method: str = "gauss", normalize_WWT: bool = True,
            learning_rate: float = 0.02, rtol: float = 1e-6, lag: int = 100,
            init_alpha: float = 0.99, init_beta: float = 0.0, spherical: bool = False, *,
            stimulus_range: Any = None, subtract_baseline: bool = False, wwt: Any = None,
            residuals: Any = None, dtype: str | None = None,
            progress: bool | None = None) -> tuple[Any, float | None]:
        """Fit omega by maximum likelihood of the residuals (Adam in JAX).

        Parameters
        ----------
        init_rho, init_tau, init_dof, init_sigma2, init_alpha, init_beta
            Starting values (``init_tau`` None: each voxel's residual SD).
        D : array-like ``(voxel, voxel)``, optional
            Voxel distances: fit the distance-dependent variant.
        max_n_iterations, min_n_iterations, lag, rtol, learning_rate
            Adam's schedule; early stopping as braincoder (see :mod:`xneuro.encoding._adam`).
        method : {"gauss", "t"}
            Gaussian or multivariate Student-t residuals (``t`` also fits ``dof``).
        normalize_WWT : bool, default True
            Divide ``WW^T`` by its mean.
        spherical : bool, default False
            Fit ``diag(tau^2)`` only.
        stimulus_range : array-like, optional
            For the pseudo-WW^T when there are no weights (see :func:`pseudo_wwt`).
        subtract_baseline : bool, default False
            Sum the responses over ``stimulus_range`` with each voxel's baseline
            set to 0 (as the 2-D pixel default does). For 2-D pRFs with the
            run's own images as ``stimulus_range`` this usually gives a better
            omega: the baselines otherwise dominate ``WW^T``.
        wwt : array-like ``(voxel, voxel)``, optional
            A ``WW^T`` to use as given.
        residuals : array-like ``(time, voxel)``, optional
            Residuals to use instead of data minus prediction.
        dtype : {"float32", "float64"}, optional
            Precision of the fit (default: the ``dtype`` option).
        progress : bool, optional
            Show a progress bar.

        Returns
        -------
        omega : DataArray or numpy.ndarray
            ``(voxel, voxel_)`` (a DataArray with the voxel labels for xarray
            data, else numpy), float64.
        dof : float or None
            Student-t degrees of freedom (``method="t"``), else None.

        Raises
        ------
        InputError
            For bad settings, or starting values whose omega is not positive definite.
        """
        if method not in ("gauss", "t"):
            raise input_error("method", f"is {method!r}", expected="'gauss' or 't'")
        check_schedule(max_n_iterations, min_n_iterations, lag, rtol, learning_rate)
        dtype = resolve_dtype(dtype)
        res = self.residuals if residuals is None else _residuals_input(
            residuals, self._arrays.n_voxels)
        n_time, n_voxels = res.shape
        sample = _omega.sample_covariance(res)
        if self.lambd >= 1:
            return self._fit_sample_only(sample, res, method, init_dof)
        tau0 = res.std(axis=0) if init_tau is None else np.broadcast_to(
            np.asarray(init_tau, dtype=float).ravel(), (n_voxels,))
        if not np.all(np.isfinite(tau0) & (tau0 > 0)):
            raise input_error("init_tau", "has values that are not finite and > 0 (a voxel "
                              "with constant residuals?)", expected="positive noise SDs",
                              fix="drop constant voxels, or pass init_tau")
        init = {"tau": tau0}
        if not spherical:
            init.update(rho=init_rho, sigma2=init_sigma2)
            wwt_matrix = self._wwt(wwt, stimulus_range, normalize_WWT, subtract_baseline)
        else:
            wwt_matrix = None
        distance = None
        if D is not None:
            if spherical:
                raise input_error("D", "was given with spherical=True",
                                  expected="one of them", fix="drop D or spherical")
            distance = _square(D, n_voxels, "D")
            init.update(alpha=init_alpha, beta=init_beta)
        if method == "t":
            init["dof"] = init_dof
        unconstrained = _check_init(init)
        loss = _ResidualLoss(method, self.lambd, n_time)
        constants_np = (wwt_matrix, distance, sample)
        try:
            np.linalg.cholesky(loss.omega(unconstrained, constants_np, np))
        except np.linalg.LinAlgError:
            raise input_error("init_rho, init_tau, init_sigma2, init_alpha, init_beta",
                              "give a starting omega that is not positive definite",
                              expected="starting values of a valid covariance",
                              fix="use the defaults (e.g. init_beta=0)") from None
        with jax.enable_x64(dtype == "float64"):
            cast = lambda a: None if a is None else jnp.asarray(a, dtype=dtype)
            target = res if method == "t" else _omega.scatter_factor(res)
            args = (tuple(cast(a) for a in constants_np), cast(target))
            result = minimize(loss, {k: cast(v) for k, v in unconstrained.items()}, args,
                              learning_rate=learning_rate, max_n_iterations=max_n_iterations,
                              min_n_iterations=min_n_iterations, lag=lag, rtol=rtol,
                              progress=progress, desc="omega")
        return self._finish(result, loss, constants_np, method)

    def _finish(self, result: AdamResult, loss: _ResidualLoss, constants: tuple,
                method: str) -> tuple[Any, float | None]:
        if not np.isfinite(result.best_cost):
            raise input_error("ResidualFitter.fit", "found no step with a positive-definite "
                              "omega", expected="valid starting values",
                              fix="lower learning_rate, or use dtype='float64'")
        best = {k: np.asarray(v, dtype=float) for k, v in result.params.items()}
        omega = loss.omega(best, constants, np)
        params = _omega.transform(best, np)
        self.fitted_omega_parameters = {k: (v if k == "tau" else float(v))
                                        for k, v in params.items()}
        self.costs, self.n_failures = result.costs, result.n_failures
        if result.n_failures:
            logger.info("%d omega steps failed (Cholesky); the learning rate ended at %.3g",
                        result.n_failures, result.learning_rate)
        dof = float(params["dof"]) if method == "t" else None
        return self._give(omega, dof)

    def _fit_sample_only(self, sample: np.ndarray, res: np.ndarray, method: str,
                         init_dof: float) -> tuple[Any, float | None]:
        """``lambd >= 1``: omega is the sample covariance; the Student-t fits only ``dof``."""
        omega = np.asarray(_omega.shrink(sample, sample, self.lambd, xp=np))
        dof = None
        if method == "t":
            with jax.enable_x64(True):
                om, r = jnp.asarray(omega), jnp.asarray(res)
                nll = jax.jit(lambda log_dof: _omega.t_nll(om, r, jnp.exp(log_dof)))
                found = minimize_scalar(lambda x: float(nll(x)),
                                        bounds=(np.log(0.5), np.log(200.0)), method="bounded")
            dof = float(np.exp(found.x))
            self.fitted_omega_parameters = {"dof": dof}
        self.costs, self.n_failures = np.empty(0), 0
        return self._give(omega, dof)

    def _give(self, omega: np.ndarray, dof: float | None) -> tuple[Any, float | None]:
        omega = (omega + omega.T) / 2.0
        if self._kind == "xarray":
            voxel = self._data["voxel"].values
            omega = xr.DataArray(omega, dims=("voxel", "voxel_"), name="omega",
                                 coords={"voxel": voxel, "voxel_": voxel},
                                 attrs={"long_name": "residual covariance"})
        self.omega, self.dof = omega, dof
        return omega, dof


def _check_init(init: dict[str, Any]) -> dict[str, np.ndarray]:
    bounds = {"rho": (0, 1), "alpha": (0, 1), "sigma2": (0, np.inf), "dof": (0, np.inf),
              "beta": (-np.inf, np.inf), "tau": (0, np.inf)}
    for name, value in init.items():
        v = np.asarray(value, dtype=float)
        low, high = bounds[name]
        above = np.isfinite(high) and bool(np.any(v >= high))
        if not np.all(np.isfinite(v)) or np.any(v <= low) or above:
            raise input_error(f"init_{name}", f"is {value!r}" if v.ndim == 0 else "is out of "
                              "range", expected=f"values in ({low}, {high})")
    return _omega.untransform(init)


def _residuals_input(residuals: Any, n_voxels: int) -> np.ndarray:
    values = np.asarray(getattr(residuals, "values", residuals), dtype=float)
    if values.ndim != 2 or values.shape[1] != n_voxels:
        raise input_error("residuals", f"has shape {values.shape}", cls=DimensionError,
                          expected=f"(time, {n_voxels})")
    if not np.isfinite(values).all():
        raise input_error("residuals", "contains NaN or infinite values", expected="finite")
    return values
