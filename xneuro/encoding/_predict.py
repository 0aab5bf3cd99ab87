"""Pure JAX response functions of the encoding models (no xarray, no checks).

Shapes: a stimulus value per frame ``x`` is ``(T, 1)`` and per-voxel
parameters are ``(V,)``, so responses broadcast to ``(T, V)``; 2-D receptive
fields are ``(n_pixel, V)`` over a pixel grid ``(n_pixel,)``. Everything is
jit-, grad- and vmap-safe: masked branches never see invalid values (no NaN
gradients).
"""

from __future__ import annotations

import math
from typing import Any

import jax.numpy as jnp
import jax.scipy.special as jsp

__all__ = [
    "gaussian",
    "gaussian_rf_2d",
    "log_gaussian_mode_fwhm",
    "log_gaussian_mu_sd",
    "von_mises",
]

_SQRT_2PI = math.sqrt(2.0 * math.pi)


def gaussian(x: Any, mu: Any, sd: Any) -> Any:
    """Unnormalised Gaussian tuning ``exp(-(x - mu)^2 / (2 sd^2))`` (peak 1)."""
    return jnp.exp(-0.5 * (x - mu) ** 2 / sd**2)


def von_mises(x: Any, mu: Any, kappa: Any) -> Any:
    """Von Mises density ``exp(kappa cos(x - mu)) / (2 pi I0(kappa))`` (x in radians).

    Written with the scaled Bessel function ``i0e`` so that large ``kappa`` does
    not overflow: ``exp(kappa (cos(x - mu) - 1)) / (2 pi i0e(kappa))``.
    """
    return jnp.exp(kappa * (jnp.cos(x - mu) - 1.0)) / (2.0 * jnp.pi * jsp.i0e(kappa))


def log_gaussian_mu_sd(x: Any, mu: Any, sd: Any) -> Any:
    """Log-normal tuning with natural-space mean ``mu`` and sd ``sd`` (peak 1 at the median).

    ``D = 1 + sd^2 / mu^2``; ``exp(-(ln x - ln(mu / sqrt(D)))^2 / (2 ln D))``;
    0 where ``x <= 0`` (braincoder gives NaN there).
    """
    positive = x > 0
    safe = jnp.where(positive, x, 1.0)
    log_d = jnp.log1p(sd**2 / mu**2)
    value = jnp.exp(-((jnp.log(safe) - jnp.log(mu) + 0.5 * log_d) ** 2) / (2.0 * log_d))
    return jnp.where(positive, value, 0.0)


def log_gaussian_mode_fwhm(x: Any, mode: Any, fwhm: Any) -> Any:
    """Log-normal tuning with its mode and full width at half maximum (peak 1 at the mode).

    ``s = asinh(fwhm / (2 mode)) / sqrt(2 ln 2)``;
    ``(mode / x) exp(s^2 / 2 - (ln(x / mode) - s^2)^2 / (2 s^2))``; 0 where ``x <= 0``.
    """
    positive = x > 0
    safe = jnp.where(positive, x, 1.0)
    s2 = (jnp.arcsinh(fwhm / (2.0 * mode)) / jnp.sqrt(2.0 * jnp.log(2.0))) ** 2
    log_ratio = jnp.log(safe / mode)
    value = jnp.exp(-log_ratio + 0.5 * s2 - (log_ratio - s2) ** 2 / (2.0 * s2))
    return jnp.where(positive, value, 0.0)


def gaussian_rf_2d(grid_x: Any, grid_y: Any, x: Any, y: Any, sd: Any, amplitude: Any,
                   pixel_area: float) -> Any:
    """Isotropic 2-D Gaussian receptive fields on a pixel grid, braincoder's normalisation.

    ``amplitude * exp(-((gx - x)^2 + (gy - y)^2) / (2 sd^2)) * pixel_area / (sd sqrt(2 pi))``:
    the normaliser is the 1-D one (as braincoder's ``GaussianPRF2D``), not the 2-D
    density's ``pixel_area / (2 pi sd^2)``.

    Parameters
    ----------
    grid_x, grid_y : array, shape (n_pixel,)
        Pixel centres.
    x, y, sd, amplitude : array, shape (V,)
        Per-voxel centre, size and amplitude.
    pixel_area : float
        Area of one pixel.

    Returns
    -------
    array, shape (n_pixel, V)
    """
    d2 = (grid_x[:, None] - x) ** 2 + (grid_y[:, None] - y) ** 2
    return jnp.exp(-0.5 * d2 / sd**2) * (amplitude * pixel_area / (sd * _SQRT_2PI))
