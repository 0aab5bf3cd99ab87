"""WeightFitter and fit_weights: lstsq and ridge parity, R², dask, torch, recovery, errors."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from xneuro.core.errors import DimensionError, InputError
from xneuro.encoding import (
    GaussianPRF,
    LinearModel,
    LinearModelWithBaseline,
    LinearModelWithBaselineHRF,
    WeightFitter,
    fit_weights,
)
from xneuro.hrf import SPMHRFModel

RNG = np.random.default_rng(11)
STIM = RNG.uniform(-5, 5, 120)
POPS = pd.DataFrame({"mu": np.linspace(-4, 4, 6), "sd": 1.5, "amplitude": 1.0, "baseline": 0.0},
                    index=pd.Index(list("abcdef"), name="population"))
MODEL = GaussianPRF(paradigm=STIM)
BASIS = np.exp(-0.5 * (STIM[:, None] - POPS.mu.to_numpy()) ** 2 / 1.5**2)
DATA = BASIS @ RNG.normal(size=(6, 40)) + RNG.normal(scale=0.3, size=(120, 40))
DATA[:, 5] = 2.0  # a constant voxel: R² is NaN


def _r2(y, yhat):
    ss_tot = ((y - y.mean(0)) ** 2).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ss_tot > 0, 1 - ((y - yhat) ** 2).sum(0) / ss_tot, np.nan)


def test_alpha_zero_is_numpy_lstsq(float64):
    fitter = WeightFitter(MODEL, POPS, DATA, STIM)
    weights = fitter.fit()
    expected = np.linalg.lstsq(BASIS, DATA, rcond=None)[0]
    np.testing.assert_allclose(weights.to_numpy(), expected, rtol=1e-8, atol=1e-10)
    pd.testing.assert_index_equal(weights.index, POPS.index)  # braincoder: parameters' index
    r2 = _r2(DATA, BASIS @ expected)
    np.testing.assert_allclose(fitter.r2.to_numpy(), r2, rtol=1e-8)
    assert np.isnan(fitter.r2.iloc[5]) and fitter.r2.name == "r2"


def test_ridge_is_the_normal_equations(float64):
    alpha = 3.0
    weights = WeightFitter(MODEL, POPS, pd.DataFrame(DATA), STIM).fit(alpha=alpha)
    expected = np.linalg.solve(BASIS.T @ BASIS + alpha * np.eye(6), BASIS.T @ DATA)
    np.testing.assert_allclose(weights.to_numpy(), expected, rtol=1e-8, atol=1e-10)


def test_rank_deficient_basis_gives_the_minimum_norm_solution(float64):
    pops = pd.concat([POPS, POPS.iloc[:1].rename(index={"a": "g"})])  # a duplicated column
    basis = np.column_stack([BASIS, BASIS[:, 0]])
    weights = WeightFitter(MODEL, pops, DATA, STIM).fit()
    np.testing.assert_allclose(weights.to_numpy(), np.linalg.lstsq(basis, DATA, rcond=None)[0],
                               rtol=1e-6, atol=1e-8)


def test_dask_data_stays_lazy(no_compute):
    data = xr.DataArray(DATA, dims=("time", "voxel")).chunk({"voxel": 16})
    out = fit_weights(data, MODEL, POPS, STIM, alpha=1.0)
    assert out["weights"].chunks is not None and out["r2"].chunks is not None
    assert out["weights"].dims == ("population", "voxel")
    assert out.attrs["xneuro_function"] == "xneuro.encoding.fit_weights"


def test_dask_values_match_numpy(float64):
    data = xr.DataArray(DATA, dims=("time", "voxel"),
                        coords={"voxel": np.arange(40) + 100}).chunk({"voxel": 16})
    out = fit_weights(data, MODEL, POPS, STIM, alpha=1.0).compute()
    expected = np.linalg.solve(BASIS.T @ BASIS + np.eye(6), BASIS.T @ DATA)
    np.testing.assert_allclose(out["weights"].values, expected, rtol=1e-8, atol=1e-10)
    assert list(out["population"].values) == list("abcdef")
    assert list(out["voxel"].values[:2]) == [100, 101]


def test_torch_arrays_are_solved_in_torch(float64):
    torch = pytest.importorskip("torch")
    data = torch.asarray(DATA, dtype=torch.float64)
    fitter = WeightFitter(MODEL, POPS, data, STIM)
    weights = fitter.fit(alpha=0.5)
    assert isinstance(weights, torch.Tensor) and isinstance(fitter.r2, torch.Tensor)
    expected = np.linalg.solve(BASIS.T @ BASIS + 0.5 * np.eye(6), BASIS.T @ DATA)
    np.testing.assert_allclose(weights.numpy(), expected, rtol=1e-8, atol=1e-10)
    assert torch.isnan(fitter.r2[5])


@pytest.mark.gpu
def test_cupy_arrays_on_the_gpu():
    cupy = pytest.importorskip("cupy")
    try:
        if cupy.cuda.runtime.getDeviceCount() == 0:
            pytest.skip("no CUDA device")
    except Exception:  # no driver
        pytest.skip("no CUDA device")
    weights = WeightFitter(MODEL, POPS, cupy.asarray(DATA), STIM).fit()
    np.testing.assert_allclose(cupy.asnumpy(weights), np.linalg.lstsq(BASIS, DATA, rcond=None)[0],
                               rtol=1e-6, atol=1e-8)


def test_linear_model_with_baseline_and_hrf(float64, ref):
    X = RNG.normal(size=(60, 4))
    hrf = SPMHRFModel(tr=2.0)
    true_w, baseline = RNG.normal(size=(4, 10)), RNG.normal(size=10)
    design = ref.convolve(X, hrf.get_hrf())
    data = design @ true_w + baseline
    model = LinearModelWithBaselineHRF(paradigm=X, hrf_model=hrf)
    fitter = WeightFitter(model, baseline[:, None], data, None)
    np.testing.assert_allclose(fitter.fit().to_numpy(), true_w, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(fitter.r2.to_numpy(), 1.0)
    plain = WeightFitter(LinearModel(paradigm=X), None, X @ true_w, X).fit()
    np.testing.assert_allclose(plain.to_numpy(), true_w, rtol=1e-8, atol=1e-10)
    # without baselines the offset is zero (braincoder's behaviour)
    zero = WeightFitter(LinearModelWithBaseline(paradigm=X), None, X @ true_w + 1.0, X).fit()
    np.testing.assert_allclose(zero.to_numpy(), np.linalg.lstsq(X, X @ true_w + 1.0,
                                                                rcond=None)[0], rtol=1e-8)


def test_recovery_of_simulated_weights():
    true_w = RNG.uniform(0.5, 2.0, size=(6, 30))
    sim = MODEL.simulate(parameters=POPS, weights=true_w, noise=0.01, seed=5)
    weights = WeightFitter(MODEL, POPS, sim.to_numpy(), STIM).fit()
    np.testing.assert_allclose(weights.to_numpy(), true_w, atol=0.05)


def test_bad_input():
    with pytest.raises(InputError, match=r"alpha: is -1.0"):
        WeightFitter(MODEL, POPS, DATA, STIM).fit(alpha=-1.0)
    with pytest.raises(DimensionError, match=r"data, paradigm: data has 100 frames and paradigm "
                       r"has 120"):
        WeightFitter(MODEL, POPS, DATA[:100], STIM)
    data = xr.DataArray(DATA, dims=("time", "voxel"),
                        coords={"time": ("time", np.arange(120) * 2.0, {"units": "s"})})
    paradigm = xr.DataArray(STIM, dims="time",
                            coords={"time": ("time", np.arange(120) * 1.5, {"units": "s"})})
    with pytest.raises(InputError, match=r"data, paradigm: 'time' coordinates differ"):
        fit_weights(data, MODEL, POPS, paradigm)
    with pytest.raises(InputError, match=r"model: is a str"):
        WeightFitter("GaussianPRF", POPS, DATA, STIM)
    with pytest.raises(DimensionError, match=r"parameters: has 3 rows for 40 data voxels"):
        WeightFitter(LinearModelWithBaseline(paradigm=DATA[:, :2]), np.zeros((3, 1)), DATA, None)
