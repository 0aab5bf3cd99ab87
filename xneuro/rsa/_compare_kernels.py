"""Comparison kernels on condensed RDM vectors ``(..., m)`` (numpy).

Every method except Kendall's tau-a is a dot product of two prepared vectors,
``score = sum(left(a) * right(b))``:

- ``pearson``: centred, unit-norm vectors;
- ``spearman``: Pearson of the ranks (average ranks for ties, as scipy);
- ``cosine``: unit-norm vectors;
- ``whitened_cosine``: ``a' V^-1 b / sqrt(a' V^-1 a  b' V^-1 b)`` with ``V`` the
  covariance of distance estimates under i.i.d. noise, ``V = (C C')**2`` for
  the pair-contrast matrix ``C`` (Diedrichsen et al. 2021; rsatoolbox's
  ``cosine_cov``). ``V = 2 I + M M'`` with ``M`` the pair-item incidence
  matrix, so ``V^-1 b = (b - M c) / 2`` with ``c = (r - sum(r) / 2n) / n`` and
  ``r = M' b`` the item sums: exact, O(m), no m x m matrix;
- ``whitened_pearson``: the same after centring (rsatoolbox's ``corr_cov``).

The preparation of ``b`` commutes with permutations of the items (ranks,
means, norms and ``V`` are invariant), so a permutation test permutes the
prepared vector only.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import sparse, stats

from xneuro.rsa.forms import pairs

__all__ = ["DOT_METHODS", "METHODS", "kendall_tau_a", "left", "right", "score"]

METHODS = ("spearman", "pearson", "kendall", "cosine", "whitened_cosine", "whitened_pearson")
DOT_METHODS = tuple(m for m in METHODS if m != "kendall")


@lru_cache(maxsize=8)
def _incidence(n: int) -> sparse.csr_matrix:
    rows, cols = pairs(n)
    m = len(rows)
    data = np.ones(2 * m)
    return sparse.csr_matrix((data, (np.r_[np.arange(m), np.arange(m)], np.r_[rows, cols])),
                             shape=(m, n))


def _unit(v: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return v / np.sqrt((v * v).sum(axis=-1, keepdims=True))


def _centre(v: np.ndarray) -> np.ndarray:
    return v - v.mean(axis=-1, keepdims=True)


def whiten(v: np.ndarray, n: int) -> np.ndarray:
    """``2 V^-1 v`` for condensed RDM vectors ``v (..., m)`` of ``n`` items."""
    incidence = _incidence(n)
    flat = v.reshape(-1, v.shape[-1])
    r = np.asarray(incidence.T @ flat.T).T  # item sums, (k, n)
    c = (r - r.sum(axis=-1, keepdims=True) / (2 * n)) / n
    out = flat - np.asarray(incidence @ c.T).T
    return out.reshape(v.shape)


def _whitened_norm(v: np.ndarray, w: np.ndarray) -> np.ndarray:
    return np.sqrt((v * w).sum(axis=-1, keepdims=True))


def _prepare(v: np.ndarray, method: str) -> np.ndarray:
    if method == "spearman":
        v = stats.rankdata(v, axis=-1)
    if method in ("pearson", "spearman", "whitened_pearson"):
        v = _centre(v)
    return v


def left(a: np.ndarray, method: str, n: int) -> np.ndarray:
    """Prepared left vector (the one that stays fixed in a permutation test)."""
    a = _prepare(np.asarray(a, dtype=np.float64), method)
    if method.startswith("whitened"):
        with np.errstate(invalid="ignore", divide="ignore"):
            return a / _whitened_norm(a, whiten(a, n))
    return _unit(a)


def right(b: np.ndarray, method: str, n: int) -> np.ndarray:
    """Prepared right vector (permuted item-wise in a permutation test)."""
    b = _prepare(np.asarray(b, dtype=np.float64), method)
    if method.startswith("whitened"):
        w = whiten(b, n)
        with np.errstate(invalid="ignore", divide="ignore"):
            return w / _whitened_norm(b, w)
    return _unit(b)


def kendall_tau_a(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Kendall's tau-a of the last axes, broadcasting the leading ones.

    ``tau_a = (n_c - n_d) / n_0`` with ``n_0 = m (m - 1) / 2`` pairs, from
    scipy's O(m log m) tau-b: ``tau_a = tau_b sqrt((n_0 - t_a)(n_0 - t_b)) / n_0``
    with ``t`` the tied pairs of each vector.
    """
    a, b = np.broadcast_arrays(np.asarray(a, float), np.asarray(b, float))
    lead = a.shape[:-1]
    fa, fb = a.reshape(-1, a.shape[-1]), b.reshape(-1, b.shape[-1])
    out = np.empty(fa.shape[0])
    m = a.shape[-1]
    n0 = m * (m - 1) / 2
    for k in range(fa.shape[0]):  # one scipy call per RDM pair, never per element
        tau_b = stats.kendalltau(fa[k], fb[k]).statistic
        ties = [(c * (c - 1) / 2).sum() for c in (np.unique(v, return_counts=True)[1]
                                                   for v in (fa[k], fb[k]))]
        out[k] = tau_b * np.sqrt((n0 - ties[0]) * (n0 - ties[1])) / n0
    return out.reshape(lead)


def score(a: np.ndarray, b: np.ndarray, method: str, n: int) -> np.ndarray:
    """Comparison of condensed RDM vectors ``a``, ``b`` (broadcast leading axes)."""
    if method == "kendall":
        return kendall_tau_a(a, b)
    return (left(a, method, n) * right(b, method, n)).sum(axis=-1)
