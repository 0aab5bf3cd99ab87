"""Pure array kernels of the HRFs: gamma densities, TR-sampled SPM kernels, causal convolution.

No xarray and no validation here: the labeled layer (:mod:`xneuro.hrf.spm`,
:mod:`xneuro.hrf.models`, :mod:`xneuro.hrf.convolve`) checks its inputs and
calls these. Every function takes the array namespace ``xp`` (``numpy`` or
``jax.numpy``) so that the same code serves the numpy path and the JAX path
that the encoding models differentiate (with respect to the HRF parameters
too).

Layout: time (or kernel taps) is the FIRST axis everywhere. A kernel is
``(L,)`` (one HRF for every series) or ``(L, *units)`` (one HRF per series,
broadcast against the trailing axes of the series).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "DIRECT_MAX_SIZE",
    "DIRECT_MAX_TAPS",
    "TOEPLITZ_MAX_TIME",
    "convolve",
    "double_gamma",
    "gamma_pdf",
    "spm_kernel",
]

#: numpy: series of at most DIRECT_MAX_SIZE values and kernels of at most
#: DIRECT_MAX_TAPS taps are convolved as a sum of shifted copies (exact); larger
#: ones with scipy's FFT convolution (faster once the data leave the cache).
DIRECT_MAX_TAPS = 96
DIRECT_MAX_SIZE = 2**16
#: Under JAX, one shared kernel on runs up to this many frames is applied as a
#: Toeplitz matrix product; longer runs and per-series kernels use an FFT.
TOEPLITZ_MAX_TIME = 600


def _gammaln(xp: Any) -> Any:
    if xp is np:
        from scipy.special import gammaln

        return gammaln
    import jax.scipy.special

    return jax.scipy.special.gammaln


def gamma_pdf(t: Any, shape: Any, scale: Any, xp: Any = np) -> Any:
    """Gamma density with ``shape`` and ``scale`` at times ``t`` (zero for ``t <= 0``).

    Computed in log space; the masked branch never sees ``log(0)``, so
    gradients stay finite.
    """
    positive = t > 0
    safe = xp.where(positive, t, 1.0)
    log_pdf = (shape - 1.0) * xp.log(safe) - safe / scale - shape * xp.log(scale) - _gammaln(xp)(
        shape
    )
    return xp.where(positive, xp.exp(log_pdf), 0.0)


def double_gamma(t: Any, a1: Any, d1: Any, a2: Any, d2: Any, c: Any, xp: Any = np) -> Any:
    """``Gamma(t; a1, d1) - c * Gamma(t; a2, d2)``: the SPM double gamma, unnormalised."""
    return gamma_pdf(t, a1, d1, xp) - c * gamma_pdf(t, a2, d2, xp)


def spm_kernel(
    tr: float,
    n_taps: int,
    delay: Any,
    dispersion: Any,
    *,
    onset: float = 0.0,
    undershoot: float = 16.0,
    u_dispersion: float = 1.0,
    ratio: float = 0.167,
    xp: Any = np,
) -> Any:
    """The SPM HRF sampled at ``k * tr - onset`` (k = 0 .. n_taps-1), each kernel summing to 1.

    Parameters
    ----------
    tr : float
        Seconds between samples.
    n_taps : int
        Kernel length.
    delay, dispersion : float or array
        Peak delay (the mode of the first gamma) and dispersion (its scale);
        arrays give one kernel per element.
    onset, undershoot, u_dispersion, ratio : float
        Onset shift, undershoot delay and dispersion, and undershoot ratio.
    xp : module
        ``numpy`` or ``jax.numpy``.

    Returns
    -------
    array, shape (n_taps,) or (n_taps, *delay.shape)
        Kernels normalised to unit sum (unit gain: a sustained input of 1
        converges to 1 after convolution).
    """
    delay = xp.asarray(delay)
    dispersion = xp.asarray(dispersion)
    extra = max(delay.ndim, dispersion.ndim)
    t = xp.reshape(xp.arange(n_taps) * tr - onset, (n_taps,) + (1,) * extra)
    h = double_gamma(t, delay / dispersion + 1.0, dispersion, undershoot / u_dispersion,
                     u_dispersion, ratio, xp)
    return h / xp.sum(h, axis=0)


def _fft_length(n: int) -> int:
    from scipy.fft import next_fast_len

    return int(next_fast_len(n, real=True))


def convolve(x: Any, kernel: Any, xp: Any = np, *, padding: str = "edge") -> Any:
    """Causal convolution along the first axis, output as long as the input.

    ``y[t] = sum_k kernel[k] * x[t - k]``, where samples before the start are
    the first sample (``padding="edge"``: a series that starts at its
    baseline stays there) or zero (``padding="zero"``).

    Parameters
    ----------
    x : array, shape (T, ...)
        Series with time first.
    kernel : array, shape (L,) or (L, ...)
        One kernel for all series, or kernels broadcast against ``x[0]``.
    xp : module
        ``numpy`` or ``jax.numpy``.
    padding : {"edge", "zero"}
        What precedes the first sample.

    Returns
    -------
    array, shape of ``x`` (broadcast with the kernel's trailing axes)

    Notes
    -----
    numpy: a sum of shifted copies accumulated in place (exact) for small
    inputs, else ``scipy.signal.fftconvolve``. JAX: one shared kernel on runs of at
    most :data:`TOEPLITZ_MAX_TIME` frames is a matrix product with the
    ``(T, T + L)`` Toeplitz matrix (fast forward and backward passes, also on
    GPU); otherwise an FFT. A sum of shifted slices, although fastest
    forward, compiles and differentiates slowly under XLA.
    """
    n_time, n_taps = x.shape[0], kernel.shape[0]
    if xp is not np and kernel.ndim == 1 and n_time <= TOEPLITZ_MAX_TIME:
        return _convolve_toeplitz(x, kernel, xp, padding, n_time, n_taps)
    # right-align the kernel's unit axes with those of x: (L, 1, .., 1, *units)
    kernel = xp.reshape(kernel, (n_taps,) + (1,) * (x.ndim - kernel.ndim) + kernel.shape[1:])
    if xp is np:
        if n_taps <= DIRECT_MAX_TAPS and x.size <= DIRECT_MAX_SIZE:
            return _convolve_direct(x, kernel, padding, n_time, n_taps)
        return _convolve_scipy(x, kernel, padding, n_time, n_taps)
    return _convolve_fft(x, kernel, xp, padding, n_time, n_taps)


def _pad(x: Any, n_taps: int, xp: Any, padding: str) -> Any:
    first = x[:1] if padding == "edge" else xp.zeros_like(x[:1])
    return xp.concatenate([xp.broadcast_to(first, (n_taps, *x.shape[1:])), x], axis=0)


def _convolve_direct(x: np.ndarray, kernel: np.ndarray, padding: str, n_time: int,
                     n_taps: int) -> np.ndarray:
    padded = _pad(x, n_taps, np, padding)
    out = np.zeros(np.broadcast_shapes(x.shape, kernel.shape[1:]),
                   dtype=np.result_type(x, kernel))
    for k in range(n_taps):  # two passes over the data per tap, no temporaries
        out += kernel[k] * padded[n_taps - k:n_taps - k + n_time]
    return out


def _convolve_toeplitz(x: Any, kernel: Any, xp: Any, padding: str, n_time: int,
                       n_taps: int) -> Any:
    padded = _pad(x, n_taps, xp, padding)
    lag = xp.arange(n_time)[:, None] + n_taps - xp.arange(n_time + n_taps)[None, :]
    inside = (lag >= 0) & (lag < n_taps)
    matrix = xp.where(inside, kernel[xp.clip(lag, 0, n_taps - 1)], 0.0)
    out = matrix @ xp.reshape(padded, (n_time + n_taps, -1))
    return xp.reshape(out, (n_time, *x.shape[1:]))


def _convolve_scipy(x: np.ndarray, kernel: np.ndarray, padding: str, n_time: int,
                    n_taps: int) -> np.ndarray:
    from scipy.signal import fftconvolve

    dtype = x.dtype if x.dtype.kind == "f" else np.result_type(x, kernel)
    padded = _pad(x.astype(dtype, copy=False), n_taps, np, padding)
    out = fftconvolve(padded, kernel.astype(dtype, copy=False), axes=0)
    return out[n_taps:n_taps + n_time]


def _convolve_fft(x: Any, kernel: Any, xp: Any, padding: str, n_time: int, n_taps: int) -> Any:
    padded = _pad(x, n_taps, xp, padding)
    n = _fft_length(padded.shape[0] + n_taps - 1)
    spectrum = xp.fft.rfft(padded, n=n, axis=0) * xp.fft.rfft(kernel, n=n, axis=0)
    out = xp.fft.irfft(spectrum, n=n, axis=0)[n_taps:n_taps + n_time]
    return xp.asarray(out, dtype=xp.result_type(x, kernel))
