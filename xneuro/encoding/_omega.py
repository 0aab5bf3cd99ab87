"""Kernels of the residual covariance (omega): its formula, shrinkage and likelihood.

braincoder's noise model of the residuals ``r_t`` (one row per frame, one
column per voxel):

``omega = rho * tau tau^T + (1 - rho) * diag(tau^2) + sigma2 * WW^T``

- ``tau`` (per voxel, softplus), ``rho`` (sigmoid), ``sigma2`` (softplus);
- distance-dependent variant with a voxel distance matrix ``D``:
  ``rho * (alpha * exp(-beta D) o tau tau^T + (1 - alpha) tau tau^T) + ...``
  (``alpha`` sigmoid, ``beta`` unbounded);
- spherical: ``diag(tau^2)``;
- shrinkage towards the sample covariance ``S`` (centred, divided by T):
  ``0 < lambd < 1``: ``(1 - lambd) omega + lambd S + 1e-9 I``;
  ``lambd >= 1``: ``S + 1e-6 I``.

Negative log-likelihoods (summed over frames): Gaussian
``T/2 (V log 2 pi + log|omega|) + 1/2 sum_t r_t^T omega^-1 r_t`` (only the
scatter ``R^T R`` matters, so a ``(V, V)`` triangular factor of it stands in
for ``R`` when ``T > V``), and the multivariate Student-t with ``dof``.
Functions take ``xp`` (``jax.numpy`` inside the fit, numpy for the result).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import jax.scipy.special as jsp
import numpy as np

__all__ = [
    "EPS_BLEND",
    "EPS_SAMPLE",
    "gauss_nll",
    "omega_matrix",
    "sample_covariance",
    "scatter_factor",
    "shrink",
    "t_nll",
    "transform",
]

#: Ridges of braincoder's shrinkage: blended (0 < lambd < 1) and sample-only (lambd >= 1).
EPS_BLEND = 1e-9
EPS_SAMPLE = 1e-6


def omega_matrix(tau: Any, rho: Any = None, sigma2: Any = None, wwt: Any = None,
                 distance: Any = None, alpha: Any = None, beta: Any = None,
                 xp: Any = jnp) -> Any:
    """``(V, V)`` omega from its parameters (``rho is None``: spherical ``diag(tau^2)``)."""
    diagonal = xp.diag(tau**2)
    if rho is None:
        return diagonal
    outer = tau[:, None] * tau[None, :]
    if distance is not None:
        outer = alpha * xp.exp(-beta * distance) * outer + (1.0 - alpha) * outer
    omega = rho * outer + (1.0 - rho) * diagonal
    return omega if wwt is None or sigma2 is None else omega + sigma2 * wwt


def shrink(omega: Any, sample_cov: Any, lambd: float, xp: Any = jnp) -> Any:
    """braincoder's shrinkage of omega towards the sample covariance."""
    if lambd == 0:
        return omega
    eye = xp.eye(omega.shape[0], dtype=omega.dtype)
    if lambd >= 1:
        return sample_cov + EPS_SAMPLE * eye
    return (1.0 - lambd) * omega + lambd * sample_cov + EPS_BLEND * eye


def sample_covariance(residuals: np.ndarray) -> np.ndarray:
    """Centred covariance of the columns, divided by the number of rows (float64)."""
    centred = residuals - residuals.mean(axis=0)
    return centred.T @ centred / residuals.shape[0]


def scatter_factor(residuals: np.ndarray) -> np.ndarray:
    """A matrix ``F`` with ``F^T F = R^T R``: ``R`` itself, or its ``(V, V)`` QR factor if ``T > V``."""
    if residuals.shape[0] <= residuals.shape[1]:
        return residuals
    return np.linalg.qr(residuals, mode="r")


def gauss_nll(omega: Any, factor: Any, n_time: int) -> Any:
    """Gaussian negative log-likelihood of residuals with scatter ``factor^T factor``."""
    chol = jnp.linalg.cholesky(omega)
    logdet = 2.0 * jnp.sum(jnp.log(jnp.diag(chol)))
    white = jsl.solve_triangular(chol, factor.T, lower=True)
    n_voxels = omega.shape[0]
    return 0.5 * (n_time * (n_voxels * math.log(2.0 * math.pi) + logdet) + jnp.sum(white**2))


def t_nll(omega: Any, residuals: Any, dof: Any) -> Any:
    """Multivariate Student-t negative log-likelihood (``omega`` the scale matrix)."""
    chol = jnp.linalg.cholesky(omega)
    logdet = 2.0 * jnp.sum(jnp.log(jnp.diag(chol)))
    white = jsl.solve_triangular(chol, residuals.T, lower=True)
    m = jnp.sum(white**2, axis=0)
    n_voxels = residuals.shape[1]
    per_frame = (jsp.gammaln((dof + n_voxels) / 2.0) - jsp.gammaln(dof / 2.0)
                 - 0.5 * n_voxels * jnp.log(dof * jnp.pi) - 0.5 * logdet
                 - 0.5 * (dof + n_voxels) * jnp.log1p(m / dof))
    return -jnp.sum(per_frame)


def transform(unconstrained: dict[str, Any], xp: Any = jnp) -> dict[str, Any]:
    """Map the fitted (unconstrained) variables to omega's parameters."""
    softplus = jax.nn.softplus if xp is jnp else lambda u: np.logaddexp(0.0, u)
    sigmoid = jax.nn.sigmoid if xp is jnp else lambda u: 1.0 / (1.0 + np.exp(-u))
    out = {"tau": softplus(unconstrained["tau"])}
    for name in ("rho", "alpha"):
        if name in unconstrained:
            out[name] = sigmoid(unconstrained[name])
    for name in ("sigma2", "dof"):
        if name in unconstrained:
            out[name] = softplus(unconstrained[name])
    if "beta" in unconstrained:
        out["beta"] = unconstrained["beta"]
    return out


def untransform(values: dict[str, float | np.ndarray]) -> dict[str, np.ndarray]:
    """The inverse of :func:`transform` (numpy, float64)."""
    out = {}
    for name, value in values.items():
        v = np.asarray(value, dtype=float)
        if name in ("tau", "sigma2", "dof"):
            out[name] = v + np.log(-np.expm1(-v))
        elif name in ("rho", "alpha"):
            out[name] = np.log(v) - np.log1p(-v)
        else:
            out[name] = v
    return out
