"""Noise models: omega formula, shrinkage, pseudo-WW^T (hand values), ResidualFitter recovery."""

import math

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from xneuro.core.errors import DimensionError, InputError
from xneuro.encoding import (
    GaussianPRF,
    GaussianPRF2D,
    ResidualFitter,
    make_omega,
    pseudo_wwt,
    shrink_omega,
)
from xneuro.encoding._adam import minimize

# One shape for every fit, so that the compiled Adam steps are shared by the tests.
N_VOX, N_TIME = 12, 1000
SRANGE = np.linspace(0, 20, 60)


def _population(seed=0, n=N_VOX):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"mu": rng.uniform(0, 20, n), "sd": rng.uniform(1.5, 5, n),
                         "amplitude": rng.uniform(0.5, 2, n), "baseline": rng.uniform(-1, 1, n)})


@pytest.fixture(scope="module")
def simulated():
    """Data with a known omega: tau in [0.5, 1.5], rho 0.3, sigma2 0.5, pseudo-WW^T / mean."""
    rng = np.random.default_rng(1)
    pars = _population()
    model = GaussianPRF(paradigm=rng.uniform(1, 19, N_TIME), parameters=pars)
    wwt = pseudo_wwt(model, SRANGE)
    wwt /= wwt.mean()
    truth = {"tau": rng.uniform(0.5, 1.5, N_VOX), "rho": 0.3, "sigma2": 0.5}
    omega = make_omega(truth["tau"], truth["rho"], truth["sigma2"], wwt)
    data = model.simulate(noise=omega, seed=2)
    return model, data, truth, omega, wwt


# ------------------------------------------------------------- hand values
def test_omega_formula_by_hand():
    wwt = [[1.0, 0.5], [0.5, 2.0]]
    # rho tau tau^T = [[.5, 1], [1, 2]]; (1 - rho) diag(tau^2) = diag(.5, 2); sigma2 WWT
    np.testing.assert_allclose(make_omega([1.0, 2.0], 0.5, 0.1, wwt),
                               [[1.1, 1.05], [1.05, 4.2]], rtol=1e-12)
    np.testing.assert_allclose(make_omega([1.0, 2.0]), [[1.0, 0.0], [0.0, 4.0]])  # spherical


def test_distance_omega_by_hand():
    # exp(-beta D) = [[1, .5], [.5, 1]]; alpha=.5: rho (.5 [[1, 1], [1, 4]] + .5 [[1, 2], [2, 4]])
    omega = make_omega([1.0, 2.0], 0.5, D=[[0.0, 1.0], [1.0, 0.0]], alpha=0.5,
                       beta=math.log(2.0))
    np.testing.assert_allclose(omega, [[1.0, 0.75], [0.75, 4.0]], rtol=1e-12)


def test_shrinkage_by_hand():
    omega, sample = np.diag([2.0, 2.0]), np.array([[1.0, 0.5], [0.5, 1.0]])
    np.testing.assert_array_equal(shrink_omega(omega, sample, 0.0), omega)
    np.testing.assert_allclose(shrink_omega(omega, sample, 0.25),
                               [[1.75 + 1e-9, 0.125], [0.125, 1.75 + 1e-9]], rtol=1e-12)
    np.testing.assert_allclose(shrink_omega(omega, sample, 1.0), sample + 1e-6 * np.eye(2))
    np.testing.assert_allclose(shrink_omega(omega, sample, 3.0), sample + 1e-6 * np.eye(2))
    with pytest.raises(InputError, match="lambd"):
        shrink_omega(omega, sample, -0.1)


def test_pseudo_wwt_by_hand():
    pars = pd.DataFrame({"mu": [0.0, 1.0], "sd": [1.0, 1.0], "amplitude": [1.0, 2.0],
                         "baseline": [0.0, 0.5]})
    model = GaussianPRF()
    e = math.exp(-0.5)
    f1, f2 = np.array([1.0, e]), np.array([2 * e + 0.5, 2.5])  # responses at s = 0, 1
    expected = np.array([[f1 @ f1, f1 @ f2], [f2 @ f1, f2 @ f2]])
    np.testing.assert_allclose(pseudo_wwt(model, [0.0, 1.0], pars), expected, rtol=1e-12)
    g2 = np.array([2 * e, 2.0])  # baseline subtracted
    np.testing.assert_allclose(pseudo_wwt(model, [0.0, 1.0], pars, subtract_baseline=True),
                               [[f1 @ f1, f1 @ g2], [g2 @ f1, g2 @ g2]], rtol=1e-12)


def test_pseudo_wwt_of_images_is_rf_overlap():
    rng = np.random.default_rng(0)
    grid = np.stack(np.meshgrid(np.linspace(-1, 1, 6), np.linspace(-1, 1, 5)), -1).reshape(-1, 2)
    pars = pd.DataFrame({"x": rng.uniform(-1, 1, 4), "y": rng.uniform(-1, 1, 4),
                         "sd": rng.uniform(0.2, 0.5, 4), "baseline": rng.normal(size=4),
                         "amplitude": rng.uniform(1, 2, 4)})
    model = GaussianPRF2D(grid_coordinates=grid)
    rf = model.get_rf(pars).values
    np.testing.assert_allclose(pseudo_wwt(model, parameters=pars), rf @ rf.T, rtol=1e-10)


def test_pseudo_wwt_needs_a_range_for_1d_models():
    with pytest.raises(InputError, match=r"stimulus_range.*not given"):
        pseudo_wwt(GaussianPRF(), parameters=_population())


# ----------------------------------------------------------------- fitting
def test_fit_recovers_tau_rho_sigma2(simulated):
    model, data, truth, _, wwt = simulated
    fitter = ResidualFitter(model, data)
    omega, dof = fitter.fit(stimulus_range=SRANGE, learning_rate=0.05)
    found = fitter.fitted_omega_parameters
    assert dof is None and isinstance(omega, np.ndarray) and omega.shape == (N_VOX, N_VOX)
    assert abs(found["rho"] - truth["rho"]) < 0.06
    assert abs(found["sigma2"] - truth["sigma2"]) < 0.15
    np.testing.assert_allclose(found["tau"], truth["tau"], rtol=0.1)
    # the returned omega is the formula at the fitted values, with WW^T / mean(WW^T)
    np.testing.assert_allclose(omega, make_omega(found["tau"], found["rho"], found["sigma2"],
                                                 wwt), rtol=1e-6)
    assert fitter.costs[-1] < fitter.costs[0] and fitter.n_failures == 0


def test_fit_uses_weights_for_wwt(simulated):
    model, data, _, _, _ = simulated
    rng = np.random.default_rng(3)
    populations = _population(seed=5, n=4)
    weights = rng.uniform(0, 1, (4, N_VOX))
    prf = GaussianPRF(paradigm=model.paradigm_array()[:, 0])
    bold = prf.predict(parameters=populations, weights=weights).values + data.values
    fitter = ResidualFitter(prf, bold, parameters=populations, weights=weights)
    omega, _ = fitter.fit(max_n_iterations=200, learning_rate=0.05)
    p = fitter.fitted_omega_parameters
    wwt = weights.T @ weights
    np.testing.assert_allclose(omega, make_omega(p["tau"], p["rho"], p["sigma2"],
                                                 wwt / wwt.mean()), rtol=1e-6)


def test_fit_can_subtract_the_baseline_from_the_pseudo_wwt(simulated):
    model, data, _, _, _ = simulated
    fitter = ResidualFitter(model, data)
    omega, _ = fitter.fit(stimulus_range=SRANGE, subtract_baseline=True, max_n_iterations=50)
    p = fitter.fitted_omega_parameters
    wwt = pseudo_wwt(model, SRANGE, subtract_baseline=True)
    assert not np.allclose(wwt, pseudo_wwt(model, SRANGE))  # the population has baselines
    np.testing.assert_allclose(omega, make_omega(p["tau"], p["rho"], p["sigma2"],
                                                 wwt / wwt.mean()), rtol=1e-6)


def test_shrinkage_is_applied_in_the_fit(simulated):
    model, data, _, _, wwt = simulated
    fitter = ResidualFitter(model, data, lambd=0.3)
    omega, _ = fitter.fit(stimulus_range=SRANGE, max_n_iterations=150, learning_rate=0.05)
    p = fitter.fitted_omega_parameters
    sample = np.cov(fitter.residuals, rowvar=False, bias=True)
    np.testing.assert_allclose(
        omega, shrink_omega(make_omega(p["tau"], p["rho"], p["sigma2"], wwt), sample, 0.3),
        rtol=1e-6)


def test_lambd_one_is_the_sample_covariance(simulated):
    model, data, _, _, _ = simulated
    fitter = ResidualFitter(model, data, lambd=1.0)
    omega, dof = fitter.fit()
    sample = np.cov(fitter.residuals, rowvar=False, bias=True)
    np.testing.assert_allclose(omega, sample + 1e-6 * np.eye(N_VOX), rtol=1e-10)
    assert dof is None and fitter.costs.size == 0


def test_student_t_recovers_dof():
    rng = np.random.default_rng(4)
    model = GaussianPRF(paradigm=rng.uniform(1, 19, N_TIME), parameters=_population())
    tau = rng.uniform(0.5, 1.5, N_VOX)
    data = model.simulate(noise=make_omega(tau, 0.2), dof=4.0, seed=5)
    fitter = ResidualFitter(model, data, lambd=1.0)  # sample covariance, dof by 1-D search
    _, dof_sample = fitter.fit(method="t")
    fitter = ResidualFitter(model, data)
    _, dof = fitter.fit(method="t", spherical=False, init_dof=3.0, learning_rate=0.05,
                            stimulus_range=SRANGE, max_n_iterations=400)
    assert 2.5 < dof < 7.0 and 2.5 < dof_sample < 7.0
    assert abs(fitter.fitted_omega_parameters["rho"] - 0.2) < 0.1
    np.testing.assert_allclose(fitter.fitted_omega_parameters["tau"], tau, rtol=0.2)


def test_spherical_and_labeled_output(simulated):
    model, data, _, _, _ = simulated
    bold = xr.DataArray(data.values, dims=("time", "voxel"),
                        coords={"voxel": [f"v{i}" for i in range(N_VOX)]})
    fitter = ResidualFitter(model, bold)
    omega, _ = fitter.fit(spherical=True, max_n_iterations=300, learning_rate=0.05)
    assert omega.dims == ("voxel", "voxel_") and list(omega["voxel_"].values)[:2] == ["v0", "v1"]
    np.testing.assert_array_equal(omega.values, np.diag(np.diag(omega.values)))
    np.testing.assert_allclose(np.diag(omega.values), (fitter.residuals**2).mean(0), rtol=0.02)


def test_distance_variant_fits(simulated):
    model, data, _, _, _ = simulated
    positions = np.random.default_rng(6).uniform(0, 5, (N_VOX, 2))
    D = np.linalg.norm(positions[:, None] - positions[None], axis=-1)
    fitter = ResidualFitter(model, data)
    omega, _ = fitter.fit(D=D, stimulus_range=SRANGE, max_n_iterations=150, learning_rate=0.05)
    p = fitter.fitted_omega_parameters
    assert {"alpha", "beta"} <= set(p) and 0 < p["alpha"] < 1
    np.linalg.cholesky(omega)
    assert fitter.costs[-1] < fitter.costs[0]


# ------------------------------------------------------- failure handling
def test_failed_steps_restore_the_best_state_and_shrink_the_step():
    # the loss is NaN left of -1 (like a failed Cholesky); big steps overshoot into it
    loss = lambda p: jnp.where(p["x"] > -1.0, (p["x"] - 0.5) ** 2, jnp.nan)
    result = minimize(loss, {"x": jnp.asarray(3.0)}, learning_rate=2.0, max_n_iterations=300,
                      min_n_iterations=50, lag=20)
    assert result.n_failures >= 1 and np.isinf(result.costs).sum() == result.n_failures
    assert result.learning_rate == pytest.approx(2.0 * 0.9**result.n_failures, rel=1e-5)
    assert abs(float(result.params["x"]) - 0.5) < 0.05 and np.isfinite(result.best_cost)


def test_fit_survives_cholesky_failures(simulated):
    model, data, _, _, _ = simulated
    D = np.abs(np.subtract.outer(np.arange(N_VOX), np.arange(N_VOX))).astype(float)
    fitter = ResidualFitter(model, data)
    # big steps send beta negative: exp(-beta D) explodes and omega stops being positive definite
    omega, _ = fitter.fit(D=D, stimulus_range=SRANGE, learning_rate=2.0, max_n_iterations=150,
                          min_n_iterations=150)
    assert fitter.n_failures > 0 and np.isinf(fitter.costs).sum() == fitter.n_failures
    assert np.isfinite(omega).all()
    np.linalg.cholesky(omega)
    assert np.min(fitter.costs) < fitter.costs[0]


# --------------------------------------------------------------- bad input
def test_bad_input(simulated):
    model, data, _, _, _ = simulated
    with pytest.raises(DimensionError, match=r"data, parameters.*11 voxels"):
        ResidualFitter(model, data.iloc[:, :11])
    with pytest.raises(InputError, match="lambd"):
        ResidualFitter(model, data, lambd=-1)
    fitter = ResidualFitter(model, data)
    with pytest.raises(InputError, match="method"):
        fitter.fit(method="cauchy")
    with pytest.raises(InputError, match="init_rho"):
        fitter.fit(init_rho=1.5, stimulus_range=SRANGE)
    with pytest.raises(DimensionError, match="D: has shape"):
        fitter.fit(D=np.zeros((3, 3)), stimulus_range=SRANGE)
    with pytest.raises(InputError, match=r"stimulus_range.*not given"):
        fitter.fit()
    D = np.abs(np.subtract.outer(np.arange(N_VOX), np.arange(N_VOX))).astype(float)
    with pytest.raises(InputError, match="not positive definite"):
        fitter.fit(D=D, init_beta=-5.0, init_rho=0.9, stimulus_range=SRANGE)
