"""Causal HRF convolution: numpy, pandas, xarray (lazy), per-voxel kernels, JAX gradients."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import xneuro  # noqa: F401  (registers the accessors)
from xneuro.core.errors import DimensionError, InputError
from xneuro.hrf import CustomHRFModel, SPMHRFModel, _kernels, convolve


def _reference(x, kernel, padding="edge"):
    """y[t] = sum_k h[k] x[t - k], x[<0] = x[0] (edge) or 0, by explicit loops."""
    x = np.asarray(x, float)
    out = np.zeros_like(x)
    for t in range(x.shape[0]):
        for k in range(len(kernel)):
            j = t - k
            value = x[j] if j >= 0 else (x[0] if padding == "edge" else 0.0 * x[0])
            out[t] += kernel[k] * value
    return out


@pytest.mark.parametrize("padding", ["edge", "zero"])
def test_numpy_convolution_matches_the_definition(rng, padding):
    hrf = SPMHRFModel(tr=1.5)
    x = rng.normal(size=(40, 3))
    np.testing.assert_allclose(convolve(x, hrf, padding=padding),
                               _reference(x, hrf.get_hrf(), padding), rtol=1e-12, atol=1e-12)


def test_long_kernels_use_the_fft_and_agree(rng):
    kernel = rng.random(_kernels.DIRECT_MAX_TAPS + 30)
    x = rng.normal(size=(200, 4))
    hrf = CustomHRFModel(kernel)
    np.testing.assert_allclose(convolve(x, hrf), _reference(x, kernel), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(convolve(x, hrf, padding="zero"),
                               _reference(x, kernel, "zero"), rtol=1e-10, atol=1e-10)


def test_constant_series_stays_constant_and_impulse_gives_the_kernel():
    hrf = SPMHRFModel(tr=1.0)
    np.testing.assert_allclose(convolve(np.full((50, 2), 3.0), hrf), 3.0)
    impulse = np.zeros(60)
    impulse[5] = 1.0
    out = convolve(impulse, hrf, padding="zero")
    np.testing.assert_allclose(out[5:5 + hrf.n_taps], hrf.get_hrf(), atol=1e-15)
    assert np.all(out[:5] == 0)


def test_per_voxel_kernels(rng):
    hrf = SPMHRFModel(tr=1.5, unique_hrfs=True)
    x = rng.normal(size=(60, 3))
    delays = np.array([4.0, 5.5, 7.0])
    out = convolve(x, hrf, hrf_delay=delays)
    for v, delay in enumerate(delays):
        np.testing.assert_allclose(out[:, v], _reference(x[:, v], hrf.get_hrf(hrf_delay=delay)),
                                   rtol=1e-12, atol=1e-12)


def test_pandas_in_pandas_out(rng):
    hrf = SPMHRFModel(tr=2.0)
    df = pd.DataFrame(rng.normal(size=(30, 2)), index=pd.Index(np.arange(30) * 2.0, name="time"),
                      columns=["a", "b"])
    out = convolve(df, hrf)
    assert isinstance(out, pd.DataFrame)
    pd.testing.assert_index_equal(out.columns, df.columns)
    np.testing.assert_allclose(out.to_numpy(), _reference(df.to_numpy(), hrf.get_hrf()))
    with pytest.raises(InputError, match=r"timeseries tr: is 1 s but hrf_model.tr is 2 s"):
        convolve(df.set_axis(np.arange(30) * 1.0), hrf)


def test_labeled_convolution_is_lazy_and_keeps_coords(rng, no_compute):
    hrf = SPMHRFModel(tr=1.5)
    da = xr.DataArray(rng.normal(size=(40, 6)), dims=("time", "voxel"),
                      coords={"time": ("time", np.arange(40) * 1.5, {"units": "s"}),
                              "voxel": np.arange(6), "roi": ("voxel", list("aabbcc"))},
                      attrs={"tr": 1.5}, name="bold").chunk({"voxel": 2})
    delays = xr.DataArray([3.5, 4.0, 5.0, 6.0, 6.5, 7.0], dims="voxel").chunk({"voxel": 2})
    out = convolve(da, hrf, hrf_delay=delays)
    assert out.chunks is not None and out.dims == ("time", "voxel") and out.name == "bold"
    assert "roi" in out.coords and out.attrs["tr"] == 1.5


def test_labeled_values_and_extra_dims(rng):
    hrf = SPMHRFModel(tr=1.5)
    images = xr.DataArray(rng.random((40, 3, 4)), dims=("time", "y", "x"))
    out = convolve(images, hrf).values
    np.testing.assert_allclose(out.reshape(40, -1),
                               _reference(images.values.reshape(40, -1), hrf.get_hrf()),
                               rtol=1e-12)
    da = xr.DataArray(rng.normal(size=(40, 3)), dims=("time", "voxel")).chunk({"voxel": 2})
    delays = np.array([4.0, 5.0, 6.0])
    np.testing.assert_allclose(convolve(da, hrf, hrf_delay=delays).values,
                               convolve(da.values, hrf, hrf_delay=delays), rtol=1e-12)


@pytest.mark.parametrize("use_accessor", [True, False])
def test_accessor_twin(rng, use_accessor):
    hrf = SPMHRFModel(tr=1.5)
    da = xr.DataArray(rng.normal(size=(30, 2)), dims=("time", "voxel"))
    out = da.hrf.convolve(hrf, hrf_delay=5.0) if use_accessor else convolve(da, hrf,
                                                                           hrf_delay=5.0)
    np.testing.assert_allclose(out.values, _reference(da.values, hrf.get_hrf(hrf_delay=5.0)),
                               rtol=1e-12)


def test_bad_input():
    hrf = SPMHRFModel(tr=1.5)
    with pytest.raises(DimensionError, match=r"hrf_model: has a kernel of 22 samples \(32 s at "
                       r"tr=1.5 s\), longer than the 10 frames of timeseries.*fix: use a longer"):
        convolve(np.zeros((10, 2)), hrf)
    with pytest.raises(DimensionError, match=r"timeseries: has dims"):
        convolve(xr.DataArray(np.zeros((30, 2)), dims=("frame", "voxel")), hrf)
    with pytest.raises(InputError, match=r"hrf_model: is a ndarray"):
        convolve(np.zeros((30, 2)), np.ones(5))
    with pytest.raises(InputError, match=r"padding: is 'reflect'"):
        convolve(np.zeros((30, 2)), hrf, padding="reflect")
    with pytest.raises(InputError, match=r"hrf_parameters: has unknown names"):
        convolve(xr.DataArray(np.zeros((30, 2)), dims=("time", "voxel")), hrf, delay=5.0)
    with pytest.raises(InputError, match=r"hrf_delay: has 1 values outside \[3, 7\]"):
        convolve(np.zeros((30, 2)), hrf, hrf_delay=[5.0, 8.0])
    with pytest.raises(DimensionError, match=r"time.*split into 2 chunks"):
        convolve(xr.DataArray(np.zeros((30, 2)), dims=("time", "voxel")).chunk({"time": 15}),
                 hrf)


def test_out_of_bounds_lazy_parameters_raise_when_computed():
    hrf = SPMHRFModel(tr=1.5)
    da = xr.DataArray(np.zeros((30, 2)), dims=("time", "voxel")).chunk({"voxel": 1})
    out = convolve(da, hrf, hrf_delay=xr.DataArray([5.0, 9.0], dims="voxel").chunk())
    with pytest.raises(InputError, match=r"hrf_delay: has 1 values outside"):
        out.compute()


def test_jax_convolution_is_differentiable_in_the_hrf_parameters(rng):
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    hrf = SPMHRFModel(tr=1.5, unique_hrfs=True)
    x = rng.normal(size=(50, 2))

    @jax.jit
    def convolved(parameters):
        return hrf.convolve_array(jnp.asarray(x), parameters, jnp)

    def loss(parameters):
        return jnp.sum(convolved(parameters) ** 2)

    with jax.enable_x64(True):
        theta = jnp.asarray([[5.0, 1.0], [6.0, 0.8]])
        grad = np.asarray(jax.jit(jax.grad(loss))(theta))
        step = 1e-6
        numeric = np.zeros((2, 2))
        for i in range(2):
            for j in range(2):
                d = np.zeros((2, 2))
                d[i, j] = step
                numeric[i, j] = (loss(theta + d) - loss(theta - d)) / (2 * step)
        np.testing.assert_allclose(grad, numeric, rtol=1e-5)
        np.testing.assert_allclose(np.asarray(convolved(theta)),
                                   convolve(x, hrf, hrf_delay=[5.0, 6.0],
                                            hrf_dispersion=[1.0, 0.8]), rtol=1e-10)


def test_large_inputs_use_the_fft_and_agree(rng):
    hrf = SPMHRFModel(tr=1.5, unique_hrfs=True)
    x = rng.normal(size=(300, 250))
    assert x.size > _kernels.DIRECT_MAX_SIZE
    delays = rng.uniform(4, 7, 250)
    for kwargs in ({}, {"hrf_delay": delays}):
        kernels = hrf.get_hrf(**kwargs).reshape(hrf.n_taps, -1)
        expected = np.stack([
            np.convolve(np.r_[np.full(22, x[0, v]), x[:, v]], kernels[:, v % kernels.shape[1]])
            [22:322] for v in range(250)], axis=1)
        np.testing.assert_allclose(convolve(x, hrf, **kwargs), expected, rtol=1e-10,
                                   atol=1e-12)
