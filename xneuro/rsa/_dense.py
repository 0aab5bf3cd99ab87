"""In-memory (numpy) RDMs: one symmetric rank-k update per RDM, finished in cache-sized strips.

The work of a Gram-matrix RDM of ``n`` items and ``p`` features is the
product ``X X^T``: ``n^2 p`` multiply-adds with the symmetric rank-k update
(BLAS ``?syrk``, which computes one triangle only), half of a general
``X @ Y.T``. Everything else is ``O(n^2)`` elementwise work and copies, which
this module keeps to one pass over the Gram matrix, done in strips of a few
megabytes so that every strip is finished while it is in cache:

- square output: ``X @ X.T`` (numpy calls ``?syrk`` and mirrors the
  triangle) is turned into distances in place, strip by strip of rows;
- condensed output: ``?syrk`` from :mod:`scipy.linalg.blas` fills the lower
  triangle of a Fortran-ordered matrix, whose column ``j`` below the diagonal
  is row ``j`` of the upper triangle (pdist order) and is contiguous in
  memory; strips of columns are finished in place and copied out, so the
  ``n x n`` matrix is never mirrored, gathered with a mask, or held twice.

Nothing here copies the patterns except ``correlation`` (rows centred and
scaled, as scipy does) and euclidean patterns whose offset from the origin
would cost precision (see :func:`needs_centring`).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import blas

__all__ = ["DENSE_METRICS", "bad_items", "dense_distance", "needs_centring", "row_stats"]

#: Metrics this module computes (mahalanobis takes the generic kernel).
DENSE_METRICS = ("correlation", "cosine", "euclidean", "sqeuclidean")

#: Elements per strip finished at once (4 MiB of float64, 2 MiB of float32).
_STRIP_ELEMENTS = 1 << 19


def needs_centring(x: np.ndarray, sq: np.ndarray) -> bool:
    """Whether euclidean patterns should be centred over items before the Gram product.

    ``|x_i|^2 + |x_j|^2 - 2 x_i.x_j`` loses a factor of about
    ``1 + |mu|^2 / var`` of relative precision (``mu`` the mean pattern,
    ``var`` the mean squared spread around it); centring removes that but
    costs a pattern-sized copy, so it is done only when the factor passes 4.
    """
    mean = x.mean(axis=0)
    offset = float(mean @ mean)
    spread = float(sq.sum(dtype=np.float64)) / x.shape[0] - offset
    return offset > 3 * spread


def _row_sq(x: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", x, x)


def row_stats(x: np.ndarray, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Prepare one ``(n_item, n_feature)`` pattern matrix for :func:`dense_distance`.

    Returns
    -------
    patterns : ndarray
        What enters the Gram product: ``x`` itself (cosine, and euclidean
        without centring), or a private centred (and, for correlation,
        unit-norm) copy.
    stat : ndarray, shape (n_item,)
        Squared norms (euclidean), norms (cosine, correlation before scaling).
        Zero or non-finite entries mark items whose distance is undefined.
    """
    if metric == "correlation":
        y = x - x.mean(axis=1, keepdims=True)
        norm = np.sqrt(_row_sq(y))
        with np.errstate(invalid="ignore", divide="ignore"):
            y /= norm[:, None]
        return y, norm
    sq = _row_sq(x)
    if metric == "cosine":
        return x, np.sqrt(sq)
    if np.isfinite(sq).all() and needs_centring(x, sq):
        x = x - x.mean(axis=0)
        sq = _row_sq(x)
    return x, sq


def bad_items(stat: np.ndarray, metric: str) -> np.ndarray:
    """Items whose distances are undefined: non-finite patterns, or zero norm (cosine, correlation)."""
    bad = ~np.isfinite(stat)
    if metric in ("correlation", "cosine"):
        bad |= stat == 0
    return bad


def _finish(block: np.ndarray, metric: str, row: np.ndarray, col: np.ndarray,
            scale: float) -> None:
    """Turn a block of Gram entries into distances in place.

    ``row`` and ``col`` are the per-item statistics of the block's rows and
    columns (squared norms for euclidean, inverse norms for cosine, unused
    for correlation). The two are combined first (``s_i + s_j``,
    ``r_i r_j``: one rounding, the same for ``(i, j)`` and ``(j, i)``), so a
    symmetric Gram matrix gives an exactly symmetric RDM.
    """
    if metric in ("euclidean", "sqeuclidean"):
        np.multiply(block, -2.0, out=block)
        block += np.add.outer(row, col)
        np.maximum(block, 0, out=block)
        if metric == "euclidean":
            np.sqrt(block, out=block)
        elif scale != 1.0:
            block *= scale
        return
    if metric == "cosine":
        block *= np.multiply.outer(row, col)
    np.subtract(1.0, block, out=block)
    np.clip(block, 0.0, 2.0, out=block)  # rounding can leave [0, 2], as scipy clips


def _syrk(x: np.ndarray) -> np.ndarray:
    """Lower triangle of ``x @ x.T``, Fortran-ordered (the upper triangle is left at 0)."""
    routine = blas.dsyrk if x.dtype == np.float64 else blas.ssyrk
    return routine(1.0, x.T, trans=1, lower=1)  # x.T is Fortran-contiguous: no copy


def dense_distance(
    x: np.ndarray, stat: np.ndarray, metric: str, *, condensed: bool = False,
    scale: float = 1.0,
) -> np.ndarray:
    """Pairwise distances between the rows of an in-memory pattern matrix.

    Parameters
    ----------
    x, stat : ndarray, shapes (n_item, n_feature) and (n_item,)
        Patterns and per-item statistic as :func:`row_stats` returns them
        (float32 or float64), checked with :func:`bad_items`.
    metric : {"correlation", "cosine", "euclidean", "sqeuclidean"}
        Distance, as :func:`scipy.spatial.distance.pdist` defines it.
    condensed : bool, default False
        Return the strict upper triangle in pdist order instead of the square.
    scale : float, default 1.0
        Factor applied to ``"sqeuclidean"`` (``1 / n_feature`` for rsatoolbox's
        per-feature convention).

    Returns
    -------
    ndarray
        ``(n_item, n_item)`` symmetric with an exact zero diagonal, or
        ``(n_item (n_item - 1) / 2,)``; the dtype of ``x``.
    """
    if metric == "cosine":
        stat = 1.0 / stat
    stat = stat.astype(x.dtype, copy=False)
    n = x.shape[0]
    x = np.ascontiguousarray(x)
    step = max(1, _STRIP_ELEMENTS // n)
    if not condensed:
        gram = x @ x.T  # numpy uses ?syrk for a product with its own transpose
        for i0 in range(0, n, step):
            i1 = min(i0 + step, n)
            _finish(gram[i0:i1], metric, stat[i0:i1], stat, scale)
        index = np.arange(n)
        gram[index, index] = 0
        return gram
    lower = _syrk(x)
    out = np.empty(n * (n - 1) // 2, dtype=x.dtype)
    start = 0
    for j0 in range(0, n - 1, step):
        j1 = min(j0 + step, n - 1)
        # the transposed view is row-major: row j holds column j of the lower triangle
        _finish(lower[j0:, j0:j1].T, metric, stat[j0:j1], stat[j0:], scale)
        for j in range(j0, j1):
            stop = start + n - 1 - j
            out[start:stop] = lower[j + 1:, j]
            start = stop
    return out
