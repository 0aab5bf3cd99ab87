"""ParameterFitter.fit and fit_parameters: recovery, and one test per option of the gradient fit."""

from __future__ import annotations

import logging

import numpy as np
import optax
import pandas as pd
import pytest
from test_fit_support import prf_1d, prf_2d, r2_of

from xneuro.core.errors import InputError
from xneuro.encoding import ParameterFitter, fit_parameters

LABELS_1D = ["mu", "sd", "amplitude", "baseline"]


@pytest.fixture(scope="module")
def clean_1d():
    return prf_1d()


@pytest.fixture(scope="module")
def noisy_1d():
    return prf_1d(noise=0.5, seed=3)


def test_noise_free_recovery_and_early_stopping(clean_1d, tmp_path):
    model, data, truth, _ = clean_1d
    fitter = ParameterFitter(model, data, log_dir=tmp_path)
    fit = fitter.fit(progressbar=False)  # default grid + refinement, then Adam
    np.testing.assert_allclose(fit[LABELS_1D].to_numpy(), truth.to_numpy(), atol=1e-3)
    assert fitter.r2.min() > 1 - 1e-6
    # early stopping: every voxel stopped improving long before 1000 iterations
    assert 100 < fitter.n_iterations < 1000
    # the loss curve was logged, one row per iteration
    log = pd.read_csv(tmp_path / "voxels_0000000-0000024.csv")
    assert list(log.columns) == ["iteration", "loss", "mean_r2", "mean_best_r2", "n_active"]
    assert len(log) == fitter.n_iterations == len(fitter.history)
    assert log["loss"].iloc[-1] < log["loss"].iloc[0]
    assert log["n_active"].iloc[0] == 24 and log["n_active"].iloc[-1] < 24
    # without a threshold it runs to the end, and never before min_n_iterations
    fitter.fit(init_pars=fit, r2_atol=0.0, max_n_iterations=150, progressbar=False)
    assert fitter.n_iterations == 150
    fitter.fit(init_pars=fit, min_n_iterations=130, max_n_iterations=150, progressbar=False)
    assert fitter.n_iterations == 131


def test_noise_free_recovery_2d_with_hrf():
    model, data, truth, _ = prf_2d()
    fit = fit_parameters(data, model, progress=False)
    np.testing.assert_allclose(fit.to_pandas()[truth.columns].to_numpy(), truth.to_numpy(),
                               atol=1e-3)


def test_noisy_recovery_beats_the_grid(noisy_1d):
    model, data, truth, clean = noisy_1d
    fitter = ParameterFitter(model, data)
    grid = fitter.fit_grid(mu=np.linspace(0, 20, 50), sd=np.linspace(0.5, 5, 40),
                           use_correlation_cost=True)
    grid = fitter.refine_baseline_and_amplitude(grid)
    grid_r2 = fitter.r2.mean()
    fit = fitter.fit(init_pars=grid, progressbar=False)
    assert fitter.r2.mean() > grid_r2 > r2_of(data, clean).mean() - 0.01
    for label, r in zip(LABELS_1D, (0.95, 0.75, 0.75, 0.9), strict=True):
        assert np.corrcoef(fit[label], truth[label])[0, 1] > r, label


def test_fixed_pars_never_move(noisy_1d):
    model, data, truth, _ = noisy_1d
    start = truth.assign(sd=truth["sd"] * 1.3, mu=truth["mu"] + 0.5)
    fitter = ParameterFitter(model, data)
    fit = fitter.fit(init_pars=start, fixed_pars=["sd"], max_n_iterations=200, progressbar=False)
    np.testing.assert_allclose(fit["sd"], start["sd"], rtol=1e-5)
    assert np.abs(fit["mu"] - start["mu"]).max() > 0.1  # the others did move


def test_shared_pars_are_one_fitted_value():
    model, _, truth, _ = prf_1d(seed=5)
    truth = truth.assign(sd=2.0)
    data = model.predict(parameters=truth).to_numpy()
    start = truth.assign(sd=np.linspace(1.0, 4.0, len(truth)))  # mean 2.5, not 2
    fitter = ParameterFitter(model, data)
    fit = fitter.fit(init_pars=start, shared_pars=["sd"], max_n_iterations=400,
                     progressbar=False)
    assert fit["sd"].nunique() == 1
    assert fit["sd"].iloc[0] == pytest.approx(2.0, abs=0.02)
    assert fitter.r2.min() > 0.999


def test_gaussian_noise_model_recovers_noise_variances():
    model, _, truth, clean = prf_1d(n_voxels=24, seed=7)
    rng = np.random.default_rng(7)
    noise_sd = np.linspace(0.1, 1.0, 24)
    data = clean + rng.normal(size=clean.shape) * noise_sd
    fitter = ParameterFitter(model, data)
    fit = fitter.fit(init_pars=truth, noise_model="gaussian", max_n_iterations=300,
                     progressbar=False)
    sigma2 = fitter.estimated_sigma2.to_numpy()
    assert np.corrcoef(sigma2, noise_sd**2)[0, 1] > 0.95
    assert np.median(sigma2 / noise_sd**2) == pytest.approx(1.0, abs=0.2)
    assert list(fit.columns) == LABELS_1D
    labeled = fit_parameters(data, model, init_pars=truth, noise_model="gaussian",
                             max_n_iterations=300)
    np.testing.assert_allclose(labeled["sigma2"], sigma2, rtol=1e-5)


def test_confounds_are_regressed_out_in_the_loss(clean_1d):
    model, data, truth, _ = clean_1d
    t = np.linspace(-1, 1, data.shape[0])
    confounds = np.column_stack([t, t**2 - t.mean()])
    rng = np.random.default_rng(0)
    drifted = data + confounds @ rng.normal(0, 2.0, (2, data.shape[1]))
    start = truth.assign(mu=truth["mu"] + 0.7, sd=truth["sd"] * 0.8)
    fitter = ParameterFitter(model, drifted)
    with_confounds = fitter.fit(init_pars=start, confounds=confounds, max_n_iterations=600,
                                progressbar=False)
    np.testing.assert_allclose(with_confounds[["mu", "sd"]], truth[["mu", "sd"]], atol=2e-2)
    ignored = fitter.fit(init_pars=start, max_n_iterations=600, progressbar=False)
    assert np.abs(ignored["mu"] - truth["mu"]).max() > 0.2


def test_intermediate_parameters(noisy_1d):
    model, data, truth, _ = noisy_1d
    fitter = ParameterFitter(model, data)
    fit = fitter.fit(init_pars=truth, store_intermediate_parameters=True, max_n_iterations=60,
                     progressbar=False)
    trace = fitter.intermediate_parameters
    assert trace.index.names == ["iteration", "voxel"]
    assert list(trace.columns) == [*LABELS_1D, "r2"]
    assert len(trace) == 60 * len(truth)
    first = trace.xs(0, level="iteration")
    np.testing.assert_allclose(first[LABELS_1D], truth, rtol=1e-5, atol=1e-5)
    best = trace["r2"].groupby(level="voxel").idxmax()
    np.testing.assert_allclose(trace.loc[best.to_list(), LABELS_1D].to_numpy(),
                               fit.to_numpy(), rtol=1e-5)
    np.testing.assert_allclose(trace["r2"].groupby(level="voxel").max(), fitter.r2, atol=1e-5)


def test_any_optax_optimizer_and_adam_keywords(noisy_1d):
    model, data, truth, _ = noisy_1d
    start = truth.assign(mu=truth["mu"] + 0.5)
    fitter = ParameterFitter(model, data)
    frozen = fitter.fit(init_pars=start, optimizer=optax.sgd(0.0), max_n_iterations=20,
                        progressbar=False)
    np.testing.assert_allclose(frozen, start, rtol=1e-5, atol=1e-5)  # no step: the start
    adam = fitter.fit(init_pars=start, max_n_iterations=20, progressbar=False)
    keras_names = fitter.fit(init_pars=start, max_n_iterations=20, progressbar=False,
                             beta_1=0.9, beta_2=0.999, epsilon=1e-8)
    np.testing.assert_allclose(adam, keras_names)
    assert np.abs(adam["mu"] - start["mu"]).max() > 0.05
    with pytest.raises(InputError, match=r"unknown keywords \['legacy_adam'\]"):
        fitter.fit(init_pars=start, legacy_adam=True)
    with pytest.raises(InputError, match="optimizer"):
        fitter.fit(init_pars=start, optimizer="adam")
    with pytest.raises(InputError, match="noise_model"):
        fitter.fit(init_pars=start, noise_model="poisson")
    with pytest.raises(InputError, match="fixed_pars, shared_pars"):
        fitter.fit(init_pars=start, fixed_pars=["sd"], shared_pars=["sd"])
    with pytest.raises(InputError, match=r"shared_pars.*unknown"):
        fitter.fit(init_pars=start, shared_pars=["width"])
    with pytest.raises(InputError, match=r"init_pars\['sd'\].*outside"):
        fitter.fit(init_pars=start.assign(sd=-1.0))


def test_bad_voxels_are_masked_and_reported(noisy_1d, caplog):
    model, data, truth, _ = noisy_1d
    data = data.copy()
    data[5, 2] = np.nan
    data[:, 7] = 3.0
    with caplog.at_level(logging.WARNING, logger="xneuro.encoding.fit"):
        fit = fit_parameters(data, model, init_pars=truth, max_n_iterations=50)
    assert "2 of 24 voxels" in caplog.text
    bad = np.isnan(fit["r2"].values)
    np.testing.assert_array_equal(np.flatnonzero(bad), [2, 7])
    assert np.isnan(fit["mu"].values[bad]).all() and np.isfinite(fit["mu"].values[~bad]).all()
    assert fit.attrs["n_masked"] == 2


def test_float64_and_mean_early_stopping(clean_1d):
    model, data, truth, _ = clean_1d
    fit = fit_parameters(data, model, init_pars=truth.assign(mu=truth["mu"] + 0.2),
                         dtype="float64", early_stopping="mean", max_n_iterations=2000,
                         min_n_iterations=100, lag=100)
    assert fit["mu"].dtype == np.float64
    assert fit.attrs["n_iterations"] < 2000  # the mean best R² stopped improving
    np.testing.assert_allclose(fit.to_pandas()[LABELS_1D], truth, atol=1e-4)
