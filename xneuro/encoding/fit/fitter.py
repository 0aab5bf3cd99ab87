"""braincoder's ``ParameterFitter``: grid search, closed-form refinement and gradient fits.

The same signatures as braincoder, on the kernels of :func:`fit_parameters`:
pandas (or numpy) data give pandas results in braincoder's layout (index =
the data's columns, columns = the model's labels), xarray data give Datasets
over ``voxel`` (lazy for dask-backed data). Differences from braincoder:
unknown keyword arguments raise instead of being dropped; ``fixed_pars`` works
in the grid; ``noise_model``, ``confounds`` in the loss, ``optimizer=`` and
``log_dir`` (CSV) work; the default early stopping is per voxel (see
``early_stopping``).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from xneuro.core import schema
from xneuro.core.backend import resolve_dtype
from xneuro.core.errors import input_error
from xneuro.encoding import _io
from xneuro.encoding.base import EncodingModel
from xneuro.encoding.fit._block import FitPlan, RefineSpec
from xneuro.encoding.fit._config import check_count, check_float, gradient_config, optimizer_spec
from xneuro.encoding.fit._gradient import HISTORY_COLUMNS, project_out
from xneuro.encoding.fit._grid import make_grid
from xneuro.encoding.fit._inputs import as_confounds, fixed_input, parameter_table
from xneuro.encoding.fit._predictor import make_predictor
from xneuro.encoding.fit._run import RunInfo
from xneuro.encoding.fit.labeled import (
    check_log_dir,
    check_memory_limit,
    execute,
    prepare_data,
)

__all__ = ["ParameterFitter"]

logger = logging.getLogger("xneuro.encoding.fit")


class ParameterFitter:
    """Iterative per-voxel parameter estimation (braincoder's ``ParameterFitter``).

    Parameters
    ----------
    model : EncodingModel
        The model whose parameters are fitted.
    data : DataFrame, DataArray or array
        ``(time, voxel)`` data: pandas (index time, columns voxels), xarray
        (dask-backed: lazy results), or numpy.
    paradigm : array-like, DataFrame or DataArray, optional
        The stimulus per frame (the model's when None).
    memory_limit : int, default 666666666
        Bytes for the grid search's score blocks (and in-memory voxel blocks).
    log_dir : path or False, default False
        Folder for CSV loss and R² curves of :meth:`fit` (False: none).

    Attributes
    ----------
    r2 : Series or DataArray
        R² per voxel of the latest result.
    estimated_parameters : DataFrame or Dataset
        The result of the latest :meth:`fit`.
    estimated_sigma2 : Series or DataArray
        Per-voxel noise variance after ``fit(noise_model="gaussian")``.
    intermediate_parameters : DataFrame or Dataset
        After ``fit(store_intermediate_parameters=True)``: every iteration's
        parameters and R² (pandas: index ``(iteration, voxel)``).
    n_iterations : int
        Iterations the latest :meth:`fit` ran (numpy and pandas data).
    history : DataFrame
        Loss, mean R², mean best R² and active voxels per iteration (of the
        first voxel block; numpy and pandas data).

    Examples
    --------
    >>> fitter = ParameterFitter(model, data, paradigm)  # doctest: +SKIP
    >>> grid = fitter.fit_grid(mus, sds, [1.0], [0.0], use_correlation_cost=True)  # doctest: +SKIP
    >>> grid = fitter.refine_baseline_and_amplitude(grid)  # doctest: +SKIP
    >>> pars = fitter.fit(init_pars=grid, max_n_iterations=1000)  # doctest: +SKIP
    """

    def __init__(self, model: EncodingModel, data: Any, paradigm: Any = None,
                 memory_limit: int = 666666666, log_dir: Any = False) -> None:
        self._bold, par = prepare_data(data, model, paradigm)
        self.model = model
        self.data = data
        self.paradigm = paradigm
        self.memory_limit = check_memory_limit(memory_limit)
        self.log_dir = check_log_dir(log_dir)
        self._kind = _io.kind_of(data)
        self._columns = data.columns if isinstance(data, pd.DataFrame) else None
        self._predictor = make_predictor(model, par)
        self._start: xr.Dataset | None = None
        self.r2: Any = None
        self.estimated_parameters: Any = None
        self.estimated_sigma2: Any = None
        self.intermediate_parameters: Any = None
        self.n_iterations: int | None = None
        self.history: pd.DataFrame | None = None

    # ---------------------------------------------------------------- output
    def _output(self, ds: xr.Dataset, names: list[str]) -> Any:
        if self._kind == "xarray":
            return ds[names]
        frame = schema.to_pandas(ds[names])
        if self._columns is not None:
            frame.index = self._columns
        return frame

    def _series(self, da: xr.DataArray) -> Any:
        if self._kind == "xarray":
            return da
        series = schema.to_pandas(da)
        if self._columns is not None:
            series.index = self._columns
        return series

    def _finish(self, ds: xr.Dataset, info: RunInfo) -> Any:
        labels = list(self.model.parameter_labels)
        self._start = ds[labels]
        self.r2 = self._series(ds["r2"])
        return self._output(ds, labels + (["r2"] if self._kind == "xarray" else []))

    def _run(self, plan: FitPlan, init: xr.DataArray | None, fixed: xr.DataArray | None,
             progress: bool, settings: dict[str, Any]) -> tuple[xr.Dataset, RunInfo]:
        return execute(plan, self._bold, init, fixed, store=None, unit_size=None, fresh=False,
                       progress=progress, settings=settings)

    # ------------------------------------------------------------------ grid
    def fit_grid(self, *ranges: Any, fixed_pars: Any = None, use_correlation_cost: bool = False,
                 positive_amplitude: bool = True, chunk_size: int | None = None,
                 **kwargs: Any) -> Any:
        """Best grid point per voxel.

        Parameters
        ----------
        *ranges : array-like, or one dict
            One range per parameter label, in label order (braincoder), or a
            dict ``{label: values}``. Ranges may also be keywords
            (``fit_grid(x=..., sd=...)``). Amplitude, baseline and HRF
            parameters may be left out (1, 0 and the HRF's defaults).
        fixed_pars : mapping, DataFrame or Dataset, optional
            Values of parameters that are not searched: scalars, or one per voxel.
        use_correlation_cost : bool, default False
            Score by Pearson correlation, with amplitude and baseline per
            voxel in closed form (for models where they act as ``a * u + b``);
            otherwise by the residual sum of squares of the full prediction.
        positive_amplitude : bool, default True
            Correlation cost: maximise ``r`` (positive amplitudes), else ``r²``.
        chunk_size : int, optional
            Grid points scored per block (default: as many as ``memory_limit`` allows).
        **kwargs
            Ranges by label; any other keyword raises.

        Returns
        -------
        DataFrame or Dataset
            Parameters per voxel (a Dataset also holds ``r2``); ``self.r2`` is set.
        """
        predictor = self._predictor
        fixed_names, fixed_values = fixed_input(self.model, fixed_pars, self._bold)
        if fixed_pars is not None and fixed_values is None:
            raise input_error("fixed_pars", f"is {fixed_pars!r}",
                              expected="values: a dict {name: value or per-voxel values}, a "
                              "DataFrame or a Dataset", fix="pass fixed_pars={'sd': 1.0}")
        spec = make_grid(predictor, ranges, kwargs, fixed=fixed_names,
                         use_correlation_cost=use_correlation_cost,
                         positive_amplitude=positive_amplitude)
        if chunk_size is not None:
            spec = dataclasses.replace(spec, chunk_rows=check_count("chunk_size", chunk_size, 1))
        plan = FitPlan(predictor=predictor, grid=spec, refine=None, gradient=None,
                       optimizer=None, dtype=resolve_dtype(None), memory_limit=self.memory_limit,
                       fixed=fixed_names)
        settings = {"stage": "fit_grid", "mode": spec.mode, "points": spec.n_points,
                    "positive_amplitude": bool(positive_amplitude)}
        ds, info = self._run(plan, None, fixed_values, False, settings)
        return self._finish(ds, info)

    def refine_baseline_and_amplitude(self, parameters: Any, n_iterations: int = 1,
                                      positive_amplitude: bool = True,
                                      l2_alpha: float = 1e-3) -> Any:
        """Refit amplitude and baseline per voxel by least squares, where R² improves.

        Parameters
        ----------
        parameters : DataFrame, Dataset, dict or array
            Parameters per voxel (e.g. from :meth:`fit_grid`).
        n_iterations : int, default 1
            Rounds of the solve (one is exact here).
        positive_amplitude : bool, default True
            Clip amplitudes at 1e-4.
        l2_alpha : float, default 1e-3
            Ridge penalty on baseline and amplitude.

        Returns
        -------
        DataFrame or Dataset
            The parameters, amplitude and baseline refitted where R² improved.
        """
        refine = RefineSpec(n_iterations=check_count("n_iterations", n_iterations, 1),
                            positive_amplitude=bool(positive_amplitude),
                            l2_alpha=check_float("l2_alpha", l2_alpha))
        init = parameter_table(self.model, parameters, self._bold, "parameters")
        plan = FitPlan(predictor=self._predictor, grid=None, refine=refine, gradient=None,
                       optimizer=None, dtype=resolve_dtype(None), memory_limit=self.memory_limit)
        settings = {"stage": "refine_baseline_and_amplitude", "l2_alpha": refine.l2_alpha}
        ds, info = self._run(plan, init, None, False, settings)
        return self._finish(ds, info)

    # ------------------------------------------------------------- gradient
    def fit(self, max_n_iterations: int = 1000, min_n_iterations: int = 100,
            init_pars: Any = None, confounds: Any = None, optimizer: Any = None,
            fixed_pars: Any = None, shared_pars: Any = None, noise_model: str = "ssq",
            store_intermediate_parameters: bool = False, r2_atol: float = 1e-6,
            lag: int = 100, learning_rate: float = 0.01, progressbar: bool = True, *,
            early_stopping: str = "voxel", dtype: str | None = None, **kwargs: Any) -> Any:
        """Estimate per-voxel parameters by gradient descent (Adam by default).

        Each voxel gets the iterate with its best R² (with ``shared_pars``:
        the iterate with the best mean R², so the shared values agree).

        Parameters
        ----------
        max_n_iterations, min_n_iterations : int
            Iteration budget, and iterations before early stopping may act.
        init_pars : DataFrame, Dataset, dict or array, optional
            Start values; None: the latest :meth:`fit_grid` /
            :meth:`refine_baseline_and_amplitude` result, else the model's
            default grid and a refinement.
        confounds : (time, k) array or DataFrame, optional
            Regressed out of the residuals at every iteration.
        optimizer : optax.GradientTransformation, optional
            Any optax optimizer (then ``learning_rate`` and ``**kwargs`` are unused).
        fixed_pars : list of str, optional
            Held at their initial values.
        shared_pars : list of str, optional
            One value for all voxels, fitted (started at the voxel mean in the
            unconstrained space).
        noise_model : {"ssq", "gaussian"}
            Sum of squared residuals, or a per-voxel Gaussian likelihood with
            a free variance (``self.estimated_sigma2``).
        store_intermediate_parameters : bool
            Keep every iteration's parameters (``self.intermediate_parameters``).
        r2_atol, lag : float, int
            Early stopping: stop when the best R² improved by less than
            ``r2_atol`` over the last ``lag`` iterations.
        learning_rate : float
            Adam's learning rate.
        progressbar : bool
            Show a bar over iterations.
        early_stopping : {"voxel", "mean"}
            Per voxel (default; results independent of chunking), or
            braincoder's rule on the mean best R².
        dtype : {"float32", "float64"}, optional
            Precision (default: the ``dtype`` option).
        **kwargs
            ``optax.adam`` keywords (``b1``, ``b2``, ``eps``; the keras names
            ``beta_1``, ``beta_2``, ``epsilon`` too); anything else raises.

        Returns
        -------
        DataFrame or Dataset
            Parameters per voxel (a Dataset also holds ``r2``, and ``sigma2``
            for the Gaussian noise model).
        """
        model = self.model
        predictor = self._predictor
        if fixed_pars is not None and not isinstance(fixed_pars, str | list | tuple):
            raise input_error("fixed_pars", f"is a {type(fixed_pars).__name__}",
                              expected="a list of parameter names (held at their initial values)",
                              fix="pass fixed_pars=['sd'] and the values in init_pars")
        fixed_names, _ = fixed_input(model, fixed_pars, self._bold)
        config = gradient_config(predictor.labels, max_n_iterations=max_n_iterations,
                                 min_n_iterations=min_n_iterations, lag=lag, r2_atol=r2_atol,
                                 fixed_pars=list(fixed_names), shared_pars=shared_pars,
                                 noise_model=noise_model, early_stopping=early_stopping,
                                 store_intermediate_parameters=store_intermediate_parameters)
        opt = optimizer_spec(optimizer, learning_rate, kwargs)
        Q = project_out(as_confounds(confounds, self._bold.sizes["time"]))
        grid = refine = None
        if init_pars is not None:
            init = parameter_table(model, init_pars, self._bold)
        elif self._start is not None:
            init = parameter_table(model, self._start, self._bold)
        else:
            from xneuro.encoding.fit._ranges import default_ranges

            init = None
            grid = make_grid(predictor, (default_ranges(model, predictor.X),), {},
                             use_correlation_cost=True)
            if grid.mode == "affine":
                refine = RefineSpec()
        plan = FitPlan(predictor=predictor, grid=grid, refine=refine, gradient=config,
                       optimizer=opt, confounds=Q, dtype=resolve_dtype(dtype),
                       memory_limit=self.memory_limit, log_dir=self.log_dir)
        settings = {"stage": "fit", "optimizer": opt.description, "noise_model": noise_model,
                    "max_n_iterations": config.max_n_iterations, "lag": config.lag,
                    "r2_atol": config.r2_atol, "early_stopping": config.stopping,
                    "fixed_pars": list(fixed_names),
                    "shared_pars": [predictor.labels[i] for i in config.shared]}
        ds, info = self._run(plan, init, None, bool(progressbar), settings)
        labels = list(model.parameter_labels)
        self.n_iterations = info.n_iterations if self._bold.chunks is None else None
        if info.histories:
            self.history = pd.DataFrame(info.histories[0], columns=list(HISTORY_COLUMNS))
            self.history.index.name = "iteration"
        self.estimated_sigma2 = self._series(ds["sigma2"]) if "sigma2" in ds else None
        self.intermediate_parameters = self._intermediate(ds) if config.store_intermediate \
            else None
        out = self._finish(ds, info)
        extra = (["r2"] + (["sigma2"] if "sigma2" in ds else [])) if self._kind == "xarray" \
            else []
        self.estimated_parameters = self._output(ds, labels + extra)
        return self.estimated_parameters if self._kind == "xarray" else out

    def _intermediate(self, ds: xr.Dataset) -> Any:
        names = [f"{label}_history" for label in [*self.model.parameter_labels, "r2"]]
        trace = ds[names].rename({n: n[:-len("_history")] for n in names})
        if self._kind == "xarray":
            return trace
        n_it = self.n_iterations if self.n_iterations is not None else trace.sizes["iteration"]
        trace = trace.isel(iteration=slice(0, n_it))
        frame = trace.to_dataframe(dim_order=["iteration", "voxel"])[[n[:-len("_history")] for n in names]]
        if self._columns is not None:
            frame.index = pd.MultiIndex.from_product(
                [np.arange(n_it), self._columns], names=["iteration", self._columns.name])
        return frame
