"""The encoding-model base class, and the pure array API that fitters and decoders build on.

Every model (:class:`~xneuro.encoding.GaussianPRF`, ...,
:class:`~xneuro.encoding.LinearModelWithBaselineHRF`) has two layers:

1. a **labeled layer** with braincoder's signatures (``predict``,
   ``simulate``, ``get_parameter_labels``, ``get_paradigm``): numpy, pandas
   or xarray in; pandas out in braincoder's layout, or xarray out (``(time,
   voxel)``, parameters as a Dataset over ``voxel``) when any input is
   xarray. Parameters are matched by name; dask inputs stay lazy.
2. a **pure array layer** in JAX, documented here for the engineers who build
   fitters (grid + gradient) and decoders on it.

Pure array API
--------------
All of these are side-effect free and take/return ``jax.numpy`` (or numpy)
arrays; ``predict_array`` and the transforms are jit-, grad- and vmap-safe.

``model.parameter_labels`` : tuple of str
    Parameter order of every ``(V, P)`` parameter array: braincoder's order
    for the model, then ``bold_baseline`` (divisive normalisation with an
    HRF), then the HRF model's labels (``hrf_delay``, ``hrf_dispersion``)
    when ``flexible_hrf_parameters`` is on.
``model.bounds`` : dict
    ``{label: (lower, upper)}``: the range of each parameter's transform.
``model.transform_forward(u)`` / ``model.transform_backward(p)``
    ``(..., P)`` unconstrained <-> constrained values, per label (softplus
    conventions in :mod:`xneuro.encoding._transforms`; the HRF's sigmoid
    bounds from the HRF model).
``model.paradigm_array(paradigm=None)`` -> numpy ``(T, F)``
    The paradigm as the model reads it: one stimulus value per frame (1-D
    pRFs; F = 1, or 2 with ``model_stimulus_amplitude``), pixels flattened in
    the order of ``model.grid_coordinates`` (2-D pRFs), or features (linear).
``model.predict_array(X, theta, weights=None)`` -> ``(T, V)``
    The prediction for paradigm ``X (T, F)`` and parameters ``theta (V, P)``
    in ``parameter_labels`` order (weights ``(P, V')``: ``predict(X, theta)
    @ weights``). Differentiable in ``X`` (decoding: d prediction / d
    stimulus) and ``theta`` (fitting), HRF parameters included. For models
    with an HRF, amplitude and baseline act after the convolution (prediction
    with ``amplitude=1, baseline=0``, convolved, then ``a * (.) + b``), so
    they can be refined by OLS. Inputs are not validated: the labeled layer
    does that. Memory is ``O(T V)`` (2-D pRFs: ``O(n_pixel V)``): call it on
    voxel blocks.
``model.basis_array(X, theta)`` / ``model.offset_array(theta)``
    What weights multiply, ``(T, n_population)``, and the per-voxel offset
    added after (the baseline of linear models; ``None`` for pRFs).
``model.jitted(name)``
    A cached ``jax.jit`` of the method ``name`` (one per model object).
``model._neural(X, theta)``
    The response before the HRF (amplitude and baseline included); with an
    HRF, ``predict_array`` convolves ``_neural`` of the unit-amplitude,
    zero-baseline parameters (``_split_hrf`` separates the HRF columns).

Many voxels at once: ``xneuro.encoding._engine.evaluate_array(fn, X, table,
dtype=, per_voxel=, check=)`` runs a jitted ``fn(X, table_block)`` over voxel
blocks sized to a memory budget (padded to powers of two, so a few
compilations serve all sizes), and ``_engine.evaluate`` does the same lazily
over the voxel chunks of a dask table (pass ``_engine.JitMethod(model, name)``
there: it pickles, a compiled function does not). ``_engine.precision(dtype)``
enables float64 for a block of code.

Precision: float32 unless ``xneuro.set_options(dtype="float64")``; the
labeled layer enables JAX's float64 only inside its own calls. Fitters that
call the pure layer directly run under whatever precision their arrays have
(use ``jax.enable_x64(True)`` as a context for float64).
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import xarray as xr

from xneuro.core import schema
from xneuro.core.backend import resolve_dtype
from xneuro.core.errors import DimensionError, input_error
from xneuro.encoding import _engine, _io
from xneuro.encoding._transforms import IDENTITY, Transform
from xneuro.hrf.convolve import check_kernel_fits, check_tr
from xneuro.hrf.models import HRFModel

__all__ = ["EncodingModel", "HRFEncodingModel"]

logger = logging.getLogger("xneuro.encoding.base")


_MATMUL_JIT = jax.jit(lambda responses, weights_table: responses @ weights_table.T)


class _Matmul:
    """``(T, P) @ (V, P).T``: voxel responses from population responses (picklable, jitted)."""

    def jitted(self, name: str) -> Any:
        return _MATMUL_JIT


_MATMUL = _engine.JitMethod(_Matmul(), "matmul")


class EncodingModel:
    """Base class of the encoding models (braincoder's ``EncodingModel``).

    Parameters
    ----------
    paradigm : array-like, DataFrame or DataArray, optional
        The stimulus per frame, stored as the default for ``predict`` and
        ``simulate``; see :meth:`get_paradigm`.
    data : array-like, DataFrame or DataArray, optional
        Data stored for fitters (``(time, voxel)``); not used by predictions.
    parameters : DataFrame, Dataset, dict or array, optional
        Default parameters, matched by name to :attr:`parameter_labels`.
    weights : DataFrame, DataArray or array, optional
        Default weights ``(population, voxel)``.
    omega : array-like, optional
        Noise covariance, stored for decoders.
    verbosity : int, optional
        Accepted for braincoder compatibility; use ``xneuro.set_log_level``.
    hrf_model : HRFModel, optional
        Convolve predictions with this HRF (see the ``...WithHRF`` classes).
    flexible_hrf_parameters : bool, optional
        Make the HRF's parameters (``hrf_delay``, ``hrf_dispersion``) per-voxel
        parameters of the model; default ``hrf_model.unique_hrfs``.

    Notes
    -----
    Subclasses define ``_parameter_spec`` (labels with their transforms),
    ``_check_paradigm`` and ``_neural``; the module docstring lists the pure
    array API they share.
    """

    #: Parameter labels (of the class's default configuration; see the instance's).
    parameter_labels: tuple[str, ...] = ()
    #: Whether parameter rows are populations that weights mix (pRFs), or voxels (linear).
    parameters_are_populations: bool = True
    #: Label of the amplitude (applied after the HRF), if any.
    amplitude_label: str | None = "amplitude"
    #: Label of the baseline (added after the HRF), if any.
    baseline_label: str | None = "baseline"

    def __init__(self, paradigm: Any = None, data: Any = None, parameters: Any = None,
                 weights: Any = None, omega: Any = None, verbosity: int = logging.INFO, *,
                 hrf_model: HRFModel | None = None,
                 flexible_hrf_parameters: bool | None = None) -> None:
        if hrf_model is not None and not isinstance(hrf_model, HRFModel):
            raise input_error("hrf_model", f"is a {type(hrf_model).__name__}",
                              expected="an xneuro.hrf.HRFModel, e.g. SPMHRFModel(tr=1.5)",
                              fix="pass hrf_model=xneuro.hrf.SPMHRFModel(tr=<your TR>)")
        if flexible_hrf_parameters is not None and not isinstance(flexible_hrf_parameters, bool):
            raise input_error("flexible_hrf_parameters", f"is {flexible_hrf_parameters!r}",
                              expected="True, False or None")
        self.hrf_model = hrf_model
        if hrf_model is None:
            self.flexible_hrf_parameters = False
        else:
            self.flexible_hrf_parameters = bool(
                hrf_model.unique_hrfs if flexible_hrf_parameters is None
                else flexible_hrf_parameters) and hrf_model.n_parameters > 0
        spec = list(self._parameter_spec())
        if hrf_model is not None:
            spec += list(self._hrf_spec())
        self._encoding_labels = tuple(label for label, _ in spec)
        self._transforms = tuple(t for _, t in spec)
        hrf_labels = tuple(hrf_model.parameter_labels) if self.flexible_hrf_parameters else ()
        self.parameter_labels = self._encoding_labels + hrf_labels
        self._paradigm: _io.Labeled | None = None
        self._parameters: _io.Labeled | None = None
        self._weights: _io.Labeled | None = None
        self.verbosity = verbosity
        if paradigm is not None:
            self._paradigm = self._paradigm_input(paradigm)
        self.data = data
        if parameters is not None:
            self._parameters = self._parameters_input(parameters)
        if weights is not None:
            self._weights = _io.weights_input(weights)
        self.omega = None if omega is None else np.asarray(omega, dtype=float)

    # ------------------------------------------------------- model definition
    def _parameter_spec(self) -> list[tuple[str, Transform]]:
        """``[(label, transform), ...]`` of the model without HRF (subclasses)."""
        return [(label, IDENTITY) for label in type(self).parameter_labels]

    def _hrf_spec(self) -> list[tuple[str, Transform]]:
        """Extra parameters that an HRF brings (none but the HRF's own, by default)."""
        return []

    def _check_paradigm(self, paradigm: xr.DataArray) -> None:
        """Raise if a labeled paradigm does not fit the model (subclasses)."""

    def _paradigm_values(self, paradigm: xr.DataArray) -> np.ndarray:
        """``(T, F)`` values of a checked labeled paradigm."""
        values = np.asarray(paradigm.values)
        return values.reshape(values.shape[0], -1)

    def _neural(self, paradigm: Any, parameters: Any) -> Any:
        """``(T, V)`` response before any HRF, amplitude and baseline included (subclasses)."""
        raise NotImplementedError(f"{type(self).__name__} does not define _neural")

    # ------------------------------------------------------- pure array layer
    @property
    def transforms(self) -> tuple[Transform, ...]:
        """Transforms of the non-HRF parameters, in label order."""
        return self._transforms

    @property
    def bounds(self) -> dict[str, tuple[float, float]]:
        """``{label: (lower, upper)}`` for every parameter label."""
        bounds = {label: (t.lower, t.upper)
                  for label, t in zip(self._encoding_labels, self._transforms, strict=True)}
        if self.flexible_hrf_parameters:
            bounds.update(self.hrf_model.bounds)
        return bounds

    def transform_forward(self, unconstrained: Any) -> Any:
        """Map unconstrained ``(..., P)`` values to parameters (pure jax.numpy)."""
        k = len(self._encoding_labels)
        columns = [t.forward(unconstrained[..., i]) for i, t in enumerate(self._transforms)]
        out = jnp.stack(columns, axis=-1) if columns else unconstrained[..., :0]
        if self.flexible_hrf_parameters:
            hrf = self.hrf_model.transform_forward(unconstrained[..., k:], xp=jnp)
            out = jnp.concatenate([out, hrf], axis=-1)
        return out

    def transform_backward(self, parameters: Any) -> Any:
        """Map ``(..., P)`` parameters to unconstrained values (pure jax.numpy)."""
        k = len(self._encoding_labels)
        columns = [t.backward(parameters[..., i]) for i, t in enumerate(self._transforms)]
        out = jnp.stack(columns, axis=-1) if columns else parameters[..., :0]
        if self.flexible_hrf_parameters:
            hrf = self.hrf_model.transform_backward(parameters[..., k:], xp=jnp)
            out = jnp.concatenate([out, hrf], axis=-1)
        return out

    def predict_array(self, paradigm: Any, parameters: Any, weights: Any = None) -> Any:
        """Pure prediction ``(T, F), (V, P) -> (T, V)`` (``@ weights`` when given)."""
        response = self._response(paradigm, parameters)
        return response if weights is None else response @ weights

    def basis_array(self, paradigm: Any, parameters: Any) -> Any:
        """What weights multiply: the ``(T, n_population)`` population responses."""
        return self._response(paradigm, parameters)

    def offset_array(self, parameters: Any) -> Any:
        """Per-voxel offset added after the weights (``None``: pRFs have none)."""
        return None

    def _response(self, paradigm: Any, parameters: Any) -> Any:
        if self.hrf_model is None:
            return self._neural(paradigm, parameters)
        return self._hrf_response(paradigm, parameters)

    def _split_hrf(self, parameters: Any) -> tuple[Any, Any]:
        k = len(self._encoding_labels)
        hrf = parameters[:, k:] if self.flexible_hrf_parameters else None
        return parameters[:, :k], hrf

    def _hrf_response(self, paradigm: Any, parameters: Any) -> Any:
        """braincoder's HRF models: predict with a=1, b=0, convolve, then a * (.) + b."""
        encoding, hrf = self._split_hrf(parameters)
        labels = self._encoding_labels
        a = labels.index(self.amplitude_label) if self.amplitude_label in labels else None
        b = labels.index(self.baseline_label) if self.baseline_label in labels else None
        unit = encoding
        if a is not None:
            unit = unit.at[:, a].set(1.0)
        if b is not None:
            unit = unit.at[:, b].set(0.0)
        bold = self.hrf_model.convolve_array(self._neural(paradigm, unit), hrf, jnp)
        if a is not None:
            bold = bold * encoding[:, a]
        if b is not None:
            bold = bold + encoding[:, b]
        return bold

    def jitted(self, name: str = "predict_array") -> Any:
        """A ``jax.jit`` of the method ``name``, cached on this model."""
        cache = self.__dict__.setdefault("_jit_cache", {})
        if name not in cache:
            cache[name] = jax.jit(getattr(self, name))
        return cache[name]

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_jit_cache", None)  # compiled functions are rebuilt where needed
        return state

    def _per_voxel(self, n_time: int, n_features: int) -> int:
        """Elements of the largest per-voxel intermediate (sets the block size)."""
        return 4 * max(n_time, n_features)

    # ---------------------------------------------------------------- inputs
    def _paradigm_input(self, paradigm: Any) -> _io.Labeled:
        tr = self.hrf_model.tr if self.hrf_model is not None else None
        own_time = isinstance(paradigm, xr.DataArray) and "time" in paradigm.indexes
        da = schema.as_paradigm(paradigm, tr=None if own_time else tr)
        if self.hrf_model is not None:
            check_tr(self.hrf_model, da, "paradigm")
            check_kernel_fits(self.hrf_model, da.sizes["time"], "paradigm")
        self._check_paradigm(da)
        index = paradigm.index if isinstance(paradigm, pd.DataFrame | pd.Series) else None
        return _io.Labeled(da, _io.kind_of(paradigm), index)

    def _get_paradigm(self, paradigm: Any) -> _io.Labeled:
        if paradigm is not None:
            return self._paradigm_input(paradigm)
        if self._paradigm is None:
            raise input_error("paradigm", "was not given, and the model holds none",
                              expected="the stimulus per frame",
                              fix=f"pass paradigm=..., or make {type(self).__name__}"
                              "(paradigm=...)")
        return self._paradigm

    def _parameters_input(self, parameters: Any) -> _io.Labeled:
        name = type(self).__name__
        labeled = _io.parameters_input(parameters, self.parameter_labels, name)
        _io.check_parameter_values(labeled.value, self.bounds, name)
        return labeled

    def _get_parameters(self, parameters: Any) -> _io.Labeled:
        if parameters is not None:
            return self._parameters_input(parameters)
        if self._parameters is None:
            raise input_error("parameters", "were not given, and the model holds none",
                              expected=f"values for {list(self.parameter_labels)}",
                              fix="pass parameters=... (a DataFrame or Dataset with one "
                              "column or variable per label)")
        return self._parameters

    def _get_weights(self, weights: Any) -> _io.Labeled | None:
        if weights is not None:
            return _io.weights_input(weights)
        return self._weights

    def _check_block(self) -> Any:
        return functools.partial(_io.check_parameter_block, labels=self.parameter_labels,
                                 bounds=self.bounds, model=type(self).__name__)

    # --------------------------------------------------------- labeled layer
    def get_parameter_labels(self) -> list[str]:
        """Return the ordered list of parameter labels (HRF ones included when fitted)."""
        return list(self.parameter_labels)

    def get_paradigm(self, paradigm: Any = None) -> pd.DataFrame | xr.DataArray:
        """Return the paradigm as the model reads it (the stored one when None).

        Returns
        -------
        DataFrame or DataArray
            A DataArray ``(time, *stimulus_dims)`` for xarray input, else a
            DataFrame (index = frames or the given index, columns = stimulus
            values or pixels).
        """
        labeled = self._get_paradigm(paradigm)
        if labeled.kind == "xarray":
            return labeled.value
        frame = schema.to_pandas(labeled.value)
        return frame.set_axis(labeled.index, axis=0) if labeled.index is not None else frame

    def paradigm_array(self, paradigm: Any = None, dtype: str | None = None) -> np.ndarray:
        """The paradigm as the ``(T, F)`` numpy array that ``predict_array`` takes."""
        values = self._paradigm_values(self._get_paradigm(paradigm).value)
        return np.asarray(values, dtype=resolve_dtype(dtype))

    @property
    def paradigm(self) -> Any:
        """The stored paradigm (DataFrame, or DataArray for xarray input), or None."""
        return None if self._paradigm is None else self.get_paradigm()

    @paradigm.setter
    def paradigm(self, value: Any) -> None:
        self._paradigm = None if value is None else self._paradigm_input(value)

    @property
    def parameters(self) -> Any:
        """The stored parameters (DataFrame, or Dataset for xarray input), or None."""
        if self._parameters is None:
            return None
        if self._parameters.kind == "xarray":
            return self._parameters.value
        frame = schema.to_pandas(self._parameters.value)
        index = self._parameters.index
        return frame.set_axis(index, axis=0) if index is not None else frame

    @parameters.setter
    def parameters(self, value: Any) -> None:
        self._parameters = None if value is None else self._parameters_input(value)

    @property
    def weights(self) -> Any:
        """The stored weights as given (converted to ``(population, voxel)``), or None."""
        return None if self._weights is None else self._weights.value

    @weights.setter
    def weights(self, value: Any) -> None:
        self._weights = None if value is None else _io.weights_input(value)

    def _predict_labeled(self, paradigm: xr.DataArray, parameters: _io.Labeled | None,
                         weights: _io.Labeled | None) -> xr.DataArray:
        """``(time, voxel)`` prediction, lazy when the parameters or weights are dask."""
        out = self._predict_core(paradigm, parameters, weights)
        return out.assign_attrs({"tr": paradigm.attrs["tr"]} if "tr" in paradigm.attrs else {})

    def _predict_core(self, paradigm: xr.DataArray, parameters: _io.Labeled | None,
                      weights: _io.Labeled | None) -> xr.DataArray:
        X = self._paradigm_values(paradigm)
        dtype = resolve_dtype(None)
        table = _io.parameter_table(parameters.value)
        per_voxel = self._per_voxel(X.shape[0], X.shape[1])
        fn, check = _engine.JitMethod(self, "predict_array"), self._check_block()
        if weights is None:
            return _engine.evaluate(fn, X, table, paradigm["time"], dtype=dtype,
                                    per_voxel=per_voxel, check=check)
        responses = _engine.evaluate_array(fn, X, np.asarray(table.values), dtype=dtype,
                                           per_voxel=per_voxel, check=check)
        w = weights.value
        if w.sizes["population"] != responses.shape[1]:
            raise input_error("weights", f"has {w.sizes['population']} populations (rows) but "
                              f"the parameters describe {responses.shape[1]}", cls=DimensionError,
                              expected="one weight row per parameter row (population)",
                              fix="pass weights of shape (n_parameter_rows, n_voxel)")
        return _engine.evaluate(_MATMUL, responses, w.transpose("voxel", "population"),
                                paradigm["time"], dtype=dtype,
                                per_voxel=2 * (responses.shape[0] + responses.shape[1]))

    def _labeled_inputs(self, paradigm: Any, parameters: Any, weights: Any
                        ) -> tuple[_io.Labeled, _io.Labeled | None, _io.Labeled | None]:
        par = self._get_paradigm(paradigm)
        prm = self._get_parameters(parameters) if self.parameter_labels or parameters is not None \
            else None
        return par, prm, self._get_weights(weights)

    def predict(self, paradigm: Any = None, parameters: Any = None,
                weights: Any = None) -> pd.DataFrame | xr.DataArray:
        """Predict the response to a paradigm.

        Parameters
        ----------
        paradigm : array-like, DataFrame or DataArray, optional
            Stimulus per frame; the stored one when None.
        parameters : DataFrame, Dataset, dict or array, optional
            Parameters matched by name (an array: columns in
            :attr:`parameter_labels` order); the stored ones when None. Dask
            values stay lazy.
        weights : DataFrame, DataArray or array, optional
            ``(population, voxel)``: voxels mix the parameter rows.

        Returns
        -------
        DataFrame or DataArray
            ``(time, voxel)``: a DataArray named ``prediction`` when any input
            is xarray (time from the paradigm, voxel coords from the
            parameters or weights), else a DataFrame in braincoder's layout.

        Raises
        ------
        InputError
            For a paradigm the model cannot read, missing or unknown parameter
            names, non-finite or out-of-bounds values, or mismatched weights.
        """
        par, prm, w = self._labeled_inputs(paradigm, parameters, weights)
        da = self._predict_labeled(par.value, prm, w).rename("prediction")
        voxel_index = w.index if w is not None else (prm.index if prm is not None else None)
        return _io.as_output(da, [par, prm, w], par.index, voxel_index)

    def basis_predictions(self, paradigm: Any = None, parameters: Any = None) -> np.ndarray:
        """The ``(T, n_population)`` matrix that weights multiply, as numpy."""
        par, prm, _ = self._labeled_inputs(paradigm, parameters, None)
        basis, _, _ = self._weights_design(par.value, prm)
        return basis

    def _weights_design(self, paradigm: xr.DataArray, parameters: _io.Labeled | None
                        ) -> tuple[np.ndarray, xr.DataArray, xr.DataArray | None]:
        """``(basis (T, P) numpy, population coord, per-voxel offset or None)``."""
        X = self._paradigm_values(paradigm)
        table = _io.parameter_table(parameters.value)
        basis = _engine.evaluate_array(_engine.JitMethod(self, "basis_array"), X,
                                       np.asarray(table.values),
                                       dtype=resolve_dtype(None),
                                       per_voxel=self._per_voxel(X.shape[0], X.shape[1]),
                                       check=self._check_block())
        population = xr.DataArray(np.asarray(table["voxel"].values), dims="population")
        return basis, population, None

    def simulate(self, paradigm: Any = None, parameters: Any = None, weights: Any = None,
                 noise: Any = 1.0, dof: float | None = None, n_repeats: int = 1, *,
                 seed: int | np.random.Generator | None = None) -> pd.DataFrame | xr.DataArray:
        """Simulate data: the prediction plus noise.

        Parameters
        ----------
        paradigm, parameters, weights
            As in :meth:`predict`.
        noise : float, array of shape (V,), or (V, V) array
            Standard deviation of iid Gaussian noise, one per voxel, or the
            covariance of multivariate Gaussian noise across voxels.
        dof : float, optional
            Student-t noise with these degrees of freedom, ``noise`` being
            its scale (a matrix: the scale matrix; one chi-square draw per
            frame mixes all voxels).
        n_repeats : int, default 1
            Independent repetitions of the paradigm.
        seed : int or numpy.random.Generator, optional
            Seed of the noise; the same seed gives the same data. None draws
            fresh entropy.

        Returns
        -------
        DataFrame or DataArray
            pandas: braincoder's layout (index ``stimulus``, or a ``(repeat,
            stimulus)`` MultiIndex); xarray: ``(time, voxel)``, or ``(repeat,
            time, voxel)`` when ``n_repeats > 1``, named ``simulated``.
            Computed (dask inputs are computed).

        Raises
        ------
        InputError
            As :meth:`predict`, plus a bad ``noise``, ``dof``, ``n_repeats`` or ``seed``.
        """
        from xneuro.encoding._simulate import simulate

        return simulate(self, paradigm, parameters, weights, noise, dof, n_repeats, seed)

    # ------------------------------------------- decoding (xneuro.encoding.decode)
    def get_stimulus_pdf(self, data: Any, stimulus_range: Any, parameters: Any = None,
                         weights: Any = None, omega: Any = None, dof: float | None = None,
                         normalize: bool = True, **kwargs: Any) -> Any:
        """Posterior over ``stimulus_range`` per frame; see :func:`xneuro.encoding.get_stimulus_pdf`."""
        from xneuro.encoding.decode import get_stimulus_pdf

        return get_stimulus_pdf(self, data, stimulus_range, parameters, weights, omega, dof,
                                normalize, **kwargs)

    def likelihood(self, stimuli: Any, data: Any, parameters: Any = None, weights: Any = None,
                   omega: Any = None, dof: float | None = None, logp: bool = False) -> Any:
        """Likelihood of each frame under its stimulus; see :func:`xneuro.encoding.likelihood`."""
        from xneuro.encoding.decode import likelihood

        return likelihood(self, stimuli, data, parameters, weights, omega, dof, logp)

    def get_fisher_information(self, stimuli: Any, omega: Any = None, dof: float | None = None,
                               weights: Any = None, parameters: Any = None,
                               analytical: bool = True, n: int = 1000, **kwargs: Any) -> Any:
        """Fisher information at each stimulus; see :func:`xneuro.encoding.get_fisher_information`."""
        from xneuro.encoding.decode import get_fisher_information

        return get_fisher_information(self, stimuli, omega, dof, parameters, weights,
                                      analytical, n, **kwargs)

    def __repr__(self) -> str:
        hrf = f", hrf_model={self.hrf_model!r}" if self.hrf_model is not None else ""
        return f"{type(self).__name__}(parameter_labels={list(self.parameter_labels)}{hrf})"


class HRFEncodingModel:
    """Mixin of the ``...WithHRF`` models: ``hrf_model`` is required.

    The model then predicts with amplitude 1 and baseline 0, convolves with
    the HRF, and applies ``amplitude * (.) + baseline`` (braincoder's
    convention), so amplitude and baseline stay OLS-refinable. With
    ``flexible_hrf_parameters`` (default: ``hrf_model.unique_hrfs``) the HRF's
    parameters are per-voxel parameters of the model. braincoder's default
    is False and resets ``hrf_model.unique_hrfs`` to match; here the HRF model
    is never modified.
    """

    def __init__(self, *args: Any, hrf_model: HRFModel | None = None, **kwargs: Any) -> None:
        if hrf_model is None:
            raise input_error("hrf_model", f"is required by {type(self).__name__}",
                              expected="an xneuro.hrf.HRFModel",
                              fix="pass hrf_model=xneuro.hrf.SPMHRFModel(tr=<your TR>)")
        super().__init__(*args, hrf_model=hrf_model, **kwargs)
