"""Kernels of the decoding likelihood: Gaussian and Student-t over voxels, posterior, Fisher info.

With ``L`` the Cholesky factor of the noise covariance ``omega`` (computed
once), data ``y_t`` and predictions ``f(s)`` are whitened once each
(``a_t = L^-1 y_t``, ``b_s = L^-1 f(s)``); the squared Mahalanobis distances of
all pairs are then ``|a_t|^2 + |b_s|^2 - 2 a_t . b_s``: one matrix product per
block of frames, never a ``(T, S, V)`` array.

- Gaussian: ``log N = -m / 2 - log|omega| / 2 - V log(2 pi) / 2``;
- multivariate Student-t with ``dof`` (``omega`` its scale matrix):
  ``lgamma((dof + V) / 2) - lgamma(dof / 2) - V log(dof pi) / 2 - log|omega| / 2
  - (dof + V) / 2 log(1 + m / dof)``.

Fisher information of the stimulus: ``J^T omega^-1 J`` with ``J = d f / d s``
(Gaussian); times ``(dof + V) / (dof + V + 2)`` for the Student-t. The Monte
Carlo estimate is the mean outer product of the score ``d log p(y | s) / d s``
(JAX autodiff) over noise draws.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from scipy.linalg import solve_triangular
from scipy.special import gammaln

from xneuro.core.errors import input_error

__all__ = [
    "fisher_analytic",
    "fisher_monte_carlo",
    "log_constant",
    "loglik_block",
    "loglik_from_distance",
    "posterior_block",
    "whiten",
]


def whiten(chol: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``(N, V) -> (N, V)``: the rows of ``values`` times ``L^-1`` (``L`` lower-triangular)."""
    return solve_triangular(chol, np.asarray(values, dtype=float).T, lower=True,
                            check_finite=False).T


def log_constant(logdet: float, n_voxels: int, dof: float | None) -> float:
    """The part of the log-density that does not depend on the residual."""
    if dof is None:
        return -0.5 * logdet - 0.5 * n_voxels * math.log(2.0 * math.pi)
    return float(gammaln((dof + n_voxels) / 2.0) - gammaln(dof / 2.0)
                 - 0.5 * n_voxels * math.log(dof * math.pi) - 0.5 * logdet)


def loglik_from_distance(m: Any, constant: float, n_voxels: int, dof: float | None,
                         xp: Any = np) -> Any:
    """Log-density from squared Mahalanobis distances ``m`` (numpy or jax.numpy)."""
    if dof is None:
        return constant - 0.5 * m
    return constant - 0.5 * (dof + n_voxels) * xp.log1p(m / dof)


def loglik_block(block: np.ndarray, *, chol: np.ndarray, white: np.ndarray,
                 white_sq: np.ndarray, constant: float, dof: float | None,
                 log_prior: np.ndarray | None = None) -> np.ndarray:
    """``(T_c, V)`` data -> ``(T_c, S)`` log-likelihood of each stimulus (plus the log-prior).

    Parameters
    ----------
    block : numpy.ndarray, shape (T_c, V)
        Frames of data.
    chol : numpy.ndarray, shape (V, V)
        Lower Cholesky factor of omega.
    white, white_sq : numpy.ndarray, shapes (S, V) and (S,)
        Whitened predictions ``L^-1 f(s)`` and their squared norms.
    constant : float
        :func:`log_constant`.
    dof : float or None
        Student-t degrees of freedom (None: Gaussian).
    log_prior : numpy.ndarray of shape (S,), optional
        Added to every row.
    """
    if not np.isfinite(block).all():
        raise input_error("data", f"has {int((~np.isfinite(block)).sum())} NaN or infinite "
                          "values", expected="finite data in every decoded frame",
                          fix="drop or fill those frames (or voxels) before decoding")
    a = whiten(chol, block)
    m = (a * a).sum(axis=1)[:, None] + white_sq[None, :] - 2.0 * (a @ white.T)
    ll = loglik_from_distance(np.maximum(m, 0.0), constant, block.shape[1], dof)
    return ll if log_prior is None else ll + log_prior[None, :]


def posterior_block(block: np.ndarray, *, weights: np.ndarray, normalize: bool,
                    **likelihood: Any) -> np.ndarray:
    """``(T_c, V)`` -> ``(T_c, S)`` posterior: ``exp(ll - max)``, divided by its integral.

    ``weights`` are the trapezoid weights of the stimulus values (ones for a
    discrete set), so normalised rows satisfy ``sum(weights * p) = 1``.
    """
    ll = loglik_block(block, **likelihood)
    p = np.exp(ll - ll.max(axis=1, keepdims=True))
    if normalize:
        p /= (p @ weights)[:, None]
    return p


def _jacobians(response: Callable[[Any], Any], X: Any) -> Any:
    """``(S, V, F)``: d response / d stimulus at each row of ``X``."""
    single = lambda s: response(s[None, :])[0]
    return jax.vmap(jax.jacfwd(single))(X)


def fisher_analytic(response: Callable[[Any], Any], X: np.ndarray, chol: np.ndarray,
                    dof: float | None, dtype: str) -> np.ndarray:
    """``(S, F, F)``: ``J^T omega^-1 J`` (times ``(dof + V) / (dof + V + 2)`` for Student-t)."""
    with jax.enable_x64(dtype == "float64"):
        J = np.asarray(jax.jit(_jacobians, static_argnums=0)(response,
                                                            jnp.asarray(X, dtype=dtype)))
    n_stimuli, n_voxels, n_features = J.shape
    K = whiten(chol, J.transpose(0, 2, 1).reshape(-1, n_voxels)).reshape(
        n_stimuli, n_features, n_voxels)
    info = np.einsum("sfv,sgv->sfg", K, K)
    if dof is not None:
        info *= (dof + n_voxels) / (dof + n_voxels + 2.0)
    return info


def _draw(rng: np.random.Generator, n: int, chol: np.ndarray, dof: float | None) -> np.ndarray:
    z = rng.standard_normal((n, chol.shape[0])) @ chol.T
    if dof is None:
        return z
    return z * np.sqrt(dof / rng.chisquare(dof, size=(n, 1)))


def fisher_monte_carlo(response: Callable[[Any], Any], X: np.ndarray, chol: np.ndarray,
                       dof: float | None, n: int, rng: np.random.Generator, dtype: str,
                       block_elements: int = 2**24) -> np.ndarray:
    """``(S, F, F)``: mean outer product of the score over ``n`` noise draws per stimulus.

    The score ``d log p(y | s) / d s`` comes from JAX autodiff of the
    log-density, not from the analytic formula, so the two estimates are
    independent checks of each other. Stimuli are processed in blocks of at
    most ``block_elements`` ``(stimulus, draw, voxel)`` values.
    """
    n_voxels = chol.shape[0]
    linv = solve_triangular(chol, np.eye(n_voxels), lower=True)
    n_voxels_f = float(n_voxels)

    def logp(s: Any, y: Any, linv: Any) -> Any:
        r = (y - response(s[None, :])[0]) @ linv.T
        m = jnp.sum(r * r)
        if dof is None:
            return -0.5 * m
        return -0.5 * (dof + n_voxels_f) * jnp.log1p(m / dof)

    score = jax.vmap(jax.vmap(jax.grad(logp), in_axes=(None, 0, None)), in_axes=(0, 0, None))

    @jax.jit
    def info(xs: Any, ys: Any, linv: Any) -> Any:
        g = score(xs, ys, linv)  # (S_b, n, F)
        return jnp.einsum("snf,sng->sfg", g, g) / g.shape[1]

    per_block = max(1, block_elements // max(n * n_voxels, 1))
    out = []
    with jax.enable_x64(dtype == "float64"):
        mean = np.asarray(jax.jit(response)(jnp.asarray(X, dtype=dtype)), dtype=float)
        for start in range(0, X.shape[0], per_block):
            stop = min(start + per_block, X.shape[0])
            noise = _draw(rng, (stop - start) * n, chol, dof).reshape(stop - start, n, -1)
            ys = mean[start:stop, None, :] + noise
            out.append(np.asarray(info(jnp.asarray(X[start:stop], dtype=dtype),
                                       jnp.asarray(ys, dtype=dtype),
                                       jnp.asarray(linv, dtype=dtype)), dtype=float))
    return np.concatenate(out)
