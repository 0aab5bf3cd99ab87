"""Transforms between a parameter's bounded range and an unconstrained space.

Gradient fitters optimise unconstrained values ``u`` and map them into each
parameter's range with ``forward``; ``backward`` is the inverse, used to start
from given values. All functions are pure ``jax.numpy`` (jit/grad-safe) and
elementwise.

Conventions (braincoder's)
--------------------------
- ``softplus``: ``log(1 + exp(u))``, range ``(0, inf)``.
- ``aggressive_softplus``: ``softplus(100 u) / 100``, range ``(0, inf)``; close
  to the identity above ~0.05, so a step in ``u`` moves the value by about the
  same step. braincoder uses it for ``sd`` and ``amplitude`` of the 1-D pRFs.
- ``shifted_softplus``: ``1 + softplus(u)``, range ``(1, inf)`` (the surround
  size of the divisive-normalisation pRF).
- ``sigmoid(lower, upper)``: ``lower + (upper - lower) * sigmoid(u)`` (the HRF
  delay and dispersion).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp

__all__ = [
    "AGGRESSIVE_SOFTPLUS",
    "IDENTITY",
    "SHIFTED_SOFTPLUS",
    "SOFTPLUS",
    "Transform",
    "sigmoid",
    "softplus_inverse",
]

_ALPHA = 100.0


@dataclass(frozen=True)
class Transform:
    """A bijection from the real line onto ``(lower, upper)``.

    Attributes
    ----------
    name : str
        What it is, e.g. ``"softplus"``.
    lower, upper : float
        The open range of ``forward``.
    forward : callable
        Unconstrained -> bounded, elementwise, pure jax.numpy.
    backward : callable
        Bounded -> unconstrained (the inverse of ``forward``).
    """

    name: str
    lower: float
    upper: float
    forward: Callable[[Any], Any]
    backward: Callable[[Any], Any]


def softplus_inverse(y: Any) -> Any:
    """``log(exp(y) - 1)``, computed stably as ``y + log(-expm1(-y))``."""
    return y + jnp.log(-jnp.expm1(-y))


IDENTITY = Transform("identity", -math.inf, math.inf, lambda u: u, lambda p: p)
SOFTPLUS = Transform("softplus", 0.0, math.inf, jax.nn.softplus, softplus_inverse)
AGGRESSIVE_SOFTPLUS = Transform(
    "aggressive_softplus", 0.0, math.inf,
    lambda u: jax.nn.softplus(_ALPHA * u) / _ALPHA,
    lambda p: softplus_inverse(_ALPHA * p) / _ALPHA,
)
SHIFTED_SOFTPLUS = Transform(
    "shifted_softplus", 1.0, math.inf,
    lambda u: 1.0 + jax.nn.softplus(u), lambda p: softplus_inverse(p - 1.0),
)


def sigmoid(lower: float, upper: float) -> Transform:
    """``lower + (upper - lower) * sigmoid(u)``, range ``(lower, upper)``."""
    width = upper - lower
    return Transform(
        f"sigmoid({lower:g}, {upper:g})", float(lower), float(upper),
        lambda u: lower + width * jax.nn.sigmoid(u),
        lambda p: jnp.log((p - lower) / width) - jnp.log1p(-(p - lower) / width),
    )
