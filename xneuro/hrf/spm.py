"""The canonical SPM double-gamma HRF: :func:`spm_hrf` and :class:`SPMHRFModel`.

Normalisation and sampling (where this differs from braincoder)
---------------------------------------------------------------
- :func:`spm_hrf` returns the double gamma ``Gamma(t; a1, d1) - c Gamma(t; a2, d2)``
  evaluated in closed form at ``t`` (no interpolation), divided by its area
  over ``[0, max(t)]`` computed on a ``highres_dt`` grid, so that it
  integrates to 1 (units 1/s). braincoder instead shifts both gammas by two
  high-resolution samples (an onset of about 0.2 s), normalises to sum 1 over
  the high-resolution samples (so its values are about ``highres_dt`` times
  ours) and interpolates linearly at ``t``.
- :class:`SPMHRFModel` samples the HRF exactly at ``k * tr - onset`` for
  ``k = 0 .. floor(time_length / tr)`` and normalises the kernel to **sum 1**:
  a sustained neural input of 1 converges to a BOLD response of 1, so
  amplitudes keep the units of the neural response. braincoder samples at
  ``linspace(1e-4, time_length, round(time_length / tr))`` (spacing 1.0323 s
  at TR 1, 2.1333 s at TR 2: not the TR) and its kernel sums to about
  ``highres_dt / spacing`` (a constant 1 convolves to about 0.097 at TR 1).
  Amplitudes fitted with braincoder's HRF models are therefore larger than
  ours by about ``spacing / highres_dt`` for the same data.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xneuro.core.errors import DimensionError, input_error
from xneuro.hrf import _kernels
from xneuro.hrf.models import HRFModel, _positive

__all__ = ["SPMHRFModel", "spm_hrf"]


def _as_parameter(name: str, value: Any) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if arr.ndim > 1 or not np.isfinite(arr).all() or (name != "c" and np.any(arr <= 0)):
        raise input_error(name, f"is {value!r}",
                          expected="a finite scalar or 1-D array" + ("" if name == "c" else " > 0"),
                          fix="pass one value, or one value per HRF")
    return arr


def spm_hrf(t: Any, a1: Any = 6.0, d1: Any = 1.0, a2: Any = 16.0, d2: Any = 1.0,
            c: Any = 1.0 / 6, highres_dt: float = 0.1) -> np.ndarray:
    """Canonical SPM double-gamma HRF(s) at times ``t``, with unit area.

    ``h(t) = (Gamma(t; a1, d1) - c * Gamma(t; a2, d2)) / A`` with gamma densities
    of shape ``a`` and scale ``d`` (zero for ``t <= 0``), and ``A`` the area of
    the numerator over ``[0, max(t)]`` (a Riemann sum on a ``highres_dt``
    grid). The values at ``t`` are exact (closed form); see the module notes
    for the differences from braincoder.

    Parameters
    ----------
    t : array-like, shape (T,) or (T, 1)
        Times in seconds (braincoder's ``(T, 1)`` column is accepted).
    a1, d1 : float or array of shape (M,)
        Shape and scale of the response gamma (peak at ``(a1 - 1) * d1``).
    a2, d2 : float or array of shape (M,)
        Shape and scale of the undershoot gamma.
    c : float or array of shape (M,)
        Undershoot ratio.
    highres_dt : float
        Step in seconds of the grid that computes the area.

    Returns
    -------
    numpy.ndarray, shape (T,) or (T, M)
        One column per HRF when any parameter is an array.

    Raises
    ------
    InputError
        For non-finite ``t``, ``max(t) <= 0``, or non-positive shapes, scales or step.

    Examples
    --------
    >>> h = spm_hrf(np.arange(0, 32, 0.1))
    >>> round(float(h.sum() * 0.1), 3)
    1.0
    """
    times = np.asarray(t, dtype=float)
    if times.ndim == 2 and times.shape[1] == 1:
        times = times[:, 0]
    if times.ndim != 1 or times.size == 0 or not np.isfinite(times).all():
        raise input_error("t", f"has shape {times.shape}", cls=DimensionError,
                          expected="a finite 1-D array of seconds (or a (T, 1) column)",
                          fix="pass e.g. t=np.arange(0, 32, tr)")
    if times.max() <= 0:
        raise input_error("t", f"has maximum {times.max():g} s",
                          expected="some positive times (the HRF starts at 0 s)",
                          fix="pass times after the onset, e.g. np.arange(0, 32, tr)")
    step = _positive("highres_dt", highres_dt)
    pars = {k: _as_parameter(k, v) for k, v in
            {"a1": a1, "d1": d1, "a2": a2, "d2": d2, "c": c}.items()}
    shape = np.broadcast_shapes(*(p.shape for p in pars.values()))
    column = (slice(None), None) if shape else (slice(None),)
    grid = np.arange(0.0, times.max() + step / 2, step)
    area = _kernels.double_gamma(grid[column], **pars).sum(axis=0) * step
    return _kernels.double_gamma(times[column], **pars) / area


class SPMHRFModel(HRFModel):
    """The canonical SPM HRF sampled at the TR, with fittable delay and dispersion.

    The kernel is ``spm_hrf`` with ``a1 = hrf_delay / hrf_dispersion + 1``,
    ``d1 = hrf_dispersion``, ``a2 = undershoot / u_dispersion``,
    ``d2 = u_dispersion`` and ``c = ratio`` (braincoder's parameterisation: the
    response peaks at ``hrf_delay`` seconds), sampled at ``k * tr - onset`` for
    ``k = 0 .. floor(time_length / tr)`` and normalised to sum 1. See the
    module notes for how this differs from braincoder.

    Parameters
    ----------
    tr : float
        Repetition time in seconds: the kernel's sample spacing.
    unique_hrfs : bool, default False
        One HRF per voxel: ``hrf_delay`` and ``hrf_dispersion`` become
        per-voxel parameters of the encoding models that use this HRF.
    highres_dt : float, default 0.1
        Step of :meth:`hrf_curve` (the continuous curve, for plots).
    time_length : float, default 32
        Kernel length in seconds.
    onset : float, default 0
        Shift of the HRF in seconds (positive: later).
    delay, dispersion : float
        Default ``hrf_delay`` and ``hrf_dispersion``.
    undershoot, u_dispersion, ratio : float
        Undershoot delay, dispersion and ratio (fixed).
    min_hrf_delay, max_hrf_delay : float
        Bounds of ``hrf_delay``: ``delay = min + (max - min) * sigmoid(u)``.
    min_dispersion, max_dispersion : float
        Bounds of ``hrf_dispersion``, with the same sigmoid transform.

    Raises
    ------
    InputError
        For non-positive values, empty bounds, defaults outside their
        bounds, or ``time_length < tr``.

    Examples
    --------
    >>> hrf = SPMHRFModel(tr=1.5)
    >>> kernel = hrf.get_hrf()          # (22,), sums to 1
    >>> per_voxel = hrf.get_hrf(hrf_delay=[5.0, 6.0, 7.0])   # (22, 3)
    """

    parameter_labels = ("hrf_delay", "hrf_dispersion")

    def __init__(self, tr: float, unique_hrfs: bool = False, highres_dt: float = 0.1,
                 time_length: float = 32.0, onset: float = 0.0, delay: float = 6.0,
                 undershoot: float = 16.0, dispersion: float = 1.0, u_dispersion: float = 1.0,
                 ratio: float = 0.167, min_hrf_delay: float = 3.0, max_hrf_delay: float = 7.0,
                 min_dispersion: float = 0.3, max_dispersion: float = 2.0) -> None:
        super().__init__(unique_hrfs=unique_hrfs, tr=_positive("tr", tr))
        for name, value in (("highres_dt", highres_dt), ("time_length", time_length),
                            ("undershoot", undershoot), ("u_dispersion", u_dispersion),
                            ("min_hrf_delay", min_hrf_delay), ("max_hrf_delay", max_hrf_delay),
                            ("min_dispersion", min_dispersion),
                            ("max_dispersion", max_dispersion)):
            _positive(name, value)
        if not (np.isfinite(onset) and np.isfinite(ratio) and 0 <= ratio < 1):
            raise input_error("onset, ratio", f"are {onset!r}, {ratio!r}",
                              expected="a finite onset and 0 <= ratio < 1")
        if time_length < self.tr:
            raise input_error("time_length", f"is {time_length:g} s, shorter than tr={tr:g} s",
                              expected="a kernel of at least one TR", fix="pass time_length=32")
        self.highres_dt = float(highres_dt)
        self.time_length = float(time_length)
        self.onset = float(onset)
        self.hrf_delay = float(delay)
        self.hrf_dispersion = float(dispersion)
        self.undershoot = float(undershoot)
        self.u_dispersion = float(u_dispersion)
        self.ratio = float(ratio)
        self.min_hrf_delay, self.max_hrf_delay = float(min_hrf_delay), float(max_hrf_delay)
        self.min_dispersion, self.max_dispersion = float(min_dispersion), float(max_dispersion)
        for label, (lower, upper) in self.bounds.items():
            if not lower < upper:
                raise input_error(f"bounds of {label}", f"are [{lower:g}, {upper:g}]",
                                  expected="min < max", fix="swap or widen them")
        self.check_parameters(np.array([[self.hrf_delay, self.hrf_dispersion]]))
        self.time_stamps = np.arange(int(np.floor(self.time_length / self.tr + 1e-9)) + 1
                                     ) * self.tr - self.onset
        self._default_kernel = self.kernel()

    @property
    def n_taps(self) -> int:
        """Kernel length in samples: ``floor(time_length / tr) + 1``."""
        return int(self.time_stamps.size)

    @property
    def bounds(self) -> dict[str, tuple[float, float]]:
        """``{"hrf_delay": (min, max), "hrf_dispersion": (min, max)}``."""
        return {"hrf_delay": (self.min_hrf_delay, self.max_hrf_delay),
                "hrf_dispersion": (self.min_dispersion, self.max_dispersion)}

    def default_parameters(self) -> dict[str, float]:
        """``{"hrf_delay": delay, "hrf_dispersion": dispersion}``."""
        return {"hrf_delay": self.hrf_delay, "hrf_dispersion": self.hrf_dispersion}

    def _ranges(self, xp: Any) -> tuple[Any, Any]:
        lower = xp.asarray([self.min_hrf_delay, self.min_dispersion])
        upper = xp.asarray([self.max_hrf_delay, self.max_dispersion])
        return lower, upper - lower

    def transform_forward(self, unconstrained: Any, xp: Any = np) -> Any:
        """``min + (max - min) * sigmoid(u)`` for each of the two parameters, ``(..., 2)``."""
        lower, width = self._ranges(xp)
        return lower + width / (1.0 + xp.exp(-unconstrained))

    def transform_backward(self, parameters: Any, xp: Any = np) -> Any:
        """``logit((p - min) / (max - min))``, the inverse of :meth:`transform_forward`."""
        lower, width = self._ranges(xp)
        fraction = (parameters - lower) / width
        return xp.log(fraction) - xp.log1p(-fraction)

    def kernel(self, hrf_parameters: Any = None, xp: Any = np) -> Any:
        """Sum-1 kernel(s) at the TR; see :meth:`HRFModel.kernel`."""
        if hrf_parameters is None:
            delay, dispersion = self.hrf_delay, self.hrf_dispersion
            if xp is np and getattr(self, "_default_kernel", None) is not None:
                return self._default_kernel
        else:
            delay, dispersion = hrf_parameters[..., 0], hrf_parameters[..., 1]
        return _kernels.spm_kernel(self.tr, self.n_taps, delay, dispersion, onset=self.onset,
                                   undershoot=self.undershoot, u_dispersion=self.u_dispersion,
                                   ratio=self.ratio, xp=xp)

    def hrf_curve(self, hrf_delay: float | None = None,
                  hrf_dispersion: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The continuous HRF on a ``highres_dt`` grid (unit area), for plots.

        Returns
        -------
        tuple of numpy.ndarray
            Times in seconds and :func:`spm_hrf` values at them.
        """
        delay = self.hrf_delay if hrf_delay is None else hrf_delay
        dispersion = self.hrf_dispersion if hrf_dispersion is None else hrf_dispersion
        self.check_parameters(np.array([[delay, dispersion]], dtype=float))
        times = np.arange(0.0, self.time_length + self.highres_dt / 2, self.highres_dt)
        values = spm_hrf(times - self.onset, a1=delay / dispersion + 1.0, d1=dispersion,
                         a2=self.undershoot / self.u_dispersion, d2=self.u_dispersion,
                         c=self.ratio, highres_dt=self.highres_dt)
        return times, values

    def __repr__(self) -> str:
        return (f"SPMHRFModel(tr={self.tr}, unique_hrfs={self.unique_hrfs}, "
                f"delay={self.hrf_delay}, dispersion={self.hrf_dispersion})")
