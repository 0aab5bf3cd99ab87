"""2-D pRF models on a pixel grid pinned to numpy formulas; grids, pixel order, gradients."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from xneuro.core.errors import DimensionError
from xneuro.encoding import (
    DifferenceOfGaussiansPRF2D,
    DifferenceOfGaussiansPRF2DWithHRF,
    DivisiveNormalizationGaussianPRF2D,
    DivisiveNormalizationGaussianPRF2DWithHRF,
    GaussianPRF2D,
    GaussianPRF2DWithHRF,
)
from xneuro.hrf import SPMHRFModel

NX, NY, T = 6, 5, 40
XS, YS = np.linspace(-2, 2, NX), np.linspace(-1, 1, NY)
AREA = (XS[1] - XS[0]) * (YS[1] - YS[0])


def _paradigm(seed=0):
    rng = np.random.default_rng(seed)
    return xr.DataArray((rng.random((T, NY, NX)) > 0.6).astype(float), dims=("time", "y", "x"),
                        coords={"time": ("time", np.arange(T) * 1.5, {"units": "s"}),
                                "y": YS, "x": XS})


def _rf(x, y, sd, amplitude):
    """braincoder's field: a exp(-d^2 / 2 sd^2) pixel_area / (sd sqrt(2 pi)), (y, x) grid."""
    gy, gx = np.meshgrid(YS, XS, indexing="ij")
    d2 = (gx - x) ** 2 + (gy - y) ** 2
    return amplitude * np.exp(-d2 / (2 * sd**2)) * AREA / (sd * np.sqrt(2 * np.pi))


PARS = pd.DataFrame({"x": [0.0, -1.0, 1.5], "y": [0.0, 0.5, -0.3], "sd": [0.5, 1.0, 0.8],
                     "baseline": [0.0, 1.0, -0.5], "amplitude": [1.0, 2.0, 0.5]})


def _expected_gaussian(paradigm, pars):
    s = paradigm.values.reshape(T, -1)
    return np.stack([s @ _rf(p.x, p.y, p.sd, p.amplitude).ravel() + p.baseline
                     for p in pars.itertuples()], axis=1)


def test_gaussian_prf2d_formula(float64):
    paradigm = _paradigm()
    model = GaussianPRF2D(paradigm=paradigm)
    assert model.pixel_area == pytest.approx(AREA)
    assert (model.n_x, model.n_y) == (NX, NY)
    pred = model.predict(parameters=xr.Dataset.from_dataframe(PARS.rename_axis("voxel")))
    assert pred.dims == ("time", "voxel") and pred.name == "prediction"
    np.testing.assert_allclose(pred.values, _expected_gaussian(paradigm, PARS), rtol=1e-12)
    rf = model.get_rf(PARS)
    np.testing.assert_allclose(rf.sel(voxel=1).values, _rf(-1.0, 0.5, 1.0, 2.0).ravel())


def test_difference_of_gaussians_formula_and_hrf_variant(float64, ref):
    paradigm = _paradigm(1)
    pars = PARS.assign(srf_amplitude=[0.5, 0.2, 1.0], srf_size=[2.0, 3.0, 1.5])
    pred = DifferenceOfGaussiansPRF2D(paradigm=paradigm).predict(parameters=pars).values
    s = paradigm.values.reshape(T, -1)
    expected = np.empty_like(pred)
    for v, p in enumerate(pars.itertuples()):
        rf = _rf(p.x, p.y, p.sd, p.amplitude) - _rf(p.x, p.y, p.sd * p.srf_size,
                                                    p.amplitude * p.srf_amplitude * p.srf_size)
        expected[:, v] = s @ rf.ravel() + p.baseline
    np.testing.assert_allclose(pred, expected, rtol=1e-12)
    hrf = SPMHRFModel(tr=1.5)
    with_hrf = DifferenceOfGaussiansPRF2DWithHRF(paradigm=paradigm, hrf_model=hrf)
    a, b = pars.amplitude.to_numpy(), pars.baseline.to_numpy()
    np.testing.assert_allclose(with_hrf.predict(parameters=pars).values,
                               ref.convolve((expected - b) / a, hrf.get_hrf()) * a + b,
                               rtol=1e-10)


DN = pd.DataFrame({"x": [0.0, 1.0], "y": [0.0, -0.5], "sd": [0.6, 1.0],
                   "rf_amplitude": [2.0, 1.0], "srf_amplitude": [0.5, 1.5], "srf_size": [2.0, 3.0],
                   "neural_baseline": [0.1, 0.5], "surround_baseline": [1.0, 2.0]})


def _expected_dn(paradigm, pars):
    s = paradigm.values.reshape(T, -1)
    out = []
    for p in pars.itertuples():
        act = p.rf_amplitude * (s @ _rf(p.x, p.y, p.sd, 1.0).ravel()) + p.neural_baseline
        norm = p.srf_amplitude * p.rf_amplitude * (s @ _rf(p.x, p.y, p.sd * p.srf_size,
                                                           1.0).ravel()) + p.surround_baseline
        out.append(act / norm)
    return np.stack(out, axis=1)


def test_divisive_normalisation_formula_and_hrf_variant(float64, ref):
    paradigm = _paradigm(2)
    pred = DivisiveNormalizationGaussianPRF2D(paradigm=paradigm).predict(parameters=DN)
    np.testing.assert_allclose(pred.values, _expected_dn(paradigm, DN), rtol=1e-12)
    hrf = SPMHRFModel(tr=1.5)
    model = DivisiveNormalizationGaussianPRF2DWithHRF(paradigm=paradigm, hrf_model=hrf)
    pars = DN.assign(bold_baseline=[10.0, -2.0])
    resting = (DN.neural_baseline / DN.surround_baseline).to_numpy()
    expected = ref.convolve(_expected_dn(paradigm, DN) - resting, hrf.get_hrf()) + \
        pars.bold_baseline.to_numpy()
    np.testing.assert_allclose(model.predict(parameters=pars).values, expected, rtol=1e-10)


def test_hrf_variant_and_per_voxel_hrfs(float64, ref):
    paradigm = _paradigm(3)
    hrf = SPMHRFModel(tr=1.5, unique_hrfs=True)
    model = GaussianPRF2D(paradigm=paradigm, hrf_model=hrf)  # hrf_model on the plain class
    pars = PARS.assign(hrf_delay=[4.0, 5.0, 6.5], hrf_dispersion=[1.0, 0.7, 1.3])
    pred = model.predict(parameters=pars).values
    unit = _expected_gaussian(paradigm, PARS.assign(amplitude=1.0, baseline=0.0))
    for v, p in enumerate(pars.itertuples()):
        kernel = hrf.get_hrf(hrf_delay=p.hrf_delay, hrf_dispersion=p.hrf_dispersion)
        np.testing.assert_allclose(pred[:, v], ref.convolve(unit[:, v], kernel) * p.amplitude +
                                   p.baseline, rtol=1e-10)


def test_grids_from_arrays_coords_and_grid_coordinates():
    paradigm = _paradigm(4)
    labeled = GaussianPRF2D(paradigm=paradigm).predict(parameters=PARS).values
    # braincoder layout: flattened pixels with explicit (x, y) grid coordinates
    gy, gx = np.meshgrid(YS, XS, indexing="ij")
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    flat = paradigm.values.reshape(T, -1)
    model = GaussianPRF2D(grid_coordinates=grid, paradigm=flat)
    np.testing.assert_allclose(model.predict(parameters=PARS).to_numpy(), labeled, rtol=1e-5)
    assert list(model.grid_coordinates.columns) == ["x", "y"]
    # the same images with the pixels in another order (x before y) give the same prediction
    swapped = paradigm.transpose("time", "x", "y")
    np.testing.assert_allclose(model.predict(paradigm=swapped, parameters=PARS).values, labeled,
                               rtol=1e-5)
    # a DataFrame with an (x, y) column MultiIndex
    frame = paradigm.stack(pixel=("x", "y")).to_pandas()
    np.testing.assert_allclose(model.predict(paradigm=frame, parameters=PARS).to_numpy(), labeled,
                               rtol=1e-5)
    # arrays without coords: braincoder's default grid linspace(-1, 1)
    bare = GaussianPRF2D(paradigm=paradigm.values)
    np.testing.assert_allclose(bare.grid_coordinates.x.unique(), np.linspace(-1, 1, NX))


def test_grid_errors():
    paradigm = _paradigm(5)
    with pytest.raises(DimensionError, match=r"paradigm: has dims .*: no image grid.*"
                       r"grid_coordinates"):
        GaussianPRF2D(paradigm=paradigm.values.reshape(T, -1))
    model = GaussianPRF2D(paradigm=paradigm)
    with pytest.raises(DimensionError, match=r"paradigm: has 12 pixels.*expected 30 pixels"):
        model.predict(paradigm=np.zeros((T, 3, 4)), parameters=PARS)
    moved = paradigm.assign_coords(x=XS + 0.1)
    with pytest.raises(DimensionError, match=r"pixel positions .* differ from the model's grid"):
        model.predict(paradigm=moved, parameters=PARS)
    with pytest.raises(DimensionError, match=r"grid_coordinates: has shape"):
        GaussianPRF2D(grid_coordinates=np.zeros((4, 3)))


def test_prediction_is_differentiable_in_stimulus_and_parameters():
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    paradigm = _paradigm(6)
    hrf = SPMHRFModel(tr=1.5, unique_hrfs=True)
    model = GaussianPRF2DWithHRF(paradigm=paradigm, hrf_model=hrf)
    X = model.paradigm_array(dtype="float64")
    theta = PARS.assign(hrf_delay=[4.5, 5.0, 6.0], hrf_dispersion=1.0).to_numpy()

    def loss(X, theta):
        return jnp.sum(model.predict_array(X, theta) ** 2)

    with jax.enable_x64(True):
        grad = jax.jit(jax.grad(loss, argnums=(0, 1)))
        gx, gt = grad(jnp.asarray(X), jnp.asarray(theta))
        assert gx.shape == X.shape and gt.shape == theta.shape
        step, (i, j) = 1e-6, (1, 2)  # d loss / d sd of voxel 1
        d = np.zeros_like(theta)
        d[i, j] = step
        f = jax.jit(loss)
        numeric = (f(X, theta + d) - f(X, theta - d)) / (2 * step)
        assert float(gt[i, j]) == pytest.approx(float(numeric), rel=1e-5)
        d[i, j], d[i, -2] = 0.0, step  # d loss / d hrf_delay
        numeric = (f(X, theta + d) - f(X, theta - d)) / (2 * step)
        assert float(gt[i, -2]) == pytest.approx(float(numeric), rel=1e-5)
