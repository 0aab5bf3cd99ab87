"""Permutation and bootstrap inference on RDM comparisons (numpy kernels).

- Permutation: the item labels of one RDM are shuffled (rows and columns
  together) and the comparison recomputed, ``n_permutations`` times; the
  p-value is ``(1 + #{null >= observed}) / (1 + n_permutations)`` (one-sided
  "greater"; "less" and "two-sided" likewise), exact under exchangeability.
- Bootstrap: items are resampled with replacement (rsatoolbox's pattern
  bootstrap) and the comparison recomputed on the pairs of distinct sampled
  items (for the whitened methods, on the sub-RDM of the unique sampled items,
  whose whitening needs a complete RDM).

Leading axes: ``a (La, m)`` and ``b (Lb, m)`` with ``La == Lb`` (paired) or one
of them 1 (broadcast).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from xneuro.rsa._compare_kernels import kendall_tau_a, left, right, score
from xneuro.rsa.forms import pairs

__all__ = ["bootstrap_scores", "p_value", "permutation_null"]


def pair_index(n: int) -> np.ndarray:
    """``(n, n)`` int matrix: the condensed index of pair ``(i, j)`` (either order), -1 on the diagonal."""
    dtype = np.int32 if n * (n - 1) // 2 < 2**31 else np.int64
    q = np.full((n, n), -1, dtype=dtype)
    rows, cols = pairs(n)
    q[rows, cols] = np.arange(len(rows), dtype=dtype)
    q[cols, rows] = q[rows, cols]
    return q


def _square(v: np.ndarray, n: int) -> np.ndarray:
    """``(L, m)`` condensed vectors as ``(L, n, n)`` symmetric squares, zero diagonal."""
    out = np.zeros((v.shape[0], n, n))
    rows, cols = pairs(n)
    out[:, rows, cols] = v
    out[:, cols, rows] = v
    return out


def permutation_null(
    a: np.ndarray,
    b: np.ndarray,
    method: str,
    n: int,
    n_permutations: int,
    rng: np.random.Generator,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Null distribution of the comparison under permutations of ``b``'s items.

    For the dot-product methods the statistic of a permutation ``p`` is
    ``sum_{i<j} A_ij B_p(i)p(j) = sum(A * B[p][:, p]) / 2`` on the prepared
    square matrices: a row and a column gather and one product per permutation.

    Parameters
    ----------
    a, b : ndarray, shape (La, m), (Lb, m)
        Condensed RDM vectors.
    method : str
        A method of :mod:`xneuro.rsa._compare_kernels`.
    n : int
        Number of items.
    n_permutations : int
        Number of permutations.
    rng : numpy.random.Generator
        Source of the permutations.
    progress : callable, optional
        Called with the number of permutations done, every 50.

    Returns
    -------
    ndarray, shape (L, n_permutations)
    """
    lead = max(a.shape[0], b.shape[0])
    out = np.empty((lead, n_permutations))
    if method == "kendall":
        mask = np.triu(np.ones((n, n), dtype=bool), 1)
        sq_b = _square(b, n)
    else:
        sq_a, sq_b = _square(left(a, method, n), n), _square(right(b, method, n), n)
        flat_a = sq_a.reshape(sq_a.shape[0], -1) / 2
    for k in range(n_permutations):
        perm = rng.permutation(n)
        if sq_b.shape[0] == 1:  # 2-D takes are the fastest gathers
            permuted = sq_b[0].take(perm, axis=0).take(perm, axis=1)[None]
        else:
            permuted = np.take(np.take(sq_b, perm, axis=1), perm, axis=2)
        if method == "kendall":  # scipy's tau per permutation
            out[:, k] = np.broadcast_to(kendall_tau_a(a, permuted[:, mask]), (lead,))
        elif permuted.shape[0] == 1:
            out[:, k] = flat_a @ permuted.reshape(-1)
        else:
            out[:, k] = (flat_a * permuted.reshape(permuted.shape[0], -1)).sum(axis=1)
        if progress is not None and (k + 1) % 50 == 0:
            progress(50)
    if progress is not None and n_permutations % 50:
        progress(n_permutations % 50)
    return out


def p_value(observed: np.ndarray, null: np.ndarray, alternative: str) -> np.ndarray:
    """Permutation p-value ``(1 + #extreme) / (1 + n)`` along the last axis of ``null``."""
    obs = observed[..., None]
    if alternative == "greater":
        extreme = null >= obs - 1e-12
    elif alternative == "less":
        extreme = null <= obs + 1e-12
    else:
        extreme = np.abs(null) >= np.abs(obs) - 1e-12
    return (1 + extreme.sum(axis=-1)) / (1 + null.shape[-1])


def bootstrap_scores(
    a: np.ndarray,
    b: np.ndarray,
    method: str,
    n: int,
    n_bootstrap: int,
    rng: np.random.Generator,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Comparison scores over item bootstrap samples: ``(L, n_bootstrap)``."""
    q = pair_index(n)
    rows, cols = pairs(n)
    lead = max(a.shape[0], b.shape[0])
    out = np.empty((lead, n_bootstrap))
    for s in range(n_bootstrap):  # one resample of all items at a time
        sample = rng.integers(0, n, n)
        if method.startswith("whitened"):
            unique = np.unique(sample)
            sub = np.triu(np.ones((len(unique), len(unique)), dtype=bool), 1)
            chosen = q[unique[:, None], unique[None, :]][sub]
            k = len(unique)
        else:
            i, j = sample[rows], sample[cols]
            keep = i != j
            chosen = q[i[keep], j[keep]]
            k = n
        if len(chosen) < 3:
            out[:, s] = np.nan
        else:
            out[:, s] = np.broadcast_to(score(a[:, chosen], b[:, chosen], method, k), (lead,))
        if progress is not None:
            progress(1)
    return out
