"""Shared references for the encoding tests: numpy formulas, independent of the JAX code."""

import numpy as np
import pytest

import xneuro


def reference_convolve(x, kernel):
    """Edge-padded causal convolution with np.convolve, one column at a time."""
    x = np.asarray(x, float)
    kernel = np.asarray(kernel, float)
    x2 = x.reshape(len(x), -1)
    k2 = kernel.reshape(len(kernel), -1)
    n_taps, out = len(kernel), np.empty_like(x2)
    for v in range(x2.shape[1]):
        h = k2[:, v if k2.shape[1] > 1 else 0]
        out[:, v] = np.convolve(np.r_[np.full(n_taps, x2[0, v]), x2[:, v]], h)[n_taps:n_taps + len(x)]
    return out.reshape(x.shape)


def spm_kernel_reference(tr, n_taps, delay=6.0, dispersion=1.0):
    """The SPM kernel at k * tr, sum 1, from scipy's gamma densities."""
    from scipy.stats import gamma

    t = np.arange(n_taps) * tr
    h = gamma.pdf(t, delay / dispersion + 1, scale=dispersion) - 0.167 * gamma.pdf(t, 16.0)
    return h / h.sum()


@pytest.fixture
def float64():
    with xneuro.set_options(dtype="float64"):
        yield


@pytest.fixture
def ref():
    """The reference helpers, as a namespace."""

    class Ref:
        convolve = staticmethod(reference_convolve)
        spm_kernel = staticmethod(spm_kernel_reference)

    return Ref
