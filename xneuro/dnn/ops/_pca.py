"""Batched PCA over stimuli, exact (covariance) or randomized, streaming over stimulus blocks.

Kernels of :func:`xneuro.dnn.fe`. The data are ``x`` of shape ``(n, I, U)``:
``n`` stimuli (samples), ``I`` independent iterations (1, channels, or
positions) and ``U`` units (features of each PCA). Every pass reads the data
block by block (a few blocks at a time), so memory stays bounded by the block
size even when the data are far larger than memory.

- ``covariance``: the ``I`` covariance matrices ``U x U``, then the leading
  eigenvectors (``eigh``, in the data's precision); exact. A dask input is
  read in one pass of row blocks, accumulating products shifted by the first
  stimulus (for numerical stability) in float64, and projected lazily; an
  in-memory array is centred a group of iterations at a time and multiplied
  in one GEMM per iteration over all stimuli.
- ``randomized``: randomized block Krylov SVD (Musco & Musco 2015) from a
  seeded Gaussian test matrix of ``K + max(10, K // 10)`` columns and
  ``n_iter`` iterations (2, or 4 below 40 columns): ``2 * n_iter + 2``
  passes; for ``U`` too large for a covariance matrix. The first pass also
  gathers the means and variances, and no pass writes a centred copy of the
  data (``x_c @ m = x @ m - 1 (mean @ m)``). Measured on power-law and flat
  spectra (10 to 50 components), the explained variances are closer to the
  exact ones than scikit-learn's randomized PCA (7 power iterations: 16
  passes), e.g. for 50 components in 6 passes instead of 16.

Component signs follow scikit-learn (>= 1.5): the largest-magnitude loading of
every component is positive.
"""

from __future__ import annotations

import queue
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dask.array as dsa
import numpy as np
import scipy.linalg

from xneuro.dnn._blocks import apply_rows, blas_single_threaded, for_row_blocks, threads

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


def _add_in_float64(total: tuple, item: tuple) -> tuple:
    """Running sum of ``(sums, products)`` of blocks, in float64, in place after the first."""
    if total[1].dtype != np.float64:
        total = (total[0], total[1].astype(np.float64))
    np.add(total[1], item[1], out=total[1])
    return total[0] + item[0], total[1]


#: Largest centred copy of a group of iterations made by one thread (in-memory data).
GROUP_COPY_BYTES = 32 * 2**20


def _stats_streamed(xd: Any, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """Means and covariances of data read block by block (dask, or larger than memory)."""
    n, n_iter, n_units = xd.shape
    shift = _first_row(xd)
    group = max(1, COVARIANCE_MAX_BYTES // max(n_units * n_units * 8, 1))
    mean = np.empty((n_iter, n_units))
    covs = np.empty((n_iter, n_units, n_units))
    for first in range(0, n_iter, group):
        sel = slice(first, min(first + group, n_iter))

        def stats(block: np.ndarray, start: int, stop: int, sel: slice = sel) -> tuple:
            # in the data's precision (float32 GEMMs are twice as fast); blocks add in float64
            centred = block[:, sel].astype(dtype, copy=False) - shift[sel].astype(dtype)
            t = centred.transpose(1, 0, 2)
            return centred.sum(axis=0, dtype=np.float64), np.matmul(t.transpose(0, 2, 1), t)

        s1, s2 = for_row_blocks(xd, stats, reduce=_add_in_float64)
        covs[sel] = (s2 - s1[:, :, None] * s1[:, None, :] / n) / (n - 1)
        mean[sel] = shift[sel] + s1 / n
    return mean, covs


def _in_groups(x: np.ndarray, dtype: np.dtype, work: Any) -> None:
    """``work(sel, centred, mu)`` for groups of iterations of in-memory data, in threads.

    Each group is copied once as ``(g, n, U)`` in ``dtype`` (a few stimuli at a
    time, so that strided sources, as in PCA over channels at each position,
    are gathered from cache lines still in cache) and centred by its mean.
    """
    n, n_iter, n_units = x.shape
    group = max(1, min(n_iter, GROUP_COPY_BYTES // max(n * n_units * dtype.itemsize, 1)))
    rows = max(1, 2**18 // max(group * n_units * dtype.itemsize, 1))
    starts = range(0, n_iter, group)
    width = min(threads(), len(starts))
    # one buffer per thread, reused: a fresh one per group costs as much in page faults as
    # the copy itself
    buffers: queue.SimpleQueue = queue.SimpleQueue()
    for _ in range(width):
        buffers.put(np.empty((group, n, n_units), dtype=dtype))

    def one(first: int) -> None:
        sel = slice(first, min(first + group, n_iter))
        buffer = buffers.get()
        try:
            centred = buffer[: sel.stop - first]
            for start in range(0, n, rows):
                np.copyto(centred[:, start:start + rows],
                          x[start:start + rows, sel].transpose(1, 0, 2), casting="unsafe")
            mu = centred.mean(axis=1)
            centred -= mu[:, None, :]
            work(sel, centred, mu)
        finally:
            buffers.put(buffer)

    if width == 1:
        for first in starts:
            one(first)
    else:
        with ThreadPoolExecutor(width) as pool:
            list(pool.map(one, starts))


def _stats_in_memory(x: np.ndarray, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """Means and covariances of in-memory data, a group of iterations per thread.

    One GEMM per iteration over all ``n`` stimuli of the centred copy (at 125
    GFLOP/s per core here, against 88 for the same product over 32 MiB row
    blocks), with no float64 running sums.
    """
    n, n_iter, n_units = x.shape
    mean = np.empty((n_iter, n_units))
    covs = np.empty((n_iter, n_units, n_units), dtype=dtype)

    def stats(sel: slice, centred: np.ndarray, mu: np.ndarray) -> None:
        np.matmul(centred.transpose(0, 2, 1), centred, out=covs[sel])
        covs[sel] /= n - 1
        mean[sel] = mu

    _in_groups(x, dtype, stats)
    return mean, covs


def _leading(cov: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` leading eigenpairs of one covariance (LAPACK syevr), largest first.

    Returns ``(values (k,), vectors (U, k))``, vectors signed as scikit-learn
    signs components (largest-magnitude loading positive).
    """
    n_units = cov.shape[0]
    w, v = scipy.linalg.eigh(cov, subset_by_index=[n_units - k, n_units - 1], driver="evr",
                             check_finite=False)
    v = v[:, ::-1]
    return np.clip(w[::-1], 0, None), v * _flip_signs(v.T)[None, :]


def _covariance_scores_in_memory(
    x: np.ndarray, k: int, dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray]:
    """Scores and explained-variance ratios of ``k`` components, in-memory data, one pass.

    Each thread's group of iterations goes copy, centre, covariance, eigenpairs,
    projection while its centred copy is still at hand: the data are read once.
    """
    n, n_iter, _ = x.shape
    scores = np.empty((n, n_iter, k), dtype=dtype)
    ratio = np.empty((n_iter, k))

    def solve(sel: slice, centred: np.ndarray, mu: np.ndarray) -> None:
        covs = np.matmul(centred.transpose(0, 2, 1), centred)
        covs /= n - 1
        components = np.empty((len(covs), covs.shape[1], k), dtype=dtype)
        for i, cov in enumerate(covs):
            values, components[i] = _leading(cov, k)
            total = float(np.trace(cov, dtype=np.float64))
            ratio[sel.start + i] = values / total if total > 0 else 0.0
        scores[:, sel] = np.matmul(centred, components).transpose(1, 0, 2)

    _in_groups(x, dtype, solve)
    return scores, ratio


def _covariance(
    xd: Any, n_feat: int | float, dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n, n_iter, n_units = xd.shape
    if isinstance(xd, dsa.Array):
        mean, covs = _stats_streamed(xd, dtype)
    else:
        mean, covs = _stats_in_memory(xd, dtype)
    # eigen-solves in the data's precision: the covariance entries of float32 data are only
    # float32-accurate, and float32 LAPACK is 1.5x faster
    covs = covs.astype(dtype, copy=False)
    # the total variance is the trace; a variance fraction needs every eigenvalue first
    total = np.trace(covs, axis1=1, axis2=2, dtype=np.float64).clip(0)[:, None]
    if isinstance(n_feat, float):
        values = np.clip(np.linalg.eigvalsh(covs)[:, ::-1], 0, None)
        ratio = np.divide(values, total, out=np.zeros_like(values), where=total > 0)
        k = _n_components(ratio, n_feat, min(n, n_units))
    else:
        k = int(n_feat)
    # eigenvectors of the leading k only (LAPACK syevr), the iterations in threads
    components = np.empty((n_iter, n_units, k), dtype=dtype)
    leading = np.empty((n_iter, k))

    def solve(i: int) -> None:
        leading[i], components[i] = _leading(covs[i], k)

    if n_iter == 1:
        solve(0)
    else:
        with ThreadPoolExecutor(threads()) as pool:
            list(pool.map(solve, range(n_iter)))
    ratio = np.divide(leading, total, out=np.zeros_like(leading), where=total > 0)
    return mean, components, ratio


def _gram(a: np.ndarray) -> np.ndarray:
    """``a[i]^T a[i]`` for each ``i`` (2-D products, so that numpy calls BLAS ``syrk``)."""
    return np.stack([part.T @ part for part in a])


def _qr(a: np.ndarray, rounds: int = 2) -> np.ndarray:
    """Orthonormal basis of the columns of each ``a[i]`` (Cholesky-QR ``rounds`` times).

    Falls back to Householder QR when a Gram matrix is not positive definite.
    One round leaves an orthogonality error of about ``eps * cond(a)**2``; two
    make it ``eps``.
    """
    q = a
    try:
        for _ in range(rounds):
            chol = np.linalg.cholesky(_gram(q))  # gram = L L^T, so Q = q L^-T
            q = np.matmul(q, np.linalg.inv(chol).transpose(0, 2, 1))
    except np.linalg.LinAlgError:
        return np.linalg.qr(a)[0]
    return q


def _gram_svd(columns: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Left factor and singular values of ``b = z^T`` for tall ``z[i]`` (U x L).

    ``z`` is given as column blocks (``concatenate(columns, axis=2)``). From the
    small Gram matrix ``z^T z`` (L x L, in float64, block by block):
    ``b = ub @ diag(s) @ v^T`` with ``v = z @ ub / s``, in decreasing order of
    ``s``. ``z`` stays tall: BLAS is far faster on ``z^T z`` than on ``b b^T``
    (the same numbers, wide).
    """
    edges = np.cumsum([0] + [part.shape[2] for part in columns])
    gram = np.empty((columns[0].shape[0], edges[-1], edges[-1]))
    for a, left in enumerate(columns):
        wide = left.astype(np.float64)
        gram[:, edges[a]:edges[a + 1], edges[a]:edges[a + 1]] = _gram(wide)
        for b in range(a + 1, len(columns)):
            block = np.matmul(wide.transpose(0, 2, 1), columns[b].astype(np.float64))
            gram[:, edges[a]:edges[a + 1], edges[b]:edges[b + 1]] = block
            gram[:, edges[b]:edges[b + 1], edges[a]:edges[a + 1]] = block.transpose(0, 2, 1)
    values, ub = np.linalg.eigh(gram)
    return ub[:, :, ::-1], np.sqrt(np.clip(values[:, ::-1], 0, None))


def _randomized(
    xd: Any,
    n_feat: int | float,
    seed: int,
    n_iter: int | None,
    dtype: np.dtype,
) -> tuple[np.ndarray, np.ndarray]:
    n, n_it, n_units = xd.shape
    limit = min(n, n_units)
    shift = _first_row(xd).astype(dtype)

    def over_rows(fn: Any, reduce: Any = None) -> Any:
        """``fn(block, start, stop)`` over row blocks (threads, 1-thread BLAS each)."""
        return for_row_blocks(xd, fn, reduce=reduce)

    # pass 1: moments (shifted by the first stimulus, for precision) and Y = (x - shift) @ omega
    n_comp = limit if isinstance(n_feat, float) else int(n_feat)
    wanted = (n_comp + max(10, n_comp // 10)) if not isinstance(n_feat, float) else 64
    size, iterations = _krylov_shape(wanted, limit, n_iter)
    rng = np.random.default_rng(seed)
    omega = rng.standard_normal((n_it, n_units, size)).astype(dtype)

    def first(block: np.ndarray, start: int, stop: int) -> tuple:
        centred = block.astype(dtype, copy=False) - shift  # (nb, I, U)
        sums = centred.sum(axis=0, dtype=np.float64)
        squares = np.einsum("niu,niu->iu", centred, centred)
        return sums, squares, [np.matmul(centred.transpose(1, 0, 2), omega)]

    def gather(total: tuple, item: tuple) -> tuple:  # in place: memory stays flat over blocks
        if total[1].dtype != np.float64:
            total = (total[0], total[1].astype(np.float64), total[2])
        np.add(total[0], item[0], out=total[0])
        np.add(total[1], item[1], out=total[1])
        return total[0], total[1], total[2] + item[2]

    s1, s2, ys = over_rows(first, reduce=gather)
    s2 = s2.astype(np.float64, copy=False)
    offset = (s1 / n).astype(dtype)  # mean - shift, (I, U)
    mean = shift.astype(np.float64) + s1 / n
    total = ((s2 - s1 * s1 / n) / (n - 1)).clip(0).sum(axis=-1)  # (I,)
    # (x - mean) @ m = (x - shift) @ m - 1 (offset @ m): no centred copy of the data per pass
    y = np.concatenate(ys, axis=1) - np.matmul(offset[:, None, :], omega)
    mean_c = mean.astype(dtype)
    del ys, s1, s2

    def times(mat: np.ndarray) -> np.ndarray:  # (n, I, U) @ (I, U, l) -> (I, n, l)
        mat = mat.astype(dtype)
        correction = np.matmul(mean_c[:, None, :], mat)  # (I, 1, l)
        parts = over_rows(lambda b, s, e: np.matmul(b.astype(dtype, copy=False)
                                                    .transpose(1, 0, 2), mat))
        return np.concatenate(parts, axis=1) - correction

    def transposed_times(q: np.ndarray) -> np.ndarray:  # (I, U, n) @ (I, n, l) -> (I, U, l)
        q = q.astype(dtype)
        # x_c^T q = x^T q - mean^T (1^T q)
        correction = mean_c[:, :, None] * q.sum(axis=1, dtype=np.float64)[:, None, :]
        product = over_rows(
            lambda b, s, e: np.matmul(b.astype(dtype, copy=False).transpose(1, 2, 0), q[:, s:e]),
            reduce=_sum_into_float64)
        product = product.astype(np.float64, copy=False)  # a single block stays in dtype
        product -= correction
        return product

    while True:
        q, z = _block_krylov(y, iterations, times, transposed_times, dtype)
        ub, s = _gram_svd(z)
        ratio = np.divide(
            s**2 / (n - 1), total[:, None], out=np.zeros_like(s), where=total[:, None] > 0
        )
        if not isinstance(n_feat, float) or size >= limit:
            break
        if np.all(np.cumsum(ratio, axis=-1)[:, -1] > n_feat):
            break
        size, iterations = _krylov_shape(2 * size, limit, n_iter)
        y = times(rng.standard_normal((n_it, n_units, size)).astype(dtype))
    k = _n_components(ratio, n_feat, min(limit, s.shape[-1]))
    inverse = np.divide(1.0, s[:, :k], out=np.zeros_like(s[:, :k]),
                        where=s[:, :k] > s.max() * 1e-12)
    v = _times_blocks(z, ub[:, :, :k]) * inverse[:, None, :]  # right singular vectors (I, U, k)
    signs = _flip_signs(v.transpose(0, 2, 1))
    scores = np.matmul(q, ub[:, :, :k]) * (s[:, None, :k] * signs[:, None, :])
    return scores.transpose(1, 0, 2).astype(dtype), ratio[:, :k]


def _krylov_shape(size: int, limit: int, n_iter: int | None) -> tuple[int, int]:
    """Test-matrix width and Krylov iterations: the whole basis must fit in ``limit`` columns.

    ``n_iter=None`` takes 2 iterations for 40 columns or more, else 4: narrow
    test matrices make cheap passes, and with 2 iterations they are less
    accurate than scikit-learn's 7 power iterations (measured on power-law
    spectra with 10 to 50 components; 4 iterations are more accurate in
    every case, 2 are for 30 components and more).
    A basis of ``(n_iter + 1) * size`` columns wider than ``min(n, U)`` cannot
    be orthonormal; then one block of ``limit`` columns spans the whole range
    of the centred data, so that PCA is exact (and no dearer).
    """
    size = min(limit, size)
    if n_iter is None:
        n_iter = 2 if size >= 40 else 4
    if (n_iter + 1) * size > limit:
        return limit, 0
    return size, n_iter


def _sum_into_float64(total: np.ndarray, item: np.ndarray) -> np.ndarray:
    """Running sum of block results, in float64, in place after the first block."""
    if total.dtype != np.float64:
        total = total.astype(np.float64)
    np.add(total, item, out=total)
    return total


def _times_blocks(columns: list[np.ndarray], mat: np.ndarray) -> np.ndarray:
    """``concatenate(columns, axis=2) @ mat`` in float64, without the concatenated copy."""
    out, first = None, 0
    for part in columns:
        width = part.shape[2]
        term = np.matmul(part.astype(np.float64), mat[:, first:first + width])
        out = term if out is None else out + term
        first += width
    return out


def _block_krylov(
    y: np.ndarray, n_iter: int, times: Any, transposed_times: Any, dtype: np.dtype
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Block Krylov range finder from ``y = x_c @ omega``: basis ``q`` and ``z = x_c^T q``.

    ``z`` is returned as its column blocks ``z_j`` (each ``(I, U, l)``), kept
    in the data's ``dtype`` (float32 halves the largest buffers of a PCA of
    a layer larger than memory; the products that make them are float32 anyway).

    Builds ``q = [q_0, ..., q_n_iter]`` (each ``(I, n, l)``, orthonormal to all
    earlier blocks) with ``q_j`` spanning ``(x_c x_c^T)^j x_c omega``, and keeps
    every ``z_j = x_c^T q_j`` computed on the way, so ``z = x_c^T q`` needs no
    extra pass: ``2 * n_iter + 1`` passes over the data after the first
    (Musco & Musco 2015, with progressive block Gram-Schmidt). Per pass it is
    more accurate than subspace (power) iteration, which keeps only the last block.
    """
    blocks: list[np.ndarray] = []
    columns: list[np.ndarray] = []
    for j in range(n_iter + 1):
        y = y.astype(np.float64)
        for _ in range(2):  # twice is enough (Gram-Schmidt reorthogonalisation)
            for earlier in blocks:
                y = y - np.matmul(earlier, np.matmul(earlier.transpose(0, 2, 1), y))
        q_j = _qr(y)
        blocks.append(q_j)
        z = transposed_times(q_j)  # (I, U, l), float64
        if j < n_iter:  # one Cholesky-QR round: only the conditioning of x_c z matters here
            y = times(_qr(z, rounds=1))
        columns.append(z.astype(dtype, copy=False))
        del z
    return np.concatenate(blocks, axis=2), columns


def pca_scores(
    x: Any,
    n_feat: int | float,
    *,
    seed: int = 0,
    solver: str = "auto",
    n_iter: int | None = None,
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
    n_iter : int, optional
        Block Krylov iterations of the randomized solver (``2 * n_iter + 2``
        passes over the data); default 2 for test matrices of 40 columns or
        more, else 4.

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
    with blas_single_threaded():  # threads over row blocks; see blas_single_threaded
        if solver == "covariance" and not lazy and not isinstance(n_feat, float):
            return _covariance_scores_in_memory(x, int(n_feat), dtype)
        if solver == "covariance":
            mean, components, ratio = _covariance(xd, n_feat, dtype)
            return _project(x, mean, components, dtype), ratio
        scores, ratio = _randomized(xd, n_feat, seed, n_iter, dtype)
    if lazy:
        scores = dsa.from_array(scores, chunks=(x.chunks[0], -1, -1))
    return scores, ratio
