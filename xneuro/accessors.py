"""xarray accessors: one-line forwards to xneuro's public functions.

Accessors hold only ``self._obj`` and never validate in ``__init__``; every
method has a plain-function twin that takes the object as first argument.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr

from xneuro.core import schema, store

__all__ = ["XneuroAccessor"]


class XneuroAccessor:
    """``obj.xneuro``: storage and conversion of any xneuro object."""

    def __init__(self, obj: Any) -> None:
        self._obj = obj

    def save(self, path: str | Path, **kwargs: Any) -> Any:
        """Write to Zarr; see :func:`xneuro.save`."""
        return store.save(self._obj, path, **kwargs)

    def to_pandas(self) -> pd.DataFrame:
        """Convert to a braincoder-style DataFrame; see :func:`xneuro.core.schema.to_pandas`."""
        return schema.to_pandas(self._obj)

    def to_nifti(self, path: str | Path, like: Any = None, **kwargs: Any) -> Any:
        """Write to NIfTI in the image space of the voxels; see :func:`xneuro.io.to_nifti`."""
        from xneuro.io.write import to_nifti

        return to_nifti(self._obj, path, like=like, **kwargs)

    def to_cifti(self, path: str | Path, like: Any = None, **kwargs: Any) -> Any:
        """Write to a dense CIFTI-2 file; see :func:`xneuro.io.to_cifti`."""
        from xneuro.io.write import to_cifti

        return to_cifti(self._obj, path, like=like, **kwargs)


xr.register_dataarray_accessor("xneuro")(XneuroAccessor)
xr.register_dataset_accessor("xneuro")(XneuroAccessor)
xr.register_datatree_accessor("xneuro")(XneuroAccessor)


class MassAccessor:
    """``ds.mass``: neural-mass simulation on a connectome Dataset; see :mod:`xneuro.mass`."""

    def __init__(self, obj: Any) -> None:
        self._obj = obj

    def simulate(self, model: Any, duration: float, dt: float = 1e-4, **kwargs: Any) -> Any:
        """Simulate on this connectome; see :func:`xneuro.mass.simulate`."""
        return __import__("xneuro.mass", fromlist=["simulate"]).simulate(
            self._obj, model, duration, dt, **kwargs)

    def fit(self, model: Any, target_fc: Any, params: Any, **kwargs: Any) -> Any:
        """Fit global parameters to an FC; see :func:`xneuro.mass.fit`."""
        return __import__("xneuro.mass", fromlist=["fit"]).fit(
            self._obj, model, target_fc, params, **kwargs)

    def bold(self, **kwargs: Any) -> Any:
        """BOLD of this simulation; see :func:`xneuro.mass.bold`."""
        return __import__("xneuro.mass", fromlist=["bold"]).bold(self._obj, **kwargs)


xr.register_dataset_accessor("mass")(MassAccessor)


class EncodeAccessor:
    """``bold.encode``: encoding models on ``(time, voxel)`` BOLD; see :mod:`xneuro.encoding`.

    One method per capability, each a forward to its plain function (later
    issues add ``fit`` and ``decode`` here).
    """

    def __init__(self, obj: Any) -> None:
        self._obj = obj

    def predict(self, model: Any, parameters: Any = None, paradigm: Any = None,
                weights: Any = None) -> Any:
        """The model's prediction labeled like this BOLD; see :func:`xneuro.encoding.predict`."""
        from xneuro.encoding import predict

        return predict(self._obj, model, parameters=parameters, paradigm=paradigm,
                       weights=weights)

    def fit_weights(self, model: Any, parameters: Any = None, paradigm: Any = None,
                    alpha: float = 0.0) -> Any:
        """Closed-form weights and R²; see :func:`xneuro.encoding.fit_weights`."""
        from xneuro.encoding import fit_weights

        return fit_weights(self._obj, model, parameters=parameters, paradigm=paradigm,
                           alpha=alpha)

    def fit_features(self, features: Any, **kwargs: Any) -> Any:
        """Cross-validated ridge from features to every voxel; see :func:`xneuro.encoding.fit_ridge`."""
        from xneuro.encoding.ridge import fit_ridge

        return fit_ridge(features, self._obj, **kwargs)

    def fit(self, model: Any, paradigm: Any = None, **kwargs: Any) -> Any:
        """Grid + gradient fit of every voxel; see :func:`xneuro.encoding.fit_parameters`."""
        from xneuro.encoding.fit import fit_parameters

        return fit_parameters(self._obj, model, paradigm, **kwargs)

    def decode(self, model: Any, parameters: Any = None, omega: Any = None,
               stimulus_range: Any = None, **kwargs: Any) -> Any:
        """Posterior over the stimulus, MAP, mean, SD; see :func:`xneuro.encoding.decode.decode`."""
        from xneuro.encoding.decode import decode

        return decode(self._obj, model, stimulus_range=stimulus_range, parameters=parameters,
                      omega=omega, **kwargs)


class HrfAccessor:
    """``ts.hrf``: HRF convolution of any ``(time, ...)`` array; see :mod:`xneuro.hrf`."""

    def __init__(self, obj: Any) -> None:
        self._obj = obj

    def convolve(self, hrf_model: Any, *, padding: str = "edge", **hrf_parameters: Any) -> Any:
        """Causal convolution with the HRF; see :func:`xneuro.hrf.convolve`."""
        from xneuro.hrf import convolve

        return convolve(self._obj, hrf_model, padding=padding, **hrf_parameters)


xr.register_dataarray_accessor("encode")(EncodeAccessor)
xr.register_dataarray_accessor("hrf")(HrfAccessor)


class DnnAccessor:
    """``act.dnn``: DNN activation operations on a layer (DataArray) or a tree of layers.

    Each method forwards to its plain function in :mod:`xneuro.dnn` (a later
    issue adds ``rdm``).
    """

    def __init__(self, obj: Any) -> None:
        self._obj = obj

    def pool(self, method: str, *, norm: str = "vector") -> Any:
        """Pool each channel over positions; see :func:`xneuro.dnn.pool`."""
        from xneuro.dnn import pool

        return pool(self._obj, method, norm=norm)

    def fe(self, method: str, n_feat: int | float, *, axis: str | None = None, seed: int = 0,
           solver: str = "auto") -> Any:
        """Extract PCA/histogram/spectrum features; see :func:`xneuro.dnn.fe`."""
        from xneuro.dnn import fe

        return fe(self._obj, method, n_feat, axis=axis, seed=seed, solver=solver)

    def mask(self, channels: Any = None, rows: Any = None, columns: Any = None, *,
             dmask: Any = None, layers: Any = None) -> Any:
        """Keep 0-based channels/rows/columns; see :func:`xneuro.dnn.mask`."""
        from xneuro.dnn import mask

        return mask(self._obj, channels, rows, columns, dmask=dmask, layers=layers)

    def convolve_hrf(self, onsets: Any, durations: Any, n_vol: int, tr: float, ops: int = 100,
                     *, hrf: Any = "spm") -> Any:
        """Convolve with the HRF at the BOLD volumes; see :func:`xneuro.dnn.convolve_hrf`."""
        from xneuro.dnn import convolve_hrf

        return convolve_hrf(self._obj, onsets, durations, n_vol, tr, ops, hrf=hrf)

    def rdm(self, metric: str = "correlation", **kwargs: Any) -> Any:
        """RDM of the stimuli (one per layer of a tree); see :func:`xneuro.rsa.rdm`."""
        from xneuro.rsa import rdm

        return rdm(self._obj, metric=metric, **kwargs)


xr.register_dataarray_accessor("dnn")(DnnAccessor)
xr.register_datatree_accessor("dnn")(DnnAccessor)


class RsaAccessor:
    """``x.rsa``: RDMs of labeled patterns and their comparison; see :mod:`xneuro.rsa`."""

    def __init__(self, obj: Any) -> None:
        self._obj = obj

    def rdm(self, dim: str = "stimulus", metric: str = "correlation", **kwargs: Any) -> Any:
        """RDM of the items along ``dim``; see :func:`xneuro.rsa.rdm`."""
        from xneuro.rsa import rdm

        return rdm(self._obj, dim, metric, **kwargs)

    def compare(self, other: Any, method: str = "spearman", **kwargs: Any) -> Any:
        """Compare this RDM with another; see :func:`xneuro.rsa.compare`."""
        from xneuro.rsa import compare

        return compare(self._obj, other, method, **kwargs)

    def to_condensed(self) -> Any:
        """The condensed (``pair``) form; see :func:`xneuro.rsa.to_condensed`."""
        from xneuro.rsa import to_condensed

        return to_condensed(self._obj)

    def to_square(self) -> Any:
        """The square form; see :func:`xneuro.rsa.to_square`."""
        from xneuro.rsa import to_square

        return to_square(self._obj)

    def noise_ceiling(self, dim: str = "subject", method: str = "spearman") -> Any:
        """Noise ceiling over measurements; see :func:`xneuro.rsa.noise_ceiling`."""
        from xneuro.rsa import noise_ceiling

        return noise_ceiling(self._obj, dim, method)


xr.register_dataarray_accessor("rsa")(RsaAccessor)


class BergAccessor:
    """``resp.berg`` / ``images.berg``: BERG responses back to their spaces, images to responses."""

    def __init__(self, obj: Any) -> None:
        self._obj = obj

    def to_volume(self, roi: str | None = None, fill_value: float = float("nan")) -> Any:
        """fwRF voxel responses into the volume; see :func:`xneuro.berg.to_volume`."""
        from xneuro.berg import to_volume

        return to_volume(self._obj, roi=roi, fill_value=fill_value)

    def to_grayordinates(self, fill_value: float = float("nan")) -> Any:
        """MOSAIC responses into the 91,282 grayordinates; see :func:`xneuro.berg.to_grayordinates`."""
        from xneuro.berg import to_grayordinates

        return to_grayordinates(self._obj, fill_value=fill_value)

    def encode(self, model: Any, **kwargs: Any) -> Any:
        """Responses of a BERG model to these images; see :func:`xneuro.berg.encode`."""
        from xneuro.berg import encode

        return encode(model, self._obj, **kwargs)


xr.register_dataarray_accessor("berg")(BergAccessor)
