"""Grid search kernels: predict every grid point once, score all voxels by matrix products.

The grid's predictions ``U`` (``(G, T)``) are computed once per process (and
cached); a voxel block ``Y`` (``(T, V)``) is scored against them in chunks of
grid rows, each chunk one ``(G_chunk, T) @ (T, V)`` product, so memory stays
under ``memory_limit`` bytes whatever the grid or the block size.

Scores (higher is better), per grid point ``u`` and voxel ``y``:

- ``"affine"`` (correlation cost on a model whose amplitude and baseline act
  as ``a * u + b``): Pearson ``r`` (or ``r²`` when amplitude may be
  negative); then ``a`` and ``b`` per voxel in closed form. A fixed amplitude
  and/or baseline turns the score into the (negated) residual sum of squares
  with the other one solved in closed form.
- ``"correlation"`` (models without affine amplitude and baseline): ``r`` or
  ``r²`` of the full prediction; the grid values are returned.
- ``"ssq"``: minus the residual sum of squares ``|y|² - 2 u.y + |u|²`` of the
  full prediction (braincoder's default cost).

Fixed parameters with per-voxel values split the voxels into groups of equal
values, each searched over its own grid (one group when values are shared).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from xneuro.core.errors import input_error
from xneuro.encoding import _engine
from xneuro.encoding.fit._arrays import LRUCache, pad_rows, padded_size
from xneuro.encoding.fit._predictor import Predictor
from xneuro.encoding.fit._ranges import collect_ranges

__all__ = ["GridSpec", "grid_predictions", "make_grid", "search"]

logger = logging.getLogger("xneuro.encoding.fit")

#: Smallest positive amplitude given by the closed form (braincoder's 1e-4).
AMPLITUDE_FLOOR = 1e-4
_PREDICTIONS = LRUCache(4)


@dataclass(eq=False)
class GridSpec:
    """A grid and how to score it (picklable; sent to dask workers).

    Attributes
    ----------
    labels : tuple of str
        The model's parameter labels (columns of ``table``).
    table : numpy.ndarray, shape (G, P)
        The grid points; columns of fixed labels are filled per voxel group,
        amplitude and baseline are 1 and 0 in ``"affine"`` mode.
    mode : {"affine", "correlation", "ssq"}
        The score (see the module notes).
    positive : bool
        Constrain the amplitude to be positive.
    fixed : tuple of str
        Labels with given per-voxel values.
    amplitude, baseline : int or None
        Columns solved in closed form (``"affine"`` mode).
    amplitude_floor : float or None
        Lower limit of a closed-form amplitude.
    chunk_rows : int or None
        Grid points scored per block (None: as many as the memory limit allows).
    """

    labels: tuple[str, ...]
    table: np.ndarray
    mode: str
    positive: bool
    fixed: tuple[str, ...]
    amplitude: int | None
    baseline: int | None
    amplitude_floor: float | None
    chunk_rows: int | None = None

    @property
    def n_points(self) -> int:
        """Grid points (per group of fixed values)."""
        return int(self.table.shape[0])


def make_grid(predictor: Predictor, ranges: tuple[Any, ...], named: Mapping[str, Any], *,
              fixed: tuple[str, ...] = (), use_correlation_cost: bool = False,
              positive_amplitude: bool = True) -> GridSpec:
    """Check the ranges and build the grid of ``predictor``'s model.

    Parameters
    ----------
    predictor : Predictor
        The model and paradigm.
    ranges, named : tuple and mapping
        Ranges positionally (one per label, or one dict) and by keyword.
    fixed : tuple of str
        Labels whose values are given per voxel (not searched).
    use_correlation_cost : bool
        Score by correlation (closed-form amplitude and baseline where the
        model allows) instead of the residual sum of squares.
    positive_amplitude : bool
        Keep amplitudes positive (correlation: maximise ``r`` rather than ``r²``).
    """
    for name, value in (("use_correlation_cost", use_correlation_cost),
                        ("positive_amplitude", positive_amplitude)):
        if not isinstance(value, bool | np.bool_):
            raise input_error(name, f"is {value!r}", expected="True or False")
    model = predictor.model
    labels = predictor.labels
    amp, base = model.amplitude_label, model.baseline_label
    affine = bool(use_correlation_cost) and amp in labels and base in labels
    not_needed = set(fixed) | ({amp, base} if affine else set())
    values = collect_ranges(model, ranges, named, not_needed=not_needed)
    columns = [values.get(label, np.array([np.nan])) for label in labels]
    table = np.array(list(itertools.product(*columns)), dtype=np.float64)
    if affine:
        table[:, labels.index(amp)] = 1.0
        table[:, labels.index(base)] = 0.0
    floor = None
    if affine and (positive_amplitude or model.bounds[amp][0] >= 0):
        floor = max(AMPLITUDE_FLOOR, model.bounds[amp][0])
    mode = "affine" if affine else ("correlation" if use_correlation_cost else "ssq")
    logger.info("grid of %d points over %s (%s cost)", len(table),
                [label for label in labels if label in values and len(values[label]) > 1], mode)
    return GridSpec(labels=labels, table=table, mode=mode, positive=bool(positive_amplitude),
                    fixed=tuple(fixed), amplitude=labels.index(amp) if affine else None,
                    baseline=labels.index(base) if affine else None, amplitude_floor=floor)


def grid_predictions(predictor: Predictor, table: np.ndarray, *, dtype: str,
                     memory_limit: int) -> np.ndarray:
    """``(G, T)`` predictions of every grid point, computed once per process and cached."""
    n_bytes = table.shape[0] * predictor.n_time * np.dtype(dtype).itemsize
    if n_bytes > memory_limit:
        raise input_error(
            "grid", f"has {table.shape[0]} points, whose predictions take {n_bytes:,} bytes, "
            f"more than memory_limit ({memory_limit:,} bytes)",
            expected="a grid whose predictions fit in memory_limit",
            fix="use fewer grid values, or raise memory_limit")
    digest = hashlib.blake2b(np.ascontiguousarray(table).tobytes(), digest_size=8).hexdigest()

    def make() -> np.ndarray:
        out = _engine.evaluate_array(predictor.jitted(), predictor.X, table,
                                     dtype=dtype, per_voxel=predictor.per_voxel())
        return np.ascontiguousarray(out.T)

    return _PREDICTIONS.get((predictor.token, digest, dtype), make)


@functools.partial(jax.jit, static_argnames=("case", "positive"))
def _chunk_best(U: Any, rows: Any, D: Any, a: Any, b: Any, case: str, positive: bool) -> Any:
    """Best score and row per voxel in one chunk of grid rows (see the module notes)."""
    if case in ("corr", "afix"):
        uc = U - U.mean(axis=1, keepdims=True)
        norm2 = jnp.sum(uc * uc, axis=1, keepdims=True)
        if case == "corr":  # D: centred data with unit norm per voxel
            r = (uc / jnp.sqrt(jnp.where(norm2 > 0, norm2, 1.0))) @ D
            score = jnp.where(norm2 > 0, r if positive else r * r, -1.0 if positive else 0.0)
        else:  # D: centred data; a fixed amplitude, free baseline
            score = 2.0 * a * (uc @ D) - a * a * norm2
    else:
        uy = U @ D  # D: the data
        uu = jnp.sum(U * U, axis=1, keepdims=True)
        if case == "ssq":
            score = 2.0 * uy - uu
        else:
            w = uy - b * jnp.sum(U, axis=1, keepdims=True)
            if case == "bfix":  # fixed baseline, free amplitude
                w = jnp.maximum(w, 0.0) if positive else w
                score = jnp.where(uu > 0, w * w / jnp.where(uu > 0, uu, 1.0), 0.0)
            else:  # both fixed
                score = 2.0 * a * w - a * a * uu
    score = jnp.where(rows[:, None] & jnp.isfinite(score), score, -jnp.inf)
    return score.max(axis=0), score.argmax(axis=0)


def _best_rows(U: np.ndarray, D: np.ndarray, a: np.ndarray, b: np.ndarray, case: str,
               positive: bool, dtype: str, memory_limit: int,
               chunk_rows: int | None = None) -> np.ndarray:
    """Row of ``U`` with the best score per column of ``D``, in memory-bounded chunks."""
    n_rows, n_vox = U.shape[0], D.shape[1]
    size = padded_size(n_vox)
    per_row = np.dtype(dtype).itemsize * (3 * size + 2 * U.shape[1])
    chunk = int(min(padded_size(n_rows), chunk_rows or max(1, memory_limit // per_row)))
    D = pad_rows(D.T, size).T.astype(dtype)
    a, b = (pad_rows(np.asarray(v, dtype)[:, None], size)[:, 0][None, :] for v in (a, b))
    best = np.full(size, -np.inf)
    where = np.zeros(size, dtype=np.int64)
    with _engine.precision(dtype):
        for start in range(0, n_rows, chunk):
            block = U[start:start + chunk].astype(dtype)
            rows = np.arange(chunk) < block.shape[0]
            score, row = _chunk_best(pad_rows(block, chunk), rows, D, a, b, case=case,
                                     positive=positive)
            score, row = np.asarray(score, dtype=np.float64), np.asarray(row)
            better = score > best
            best[better] = score[better]
            where[better] = row[better] + start
    return where[:n_vox]


def _case(spec: GridSpec, has_a: bool, has_b: bool) -> str:
    if spec.mode == "ssq":
        return "ssq"
    if spec.mode == "correlation" or not (has_a or has_b):
        return "corr"
    return {(True, False): "afix", (False, True): "bfix", (True, True): "abfix"}[(has_a, has_b)]


def _score_group(spec: GridSpec, U: np.ndarray, table: np.ndarray, Y: np.ndarray,
                 a_fix: np.ndarray | None, b_fix: np.ndarray | None, dtype: str,
                 memory_limit: int) -> tuple[np.ndarray, np.ndarray]:
    """Parameters ``(V, P)`` and R² of the voxels ``Y`` (``(T, V)``) over one grid."""
    n_vox = Y.shape[1]
    case = _case(spec, a_fix is not None, b_fix is not None)
    mean = Y.mean(axis=0)
    centred = Y - mean
    if case == "corr":
        D = centred / np.sqrt((centred * centred).sum(axis=0))
    else:
        D = centred if case == "afix" else Y
    a = a_fix if a_fix is not None else np.zeros(n_vox)
    b = b_fix if b_fix is not None else np.zeros(n_vox)
    best = _best_rows(U, D, a, b, case, spec.positive, dtype, memory_limit, spec.chunk_rows)
    theta = table[best].copy()
    u = U[best].astype(np.float64)  # (V, T)
    if spec.mode == "affine":
        a, b = _closed_form(spec, u, Y, a_fix, b_fix)
        theta[:, spec.amplitude] = a
        theta[:, spec.baseline] = b
        prediction = a[:, None] * u + b[:, None]
    else:
        prediction = u
    ssr = ((Y.T - prediction) ** 2).sum(axis=1)
    r2 = 1.0 - ssr / (centred * centred).sum(axis=0)
    return theta, r2


def _closed_form(spec: GridSpec, u: np.ndarray, Y: np.ndarray, a_fix: np.ndarray | None,
                 b_fix: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Amplitude and baseline per voxel for unit predictions ``u`` (``(V, T)``)."""
    y = Y.T
    floor = spec.amplitude_floor
    if b_fix is None:
        u_mean, y_mean = u.mean(axis=1), y.mean(axis=1)
        if a_fix is None:
            uc = u - u_mean[:, None]
            uu = (uc * uc).sum(axis=1)
            a = np.where(uu > 0, (uc * (y - y_mean[:, None])).sum(axis=1) / np.where(
                uu > 0, uu, 1.0), 0.0)
            a = a if floor is None else np.maximum(a, floor)
        else:
            a = a_fix
        return a, y_mean - a * u_mean
    if a_fix is None:
        uu = (u * u).sum(axis=1)
        w = (u * y).sum(axis=1) - b_fix * u.sum(axis=1)
        a = np.where(uu > 0, w / np.where(uu > 0, uu, 1.0), 0.0)
        a = a if floor is None else np.maximum(a, floor)
        return a, b_fix
    return a_fix, b_fix


def search(spec: GridSpec, predictor: Predictor, Y: np.ndarray,
           fixed_values: Mapping[str, np.ndarray] | None = None, *, dtype: str,
           memory_limit: int) -> tuple[np.ndarray, np.ndarray]:
    """Best grid point per voxel.

    Parameters
    ----------
    spec : GridSpec
        The grid.
    predictor : Predictor
        Model and paradigm.
    Y : numpy.ndarray, shape (T, V)
        Voxels with finite values and non-zero variance.
    fixed_values : mapping, optional
        ``{label: (V,) values}`` for every label of ``spec.fixed``.
    dtype : {"float32", "float64"}
        Precision of the predictions and scores.
    memory_limit : int
        Bytes for the score blocks (and the grid's predictions).

    Returns
    -------
    theta : numpy.ndarray, shape (V, P)
        float64 parameters in label order.
    r2 : numpy.ndarray, shape (V,)
    """
    Y = np.asarray(Y, dtype=np.float64)
    n_vox = Y.shape[1]
    fixed_values = dict(fixed_values or {})
    closed = {spec.amplitude, spec.baseline} - {None}
    a_fix = b_fix = None
    group_labels = []
    for label in spec.fixed:
        column = spec.labels.index(label)
        if column == spec.amplitude:
            a_fix = np.asarray(fixed_values[label], dtype=np.float64)
        elif column == spec.baseline:
            b_fix = np.asarray(fixed_values[label], dtype=np.float64)
        elif column not in closed:
            group_labels.append(label)
    theta = np.empty((n_vox, len(spec.labels)))
    r2 = np.empty(n_vox)
    if group_labels:
        rows = np.column_stack([np.asarray(fixed_values[k], dtype=np.float64)
                                for k in group_labels])
        values, inverse = np.unique(rows, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
    else:
        values, inverse = np.empty((1, 0)), np.zeros(n_vox, dtype=np.int64)
    if len(values) > 16:
        logger.info("fixed values form %d groups of voxels; each is searched over its own "
                    "grid", len(values))
    columns = [spec.labels.index(k) for k in group_labels]
    for g, group in enumerate(values):
        members = np.flatnonzero(inverse == g)
        table = spec.table.copy()
        table[:, columns] = group
        U = grid_predictions(predictor, table, dtype=dtype, memory_limit=memory_limit)
        theta[members], r2[members] = _score_group(
            spec, U, table, Y[:, members], None if a_fix is None else a_fix[members],
            None if b_fix is None else b_fix[members], dtype, memory_limit)
    for label in spec.fixed:  # closed-form columns that were given keep their values
        column = spec.labels.index(label)
        theta[:, column] = np.asarray(fixed_values[label], dtype=np.float64)
    return theta, r2
