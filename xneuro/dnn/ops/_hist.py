"""Row-wise histograms with ``np.histogram(row, bins)`` semantics, all rows at once.

Kernel of ``fe(..., "hist")``. For each row, ``bins`` equal bins span the
row's own ``[min, max]`` (widened by 0.5 on both sides for a constant row);
the last bin is closed on the right. Counts equal numpy's (>= 2.0) exactly,
value for value, including values on or within rounding error of a bin edge:

1. ``f = ((x - lo) / (hi - lo)) * bins`` in the data's float dtype, and the
   first guess ``trunc(f)``, clipped to ``bins - 1`` (numpy's own first guess);
2. the edges ``np.linspace(lo, hi, bins + 1)``, computed as numpy does, in
   the data's dtype (``k * step + lo``, the last edge set to ``hi``);
3. numpy moves a value one bin down if it is below its bin's lower edge and
   one bin up if it is at or above the upper edge (not past the last bin).
   Only values whose ``f`` lies within a rounding bound of an integer can
   move, so only those (a tiny fraction) are compared with the edges;
4. one ``np.bincount`` over ``index + row * bins`` counts every row at once.
   Indices are spread over 4 interleaved copies of the histogram, summed at
   the end, so that runs of equal values (the zeros of ReLU layers) do not
   serialise the counting on one memory cell.

Rows are processed in groups of about 256 Ki values with preallocated
buffers, so the temporaries stay in cache and no pass allocates memory.
"""

from __future__ import annotations

import numpy as np

from xneuro.core.errors import input_error

__all__ = ["hist_kernel"]

#: Values per group of rows (the buffers of one group stay in the CPU cache).
GROUP_VALUES = 2**18
#: Interleaved copies of the histogram in one ``bincount`` (see the module notes).
LANES = 4


def _edges(lo: np.ndarray, hi: np.ndarray, bins: int) -> np.ndarray:
    """``np.linspace(lo[i], hi[i], bins + 1)`` for every row, computed as numpy >= 2 does."""
    step = (hi - lo) / lo.dtype.type(bins)
    edges = np.arange(bins + 1, dtype=lo.dtype)[None, :] * step[:, None]
    edges += lo[:, None]
    edges[:, -1] = hi
    return edges


class _Work:
    """Buffers of one group of rows, allocated once per kernel call."""

    def __init__(self, n_rows: int, n_values: int, bins: int, dtype: np.dtype) -> None:
        shape = (n_rows, n_values)
        self.scaled = np.empty(shape, dtype)
        self.frac = np.empty(shape, dtype)
        self.index = np.empty(shape, np.int32 if LANES * n_rows * bins < 2**31 else np.int64)
        # the candidate flags, padded to whole 8-byte words (read 8 at a time, see _flagged)
        size = n_rows * n_values
        self.flags = np.zeros(-(-size // 8) * 8, bool)
        self.other = np.empty(shape, bool)
        lane = (np.arange(n_values) % LANES) * (n_rows * bins)
        self.offset = ((np.arange(n_rows) * bins)[:, None] + lane[None, :]).astype(self.index.dtype)

    def views(self, n_rows: int) -> tuple[np.ndarray, ...]:
        n_values = self.scaled.shape[1]
        candidate = self.flags[:n_rows * n_values].reshape(n_rows, n_values)
        return (self.scaled[:n_rows], self.frac[:n_rows], self.index[:n_rows],
                candidate, self.other[:n_rows])


def _flagged(flags: np.ndarray, size: int) -> np.ndarray:
    """``np.flatnonzero(flags[:size])`` for sparse flags: whole zero words are skipped."""
    words = np.flatnonzero(flags[: -(-size // 8) * 8].view(np.uint64))
    if not words.size:
        return words
    positions = (words[:, None] * 8 + np.arange(8)).reshape(-1)
    positions = positions[positions < size]
    return positions[flags[positions]]


def _hist_group(rows: np.ndarray, bins: int, work: _Work) -> np.ndarray:
    dtype = rows.dtype
    n_rows, n_values = rows.shape
    lo, hi = rows.min(axis=1), rows.max(axis=1)
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise input_error(
            "activation",
            "holds NaN or infinite values, so histogram ranges are undefined",
            expected="finite activations",
            fix="mask or fill the non-finite values first",
        )
    same = lo == hi
    lo[same] -= dtype.type(0.5)
    hi[same] += dtype.type(0.5)
    edges = _edges(lo, hi, bins)
    if np.any(edges[:, 1:] <= edges[:, :-1]):
        raise input_error(
            "n_feat",
            f"is {bins}, too many bins for the range of some feature vectors (their "
            f"{np.dtype(dtype).name} bin edges are not all distinct)",
            expected="fewer bins, or feature vectors whose range is wider than rounding error",
            fix="pass a smaller n_feat, or convert the layer to float64 first",
        )
    scaled, frac, index, candidate, other = work.views(n_rows)
    np.subtract(rows, lo[:, None], out=scaled)
    np.divide(scaled, (hi - lo)[:, None], out=scaled)
    np.multiply(scaled, dtype.type(bins), out=scaled)
    np.copyto(index, scaled, casting="unsafe")  # trunc; f >= 0 (f == bins: a candidate below)
    # f is within `tolerance` of the exact position, and the edges of theirs: values farther
    # than that from an integer keep numpy's first guess
    eps = float(np.finfo(dtype).eps)
    lo64, hi64 = lo.astype(np.float64), hi.astype(np.float64)
    scale = np.maximum(np.abs(lo64), np.abs(hi64)) / (hi64 - lo64)
    tolerance = np.maximum(1e-3, 16 * bins * eps * (2 + scale)).astype(dtype)[:, None]
    np.floor(scaled, out=frac)
    np.subtract(scaled, frac, out=frac)
    np.less(frac, tolerance, out=candidate)
    np.greater(frac, 1 - tolerance, out=other)
    candidate |= other
    np.greater(scaled, 0, out=other)  # the row's minimum (f == 0) is always in bin 0
    candidate &= other
    near = _flagged(work.flags, n_rows * n_values)
    if near.size:
        row = near // n_values
        flat = index.reshape(-1)
        values, where = rows.reshape(-1)[near], np.minimum(flat[near], bins - 1)
        where -= values < edges[row, where]
        where += (values >= edges[row, where + 1]) & (where != bins - 1)
        flat[near] = where
    index += work.offset[:n_rows]
    full = len(work.offset)
    counts = np.bincount(index.reshape(-1), minlength=LANES * full * bins)
    return counts.reshape(LANES, full, bins)[:, :n_rows].sum(axis=0)


def hist_kernel(x: np.ndarray, bins: int) -> np.ndarray:
    """Histogram counts of each row, in ``bins`` equal bins over the row's own range.

    Equals ``np.histogram(row, bins)[0]`` for every row (numpy >= 2; see the
    module notes for how), computed in the row's float dtype (integers as
    float64, as numpy does).

    Parameters
    ----------
    x : numpy.ndarray, shape ``(..., U)``
        Rows of values.
    bins : int
        Number of bins.

    Returns
    -------
    numpy.ndarray, int64, shape ``(..., bins)``

    Raises
    ------
    InputError
        For NaN or infinite values, or more bins than a row's range can
        separate (numpy raises ``ValueError`` there too).
    """
    lead = x.shape[:-1]
    if x.size == 0:
        return np.zeros((*lead, bins), dtype=np.int64)
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    rows = x.reshape(-1, x.shape[-1])
    counts = np.empty((len(rows), bins), dtype=np.int64)
    step = max(1, GROUP_VALUES // rows.shape[1])
    work = _Work(min(step, len(rows)), rows.shape[1], bins, rows.dtype)
    for start in range(0, len(rows), step):
        counts[start:start + step] = _hist_group(rows[start:start + step], bins, work)
    return counts.reshape(*lead, bins)
