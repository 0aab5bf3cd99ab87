"""Noise for :meth:`EncodingModel.simulate`: iid, multivariate and Student-t, seeded."""

from __future__ import annotations

from typing import Any

import numpy as np

from xneuro.core.errors import DimensionError, input_error

__all__ = ["check_noise", "draw_noise"]


def check_noise(noise: Any, dof: Any, n_voxels: int) -> tuple[np.ndarray, float | None]:
    """Validate ``noise`` (sd, per-voxel sds, or covariance) and ``dof``; return a factor.

    Returns
    -------
    factor : numpy.ndarray
        0-D (an sd), 1-D (per-voxel sds) or 2-D ``L`` with ``L @ L.T = noise``.
    dof : float or None
    """
    values = np.asarray(getattr(noise, "values", noise), dtype=float)
    if values.ndim > 2 or not np.isfinite(values).all():
        raise input_error("noise", f"has shape {values.shape}" + (
            "" if np.isfinite(values).all() else " and non-finite values"),
            expected="a finite sd, one sd per voxel, or a (voxel, voxel) covariance",
            fix="pass e.g. noise=0.5")
    if values.ndim == 0 or values.ndim == 1:
        if values.ndim == 1 and values.size != n_voxels:
            raise input_error("noise", f"has {values.size} sds for {n_voxels} voxels",
                              cls=DimensionError, expected="one sd per voxel, or a scalar")
        if np.any(values < 0):
            raise input_error("noise", f"has negative sds {values[values < 0][:3].tolist()}",
                              expected="standard deviations >= 0", fix="pass abs(noise)")
        factor = values
    else:
        if values.shape != (n_voxels, n_voxels):
            raise input_error("noise", f"is a {values.shape} matrix for {n_voxels} voxels",
                              cls=DimensionError,
                              expected=f"a ({n_voxels}, {n_voxels}) covariance",
                              fix="pass one row and column per voxel")
        if not np.allclose(values, values.T, rtol=1e-6, atol=1e-10):
            raise input_error("noise", "is not symmetric", expected="a covariance matrix",
                              fix="use (noise + noise.T) / 2")
        try:
            factor = np.linalg.cholesky(values)
        except np.linalg.LinAlgError:
            eigenvalues, vectors = np.linalg.eigh(values)
            if eigenvalues.min() < -1e-8 * max(eigenvalues.max(), 1e-300):
                raise input_error(
                    "noise", f"has a negative eigenvalue {eigenvalues.min():.3g}",
                    expected="a positive semi-definite covariance",
                    fix="add a small ridge, e.g. noise + 1e-6 * np.eye(n)") from None
            factor = vectors * np.sqrt(np.clip(eigenvalues, 0.0, None))
    if dof is not None:
        if isinstance(dof, bool) or not np.isscalar(dof) or not (np.isfinite(dof) and dof > 0):
            raise input_error("dof", f"is {dof!r}", expected="a positive number of degrees "
                              "of freedom (Student-t noise), or None (Gaussian)",
                              fix="pass e.g. dof=5")
        dof = float(dof)
    return factor, dof


def draw_noise(rng: np.random.Generator, shape: tuple[int, int, int], factor: np.ndarray,
               dof: float | None) -> np.ndarray:
    """Draw ``(repeat, time, voxel)`` noise with scale ``factor`` and optional Student-t dof.

    Multivariate Student-t: ``z * sqrt(dof / chi2(dof))`` with one chi-square
    draw per frame (shared by the voxels), ``z ~ N(0, L L^T)``; the matrix is
    the scale matrix (covariance ``dof / (dof - 2)`` times it for ``dof > 2``).
    """
    z = rng.standard_normal(shape)
    z = z @ factor.T if factor.ndim == 2 else z * factor
    if dof is None:
        return z
    if factor.ndim == 2:
        mix = rng.chisquare(dof, size=(*shape[:2], 1))
    else:
        mix = rng.chisquare(dof, size=shape)
    return z * np.sqrt(dof / mix)
