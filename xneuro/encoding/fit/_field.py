"""The isotropic 2-D Gaussian receptive field with a hand-written backward pass.

``rf[p, v] = a_v e[p, v]`` with ``e = exp(-|g_p - (x_v, y_v)|² / (2 sd_v²)) * area /
(sd_v sqrt(2 pi))`` (:class:`~xneuro.encoding.GaussianPRF2D`'s field,
:func:`xneuro.encoding._predict.gaussian_rf_2d`). Automatic differentiation
of it costs about five passes over the ``(n_pixel, V)`` field; here, with
``q = g * e`` for the incoming cotangent ``g``, every parameter's gradient
comes from three sums over pixels, ``S = [1, gx, gy] @ q`` (one small matrix
product), and ``D = sum_p q d²`` (``d²`` the squared distance, recomputed in the
pass that forms ``q``, so that nothing cancels for small ``sd``):

- ``d/da = S0``; ``d/dx = a (S1 - x S0) / sd²``; ``d/dy = a (S2 - y S0) / sd²``;
- ``d/dsd = a (D / sd³ - S0 / sd)``.

The forward values are the model's; the test suite checks the gradients
against automatic differentiation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["gaussian_field"]

_SQRT_2PI = math.sqrt(2.0 * math.pi)


def gaussian_field(grid: np.ndarray, area: float) -> Callable[[Any, Any, Any, Any], Any]:
    """``field(x, y, sd, amplitude) -> (n_pixel, V)`` on ``grid`` (``(n_pixel, 2)``)."""
    grid = np.asarray(grid, dtype=np.float64)

    def distance2(x: Any, y: Any) -> Any:
        g = jnp.asarray(grid, x.dtype)
        return (g[:, :1] - x) ** 2 + (g[:, 1:] - y) ** 2

    def unit(x: Any, y: Any, sd: Any) -> Any:
        return jnp.exp(-0.5 * distance2(x, y) / sd**2) * (area / (sd * _SQRT_2PI))

    @jax.custom_vjp
    def field(x: Any, y: Any, sd: Any, amplitude: Any) -> Any:
        return unit(x, y, sd) * amplitude

    def forward(x: Any, y: Any, sd: Any, amplitude: Any) -> tuple[Any, tuple]:
        e = unit(x, y, sd)
        return e * amplitude, (e, x, y, sd, amplitude)

    def backward(residuals: tuple, cotangent: Any) -> tuple[Any, Any, Any, Any]:
        e, x, y, sd, amplitude = residuals
        g = jnp.asarray(grid, e.dtype)
        basis = jnp.stack([jnp.ones_like(g[:, 0]), g[:, 0], g[:, 1]])  # (3, n_pixel)
        q = cotangent * e
        s0, s1, s2 = basis @ q  # three (V,) sums over pixels
        d2_sum = jnp.sum(q * distance2(x, y), axis=0)
        inv2 = 1.0 / sd**2
        return (amplitude * (s1 - x * s0) * inv2, amplitude * (s2 - y * s0) * inv2,
                amplitude * (d2_sum * inv2 / sd - s0 / sd), s0)

    field.defvjp(forward, backward)
    return field
