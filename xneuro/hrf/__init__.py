"""Haemodynamic response functions: kernels sampled at the TR, and causal convolution.

- :func:`spm_hrf`: the canonical SPM double gamma at given times (unit area).
- :class:`SPMHRFModel`: that HRF sampled at the TR (kernel sums to 1), with
  ``hrf_delay`` / ``hrf_dispersion`` fittable within bounds, shared or per voxel.
- :class:`CustomHRFModel`: a kernel you supply.
- :func:`convolve` (accessor ``ts.hrf.convolve(hrf_model)``): causal convolution
  of any ``(time, ...)`` series, output as long as the input, dask-lazy.

This package needs only numpy and scipy; the encoding models call the same
kernels under JAX (``xp=jax.numpy``) to differentiate through the HRF.
"""

from xneuro.hrf.convolve import convolve
from xneuro.hrf.models import CustomHRFModel, HRFModel
from xneuro.hrf.spm import SPMHRFModel, spm_hrf

__all__ = ["CustomHRFModel", "HRFModel", "SPMHRFModel", "convolve", "spm_hrf"]
