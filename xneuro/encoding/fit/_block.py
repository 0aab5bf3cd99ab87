"""One voxel block, end to end: mask, grid, closed-form refinement, gradient fit.

:func:`fit_block` works on numpy arrays and is what every path runs: the
in-memory fit (blocks sized to the memory limit), each dask chunk
(``map_units``) and each unit of a resumable Zarr job. A :class:`FitPlan`
holds everything but the data, is checked before any work starts, and
pickles to dask workers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from xneuro.encoding import _engine
from xneuro.encoding.fit._arrays import usable_voxels
from xneuro.encoding.fit._config import GradientConfig, OptimizerSpec
from xneuro.encoding.fit._gradient import gradient_fit_blocks
from xneuro.encoding.fit._grid import GridSpec, search
from xneuro.encoding.fit._predictor import Predictor
from xneuro.encoding.fit._refine import refine

__all__ = ["BlockResult", "FitPlan", "RefineSpec", "fit_block"]

logger = logging.getLogger("xneuro.encoding.fit")


@dataclass(frozen=True)
class RefineSpec:
    """Options of the closed-form amplitude and baseline refinement."""

    n_iterations: int = 1
    positive_amplitude: bool = True
    l2_alpha: float = 1e-3


@dataclass(eq=False)
class FitPlan:
    """Everything a block fit needs except the data.

    Attributes
    ----------
    predictor : Predictor
        Model and paradigm.
    grid : GridSpec or None
        Grid search (None: start from given initial parameters).
    refine : RefineSpec or None
        Closed-form amplitude and baseline after the grid.
    gradient : GradientConfig or None
        The gradient fit (None or 0 iterations: no gradient fit).
    optimizer : OptimizerSpec or None
        Its optimizer.
    confounds : numpy.ndarray or None
        Orthonormal ``(T, k)`` basis of the confounds.
    dtype : {"float32", "float64"}
        Precision.
    memory_limit : int
        Bytes for the grid's score blocks.
    log_dir : pathlib.Path or None
        Folder for the CSV loss curves.
    fixed : tuple of str
        Labels whose values are given per voxel (grid and gradient keep them).
    """

    predictor: Predictor
    grid: GridSpec | None
    refine: RefineSpec | None
    gradient: GradientConfig | None
    optimizer: OptimizerSpec | None
    confounds: np.ndarray | None = None
    dtype: str = "float32"
    memory_limit: int = 666666666
    log_dir: Path | None = None
    fixed: tuple[str, ...] = field(default_factory=tuple)

    @property
    def labels(self) -> tuple[str, ...]:
        """Parameter labels."""
        return self.predictor.labels

    @property
    def gaussian(self) -> bool:
        """Whether a noise variance is estimated."""
        return self.gradient is not None and self.gradient.noise_model == "gaussian"

    @property
    def n_trace(self) -> int:
        """Iterations recorded per voxel (0 unless intermediate parameters are stored)."""
        g = self.gradient
        return g.max_n_iterations if g is not None and g.store_intermediate else 0


@dataclass
class BlockResult:
    """The fit of a block: NaN rows for masked voxels.

    Attributes
    ----------
    theta : numpy.ndarray, shape (V, P)
    r2 : numpy.ndarray, shape (V,)
    sigma2 : numpy.ndarray or None, shape (V,)
    n_iterations : int
    history : numpy.ndarray, shape (n_iterations, 4)
    trace : numpy.ndarray or None, shape (n_iterations, V, P + 1)
    usable : numpy.ndarray of bool, shape (V,)
        Voxels that were fitted (finite, non-constant data and initial values).
    """

    theta: np.ndarray
    r2: np.ndarray
    sigma2: np.ndarray | None
    n_iterations: int
    history: np.ndarray
    trace: np.ndarray | None
    usable: np.ndarray


def _scatter(values: np.ndarray, usable: np.ndarray, axis: int = 0) -> np.ndarray:
    shape = list(values.shape)
    shape[axis] = usable.size
    out = np.full(shape, np.nan)
    index = [slice(None)] * len(shape)
    index[axis] = usable
    out[tuple(index)] = values
    return out


def _r2_of(plan: FitPlan, Y: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """R² of given parameters on (confound-cleaned) voxels ``Y``."""
    predictor = plan.predictor
    prediction = _engine.evaluate_array(predictor.jitted(), predictor.X, theta,
                                        dtype=plan.dtype, per_voxel=predictor.per_voxel())
    resid = Y - prediction
    if plan.confounds is not None:
        resid = resid - plan.confounds @ (plan.confounds.T @ resid)
    centred = Y - Y.mean(axis=0)
    return 1.0 - (resid ** 2).sum(axis=0) / (centred ** 2).sum(axis=0)


def fit_block(plan: FitPlan, Y: np.ndarray, init: np.ndarray | None = None,
              fixed: np.ndarray | None = None, *, progress: bool = False,
              name: str = "fit", threads: int = 1) -> BlockResult:
    """Fit the voxels of ``Y`` (``(T, V)``).

    Parameters
    ----------
    plan : FitPlan
        What to do.
    Y : numpy.ndarray, shape (T, V)
        The data; voxels with NaN or no variance are skipped (NaN results).
    init : numpy.ndarray, shape (V, P), optional
        Initial parameters (skip the grid); rows with NaN are skipped.
    fixed : numpy.ndarray, shape (V, len(plan.fixed)), optional
        Values of the fixed labels.
    progress : bool
        Show a bar over the gradient iterations.
    name : str
        Names the CSV log of this block.
    threads : int
        Cache-sized voxel blocks fitted at a time (the in-memory path uses the
        CPUs; dask tasks use 1, the scheduler runs tasks in parallel).

    Returns
    -------
    BlockResult
    """
    Y = np.asarray(Y, dtype=np.float64)
    n_vox = Y.shape[1]
    labels = plan.labels
    clean = Y if plan.confounds is None else Y - plan.confounds @ (plan.confounds.T @ np.where(
        np.isfinite(Y), Y, 0.0))
    usable = usable_voxels(clean)
    if init is not None:
        init = np.array(init, dtype=np.float64, copy=True)
        usable &= np.isfinite(init).all(axis=1)
    if fixed is not None:
        usable &= np.isfinite(fixed).all(axis=1)
    n_masked = int(n_vox - usable.sum())
    if n_masked:
        logger.warning("%s: %d of %d voxels have NaN, constant data or NaN initial values; "
                       "they are skipped (NaN results)", name, n_masked, n_vox)
    fixed_values = {} if fixed is None else {
        label: fixed[usable, i] for i, label in enumerate(plan.fixed)}
    if not usable.any():
        return BlockResult(theta=np.full((n_vox, len(labels)), np.nan), r2=np.full(n_vox, np.nan),
                           sigma2=np.full(n_vox, np.nan) if plan.gaussian else None,
                           n_iterations=0, history=np.zeros((0, 4)), trace=None, usable=usable)
    Ys = clean[:, usable]
    if init is None:
        theta, r2 = search(plan.grid, plan.predictor, Ys, fixed_values, dtype=plan.dtype,
                           memory_limit=plan.memory_limit)
    else:
        theta, r2 = init[usable], np.full(int(usable.sum()), np.nan)
        for label, values in fixed_values.items():
            theta[:, labels.index(label)] = values
    if plan.refine is not None:
        theta, r2 = refine(plan.predictor, Ys, theta, dtype=plan.dtype,
                           n_iterations=plan.refine.n_iterations,
                           positive_amplitude=plan.refine.positive_amplitude,
                           l2_alpha=plan.refine.l2_alpha)
    g = plan.gradient
    no_gradient = g is None or g.max_n_iterations == 0
    if no_gradient and init is not None and plan.refine is None:
        r2 = _r2_of(plan, Ys, theta)
    result = BlockResult(theta=_scatter(theta, usable), r2=_scatter(r2, usable), sigma2=None,
                         n_iterations=0, history=np.zeros((0, 4)), trace=None, usable=usable)
    if no_gradient:
        return result
    log = None if plan.log_dir is None else Path(plan.log_dir) / f"{name}.csv"
    fitted = gradient_fit_blocks(plan.predictor, Y[:, usable], theta, g, plan.optimizer,
                                 confounds=plan.confounds, dtype=plan.dtype, threads=threads,
                                 progress=progress, log_path=log)
    result.theta = _scatter(fitted.theta, usable)
    result.r2 = _scatter(fitted.r2, usable)
    result.sigma2 = None if fitted.sigma2 is None else _scatter(fitted.sigma2, usable)
    result.n_iterations = fitted.n_iterations
    result.history = fitted.history
    result.trace = None if fitted.trace is None else _scatter(fitted.trace, usable, axis=1)
    return result
