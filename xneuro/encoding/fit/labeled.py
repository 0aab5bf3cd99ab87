"""``fit_parameters`` (twin of ``bold.encode.fit``): grid + gradient fits of every voxel.

The labeled entry point of the parameter fitter. It checks every argument,
builds a :class:`~xneuro.encoding.fit._block.FitPlan` and runs it

- now, for numpy-backed data (in blocks of voxels sized to ``memory_limit``);
- lazily, for dask-backed data: one task per voxel chunk, on the default
  threaded scheduler or a ``distributed`` client, with no change of code;
- unit by unit into a resumable Zarr store with ``store=``: each finished
  voxel chunk is written to its region and recorded; calling the same fit
  again (after a crash, or a killed job) computes the missing chunks only.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import dask.base
import numpy as np
import xarray as xr

from xneuro.core import schema
from xneuro.core.backend import resolve_dtype
from xneuro.core.errors import input_error
from xneuro.core.progress import wants_progress
from xneuro.core.provenance import stamp
from xneuro.encoding.base import EncodingModel
from xneuro.encoding.fit._block import FitPlan, RefineSpec
from xneuro.encoding.fit._config import check_count, gradient_config, optimizer_spec
from xneuro.encoding.fit._gradient import project_out
from xneuro.encoding.fit._grid import make_grid
from xneuro.encoding.fit._inputs import as_confounds, fixed_input, parameter_table
from xneuro.encoding.fit._predictor import Predictor, make_predictor
from xneuro.encoding.fit._ranges import default_ranges
from xneuro.encoding.fit._run import RunInfo, run_dask, run_memory, run_store
from xneuro.encoding.labeled import check_frames, check_model

__all__ = ["fit_parameters"]

logger = logging.getLogger("xneuro.encoding.fit")

FUNCTION = "xneuro.encoding.fit_parameters"


def prepare_data(data: Any, model: EncodingModel, paradigm: Any
                 ) -> tuple[xr.DataArray, xr.DataArray]:
    """The data as ``(time, voxel)`` (time in one chunk) and the paradigm, checked together."""
    check_model(model)
    bold = schema.as_timeseries(data, argument="data")
    if bold.dtype.kind not in "fiu":
        raise input_error("data", f"has dtype {bold.dtype}", expected="real numbers")
    par = model._get_paradigm(paradigm).value
    check_frames(bold, par)
    if bold.chunks is not None and len(bold.chunksizes["time"]) > 1:
        logger.debug("data: time rechunked into one chunk (voxel chunks kept)")
        bold = bold.chunk({"time": -1})
    return bold, par


def check_memory_limit(memory_limit: Any) -> int:
    """``memory_limit`` as a positive number of bytes."""
    return check_count("memory_limit", memory_limit, 1)


def check_log_dir(log_dir: Any) -> Path | None:
    """``log_dir`` as a folder (False or None: no log)."""
    if log_dir is None or log_dir is False:
        return None
    if not isinstance(log_dir, str | os.PathLike):
        raise input_error("log_dir", f"is {log_dir!r}",
                          expected="a folder path for the CSV loss curves, or False")
    return Path(log_dir)


def grid_plan(predictor: Predictor, grid: Any, fixed_names: tuple[str, ...], *,
              use_correlation_cost: bool, positive_amplitude: bool) -> Any:
    """The grid of a fit: the given ranges (a dict by name), else the model's default grid."""
    if grid is None:  # 1-D defaults read the stimulus values (2-D ones the pixel grid)
        ranges = default_ranges(predictor.model, predictor.X)
    elif isinstance(grid, dict):
        ranges = grid
    else:
        raise input_error("grid", f"is a {type(grid).__name__}",
                          expected="a dict {label: grid values}", fix="pass grid={'sd': [...]}")
    ranges = {k: v for k, v in ranges.items() if k not in fixed_names}
    return make_grid(predictor, (ranges,), {}, fixed=fixed_names,
                     use_correlation_cost=use_correlation_cost,
                     positive_amplitude=positive_amplitude)


def execute(plan: FitPlan, bold: xr.DataArray, init: xr.DataArray | None,
            fixed: xr.DataArray | None, *, store: Any, unit_size: Any, fresh: bool,
            progress: bool | None, settings: dict[str, Any]) -> tuple[xr.Dataset, RunInfo]:
    """Run ``plan`` in memory, lazily, or into a store; stamp the result with provenance."""
    shared = plan.gradient is not None and bool(plan.gradient.shared)
    n_vox = bold.sizes["voxel"]
    info = RunInfo()
    if unit_size is not None:
        unit_size = check_count("unit_size", unit_size, 1)
    if store is not None:
        result = run_store(plan, bold, init, fixed, path=store,
                           unit_size=n_vox if shared else unit_size, fresh=fresh,
                           progress=progress, settings=settings, function=FUNCTION)
        return result, info
    if bold.chunks is not None:
        if shared or unit_size is not None:
            bold = bold.chunk({"voxel": n_vox if shared else unit_size})
        result = run_dask(plan, bold, init, fixed)
    else:
        result, info = run_memory(plan, bold, init, fixed, progress=wants_progress(progress),
                                  block_size=n_vox if shared else unit_size)
        result.attrs["n_iterations"] = info.n_iterations
        result.attrs["n_masked"] = info.n_masked
    return stamp(result, FUNCTION, settings), info


def _data_token(bold: xr.DataArray) -> str:
    return dask.base.tokenize(bold.data if bold.chunks is not None else np.asarray(bold.values))


def fit_parameters(data: Any, model: EncodingModel, paradigm: Any = None, *, grid: Any = None,
                   init_pars: Any = None, fixed_pars: Any = None, shared_pars: Any = None,
                   confounds: Any = None, use_correlation_cost: bool = True,
                   positive_amplitude: bool = True, refine: bool = True,
                   max_n_iterations: int = 1000, min_n_iterations: int = 100,
                   r2_atol: float = 1e-6, lag: int = 100, early_stopping: str = "voxel",
                   learning_rate: float = 0.01, optimizer: Any = None,
                   adam_kwargs: dict[str, Any] | None = None, noise_model: str = "ssq",
                   store_intermediate_parameters: bool = False,
                   memory_limit: int = 666666666, log_dir: Any = None, store: Any = None,
                   unit_size: int | None = None, fresh: bool = False, dtype: str | None = None,
                   progress: bool | None = None) -> xr.Dataset:
    """Fit a model's parameters to every voxel: grid search, closed-form refinement, gradient.

    Parameters
    ----------
    data : DataArray, DataFrame or array
        ``(time, voxel)`` BOLD; dask-backed data gives a lazy result (one
        task per voxel chunk; ``time`` is put in one chunk).
    model : EncodingModel
        E.g. ``GaussianPRF2D(hrf_model=SPMHRFModel(tr=1.5))``.
    paradigm : array-like, DataFrame or DataArray, optional
        The stimulus per frame (the model's when None); its frames must
        match the data's.
    grid : dict, optional
        Grid values per label (``{"x": ..., "y": ..., "sd": ...}``); labels
        left out take defaults (amplitude and baseline: closed form; HRF
        parameters: the HRF's defaults). None: the model's default grid
        (see :func:`~xneuro.encoding.fit._ranges.default_ranges`).
    init_pars : DataFrame, Dataset, dict or array, optional
        Start the gradient fit here instead of at the grid's result (a
        former fit's Dataset works: ``r2`` and ``sigma2`` are ignored).
        Voxels with NaN values are skipped.
    fixed_pars : list of str, or values, optional
        Names: held at their initial values. Values (``{name: scalar or
        per-voxel array}``, a DataFrame or Dataset): used in the grid and held.
    shared_pars : list of str, optional
        Parameters tied to one value across all voxels (fitted). The voxels
        are then fitted together, in one block.
    confounds : (time, k) array, DataFrame or DataArray, optional
        Regressed out of the residuals at every iteration (and out of the
        data before the grid).
    use_correlation_cost, positive_amplitude : bool
        The grid's score (see :meth:`ParameterFitter.fit_grid`).
    refine : bool
        Refit amplitude and baseline in closed form after the grid.
    max_n_iterations, min_n_iterations, r2_atol, lag : int, int, float, int
        Gradient iterations and early stopping: after ``min_n_iterations``,
        a voxel stops when its best R² improved by less than ``r2_atol``
        over the last ``lag`` iterations. 0 iterations: grid only.
    early_stopping : {"voxel", "mean"}
        ``"voxel"`` (default): each voxel stops on its own (results do not
        depend on chunking). ``"mean"``: braincoder's rule on the mean best R²
        of a block (forced with shared parameters).
    learning_rate : float
        Adam's learning rate.
    optimizer : optax.GradientTransformation, optional
        Any optax optimizer instead of Adam.
    adam_kwargs : dict, optional
        Further ``optax.adam`` keywords (``b1``, ``b2``, ``eps``, ...).
    noise_model : {"ssq", "gaussian"}
        Sum of squared residuals, or a per-voxel Gaussian likelihood with a
        fitted variance (returned as ``sigma2``).
    store_intermediate_parameters : bool
        Add ``<label>_history`` and ``r2_history`` over ``(iteration, voxel)``.
    memory_limit : int
        Bytes for the grid's score blocks and for an in-memory block of voxels.
    log_dir : path, optional
        Write each block's loss and R² curve there as CSV.
    store : path, optional
        A Zarr store to fit into, resumably (see the module notes).
    unit_size : int, optional
        Voxels per unit of work (default: the data's voxel chunks).
    fresh : bool
        Discard an existing ``store`` and start over.
    dtype : {"float32", "float64"}, optional
        Precision (default: the ``dtype`` option).
    progress : bool, optional
        Show progress (iterations in memory, units with a store).

    Returns
    -------
    xarray.Dataset
        Over ``voxel`` (with the data's voxel coords): one variable per
        parameter, ``r2`` and ``sigma2`` (Gaussian noise model); NaN for
        skipped voxels; provenance attrs. Lazy for dask data; reopened from
        the store with ``store=``. ``.to_pandas()`` gives braincoder's layout.
        An in-memory fit also records ``attrs["n_iterations"]`` (gradient
        steps taken) and ``attrs["n_masked"]`` (voxels skipped); lazy and
        stored fits run one schedule per unit and do not (count skipped
        voxels there with ``result.r2.isnull().sum()``).

    Raises
    ------
    InputError
        For any bad argument, before any work.

    Examples
    --------
    >>> fit = xneuro.encoding.fit_parameters(bold, GaussianPRF2D(), paradigm=stim)  # doctest: +SKIP
    >>> fit = bold.encode.fit(model, paradigm=stim, store="prf.zarr")  # doctest: +SKIP
    """
    bold, par = prepare_data(data, model, paradigm)
    memory_limit = check_memory_limit(memory_limit)
    dtype = resolve_dtype(dtype)
    for name, value in (("refine", refine), ("fresh", fresh)):
        if not isinstance(value, bool | np.bool_):
            raise input_error(name, f"is {value!r}", expected="True or False")
    predictor = make_predictor(model, par)
    fixed_names, fixed_values = fixed_input(model, fixed_pars, bold)
    labels = predictor.labels
    config = gradient_config(labels, max_n_iterations=max_n_iterations,
                             min_n_iterations=min_n_iterations, lag=lag, r2_atol=r2_atol,
                             fixed_pars=list(fixed_names), shared_pars=shared_pars,
                             noise_model=noise_model, early_stopping=early_stopping,
                             store_intermediate_parameters=store_intermediate_parameters)
    opt = optimizer_spec(optimizer, learning_rate, dict(adam_kwargs or {}))
    Q = project_out(as_confounds(confounds, bold.sizes["time"]))
    value_names = fixed_names if fixed_values is not None else ()
    init = grid_spec = refine_spec = None
    if init_pars is not None:
        if grid is not None:
            raise input_error("grid, init_pars", "were both given",
                              expected="a grid to search, or initial parameters",
                              fix="drop one of them")
        init = parameter_table(model, init_pars, bold)
    else:
        grid_spec = grid_plan(predictor, grid, value_names,
                              use_correlation_cost=use_correlation_cost,
                              positive_amplitude=positive_amplitude)
        if refine and grid_spec.mode != "ssq" and model.amplitude_label in labels and \
                model.baseline_label in labels:
            refine_spec = RefineSpec(positive_amplitude=bool(positive_amplitude))
    plan = FitPlan(predictor=predictor, grid=grid_spec, refine=refine_spec, gradient=config,
                   optimizer=opt, confounds=Q, dtype=dtype, memory_limit=memory_limit,
                   log_dir=check_log_dir(log_dir), fixed=value_names)
    settings = {
        "model": type(model).__name__, "model_token": predictor.token,
        "parameter_labels": list(labels), "data": _data_token(bold),
        "grid": None if grid_spec is None else {"mode": grid_spec.mode,
                                                "points": grid_spec.n_points,
                                                "table": dask.base.tokenize(grid_spec.table)},
        "init_pars": None if init is None else dask.base.tokenize(init.data),
        "fixed_pars": list(fixed_names), "fixed_values": None if fixed_values is None
        else dask.base.tokenize(fixed_values.data),
        "shared_pars": [labels[i] for i in config.shared], "refine": refine_spec is not None,
        "positive_amplitude": bool(positive_amplitude), "max_n_iterations": config.max_n_iterations,
        "min_n_iterations": config.min_n_iterations, "lag": config.lag,
        "r2_atol": config.r2_atol, "early_stopping": config.stopping,
        "noise_model": config.noise_model, "optimizer": opt.description,
        "confounds": None if Q is None else int(Q.shape[1]), "dtype": dtype,
        "store_intermediate_parameters": config.store_intermediate,
    }
    result, _ = execute(plan, bold, init, fixed_values, store=store, unit_size=unit_size,
                        fresh=fresh, progress=progress, settings=settings)
    return result
