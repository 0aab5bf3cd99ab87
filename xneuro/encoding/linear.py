"""Linear encoding models: the paradigm's features times weights, plus a per-voxel baseline.

Here the paradigm holds features (a design matrix, DNN features, a stimulus
one-hot ...), ``weights`` are ``(feature, voxel)`` (the ``population`` dim of
the weights is the paradigm's features), and the parameters are per voxel
(``baseline``), not per population as in the pRF models.
"""

from __future__ import annotations

import logging
from typing import Any

import jax.numpy as jnp
import numpy as np
import xarray as xr

from xneuro.core.backend import resolve_dtype
from xneuro.core.errors import DimensionError, input_error
from xneuro.encoding import _engine, _io
from xneuro.encoding._transforms import IDENTITY, Transform
from xneuro.encoding.base import EncodingModel, HRFEncodingModel
from xneuro.hrf.models import HRFModel

__all__ = ["LinearModel", "LinearModelWithBaseline", "LinearModelWithBaselineHRF"]


class LinearModel(EncodingModel):
    """Voxel responses as weighted sums of the paradigm's features: ``X @ weights``.

    It has no parameters; predictions need ``weights`` of shape
    ``(feature, voxel)``. With ``hrf_model`` the weighted sum is convolved.

    Parameters
    ----------
    paradigm, data, weights, omega, verbosity
        See :class:`~xneuro.encoding.base.EncodingModel`.
    parameters : None
        Must be None (braincoder raises too).
    hrf_model : HRFModel, optional
        Convolve the weighted sum with this HRF.
    flexible_hrf_parameters : bool, optional
        Per-voxel HRF parameters (default ``hrf_model.unique_hrfs``).
    """

    parameter_labels: tuple[str, ...] = ()
    parameters_are_populations = False
    amplitude_label = None
    baseline_label = None

    def __init__(self, paradigm: Any = None, data: Any = None, parameters: Any = None,
                 weights: Any = None, omega: Any = None, verbosity: int = logging.INFO, *,
                 hrf_model: HRFModel | None = None,
                 flexible_hrf_parameters: bool | None = None) -> None:
        if parameters is not None and not self._labels_of_class():
            raise input_error("parameters", f"were given to {type(self).__name__}",
                              expected="None: the model has no parameters",
                              fix="drop parameters=, or use LinearModelWithBaseline")
        super().__init__(paradigm=paradigm, data=data, parameters=parameters, weights=weights,
                         omega=omega, verbosity=verbosity, hrf_model=hrf_model,
                         flexible_hrf_parameters=flexible_hrf_parameters)

    @classmethod
    def _labels_of_class(cls) -> tuple[str, ...]:
        return cls.parameter_labels

    def _parameter_spec(self) -> list[tuple[str, Transform]]:
        return [(label, IDENTITY) for label in self._labels_of_class()]

    # ------------------------------------------------------------ pure layer
    def _design(self, paradigm: Any, hrf: Any) -> Any:
        """``(T, F)`` features, convolved when there is an HRF."""
        if self.hrf_model is None:
            return paradigm
        return self.hrf_model.convolve_array(paradigm, None if hrf is None else hrf, jnp)

    def basis_array(self, paradigm: Any, parameters: Any) -> Any:
        """The ``(T, F)`` design that weights multiply (convolved with a shared HRF)."""
        return self._design(paradigm, None)

    def offset_array(self, parameters: Any) -> Any:
        """The per-voxel baseline (``None`` without one)."""
        labels = self._encoding_labels
        return parameters[:, labels.index("baseline")] if "baseline" in labels else None

    def predict_array(self, paradigm: Any, parameters: Any, weights: Any = None) -> Any:
        """``h * (X @ weights) + baseline``: ``(T, F), (V, P), (F, V) -> (T, V)``."""
        if weights is None:
            raise input_error("weights", f"are required by {type(self).__name__}",
                              expected="a (feature, voxel) array")
        neural = paradigm @ weights
        if self.hrf_model is not None:
            hrf = self._split_hrf(parameters)[1] if parameters is not None else None
            neural = self.hrf_model.convolve_array(neural, hrf, jnp)
        offset = self.offset_array(parameters) if parameters is not None else None
        return neural if offset is None else neural + offset

    def _voxel_block(self, paradigm: Any, table: Any) -> Any:
        """Per-voxel table ``[weights column | parameters]`` -> ``(T, block)``."""
        n_features = paradigm.shape[1]
        parameters = table[:, n_features:] if table.shape[1] > n_features else None
        return self.predict_array(paradigm, parameters, table[:, :n_features].T)

    def _per_voxel(self, n_time: int, n_features: int) -> int:
        return 3 * n_time + n_features

    # --------------------------------------------------------- labeled layer
    def _labeled_inputs(self, paradigm: Any, parameters: Any, weights: Any
                        ) -> tuple[_io.Labeled, _io.Labeled | None, _io.Labeled | None]:
        par = self._get_paradigm(paradigm)
        prm = self._get_parameters(parameters) if self.parameter_labels else None
        w = self._get_weights(weights)
        if w is None:
            raise input_error("weights", f"were not given, and {type(self).__name__} holds none",
                              expected="(feature, voxel) weights of the paradigm's features",
                              fix="pass weights=..., e.g. from WeightFitter(...).fit()")
        return par, prm, w

    def _predict_core(self, paradigm: xr.DataArray, parameters: _io.Labeled | None,
                      weights: _io.Labeled | None) -> xr.DataArray:
        X = self._paradigm_values(paradigm)
        w = weights.value.transpose("voxel", "population")
        if w.sizes["population"] != X.shape[1]:
            raise input_error("weights", f"has {w.sizes['population']} rows for a paradigm of "
                              f"{X.shape[1]} features", cls=DimensionError,
                              expected="one row per paradigm feature",
                              fix="pass (feature, voxel) weights for this paradigm")
        table = w.drop_vars([c for c in w.coords if "population" in w[c].dims])
        table = table.rename(population="column")
        if parameters is not None:
            prm = _io.parameter_table(parameters.value)
            if prm.sizes["voxel"] != table.sizes["voxel"]:
                raise input_error("parameters, weights",
                                  f"have {prm.sizes['voxel']} and {table.sizes['voxel']} voxels",
                                  cls=DimensionError, expected="the same voxels",
                                  fix="pass one parameter row per weights column")
            prm = prm.drop_vars([c for c in prm.coords if c != "voxel" and "voxel" in prm[c].dims]
                                ).assign_coords(voxel=table["voxel"].values)
            prm = prm.drop_vars("parameter").rename(parameter="column")
            table = xr.concat([table, prm.astype(table.dtype)], dim="column")
        check = None if parameters is None else _ColumnsCheck(self, X.shape[1])
        return _engine.evaluate(_engine.JitMethod(self, "_voxel_block"), X,
                                table.transpose("voxel", "column"),
                                paradigm["time"], dtype=resolve_dtype(None),
                                per_voxel=self._per_voxel(X.shape[0], X.shape[1]), check=check)

    def _weights_design(self, paradigm: xr.DataArray, parameters: _io.Labeled | None
                        ) -> tuple[np.ndarray, xr.DataArray, xr.DataArray | None]:
        if self.flexible_hrf_parameters:
            raise input_error("model", f"{type(self).__name__} has one HRF per voxel "
                              "(flexible_hrf_parameters)",
                              expected="one HRF shared by all voxels for a closed-form fit",
                              fix="make the model with flexible_hrf_parameters=False")
        X = self._paradigm_values(paradigm)
        with _engine.precision("float64"):
            basis = np.asarray(self.jitted("basis_array")(np.asarray(X, float), None))
        dims = [d for d in paradigm.dims if d != "time"]
        if len(dims) == 1 and dims[0] in paradigm.indexes:
            population = xr.DataArray(np.asarray(paradigm.indexes[dims[0]]), dims="population")
        else:
            population = xr.DataArray(np.arange(X.shape[1]), dims="population")
        offset = None
        if parameters is not None and "baseline" in parameters.value:
            offset = parameters.value["baseline"]
        return basis, population, offset


class _ColumnsCheck:
    """Check the parameter columns of a linear model's per-voxel table (picklable)."""

    def __init__(self, model: LinearModel, n_features: int) -> None:
        self.labels, self.bounds = model.parameter_labels, model.bounds
        self.name, self.n_features = type(model).__name__, n_features

    def __call__(self, table: np.ndarray) -> None:
        _io.check_parameter_block(table[:, self.n_features:], self.labels, self.bounds, self.name)


class LinearModelWithBaseline(LinearModel):
    """``X @ weights + baseline``: braincoder's ``LinearModelWithBaseline``.

    Parameters as :class:`LinearModel`; ``parameters`` hold one ``baseline``
    per voxel (the columns of ``weights``).
    """

    parameter_labels = ("baseline",)


class LinearModelWithBaselineHRF(HRFEncodingModel, LinearModelWithBaseline):
    """``h * (X @ weights) + baseline``: braincoder's ``LinearModelWithBaselineHRF``.

    The baseline is added after the convolution (with a sum-1 kernel and edge
    padding this equals convolving ``X @ weights + baseline``). ``hrf_model``
    is required; the positional order is braincoder's (``hrf_model`` fifth).
    """

    def __init__(self, paradigm: Any = None, data: Any = None, parameters: Any = None,
                 weights: Any = None, hrf_model: HRFModel | None = None,
                 verbosity: int = logging.INFO, *, omega: Any = None,
                 flexible_hrf_parameters: bool | None = None) -> None:
        super().__init__(paradigm=paradigm, data=data, parameters=parameters, weights=weights,
                         omega=omega, verbosity=verbosity, hrf_model=hrf_model,
                         flexible_hrf_parameters=flexible_hrf_parameters)
