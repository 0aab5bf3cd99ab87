"""Per-run cleaning kernels on ``(time, voxel)`` blocks: polynomial detrending and z-scoring.

Both solve a whole block at once (one least-squares solve shared by all
voxels), never a loop over voxels.
"""

from __future__ import annotations

import numpy as np

__all__ = ["detrend_block", "float_dtype", "zscore_block"]


def float_dtype(dtype: np.dtype) -> np.dtype:
    """The float dtype cleaning returns for data of ``dtype`` (float32 unless float64)."""
    return np.dtype(np.float64) if np.dtype(dtype) == np.float64 else np.dtype(np.float32)


def detrend_block(block: np.ndarray, order: int) -> np.ndarray:
    """Remove polynomial trends of degree 1..``order`` from each column; keep the mean.

    Parameters
    ----------
    block : ndarray, shape (time, voxel)
        One run's values.
    order : int
        Highest polynomial degree removed (1: linear).

    Returns
    -------
    ndarray, shape (time, voxel)
        ``block`` minus its least-squares fit by Legendre polynomials of degree
        0..order, plus its mean: the trends are gone and the baseline stays.
    """
    dtype = float_dtype(block.dtype)
    y = block.astype(np.float64)
    n_time = y.shape[0]
    if n_time <= order:
        return y.astype(dtype)
    t = np.linspace(-1.0, 1.0, n_time)
    basis = np.polynomial.legendre.legvander(t, order)
    coef, *_ = np.linalg.lstsq(basis, y, rcond=None)
    return (y - basis @ coef + y.mean(axis=0)).astype(dtype)


def zscore_block(block: np.ndarray) -> np.ndarray:
    """Z-score each column over time (population standard deviation, ``ddof=0``).

    Constant columns (zero standard deviation) become 0 rather than NaN.
    """
    dtype = float_dtype(block.dtype)
    y = block.astype(np.float64)
    mean = y.mean(axis=0)
    std = y.std(axis=0)
    safe = np.where(std > 0, std, 1.0)
    out = (y - mean) / safe
    out[:, std == 0] = 0.0
    return out.astype(dtype)
