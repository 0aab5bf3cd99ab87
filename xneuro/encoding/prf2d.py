"""Two-dimensional pRF models on a pixel grid: Gaussian, difference of Gaussians, divisive
normalisation, each with an HRF variant.

The paradigm is a stack of images: a ``(time, y, x)`` DataArray whose ``x``
and ``y`` coords are the pixel positions (degrees), a ``(time, pixel)``
DataArray with ``x`` and ``y`` coords on ``pixel``, a DataFrame with an
``(x, y)`` column MultiIndex, or arrays: ``(time, ny, nx)`` (axis 1 is y, axis
2 is x: xneuro's convention, the transpose of braincoder's default grid) or
``(time, n_pixel)`` flattened in the order of ``grid_coordinates``.

The grid (``grid_coordinates``, an ``(n_pixel, 2)`` table of ``x, y``) is
taken from the argument, else from the paradigm given to the constructor, else
from the first paradigm the model sees; a paradigm without coords gets
braincoder's default grid, ``linspace(-1, 1, n)`` along each axis. Later
paradigms must have the same pixels (in any order when they carry coords).
"""

from __future__ import annotations

import logging
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import xarray as xr

from xneuro.core.errors import DimensionError, input_error
from xneuro.encoding import _predict
from xneuro.encoding._transforms import IDENTITY, SHIFTED_SOFTPLUS, SOFTPLUS, Transform
from xneuro.encoding.base import EncodingModel, HRFEncodingModel
from xneuro.hrf.models import HRFModel

__all__ = [
    "DifferenceOfGaussiansPRF2D",
    "DifferenceOfGaussiansPRF2DWithHRF",
    "DivisiveNormalizationGaussianPRF2D",
    "DivisiveNormalizationGaussianPRF2DWithHRF",
    "GaussianPRF2D",
    "GaussianPRF2DWithHRF",
]


def _grid_table(grid_coordinates: Any) -> np.ndarray:
    """``(n_pixel, 2)`` float array of ``x, y`` from an array or a DataFrame."""
    if isinstance(grid_coordinates, pd.DataFrame):
        if not {"x", "y"} <= set(grid_coordinates.columns):
            raise input_error("grid_coordinates", f"has columns {list(grid_coordinates.columns)}",
                              expected="columns 'x' and 'y'", fix="rename the columns")
        grid_coordinates = grid_coordinates[["x", "y"]].to_numpy()
    table = np.asarray(grid_coordinates, dtype=float)
    if table.ndim != 2 or table.shape[1] != 2 or not np.isfinite(table).all():
        raise input_error("grid_coordinates", f"has shape {table.shape}", cls=DimensionError,
                          expected="a finite (n_pixel, 2) table of x, y positions",
                          fix="pass np.column_stack([x.ravel(), y.ravel()]) of a meshgrid")
    if min(np.unique(table[:, 0]).size, np.unique(table[:, 1]).size) < 2:
        raise input_error("grid_coordinates", "has fewer than two distinct x or y values",
                          expected="a 2-D grid of pixel positions")
    return table


def _grid_of(paradigm: xr.DataArray) -> np.ndarray | None:
    """The ``(n_pixel, 2)`` positions of a paradigm's flattened pixels, if it says."""
    dims = [d for d in paradigm.dims if d != "time"]
    if len(dims) == 1 and {"x", "y"} <= set(paradigm.coords) and \
            paradigm["x"].dims == (dims[0],) and paradigm["y"].dims == (dims[0],):
        return np.column_stack([paradigm["x"].values, paradigm["y"].values]).astype(float)
    if len(dims) != 2 or set(dims) != {"x", "y"}:
        return None
    axes = [np.asarray(paradigm[d].values, dtype=float) if d in paradigm.coords
            else np.linspace(-1.0, 1.0, paradigm.sizes[d]) for d in dims]
    mesh = dict(zip(dims, np.meshgrid(*axes, indexing="ij"), strict=True))
    return np.column_stack([mesh["x"].ravel(), mesh["y"].ravel()])


def _has_positions(paradigm: xr.DataArray) -> bool:
    dims = [d for d in paradigm.dims if d != "time"]
    return (len(dims) == 2 and set(dims) == {"x", "y"} and {"x", "y"} <= set(paradigm.indexes)) \
        or (len(dims) == 1 and {"x", "y"} <= set(paradigm.coords))


class GaussianPRF2D(EncodingModel):
    """Isotropic 2-D Gaussian pRF on images, braincoder's ``GaussianPRF2D``.

    ``rf(p) = amplitude * exp(-|p - (x, y)|^2 / (2 sd^2)) * pixel_area / (sd sqrt(2 pi))``
    and ``prediction[t] = sum_p S[t, p] rf(p) + baseline``. The normaliser is
    braincoder's (the 1-D one), so amplitudes carry over between the two.
    Labels ``x, y, sd, baseline, amplitude`` (baseline before amplitude, as
    braincoder); ``sd`` is kept positive by a softplus.

    Parameters
    ----------
    grid_coordinates : array-like (n_pixel, 2) or DataFrame with x, y columns, optional
        Pixel positions, in the order of a flattened paradigm; see the module notes.
    paradigm, data, parameters, weights, omega, verbosity
        See :class:`~xneuro.encoding.base.EncodingModel`.
    positive_image_values_only : bool, default True
        Stored for decoders (stimulus intensities kept positive).
    hrf_model : HRFModel, optional
        Convolve with this HRF (amplitude and baseline act after it).
    flexible_hrf_parameters : bool, optional
        Fit the HRF's parameters per voxel (default ``hrf_model.unique_hrfs``).

    Examples
    --------
    >>> sample = xneuro.datasets.sample_bold()
    >>> model = GaussianPRF2D(paradigm=sample["paradigm"], hrf_model=SPMHRFModel(tr=1.5))
    >>> pred = model.predict(parameters=pars)       # (time, voxel)  # doctest: +SKIP
    """

    parameter_labels = ("x", "y", "sd", "baseline", "amplitude")

    def __init__(self, grid_coordinates: Any = None, paradigm: Any = None, data: Any = None,
                 parameters: Any = None, weights: Any = None, omega: Any = None,
                 positive_image_values_only: bool = True, verbosity: int = logging.INFO, *,
                 hrf_model: HRFModel | None = None,
                 flexible_hrf_parameters: bool | None = None) -> None:
        self._grid: np.ndarray | None = None
        if grid_coordinates is not None:
            self._set_grid(_grid_table(grid_coordinates))
        self.positive_image_values_only = bool(positive_image_values_only)
        super().__init__(paradigm=paradigm, data=data, parameters=parameters, weights=weights,
                         omega=omega, verbosity=verbosity, hrf_model=hrf_model,
                         flexible_hrf_parameters=flexible_hrf_parameters)

    # ------------------------------------------------------------------ grid
    def _set_grid(self, table: np.ndarray) -> None:
        self._grid = table
        steps = [np.diff(np.unique(table[:, i])).mean() for i in (0, 1)]
        self.pixel_area = float(steps[0] * steps[1])

    @property
    def grid_coordinates(self) -> pd.DataFrame | None:
        """The pixel positions, a DataFrame with columns ``x, y`` (None until known)."""
        return None if self._grid is None else pd.DataFrame(self._grid, columns=["x", "y"])

    @property
    def n_x(self) -> int:
        """Distinct x positions of the grid."""
        return int(np.unique(self._grid[:, 0]).size)

    @property
    def n_y(self) -> int:
        """Distinct y positions of the grid."""
        return int(np.unique(self._grid[:, 1]).size)

    def _pixel_order(self, paradigm: xr.DataArray) -> np.ndarray | None:
        """Column permutation taking the paradigm's flattened pixels to the grid order."""
        if not _has_positions(paradigm):
            return None
        own = _grid_of(paradigm)
        if own.shape == self._grid.shape and np.allclose(own, self._grid, atol=1e-6):
            return None
        scale = 1e6 / max(np.ptp(self._grid), 1e-12)
        keys = {tuple(k): i for i, k in enumerate(np.round(own * scale).astype(np.int64))}
        order = [keys.get(tuple(k)) for k in np.round(self._grid * scale).astype(np.int64)]
        if len(keys) != len(own) or None in order or own.shape != self._grid.shape:
            raise input_error(
                "paradigm", "has pixel positions (its x, y coords) that differ from the "
                "model's grid_coordinates", cls=DimensionError,
                expected=f"the {len(self._grid)} pixels of the model's grid",
                fix="resample the images to the grid, or make a model for this paradigm")
        return np.asarray(order)

    def _check_paradigm(self, paradigm: xr.DataArray) -> None:
        n_pixel = int(np.prod([n for d, n in paradigm.sizes.items() if d != "time"]))
        if self._grid is None:
            table = _grid_of(paradigm)
            if table is None:
                raise input_error(
                    "paradigm", f"has dims {dict(paradigm.sizes)}: no image grid",
                    cls=DimensionError, expected="images (time, y, x), or (time, pixel) with "
                    "x and y coords", fix="pass a (time, ny, nx) array or DataArray, or "
                    "grid_coordinates=(n_pixel, 2) positions for a flattened paradigm")
            self._set_grid(_grid_table(table))
            logger = logging.getLogger("xneuro.encoding.prf2d")
            logger.debug("grid of %d pixels taken from the paradigm", n_pixel)
        if n_pixel != len(self._grid):
            raise input_error("paradigm", f"has {n_pixel} pixels {dict(paradigm.sizes)}",
                              cls=DimensionError,
                              expected=f"{len(self._grid)} pixels, one per grid position",
                              fix="pass images on the model's grid (see grid_coordinates)")
        self._pixel_order(paradigm)

    def _paradigm_values(self, paradigm: xr.DataArray) -> np.ndarray:
        values = np.asarray(paradigm.values)
        values = values.reshape(values.shape[0], -1)
        order = self._pixel_order(paradigm)
        return values if order is None else values[:, order]

    def _per_voxel(self, n_time: int, n_features: int) -> int:
        return 3 * n_features + n_time

    # ------------------------------------------------------------- responses
    def _parameter_spec(self) -> list[tuple[str, Transform]]:
        return [("x", IDENTITY), ("y", IDENTITY), ("sd", SOFTPLUS), ("baseline", IDENTITY),
                ("amplitude", IDENTITY)]

    def _rf(self, dtype: Any, x: Any, y: Any, sd: Any, amplitude: Any) -> Any:
        """``(n_pixel, V)`` receptive fields on the grid."""
        grid = jnp.asarray(self._grid, dtype=dtype)
        return _predict.gaussian_rf_2d(grid[:, 0], grid[:, 1], x, y, sd, amplitude,
                                       self.pixel_area)

    def _receptive_field(self, dtype: Any, parameters: Any) -> Any:
        """``(n_pixel, V)`` weights of the pixels (amplitude included)."""
        p = parameters
        return self._rf(dtype, p[:, 0], p[:, 1], p[:, 2], p[:, 4])

    def _neural(self, paradigm: Any, parameters: Any) -> Any:
        return paradigm @ self._receptive_field(paradigm.dtype, parameters) + parameters[:, 3]

    def get_rf(self, parameters: Any = None) -> xr.DataArray:
        """The receptive fields on the grid, ``(voxel, pixel)`` with ``x, y`` coords on pixel.

        Parameters
        ----------
        parameters : DataFrame, Dataset, dict or array, optional
            As in :meth:`predict`; the stored ones when None.

        Returns
        -------
        xarray.DataArray
            float64; the divisive-normalisation model gives its excitatory field.
        """
        prm = self._get_parameters(parameters)
        table = np.asarray(prm.value.to_dataarray(dim="parameter").transpose(
            "voxel", "parameter").values, dtype=float)
        with jax.enable_x64(True):
            rf = np.asarray(self._receptive_field(jnp.float64, jnp.asarray(table)))
        return xr.DataArray(rf.T, dims=("voxel", "pixel"), name="rf",
                            coords={"voxel": prm.value["voxel"].values,
                                    "x": ("pixel", self._grid[:, 0]),
                                    "y": ("pixel", self._grid[:, 1])})


class DifferenceOfGaussiansPRF2D(GaussianPRF2D):
    """A centre Gaussian minus a wider surround, braincoder's ``DifferenceOfGaussiansPRF2D``.

    ``rf = rf(sd, amplitude) - rf(sd * srf_size, amplitude * srf_amplitude * srf_size)``
    with the :class:`GaussianPRF2D` fields. Labels ``x, y, sd, baseline,
    amplitude, srf_amplitude, srf_size``; ``sd``, ``amplitude``,
    ``srf_amplitude`` and ``srf_size`` are kept positive by a softplus (the
    transforms braincoder declares for this model).
    """

    parameter_labels = ("x", "y", "sd", "baseline", "amplitude", "srf_amplitude", "srf_size")

    def _parameter_spec(self) -> list[tuple[str, Transform]]:
        return [("x", IDENTITY), ("y", IDENTITY), ("sd", SOFTPLUS), ("baseline", IDENTITY),
                ("amplitude", SOFTPLUS), ("srf_amplitude", SOFTPLUS), ("srf_size", SOFTPLUS)]

    def _per_voxel(self, n_time: int, n_features: int) -> int:
        return 4 * n_features + n_time

    def _receptive_field(self, dtype: Any, parameters: Any) -> Any:
        p = parameters
        x, y, sd, amplitude, srf_amplitude, size = (p[:, 0], p[:, 1], p[:, 2], p[:, 4],
                                                    p[:, 5], p[:, 6])
        return self._rf(dtype, x, y, sd, amplitude) - self._rf(
            dtype, x, y, sd * size, amplitude * srf_amplitude * size)


class DivisiveNormalizationGaussianPRF2D(GaussianPRF2D):
    """Divisive normalisation of a Gaussian pRF, braincoder's ``DivisiveNormalizationGaussianPRF2D``.

    ``(rf_amplitude * S rf + neural_baseline) /
    (srf_amplitude * rf_amplitude * S srf + surround_baseline)`` where ``rf`` and
    ``srf`` are unit-amplitude :class:`GaussianPRF2D` fields of size ``sd`` and
    ``sd * srf_size``. Labels ``x, y, sd, rf_amplitude, srf_amplitude,
    srf_size, neural_baseline, surround_baseline``; ``sd``, ``srf_amplitude``
    and both baselines are kept positive by a softplus, ``srf_size > 1`` by
    ``1 + softplus``.

    With an HRF (braincoder's ``...WithHRF``) a ``bold_baseline`` parameter
    follows: the response minus its resting level ``neural_baseline /
    surround_baseline`` is convolved, then ``bold_baseline`` is added.
    """

    parameter_labels = ("x", "y", "sd", "rf_amplitude", "srf_amplitude", "srf_size",
                        "neural_baseline", "surround_baseline")
    amplitude_label = None
    baseline_label = None

    def _parameter_spec(self) -> list[tuple[str, Transform]]:
        return [("x", IDENTITY), ("y", IDENTITY), ("sd", SOFTPLUS), ("rf_amplitude", IDENTITY),
                ("srf_amplitude", SOFTPLUS), ("srf_size", SHIFTED_SOFTPLUS),
                ("neural_baseline", SOFTPLUS), ("surround_baseline", SOFTPLUS)]

    def _hrf_spec(self) -> list[tuple[str, Transform]]:
        return [("bold_baseline", IDENTITY)]

    def _per_voxel(self, n_time: int, n_features: int) -> int:
        return 4 * n_features + 2 * n_time

    def _receptive_field(self, dtype: Any, parameters: Any) -> Any:
        p = parameters
        return self._rf(dtype, p[:, 0], p[:, 1], p[:, 2], p[:, 3])

    def _neural(self, paradigm: Any, parameters: Any) -> Any:
        p = parameters
        one = jnp.ones_like(p[:, 0])
        rf = self._rf(paradigm.dtype, p[:, 0], p[:, 1], p[:, 2], one)
        srf = self._rf(paradigm.dtype, p[:, 0], p[:, 1], p[:, 2] * p[:, 5], one)
        activation = p[:, 3] * (paradigm @ rf) + p[:, 6]
        normalisation = p[:, 4] * p[:, 3] * (paradigm @ srf) + p[:, 7]
        return activation / normalisation

    def _hrf_response(self, paradigm: Any, parameters: Any) -> Any:
        encoding, hrf = self._split_hrf(parameters)
        neural = self._neural(paradigm, encoding) - encoding[:, 6] / encoding[:, 7]
        bold = self.hrf_model.convolve_array(neural, hrf, jnp)
        return bold + encoding[:, 8]


class GaussianPRF2DWithHRF(HRFEncodingModel, GaussianPRF2D):
    """:class:`GaussianPRF2D` convolved with an HRF (``hrf_model`` required)."""


class DifferenceOfGaussiansPRF2DWithHRF(HRFEncodingModel, DifferenceOfGaussiansPRF2D):
    """:class:`DifferenceOfGaussiansPRF2D` convolved with an HRF (``hrf_model`` required)."""


class DivisiveNormalizationGaussianPRF2DWithHRF(HRFEncodingModel,
                                                DivisiveNormalizationGaussianPRF2D):
    """:class:`DivisiveNormalizationGaussianPRF2D` with an HRF and ``bold_baseline``."""
