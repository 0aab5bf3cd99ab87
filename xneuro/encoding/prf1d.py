"""One-dimensional pRF models: Gaussian, von Mises and log-Gaussian tuning, with HRF variants.

The paradigm holds one stimulus value per frame (``(time,)``, ``(time, 1)``,
a one-column DataFrame, or a ``(time, x)`` DataArray with ``x`` of size 1),
plus a second column, the stimulus amplitude, with
``model_stimulus_amplitude=True``.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import numpy as np
import xarray as xr

from xneuro.core.errors import DimensionError, input_error
from xneuro.encoding import _predict
from xneuro.encoding._transforms import (
    AGGRESSIVE_SOFTPLUS,
    IDENTITY,
    SOFTPLUS,
    Transform,
)
from xneuro.encoding.base import EncodingModel, HRFEncodingModel
from xneuro.hrf.models import HRFModel

__all__ = [
    "GaussianPRF",
    "GaussianPRFWithHRF",
    "LogGaussianPRF",
    "LogGaussianPRFWithHRF",
    "VonMisesPRF",
    "VonMisesPRFWithHRF",
]


class GaussianPRF(EncodingModel):
    """Gaussian tuning to a 1-D stimulus: ``amplitude * exp(-(x - mu)^2 / (2 sd^2)) + baseline``.

    Unnormalised (peak = amplitude), as braincoder's ``GaussianPRF``.

    Parameters
    ----------
    paradigm, data, parameters, weights, omega, verbosity
        See :class:`~xneuro.encoding.base.EncodingModel`.
    allow_neg_amplitudes : bool, default False
        If False, ``amplitude`` is kept positive (an aggressive softplus,
        ``softplus(100 u) / 100``, as ``sd``); if True it is unbounded.
    model_stimulus_amplitude : bool, default False
        The paradigm has a second column, the stimulus amplitude ``A``:
        ``amplitude * A * g(x) + baseline``.
    hrf_model : HRFModel, optional
        Convolve with this HRF (amplitude and baseline act after it).
    flexible_hrf_parameters : bool, optional
        Fit the HRF's parameters per voxel (default ``hrf_model.unique_hrfs``).

    Examples
    --------
    >>> model = GaussianPRF(paradigm=np.linspace(-5, 5, 100))
    >>> pars = pd.DataFrame({"mu": [0.0, 1.0], "sd": [1.0, 2.0],
    ...                      "amplitude": [1.0, 1.0], "baseline": [0.0, 0.5]})
    >>> pred = model.predict(parameters=pars)   # DataFrame (frame, source)  # doctest: +SKIP
    """

    parameter_labels = ("mu", "sd", "amplitude", "baseline")
    _tuning_name = "Gaussian"

    def __init__(self, paradigm: Any = None, data: Any = None, parameters: Any = None,
                 weights: Any = None, omega: Any = None, allow_neg_amplitudes: bool = False,
                 verbosity: int = logging.INFO, model_stimulus_amplitude: bool = False, *,
                 hrf_model: HRFModel | None = None,
                 flexible_hrf_parameters: bool | None = None) -> None:
        for name, value in (("allow_neg_amplitudes", allow_neg_amplitudes),
                            ("model_stimulus_amplitude", model_stimulus_amplitude)):
            if not isinstance(value, bool | np.bool_):
                raise input_error(name, f"is {value!r}", expected="True or False")
        self.allow_neg_amplitudes = bool(allow_neg_amplitudes)
        self.model_stimulus_amplitude = bool(model_stimulus_amplitude)
        super().__init__(paradigm=paradigm, data=data, parameters=parameters, weights=weights,
                         omega=omega, verbosity=verbosity, hrf_model=hrf_model,
                         flexible_hrf_parameters=flexible_hrf_parameters)

    def _amplitude_transform(self) -> Transform:
        return IDENTITY if self.allow_neg_amplitudes else AGGRESSIVE_SOFTPLUS

    def _parameter_spec(self) -> list[tuple[str, Transform]]:
        return [("mu", IDENTITY), ("sd", AGGRESSIVE_SOFTPLUS),
                ("amplitude", self._amplitude_transform()), ("baseline", IDENTITY)]

    def _tuning(self, x: Any, first: Any, second: Any) -> Any:
        return _predict.gaussian(x, first, second)

    def _neural(self, paradigm: Any, parameters: Any) -> Any:
        tuning = self._tuning(paradigm[:, :1], parameters[:, 0], parameters[:, 1])
        if self.model_stimulus_amplitude:
            tuning = tuning * paradigm[:, 1:2]
        return tuning * parameters[:, 2] + parameters[:, 3]

    def _check_paradigm(self, paradigm: xr.DataArray) -> None:
        n_columns = 2 if self.model_stimulus_amplitude else 1
        sizes = {d: n for d, n in paradigm.sizes.items() if d != "time"}
        if len(sizes) != 1 or next(iter(sizes.values())) != n_columns:
            what = ("the stimulus value and its amplitude per frame (two columns)"
                    if self.model_stimulus_amplitude else "one stimulus value per frame")
            raise input_error(
                "paradigm", f"has stimulus dims {sizes}", cls=DimensionError,
                expected=f"{what} for {type(self).__name__}: shape (time,) or "
                f"(time, {n_columns})",
                fix="pass the stimulus value of each frame" + (
                    "" if self.model_stimulus_amplitude else
                    "; with a second column of stimulus amplitudes, pass "
                    "model_stimulus_amplitude=True") +
                "; images need a 2-D model such as GaussianPRF2D")


class VonMisesPRF(GaussianPRF):
    """Von Mises tuning to a circular stimulus (radians), braincoder's ``VonMisesPRF``.

    ``amplitude * exp(kappa cos(x - mu)) / (2 pi I0(kappa)) + baseline``
    (normalised: a density over the circle). Parameters as
    :class:`GaussianPRF`; ``kappa`` is kept positive by an aggressive
    softplus.
    """

    parameter_labels = ("mu", "kappa", "amplitude", "baseline")

    def _parameter_spec(self) -> list[tuple[str, Transform]]:
        return [("mu", IDENTITY), ("kappa", AGGRESSIVE_SOFTPLUS),
                ("amplitude", self._amplitude_transform()), ("baseline", IDENTITY)]

    def _tuning(self, x: Any, first: Any, second: Any) -> Any:
        return _predict.von_mises(x, first, second)


class LogGaussianPRF(GaussianPRF):
    """Log-Gaussian tuning to a positive stimulus (e.g. numerosity), braincoder's ``LogGaussianPRF``.

    Parameters
    ----------
    parameterisation : {"mu_sd_natural", "mode_fwhm_natural"}
        ``mu_sd_natural``: labels ``mu, sd, amplitude, baseline``, with
        ``D = 1 + sd^2 / mu^2`` and tuning
        ``exp(-(ln x - ln(mu / sqrt(D)))^2 / (2 ln D))``.
        ``mode_fwhm_natural``: labels ``mode, fwhm, amplitude, baseline``, with
        ``s = asinh(fwhm / (2 mode)) / sqrt(2 ln 2)`` and tuning
        ``(mode / x) exp(s^2 / 2 - (ln(x / mode) - s^2)^2 / (2 s^2))``.
    **others
        As :class:`GaussianPRF`. The first two parameters are kept positive
        by a softplus; so is ``amplitude`` unless ``allow_neg_amplitudes``.

    Notes
    -----
    Frames with ``x <= 0`` (e.g. blanks coded 0) give a tuning of 0 (its limit
    as ``x -> 0+``); braincoder gives NaN there.
    """

    parameter_labels = ("mu", "sd", "amplitude", "baseline")
    _PARAMETERISATIONS: ClassVar[dict[str, tuple[str, str]]] = {
        "mu_sd_natural": ("mu", "sd"), "mode_fwhm_natural": ("mode", "fwhm")}

    def __init__(self, paradigm: Any = None, data: Any = None, parameters: Any = None,
                 weights: Any = None, omega: Any = None, allow_neg_amplitudes: bool = False,
                 verbosity: int = logging.INFO, model_stimulus_amplitude: bool = False,
                 parameterisation: str = "mu_sd_natural", *, hrf_model: HRFModel | None = None,
                 flexible_hrf_parameters: bool | None = None) -> None:
        if parameterisation not in self._PARAMETERISATIONS:
            raise input_error("parameterisation", f"is {parameterisation!r}",
                              expected=f"one of {list(self._PARAMETERISATIONS)}")
        self.parameterisation = parameterisation
        super().__init__(paradigm=paradigm, data=data, parameters=parameters, weights=weights,
                         omega=omega, allow_neg_amplitudes=allow_neg_amplitudes,
                         verbosity=verbosity, model_stimulus_amplitude=model_stimulus_amplitude,
                         hrf_model=hrf_model, flexible_hrf_parameters=flexible_hrf_parameters)

    def _parameter_spec(self) -> list[tuple[str, Transform]]:
        first, second = self._PARAMETERISATIONS[self.parameterisation]
        amplitude = IDENTITY if self.allow_neg_amplitudes else SOFTPLUS
        return [(first, SOFTPLUS), (second, SOFTPLUS), ("amplitude", amplitude),
                ("baseline", IDENTITY)]

    def _tuning(self, x: Any, first: Any, second: Any) -> Any:
        if self.parameterisation == "mu_sd_natural":
            return _predict.log_gaussian_mu_sd(x, first, second)
        return _predict.log_gaussian_mode_fwhm(x, first, second)


class GaussianPRFWithHRF(HRFEncodingModel, GaussianPRF):
    """:class:`GaussianPRF` convolved with an HRF (``hrf_model`` required)."""


class VonMisesPRFWithHRF(HRFEncodingModel, VonMisesPRF):
    """:class:`VonMisesPRF` convolved with an HRF (``hrf_model`` required)."""


class LogGaussianPRFWithHRF(HRFEncodingModel, LogGaussianPRF):
    """:class:`LogGaussianPRF` convolved with an HRF (``hrf_model`` required)."""
