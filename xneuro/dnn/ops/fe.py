"""Feature extraction from DNN activations: PCA, histograms and power spectra (dnnbrain's ``fe``).

``axis`` says what one feature vector is made from, as in dnnbrain:

========== ============================================== ===================================
axis       features computed from                         result dims
========== ============================================== ===================================
``None``   all units of the layer (channel-major order)   ``(stimulus, feature)``
``"row_col"`` the positions of each channel               ``(stimulus, channel, feature)``
``"chn"``  the channels at each position                  ``(stimulus, feature, row, column)``
========== ============================================== ===================================

(dnnbrain keeps 4-D shapes: ``(n, n_feat, 1, 1)``, ``(n, n_chn, n_feat, 1)``
and ``(n, n_feat, n_row, n_col)``; :func:`xneuro.dnn.io_h5.write_act_h5`
writes these back.)

- ``pca``: principal-component scores over stimuli (samples) of the units
  (features), one PCA per iteration; ``n_feat`` an int, or a float in (0, 1)
  for the fraction of variance to keep (the largest count any iteration
  needs). Scikit-learn's sign convention. The ``explained_variance_ratio``
  is returned as a coordinate. PCA is fitted when called (it needs every
  stimulus); the projection is lazy for dask input with the exact
  covariance solver.
- ``hist``: counts of the values of each feature vector in ``n_feat`` equal
  bins over that vector's own ``[min, max]``, exactly as ``np.histogram(x,
  n_feat)`` (numpy >= 2) counts them, edges and the right-closed last bin
  included (:mod:`xneuro.dnn.ops._hist`).
- ``psd``: ``scipy.signal.periodogram(x)[1][:n_feat]`` of each feature
  vector: ``fs=1``, boxcar window, constant detrend, density scaling,
  one-sided (length ``U // 2 + 1``); a ``frequency`` coordinate (cycles per
  unit) is attached.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, Literal

import numpy as np
import xarray as xr

from xneuro.core.errors import DimensionError, input_error
from xneuro.dnn._blocks import apply_rows
from xneuro.dnn._labels import (
    canonical_order,
    check_activation,
    iter_layers,
    layer_dims,
    map_layers,
    sample_dim,
)
from xneuro.dnn.ops._hist import hist_kernel
from xneuro.dnn.ops._pca import pca_scores

__all__ = ["FE_AXES", "FE_METHODS", "fe", "hist_kernel", "psd_kernel"]

FE_METHODS = ("pca", "hist", "psd")
FE_AXES = (None, "chn", "row_col")
_SOLVERS = ("auto", "covariance", "randomized")


# ----------------------------------------------------------------------------- kernels


def psd_kernel(x: np.ndarray, n_feat: int) -> np.ndarray:
    """One-sided periodogram density of each row (``fs=1``, boxcar, constant detrend).

    Parameters
    ----------
    x : numpy.ndarray, shape ``(..., U)``
        Rows of values.
    n_feat : int
        Number of leading frequencies kept (at most ``U // 2 + 1``).

    Returns
    -------
    numpy.ndarray, shape ``(..., n_feat)``
        Float of ``x``'s precision (float64 for integers), computed in it (as scipy does).
    """
    from scipy import fft

    out_dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
    n = x.shape[-1]
    if x.size == 0:
        return np.zeros((*x.shape[:-1], n_feat), dtype=out_dtype)
    work = out_dtype if out_dtype == np.float32 else np.dtype(np.float64)
    centred = x.astype(work) - x.mean(axis=-1, dtype=np.float64, keepdims=True).astype(work)
    spectrum = fft.rfft(centred, axis=-1)[..., :n_feat]
    power = (spectrum.real**2 + spectrum.imag**2) / n
    last = n // 2 if n % 2 == 0 else None  # the Nyquist bin is not doubled
    doubled = np.ones(n_feat)
    doubled[1:] = 2.0
    if last is not None and last < n_feat:
        doubled[last] = 1.0
    return (power * doubled).astype(out_dtype)


# ----------------------------------------------------------------------------- arranging


def _arrange(
    da: xr.DataArray, axis: str | None, layer: str
) -> tuple[Any, tuple[Hashable, ...], tuple[Hashable, ...]]:
    """Reshape a layer to ``(n, I, U)``; return it with the iteration and unit dims."""
    da = canonical_order(da)
    channels, spatial = layer_dims(da)
    if axis is None:
        iter_dims: tuple[Hashable, ...] = ()
        unit_dims = (*channels, *spatial)
    elif axis == "row_col":
        iter_dims, unit_dims = channels, spatial
    else:
        iter_dims, unit_dims = spatial, channels
        da = da.transpose(sample_dim(da), *spatial, *channels)
    n_iter = int(np.prod([da.sizes[d] for d in iter_dims])) if iter_dims else 1
    n_units = int(np.prod([da.sizes[d] for d in unit_dims]))
    data = da.data
    if hasattr(data, "rechunk"):
        data = data.rechunk(dict.fromkeys(range(1, da.ndim), -1))
    return data.reshape(da.shape[0], n_iter, n_units), iter_dims, unit_dims


def _check_n_feat(method: str, n_feat: Any, n_stim: int, n_units: int, layer: str) -> None:
    is_int = isinstance(n_feat, int | np.integer) and not isinstance(n_feat, bool)
    is_fraction = isinstance(n_feat, float) and method == "pca"
    if not (is_int or is_fraction):
        raise input_error(
            "n_feat",
            f"is {n_feat!r}",
            expected="a positive int" + (", or a float in (0, 1) (variance fraction)"
                                         if method == "pca" else ""),
            fix="pass e.g. n_feat=50" + (" or n_feat=0.9" if method == "pca" else ""),
        )
    if is_fraction and not 0 < n_feat < 1:
        raise input_error(
            "n_feat", f"is {n_feat}", expected="a variance fraction strictly between 0 and 1",
            fix="pass e.g. n_feat=0.9, or an int number of components",
        )
    if is_int and n_feat < 1:
        raise input_error("n_feat", f"is {n_feat}", expected="a positive int")
    if method == "pca":
        if n_stim < 2:
            raise input_error(
                "activation", f"of layer {layer!r} has {n_stim} stimulus",
                expected="at least 2 stimuli for a PCA over stimuli",
            )
        limit = min(n_stim, n_units)
        if is_int and n_feat > limit:
            raise input_error(
                "n_feat",
                f"is {n_feat}, larger than possible for layer {layer!r}: a PCA of {n_stim} "
                f"stimuli x {n_units} units has at most min({n_stim}, {n_units}) = {limit} "
                "components",
                expected=f"n_feat <= {limit}",
                fix=f"pass n_feat <= {limit}, or a variance fraction such as 0.9",
            )
    if method == "psd":
        limit = n_units // 2 + 1
        if n_feat > limit:
            raise input_error(
                "n_feat",
                f"is {n_feat}, larger than possible for layer {layer!r}: a one-sided "
                f"spectrum of {n_units} values has {limit} frequencies",
                expected=f"n_feat <= {limit}",
                fix=f"pass n_feat <= {limit}",
            )


def _fe_layer(
    da: xr.DataArray, method: str, n_feat: Any, axis: str | None, seed: int, solver: str,
    layer: str,
) -> xr.DataArray:
    data, iter_dims, _unit_dims = _arrange(da, axis, layer)
    n, n_iter, n_units = data.shape
    coords: dict[Hashable, Any] = {
        name: coord.variable
        for name, coord in da.coords.items()
        if set(coord.dims) <= {sample_dim(da), *iter_dims}
    }
    if method == "pca":
        scores, ratio = pca_scores(data, n_feat, seed=seed, solver=solver)
        k = ratio.shape[-1]
        extra = {"explained_variance_ratio": ((*iter_dims, "feature"),
                                              ratio.reshape(*data_shape(da, iter_dims), k))}
        out = scores
    elif method == "hist":
        k = int(n_feat)
        out = apply_rows(data, lambda b: hist_kernel(b, k), tail=(n_iter, k), dtype=np.int64)
        extra = {}
    else:
        k = int(n_feat)
        dtype = data.dtype if data.dtype.kind == "f" else np.dtype(np.float64)
        out = apply_rows(data, lambda b: psd_kernel(b, k), tail=(n_iter, k), dtype=dtype)
        extra = {"frequency": ("feature", np.arange(k) / n_units, {"units": "cycles per unit"})}
    out = out.reshape(n, *data_shape(da, iter_dims), k)
    dims = (sample_dim(da), *iter_dims, "feature")
    result = xr.DataArray(out, dims=dims, coords={**coords, **extra}, name=da.name)
    result.attrs = {"fe_method": method, "fe_axis": "none" if axis is None else axis}
    if axis == "chn":
        result = result.transpose(sample_dim(da), "feature", *iter_dims)
    return result


def data_shape(da: xr.DataArray, dims: tuple[Hashable, ...]) -> tuple[int, ...]:
    """Sizes of ``dims`` in ``da``."""
    return tuple(int(da.sizes[d]) for d in dims)


def fe(
    obj: xr.DataArray | xr.DataTree,
    method: Literal["pca", "hist", "psd"],
    n_feat: int | float,
    *,
    axis: Literal["chn", "row_col"] | None = None,
    seed: int = 0,
    solver: Literal["auto", "covariance", "randomized"] = "auto",
) -> xr.DataArray | xr.DataTree:
    """Extract features from each layer: PCA scores, histograms or power spectra.

    Parameters
    ----------
    obj : DataArray or DataTree
        One layer, or a tree of layers.
    method : {"pca", "hist", "psd"}
        The feature (see the module notes for exact definitions).
    n_feat : int or float
        Number of features; for ``pca`` also a float in (0, 1), the fraction
        of variance to keep.
    axis : {None, "chn", "row_col"}
        What one feature vector is made from: all units (``None``), the
        positions of each channel (``"row_col"``) or the channels at each
        position (``"chn"``).
    seed : int, default 0
        Seed of the randomized PCA solver.
    solver : {"auto", "covariance", "randomized"}
        PCA solver: exact covariance (one pass over the data, ``U x U``
        matrices) or randomized block Krylov SVD (seeded; 6 passes for 30 or
        more components, 10 for fewer; for many units, see
        :mod:`xneuro.dnn.ops._pca`). ``"auto"`` takes the covariance solver up
        to 2048 units.

    Returns
    -------
    DataArray or DataTree
        Each layer with a new ``feature`` dim (dims in the module notes).
        Histograms are int64 counts. Lazy for dask input (``pca`` computes
        its fit when called).

    Raises
    ------
    InputError
        For an unknown ``method``/``axis``/``solver``, a bad ``n_feat`` or one
        larger than possible (more components than ``min(n_stimuli, n_units)``,
        more frequencies than ``U // 2 + 1``).

    Examples
    --------
    >>> pcs = xneuro.dnn.fe(act["features.10"], "pca", 50, axis="row_col")  # doctest: +SKIP
    """
    if method not in FE_METHODS:
        raise input_error("method", f"is {method!r}", expected=f"one of {FE_METHODS}")
    if axis not in FE_AXES:
        raise input_error(
            "axis", f"is {axis!r}", expected="None, 'chn' or 'row_col'",
            fix="pass axis=None (whole layer), 'row_col' (per channel) or 'chn' (per position)",
        )
    if solver not in _SOLVERS:
        raise input_error("solver", f"is {solver!r}", expected=f"one of {_SOLVERS}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise input_error("seed", f"is {seed!r}", expected="an int")
    for name, da in iter_layers(obj):  # every layer is checked before any work is done
        da = check_activation(da, f"activation of layer {name!r}")
        n, n_units = _sizes(da, axis, name)
        _check_n_feat(method, n_feat, n, n_units, name)
    return map_layers(
        obj, lambda da, name: _fe_layer(da, method, n_feat, axis, int(seed), solver, name)
    )


def _sizes(da: xr.DataArray, axis: str | None, layer: str) -> tuple[int, int]:
    """Number of stimuli and of units per feature vector, from the sizes alone."""
    channels, spatial = layer_dims(da)
    if axis == "row_col" and not spatial:
        raise input_error(
            "axis",
            f"is 'row_col' but layer {layer!r} has dims {da.dims} (no row/column)",
            expected="a convolutional layer (stimulus, channel, row, column)",
            fix="pass axis=None or axis='chn' for fully connected layers",
            cls=DimensionError,
        )
    if axis == "chn" and not channels:
        raise input_error(
            "axis", f"is 'chn' but layer {layer!r} has no channel dim ({da.dims})",
            expected="a layer with a channel (or unit) dim", cls=DimensionError,
        )
    units = {None: (*channels, *spatial), "row_col": spatial, "chn": channels}[axis]
    return int(da.sizes[sample_dim(da)]), int(np.prod([da.sizes[d] for d in units]))
