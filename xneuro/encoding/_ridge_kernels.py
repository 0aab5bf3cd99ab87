"""Ridge-regression kernels: one SVD of the features per fold, every alpha and voxel at once.

For centred training features ``X = U S V'`` (:func:`thin_svd`) the ridge weights for all targets
``Y`` at penalty ``alpha`` are ``V diag(s / (s^2 + alpha)) U' Y``. The SVDs do
not depend on the targets, so they are computed once (per fold, and once on all
samples for the refit) and every voxel block reuses them: per fold and alpha,
the validation predictions are ``(X_val V) diag(d_alpha) (U' Y)``, one matrix
product over the whole block (the idea of himalaya's ``solve_ridge_cv_svd``).
The alpha with the best mean validation R² is chosen per voxel, and the refit
gathers each voxel's ``d_alpha`` column: ``W = V (D[:, best] * U' Y)``.

Banded ridge (several feature spaces) scales the columns of band ``b`` by
``sqrt(gamma_b)`` for a set of candidate scalings ``gamma`` on the simplex and
keeps, per voxel, the (scaling, alpha) pair with the best CV score: the
random-search solver of multiple-kernel ridge, with the same factorisation per
candidate. Kernels take numpy, cupy or torch arrays (one engine per call).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from xneuro.core.arrays import like, namespace, to_engine, to_numpy

__all__ = ["Factors", "contiguous", "factorise", "kfold_splits", "solve_block"]


@dataclass
class Factors:
    """SVD factors of one candidate feature scaling (all arrays of one engine)."""

    scale: np.ndarray  # (p,) column scale sqrt(gamma) of this candidate
    dtype: np.dtype  # float dtype of the factors
    folds: list[tuple[Any, Any, Any, Any, Any]]  # (train, test, U, s, X_test V)
    mean: Any  # (p,) feature mean of all samples (scaled)
    u: Any  # (n, k)
    s: Any  # (k,)
    vt: Any  # (k, p)


def kfold_splits(n: int, n_splits: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Contiguous, unshuffled K folds (as ``sklearn.model_selection.KFold``)."""
    sizes = np.full(n_splits, n // n_splits)
    sizes[: n % n_splits] += 1
    stops = np.cumsum(sizes)
    index = np.arange(n)
    return [(np.r_[index[: stop - size], index[stop:]], index[stop - size: stop])
            for size, stop in zip(sizes, stops, strict=True)]


def contiguous(index: np.ndarray) -> slice | np.ndarray:
    """A slice for a contiguous increasing index (no copy when indexing), else the index."""
    index = np.asarray(index)
    if len(index) and np.array_equal(index, np.arange(index[0], index[0] + len(index))):
        return slice(int(index[0]), int(index[0]) + len(index))
    return index


def _cast(x: Any, dtype: str) -> Any:
    xp = namespace(x)
    return x.to(getattr(xp, dtype)) if xp.__name__ == "torch" else x.astype(dtype)


def thin_svd(x: Any) -> tuple[Any, Any, Any]:
    """Thin SVD ``x = U diag(s) Vt`` from the eigendecomposition of the smaller Gram matrix.

    The Gram matrix and its ``eigh`` are computed in float64 (for float32
    input too), which is several times faster than a LAPACK SVD and accurate
    to ~1e-8 relative in the kept singular values. Components with
    ``s^2 < s_max^2 * max(n, p) * eps64`` (numerically zero) are dropped: their
    ridge factor ``s / (s^2 + alpha)`` vanishes with ``s``.
    """
    xp = namespace(x)
    n, p = x.shape
    x64 = _cast(x, "float64")
    tall = n >= p
    lam, vec = xp.linalg.eigh(x64.T @ x64 if tall else x64 @ x64.T)
    lam, vec = xp.flip(lam, (0,)), xp.flip(vec, (1,))  # descending
    keep = lam > lam[0] * max(n, p) * np.finfo(np.float64).eps
    s = xp.sqrt(lam[keep])
    vec = vec[:, keep]
    if tall:
        u, vt = (x64 @ vec) / s, vec.T
    else:
        u, vt = vec, ((x64.T @ vec) / s).T
    dtype = str(x.dtype).replace("torch.", "")
    return _cast(u, dtype), _cast(s, dtype), _cast(vt, dtype)


def xs_dtype(x: np.ndarray) -> np.dtype:
    """The float dtype the kernels compute in for features ``x``."""
    return np.dtype(x.dtype) if x.dtype.kind == "f" else np.dtype(np.float64)


def factorise(x: np.ndarray, splits: list, scales: np.ndarray, fit_intercept: bool,
              engine: str = "numpy", device: str | None = None) -> list[Factors]:
    """SVD factors of ``x`` for every fold and candidate column scaling.

    Parameters
    ----------
    x : ndarray, shape (n, p)
        Features.
    splits : list of (train, test)
        Folds.
    scales : ndarray, shape (n_candidate, p)
        Column scalings (rows of ones without bands).
    fit_intercept : bool
        Centre the features on the training mean of each fold.
    engine, device : str
        Engine of the returned arrays.

    Returns
    -------
    list of Factors
    """
    out = []
    for scale in scales:
        dtype = xs_dtype(x)
        xs = to_engine(x * scale.astype(dtype), engine, device, dtype=dtype)
        folds = []
        for train, test in splits:
            tr, te = contiguous(train), contiguous(test)
            xm = xs[tr].mean(axis=0) if fit_intercept else xs[:1].sum(axis=0) * 0
            u, s, vt = thin_svd(xs[tr] - xm)
            folds.append((tr, te, u, s, (xs[te] - xm) @ vt.T))
        xm = xs.mean(axis=0) if fit_intercept else xs[:1].sum(axis=0) * 0
        u, s, vt = thin_svd(xs - xm)
        out.append(Factors(np.asarray(scale), xs_dtype(x), folds, xm, u, s, vt))
    return out


def _r2(truth_centred: Any, pred: Any, ss_tot: Any) -> Any:
    xp = namespace(pred)
    resid = truth_centred - pred
    ss_res = (resid * resid).sum(axis=0)
    zero = ss_tot <= 0
    safe = xp.where(zero, xp.ones_like(ss_tot), ss_tot)
    return xp.where(zero, (ss_res <= 0) * 1.0, 1 - ss_res / safe)  # scikit-learn's force_finite


def cv_scores(y: Any, factors: Factors, alphas: Any, fit_intercept: bool) -> Any:
    """Mean validation R² over folds, ``(n_alpha, n_voxel)``."""
    xp = namespace(y)
    scores = None
    for tr, te, u, s, a in factors.folds:
        ytr, yte = y[tr], y[te]
        ym = ytr.mean(axis=0) if fit_intercept else ytr[:1].sum(axis=0) * 0
        b = u.T @ (ytr - ym)
        truth = yte - ym
        dev = yte - yte.mean(axis=0)
        ss_tot = (dev * dev).sum(axis=0)
        fold = xp.stack([_r2(truth, (a * (s / (s * s + alpha))) @ b, ss_tot) for alpha in alphas])
        scores = fold if scores is None else scores + fold
    return scores / len(factors.folds)


def refit(y: Any, factors: Factors, alpha: Any, fit_intercept: bool) -> tuple[Any, Any]:
    """Weights ``(p, v)`` in the original feature units and intercepts ``(v,)``."""
    ym = y.mean(axis=0) if fit_intercept else y[:1].sum(axis=0) * 0
    b = factors.u.T @ (y - ym)
    s = factors.s[:, None]
    w = factors.vt.T @ ((s / (s * s + alpha[None, :])) * b)
    intercept = ym - factors.mean @ w
    scale = like(factors.scale.astype(factors.dtype), w)
    return w * scale[:, None], intercept


def solve_block(y: np.ndarray, factors: list[Factors], alphas: np.ndarray, fit_intercept: bool,
                engine: str = "numpy", device: str | None = None) -> np.ndarray:
    """Cross-validated ridge of one voxel block, packed as one array.

    Parameters
    ----------
    y : ndarray, shape (n, v)
        Responses of the block.
    factors : list of Factors
        From :func:`factorise` (one per candidate scaling).
    alphas : ndarray, shape (n_alpha,)
        Penalties.
    fit_intercept : bool
        Fit an intercept per voxel.
    engine, device : str
        Engine of the factors.

    Returns
    -------
    ndarray, shape (p + 4, v)
        Rows ``0..p-1`` the weights, then intercept, alpha, CV R², candidate index.
    """
    dtype = factors[0].dtype
    ye = to_engine(np.asarray(y), engine, device, dtype=dtype)
    xp = namespace(ye)
    alphas_e = to_engine(np.asarray(alphas, dtype=dtype), engine, device)
    best_score = best_alpha = best_cand = None
    for c, fac in enumerate(factors):
        scores = cv_scores(ye, fac, alphas_e, fit_intercept)
        arg = xp.argmax(scores, axis=0)
        top = xp.amax(scores, axis=0)
        if best_score is None:
            best_score, best_alpha = top, alphas_e[arg]
            best_cand = xp.zeros_like(top)
        else:
            better = top > best_score
            best_score = xp.where(better, top, best_score)
            best_alpha = xp.where(better, alphas_e[arg], best_alpha)
            best_cand = xp.where(better, xp.ones_like(top) * c, best_cand)
    p, v = factors[0].vt.shape[1], ye.shape[1]
    out = np.zeros((p + 4, v), dtype=dtype)
    cand = np.asarray(to_numpy(best_cand)).astype(int)
    for c in np.unique(cand):  # one refit per candidate scaling used in this block
        cols = np.flatnonzero(cand == c)
        where = like(cols, ye)
        w, b = refit(ye[:, where], factors[c], best_alpha[where], fit_intercept)
        out[:p, cols], out[p, cols] = to_numpy(w), to_numpy(b)
    out[p + 1], out[p + 2], out[p + 3] = to_numpy(best_alpha), to_numpy(best_score), cand
    return out
