"""Distance kernels as Gram-matrix products (numpy, dask, cupy or torch arrays).

Every metric is written as one product ``X @ X.T`` of the (item, feature)
patterns plus elementwise work, so that a BLAS (or a GPU) does the heavy part
and a dask input yields a blockwise, chunked Gram matrix that fits in memory for
10k+ items. Leading axes are batch axes (repeated RDMs over ``iteration``).

Formulas (``x_i`` the pattern of item ``i``, ``p`` features):

- ``correlation``: ``1 - r_ij``, rows centred and scaled to unit norm;
- ``cosine``: ``1 - x_i.x_j / (|x_i| |x_j|)``;
- ``sqeuclidean``: ``|x_i|^2 + |x_j|^2 - 2 x_i.x_j`` (clipped at 0);
- ``euclidean``: its square root;
- ``mahalanobis``: ``sqrt((x_i - x_j) P (x_i - x_j)^T)`` with precision ``P``.

These equal :func:`scipy.spatial.distance.pdist` with the same metric names.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xneuro.core.arrays import is_dask, namespace

__all__ = ["METRICS", "gram_distance", "zero_diagonal"]

#: Metrics computed from one Gram matrix.
METRICS = ("correlation", "cosine", "euclidean", "sqeuclidean", "mahalanobis")


def _swap(x: Any) -> Any:
    """Swap the last two axes (a transpose that works for numpy, dask, cupy and torch)."""
    return x.swapaxes(-1, -2) if hasattr(x, "swapaxes") else x.transpose(-1, -2)


def zero_diagonal(d: Any) -> Any:
    """Set the item diagonal of ``(..., n, n)`` distances to exactly 0."""
    n = d.shape[-1]
    if is_dask(d):
        return d.map_blocks(_zero_diagonal_block, dtype=d.dtype, meta=d._meta)
    xp = namespace(d)
    if xp is np:
        d = d.copy()
        index = np.arange(n)
        d[..., index, index] = 0
        return d
    eye = xp.eye(n, dtype=bool, device=d.device) if xp.__name__ == "torch" else xp.eye(n, dtype=bool)
    return xp.where(eye, xp.zeros((), dtype=d.dtype), d)


def _zero_diagonal_block(block: Any, block_info: dict | None = None) -> Any:
    """Zero the part of the global diagonal that falls in one dask block."""
    (r0, r1), (c0, c1) = block_info[0]["array-location"][-2:]
    start, stop = max(r0, c0), min(r1, c1)
    if start >= stop:
        return block
    index = np.arange(start, stop)
    block = block.copy()
    block[..., index - r0, index - c0] = 0
    return block


def _clip_positive(x: Any) -> Any:
    xp = namespace(x)
    return xp.clip(x, 0, None)


def gram_distance(x: Any, metric: str, precision: Any = None) -> Any:
    """Pairwise distances between the rows of ``x`` from one Gram-matrix product.

    Parameters
    ----------
    x : array, shape (..., n_item, n_feature)
        Patterns; numpy, dask, cupy or torch, floating point.
    metric : {"correlation", "cosine", "euclidean", "sqeuclidean", "mahalanobis"}
        Distance; see the module docstring.
    precision : array, shape (n_feature, n_feature), optional
        Precision (inverse noise covariance) for ``"mahalanobis"``.

    Returns
    -------
    array, shape (..., n_item, n_item)
        Symmetric distances with a zero diagonal, same array type as ``x``
        (lazy for dask). Items with zero variance (correlation) or zero norm
        (cosine) give NaN, as in :func:`scipy.spatial.distance.pdist`.
    """
    xp = namespace(x)
    numpy_in = xp is np and isinstance(x, np.ndarray)
    if metric in ("correlation", "cosine"):
        x = x - x.mean(axis=-1, keepdims=True) if metric == "correlation" else x
        norm = xp.sqrt(_row_sq(x, xp))[..., None]
        with np.errstate(invalid="ignore", divide="ignore"):
            if numpy_in and metric == "correlation":
                x /= norm  # x is already a private copy: no second pattern-sized array
            else:
                x = x / norm
            d = 1 - _gram(x)
        return zero_diagonal(_clip_positive(d))
    x = _centred_if_needed(x, xp)
    if metric == "mahalanobis":
        xp_ = x @ precision
        gram = xp_ @ _swap(x)
        sq = (xp_ * x).sum(axis=-1)
    else:
        gram = _gram(x)
        sq = _row_sq(x, xp)
    d = _clip_positive(sq[..., :, None] + sq[..., None, :] - 2 * gram)
    if metric in ("euclidean", "mahalanobis"):
        d = xp.sqrt(d)
    return zero_diagonal(d)


def _gram(x: Any) -> Any:
    """``x @ x.T`` over the last two axes.

    In memory this is one BLAS call (numpy uses the symmetric rank-k update
    ``?syrk`` for it: half the multiply-adds of a general product). For dask,
    only the blocks on and above the item-block diagonal are computed (the
    lower blocks are their transposes, the same tasks), and each diagonal
    block is a rank-k update of one chunk with itself (:func:`_self_gram`), so
    the whole costs what one ``?syrk`` costs.
    """
    if not is_dask(x):
        return x @ _swap(x)
    bounds = np.cumsum((0, *x.chunks[-2]))
    parts = [x[..., bounds[i]:bounds[i + 1], :] for i in range(len(bounds) - 1)]
    if len(parts) == 1:
        return _self_gram(x)
    import dask.array as da

    upper = {(i, j): _self_gram(parts[i]) if i == j else parts[i] @ _swap(parts[j])
             for i in range(len(parts)) for j in range(i, len(parts))}
    return da.block([[upper[i, j] if i <= j else _swap(upper[j, i]) for j in range(len(parts))]
                     for i in range(len(parts))])


def _self_gram_block(block: Any) -> Any:
    """``block @ block.T`` of one chunk, with a length-1 axis for the feature-chunk sum.

    The product of a chunk with a view of its own transpose is what numpy
    (and cupy) turn into ``?syrk``; dask's ``a @ a.T`` hands the two operands
    over separately and gets a general product of twice the work.
    """
    return (block @ _swap(block))[..., None, :]


def _self_gram(x: Any) -> Any:
    """Lazy ``x @ x.T`` of a dask array that is one chunk along items, summed over feature chunks."""
    import dask.array as da

    lead = "abcdefgh"[: x.ndim - 2]
    n = x.shape[-2]
    partial = da.blockwise(_self_gram_block, f"{lead}ikj", x, f"{lead}ik", new_axes={"j": n},
                           adjust_chunks={"k": 1}, dtype=x.dtype, concatenate=False)
    return partial.sum(axis=-2)


def _centred_if_needed(x: Any, xp: Any) -> Any:
    """Centre the features over items when the offset would cost precision.

    ``|x_i|^2 + |x_j|^2 - 2 x_i.x_j`` loses a factor of about
    ``1 + |mu|^2 / var`` of relative precision to cancellation (``mu`` the mean
    pattern, ``var`` the mean squared spread around it). Centring removes that
    but costs a pattern-sized copy, so in-memory patterns are centred only when
    that factor passes 4 (two bits). Dask patterns are always centred (lazily).
    """
    mean = x.mean(axis=-2, keepdims=True)
    if is_dask(x):
        return x - mean
    offset = float((mean * mean).sum())
    spread = float(_row_sq(x, xp).sum()) / x.shape[-2] - offset
    return x - mean if offset > 3 * spread else x


def _row_sq(x: Any, xp: Any) -> Any:
    """Squared norm of every row, without a pattern-sized temporary."""
    return xp.einsum("...ij,...ij->...i", x, x)
