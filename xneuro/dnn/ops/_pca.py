"""Batched PCA over stimuli, exact (covariance) or randomized, streaming over stimulus blocks.

Kernels of :func:`xneuro.dnn.fe`. The data are ``x`` of shape ``(n, I, U)``:
``n`` stimuli (samples), ``I`` independent iterations (1, channels, or
positions) and ``U`` units (features of each PCA). Every pass reads the data
block by block (a few blocks at a time), so memory stays bounded by the block
size even when the data are far larger than memory.

- ``covariance``: one pass accumulates the ``I`` covariance matrices ``U x U``
  (shifted by the first stimulus for numerical stability), then ``eigh``; the
  projection is lazy for a dask input. Exact.
- ``randomized``: Halko-Martinsson-Tropp range finder with a seeded Gaussian
  test matrix and power iterations (``2 * n_iter + 3`` passes); for ``U`` too
  large for a covariance matrix. Close to exact for the leading components.

Component signs follow scikit-learn (>= 1.5): the largest-magnitude loading of
every component is positive.
"""

from __future__ import annotations

from typing import Any

import dask.array as dsa
import numpy as np
import scipy.linalg

from xneuro.dnn._blocks import apply_rows, blas_single_threaded, for_row_blocks

__all__ = ["COVARIANCE_MAX_BYTES", "pca_scores"]

#: Largest covariance stack (bytes) accumulated in one pass; more iterations are split into
#: groups, one pass each (the work is the same, only the reads repeat), so that memory stays
#: bounded for data larger than memory.
COVARIANCE_MAX_BYTES = 32 * 2**20
#: Largest ``U`` for which ``solver="auto"`` picks the covariance solver.
COVARIANCE_MAX_UNITS = 2048


def _first_row(x: Any) -> np.ndarray:
    first = x[0]
    return np.asarray(first.compute() if isinstance(first, dsa.Array) else first, np.float64)


def _flip_signs(vt: np.ndarray) -> np.ndarray:
    """Signs making the largest-magnitude entry of each row of ``vt`` (..., K, U) positive."""
    idx = np.argmax(np.abs(vt), axis=-1)
    signs = np.sign(np.take_along_axis(vt, idx[..., None], axis=-1)[..., 0])
    signs[signs == 0] = 1
    return signs


def _n_components(ratio: np.ndarray, n_feat: int | float, limit: int) -> int:
    if isinstance(n_feat, float):
        cumulative = np.cumsum(ratio, axis=-1)
        needed = [int(np.searchsorted(row, n_feat, side="right")) + 1 for row in cumulative]
        return int(min(max(needed), limit))
    return int(n_feat)


def _project(x: Any, mean: np.ndarray, components: np.ndarray, dtype: np.dtype) -> Any:
    """Scores ``(x - mean) @ components`` per block: ``(n, I, U) -> (n, I, K)``."""
    mean_c = mean.astype(dtype)
    comps = components.astype(dtype)

    def kernel(block: np.ndarray) -> np.ndarray:
        centred = (block.astype(dtype, copy=False) - mean_c).transpose(1, 0, 2)
        return np.matmul(centred, comps).transpose(1, 0, 2)

    return apply_rows(x, kernel, tail=(comps.shape[0], comps.shape[2]), dtype=dtype)


def _covariance(
    xd: Any, n_feat: int | float, dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n, n_iter, n_units = xd.shape
    shift = _first_row(xd)
    group = max(1, COVARIANCE_MAX_BYTES // max(n_units * n_units * 8, 1))
    mean = np.empty((n_iter, n_units))
    covs = np.empty((n_iter, n_units, n_units))
    for first in range(0, n_iter, group):
        sel = slice(first, min(first + group, n_iter))

        def stats(block: np.ndarray, start: int, stop: int, sel: slice = sel) -> tuple:
            centred = block[:, sel].astype(np.float64) - shift[sel]
            t = centred.transpose(1, 0, 2)
            return centred.sum(axis=0), np.matmul(t.transpose(0, 2, 1), t)

        s1, s2 = for_row_blocks(xd, stats, reduce=lambda a, b: (a[0] + b[0], a[1] + b[1]))
        covs[sel] = (s2 - s1[:, :, None] * s1[:, None, :] / n) / (n - 1)
        mean[sel] = shift[sel] + s1 / n
    # the total variance is the trace; a variance fraction needs every eigenvalue first
    total = np.trace(covs, axis1=1, axis2=2).clip(0)[:, None]
    if isinstance(n_feat, float):
        values = np.clip(np.linalg.eigvalsh(covs)[:, ::-1], 0, None)
        ratio = np.divide(values, total, out=np.zeros_like(values), where=total > 0)
        k = _n_components(ratio, n_feat, min(n, n_units))
    else:
        k = int(n_feat)
    # eigenvectors of the leading k only (LAPACK syevr)
    components = np.empty((n_iter, n_units, k))
    leading = np.empty((n_iter, k))
    for i in range(n_iter):
        w, v = scipy.linalg.eigh(covs[i], subset_by_index=[n_units - k, n_units - 1],
                                 driver="evr")
        components[i], leading[i] = v[:, ::-1], np.clip(w[::-1], 0, None)
    ratio = np.divide(leading, total, out=np.zeros_like(leading), where=total > 0)
    signs = _flip_signs(components.transpose(0, 2, 1))
    components = components * signs[:, None, :]
    return mean, components, ratio


def _qr(a: np.ndarray) -> np.ndarray:
    """Orthonormal basis of the columns of each ``a[i]`` (Cholesky-QR twice; QR if singular)."""
    q = a
    try:
        for _ in range(2):
            gram = np.matmul(q.transpose(0, 2, 1), q)
            chol = np.linalg.cholesky(gram)  # gram = L L^T, so Q = q L^-T
            q = np.matmul(q, np.linalg.inv(chol).transpose(0, 2, 1))
    except np.linalg.LinAlgError:
        return np.linalg.qr(a)[0]
    return q


def _svd_wide(b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SVD of wide ``b[i]`` (l x U) from the small Gram matrix ``b b^T`` (l x l)."""
    values, ub = np.linalg.eigh(np.matmul(b, b.transpose(0, 2, 1)))
    values, ub = np.clip(values[:, ::-1], 0, None), ub[:, :, ::-1]
    s = np.sqrt(values)
    inverse = np.divide(1.0, s, out=np.zeros_like(s), where=s > s.max() * 1e-12)
    vt = np.matmul(ub.transpose(0, 2, 1), b) * inverse[:, :, None]
    return ub, s, vt


def _randomized(
    xd: Any,
    n_feat: int | float,
    seed: int,
    n_iter: int,
    dtype: np.dtype,
) -> tuple[np.ndarray, np.ndarray]:
    n, n_it, n_units = xd.shape
    limit = min(n, n_units)
    shift = _first_row(xd)

    def moments(block: np.ndarray, start: int, stop: int) -> tuple:
        centred = block.astype(np.float64) - shift
        return centred.sum(axis=0), np.einsum("niu,niu->iu", centred, centred)

    s1, s2 = for_row_blocks(xd, moments, reduce=lambda a, b: (a[0] + b[0], a[1] + b[1]))
    mean = shift + s1 / n
    total = ((s2 - s1 * s1 / n) / (n - 1)).clip(0).sum(axis=-1)  # (I,)
    mean_c = mean.astype(dtype)

    def centred(block: np.ndarray) -> np.ndarray:  # (I, nb, U)
        return (block.astype(dtype, copy=False) - mean_c).transpose(1, 0, 2)

    def times(mat: np.ndarray) -> np.ndarray:  # (n, I, U) @ (I, U, l) -> (I, n, l)
        parts = for_row_blocks(xd, lambda b, s, e: np.matmul(centred(b), mat))
        return np.concatenate(parts, axis=1)

    def transposed_times(q: np.ndarray) -> np.ndarray:  # (I, U, n) @ (I, n, l) -> (I, U, l)
        q = q.astype(dtype)
        return for_row_blocks(
            xd,
            lambda b, s, e: np.matmul(centred(b).transpose(0, 2, 1), q[:, s:e]).astype(np.float64),
            reduce=np.add,
        )

    n_comp = limit if isinstance(n_feat, float) else int(n_feat)
    size = min(limit, (n_comp + max(10, n_comp // 10)) if not isinstance(n_feat, float) else 64)
    rng = np.random.default_rng(seed)
    while True:
        omega = rng.standard_normal((n_it, n_units, size)).astype(dtype)
        y = times(omega)
        for _ in range(n_iter):
            z = _qr(transposed_times(_qr(y.astype(np.float64))))
            y = times(z.astype(dtype))
        q = _qr(y.astype(np.float64))  # (I, n, l)
        b = transposed_times(q).transpose(0, 2, 1)  # (I, l, U)
        ub, s, vt = _svd_wide(b)
        ratio = np.divide(
            s**2 / (n - 1), total[:, None], out=np.zeros_like(s), where=total[:, None] > 0
        )
        if not isinstance(n_feat, float) or size >= limit:
            break
        if np.all(np.cumsum(ratio, axis=-1)[:, -1] > n_feat):
            break
        size = min(limit, 2 * size)
    k = _n_components(ratio, n_feat, min(limit, size))
    signs = _flip_signs(vt[:, :k])
    scores = np.matmul(q, ub[:, :, :k]) * (s[:, None, :k] * signs[:, None, :])
    return scores.transpose(1, 0, 2).astype(dtype), ratio[:, :k]


def pca_scores(
    x: Any,
    n_feat: int | float,
    *,
    seed: int = 0,
    solver: str = "auto",
    n_iter: int = 4,
) -> tuple[Any, np.ndarray]:
    """Principal-component scores of ``I`` independent PCAs over stimuli.

    Parameters
    ----------
    x : numpy or dask array, shape ``(n, I, U)``
        Stimuli, iterations, units.
    n_feat : int or float
        Number of components, or (a float in (0, 1)) the fraction of variance
        to keep; with several iterations the largest number of components any
        of them needs is kept for all.
    seed : int
        Seed of the randomized solver's test matrix.
    solver : {"auto", "covariance", "randomized"}
        ``"auto"`` picks ``"covariance"`` when ``U <= 2048``.
    n_iter : int
        Power iterations of the randomized solver.

    Returns
    -------
    scores : numpy or dask array, shape ``(n, I, K)``
        Lazy (dask) when ``x`` is, for the covariance solver; the randomized
        scores are computed and wrapped as dask.
    ratio : numpy.ndarray, shape ``(I, K)``
        Explained-variance ratio of each kept component.
    """
    lazy = isinstance(x, dsa.Array)
    dtype = np.dtype(np.float32 if x.dtype == np.float32 else np.float64)
    xd = x.rechunk({1: -1, 2: -1}) if lazy else x
    n_units = x.shape[2]
    if solver == "auto":
        solver = "covariance" if n_units <= COVARIANCE_MAX_UNITS else "randomized"
    with blas_single_threaded():
        if solver == "covariance":
            mean, components, ratio = _covariance(xd, n_feat, dtype)
            return _project(x, mean, components, dtype), ratio
        scores, ratio = _randomized(xd, n_feat, seed, n_iter, dtype)
    if lazy:
        scores = dsa.from_array(scores, chunks=(x.chunks[0], -1, -1))
    return scores, ratio
