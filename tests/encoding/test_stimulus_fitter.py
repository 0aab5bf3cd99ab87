"""StimulusFitter: MAP stimuli by grid and by gradient, for 1-D values and 2-D images."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from xneuro.core.errors import DimensionError, InputError
from xneuro.encoding import GaussianPRF, GaussianPRF2D, GaussianPRFWithHRF, StimulusFitter
from xneuro.hrf import SPMHRFModel

N_PIX = 8
XS = np.linspace(-1, 1, N_PIX)


@pytest.fixture(scope="module")
def one_d():
    rng = np.random.default_rng(0)
    n_vox = 60
    pars = pd.DataFrame({"mu": rng.uniform(0, 20, n_vox), "sd": rng.uniform(1.5, 4, n_vox),
                         "amplitude": rng.uniform(0.5, 2, n_vox),
                         "baseline": rng.uniform(-1, 1, n_vox)})
    stimuli = rng.uniform(3, 17, 40)
    model = GaussianPRF(paradigm=stimuli, parameters=pars)
    omega = 0.2 * np.eye(n_vox)
    return model, stimuli, omega, model.simulate(noise=omega, seed=1)


@pytest.fixture(scope="module")
def images():
    """80 Gaussian pRFs on an 8 x 8 grid; 16 bar images (8 rows, 8 columns) shown 20 times."""
    rng = np.random.default_rng(2)
    bars = np.zeros((2 * N_PIX, N_PIX, N_PIX))
    for i in range(N_PIX):
        bars[i, i, :] = 1.0
        bars[N_PIX + i, :, i] = 1.0
    candidates = xr.DataArray(bars, dims=("stimulus", "y", "x"), coords={"y": XS, "x": XS})
    shown = rng.integers(0, 2 * N_PIX, 20)
    paradigm = xr.DataArray(bars[shown], dims=("time", "y", "x"),
                            coords={"time": np.arange(20.0), "y": XS, "x": XS})
    n_vox = 80
    pars = pd.DataFrame({"x": rng.uniform(-1, 1, n_vox), "y": rng.uniform(-1, 1, n_vox),
                         "sd": rng.uniform(0.2, 0.4, n_vox), "baseline": np.zeros(n_vox),
                         "amplitude": rng.uniform(5, 10, n_vox)})
    model = GaussianPRF2D(paradigm=paradigm, parameters=pars)
    omega = 0.01 * np.eye(n_vox)
    return model, candidates, shown, paradigm, omega, model.simulate(noise=0.1, seed=3)


def test_grid_recovers_1d_stimuli(one_d):
    model, stimuli, omega, data = one_d
    fitter = StimulusFitter(data, model, omega)
    grid = fitter.fit_grid(np.linspace(0, 20, 81))
    assert isinstance(grid, pd.DataFrame) and grid.shape == (40, 1)
    assert grid.index.equals(data.index)
    assert np.corrcoef(grid.values[:, 0], stimuli)[0, 1] > 0.98


def test_gradient_refines_the_grid_fit(one_d):
    model, stimuli, omega, data = one_d
    fitter = StimulusFitter(data, model, omega)
    grid = fitter.fit_grid(np.linspace(0, 20, 21)).values[:, 0]  # coarse: 1-unit steps
    fitted = fitter.fit(learning_rate=0.05, max_n_iterations=300).values[:, 0]
    assert fitter.costs[np.isfinite(fitter.costs)].min() < fitter.costs[0]
    assert np.mean(np.abs(fitted - stimuli)) < np.mean(np.abs(grid - stimuli))
    # the gradient optimum is the likelihood's maximum: no grid value does better
    fine = StimulusFitter(data, model, omega).fit_grid(np.linspace(0, 20, 2001)).values[:, 0]
    assert np.median(np.abs(fitted - fine)) < 0.02


def test_bounds_keep_1d_stimuli_in_range(one_d):
    model, _, omega, data = one_d
    fitter = StimulusFitter(data, model, omega)
    fitted = fitter.fit(init_pars=np.full(40, 10.0), bounds=(8.0, 12.0), learning_rate=0.1,
                        max_n_iterations=100).values
    assert np.all((fitted > 8.0) & (fitted < 12.0))


def test_gradient_fits_a_stimulus_time_series_through_the_hrf(one_d):
    model, _, _, _ = one_d
    rng = np.random.default_rng(4)
    stimuli = np.repeat(rng.uniform(3, 17, 12), 4)  # 48 frames of 2 s, blocks of 4
    with_hrf = GaussianPRFWithHRF(paradigm=stimuli, parameters=model.parameters,
                                  hrf_model=SPMHRFModel(tr=2.0))
    omega = 0.01 * np.eye(60)
    data = with_hrf.simulate(noise=omega, seed=5)
    start = stimuli + rng.normal(0, 2, stimuli.size)
    fitted = StimulusFitter(data, with_hrf, omega).fit(init_pars=start, learning_rate=0.1,
                                                      max_n_iterations=200).values[:, 0]
    assert np.mean(np.abs(fitted - stimuli)) < 0.4 * np.mean(np.abs(start - stimuli))


def test_grid_recovers_images(images):
    model, candidates, _, paradigm, omega, data = images
    fitter = StimulusFitter(data, model, omega)
    chosen = fitter.fit_grid(candidates)
    assert chosen.dims == ("time", "y", "x")
    np.testing.assert_array_equal(chosen.values, paradigm.values)


def test_gradient_reconstructs_images(images):
    model, _, _, paradigm, omega, data = images
    fitter = StimulusFitter(data, model, omega)
    start = xr.full_like(paradigm, 0.1, dtype=float)
    fitted = fitter.fit(init_pars=start, learning_rate=0.05, max_n_iterations=400,
                        l2_norm=0.01)
    assert fitted.dims == paradigm.dims and np.all(fitted.values > 0)  # positive pixels
    assert np.corrcoef(fitted.values.ravel(), paradigm.values.ravel())[0, 1] > 0.7
    # a mask keeps the other pixels at their starting values
    mask = np.zeros((N_PIX, N_PIX), bool)
    mask[:, :4] = True
    masked = fitter.fit(init_pars=start, mask=mask, max_n_iterations=20, min_n_iterations=0,
                        l2_norm=0.01)
    np.testing.assert_allclose(masked.values[:, :, 4:], 0.1, rtol=1e-6)


def test_bad_input(one_d, images):
    model, _, omega, data = one_d
    fitter = StimulusFitter(data, model, omega)
    with pytest.raises(InputError, match="init_pars: was not given"):
        fitter.fit()
    with pytest.raises(DimensionError, match="init_pars: has 3 frames"):
        fitter.fit(init_pars=np.ones(3))
    with pytest.raises(InputError, match="bounds"):
        fitter.fit(init_pars=np.ones(40), bounds=(2.0, 1.0))
    with pytest.raises(InputError, match="l2_norm"):
        fitter.fit(init_pars=np.ones(40), l2_norm=-1.0)
    with pytest.raises(DimensionError, match="data, parameters: data has 10 voxels"):
        StimulusFitter(data.iloc[:, :10], model, omega)
    with pytest.raises(InputError, match="omega: is not positive definite"):
        StimulusFitter(data, model, -omega)
    model2, _, _, paradigm, omega2, data2 = images
    with pytest.raises(DimensionError, match="mask: has 3 entries"):
        StimulusFitter(data2, model2, omega2).fit(init_pars=paradigm, mask=[True] * 3)
    with pytest.raises(DimensionError, match="stimulus_range"):
        StimulusFitter(data2, model2, omega2).fit_grid(np.linspace(0, 1, 5))
