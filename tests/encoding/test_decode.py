"""Decoding: likelihood vs scipy, posterior normalisation and recovery, summaries, Fisher info."""

import math

import dask.array as da
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats

import xneuro
from xneuro.core.errors import DimensionError, InputError
from xneuro.encoding import (
    GaussianPRF,
    GaussianPRF2D,
    GaussianPRFWithHRF,
    LinearModel,
    get_expected_value,
    get_fisher_information,
    get_map,
    get_sd_posterior,
    get_stimulus_pdf,
    likelihood,
    summarize_posterior,
)
from xneuro.encoding.decode import decode
from xneuro.hrf import SPMHRFModel

SRANGE = np.linspace(0, 20, 201)


def _population(n, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"mu": rng.uniform(0, 20, n), "sd": rng.uniform(1.5, 4, n),
                         "amplitude": rng.uniform(0.5, 2, n), "baseline": rng.uniform(-1, 1, n)})


@pytest.fixture(scope="module")
def experiment():
    """100 Gaussian pRFs tiling a numerosity-like 1-D space, 120 trials, correlated noise."""
    rng = np.random.default_rng(1)
    n_vox = 100
    pars = _population(n_vox)
    stimuli = rng.uniform(3, 17, 120)
    model = GaussianPRF(paradigm=stimuli, parameters=pars)
    omega = 0.25 * (0.9 * np.eye(n_vox) + 0.1)
    data = model.simulate(noise=omega, seed=2)
    return model, pars, stimuli, omega, data


# --------------------------------------------------------------- formulas
@pytest.mark.parametrize("dof", [None, 5.0])
def test_likelihood_matches_scipy(dof):
    rng = np.random.default_rng(0)
    pars = _population(4)
    omega = np.array([[1.0, 0.3, 0.0, 0.1], [0.3, 2.0, 0.2, 0.0], [0.0, 0.2, 1.5, 0.4],
                      [0.1, 0.0, 0.4, 1.0]])
    stimuli = rng.uniform(0, 20, 6)
    data = rng.normal(size=(6, 4))
    model = GaussianPRF()
    with xneuro.set_options(dtype="float64"):
        residual = data - model.predict(stimuli, pars).values
    if dof is None:
        expected = stats.multivariate_normal(np.zeros(4), omega).logpdf(residual)
    else:
        expected = stats.multivariate_t(np.zeros(4), omega, df=dof).logpdf(residual)
    with xneuro.set_options(dtype="float64"):
        found = likelihood(model, stimuli, data, pars, omega=omega, dof=dof, logp=True)
        plain = model.likelihood(stimuli, data, pars, omega=omega, dof=dof)
    np.testing.assert_allclose(found.values, expected, rtol=1e-10)
    np.testing.assert_allclose(plain.values, np.exp(expected), rtol=1e-9)
    assert isinstance(found, pd.Series) and found.name == "log_likelihood"


def test_posterior_is_normalised_likelihood_by_hand():
    rng = np.random.default_rng(3)
    pars = _population(3)
    omega = np.diag([0.5, 1.0, 0.8])
    s = np.array([0.0, 2.0, 3.0, 7.0, 10.0])  # uneven spacing: trapezoid weights matter
    data = rng.normal(size=(4, 3))
    with xneuro.set_options(dtype="float64"):
        mean = GaussianPRF().predict(s, pars).values
        post = get_stimulus_pdf(GaussianPRF(), data, s[::-1], pars, omega=omega)  # sorted here
    ll = np.array([[stats.multivariate_normal(mean[j], omega).logpdf(data[t]) for j in range(5)]
                   for t in range(4)])
    p = np.exp(ll - ll.max(1, keepdims=True))
    p /= np.trapezoid(p, s, axis=1)[:, None]
    np.testing.assert_allclose(post.values, p, rtol=1e-9)
    np.testing.assert_array_equal(post.columns, s)
    assert post.columns.name == "stimulus"


def test_fisher_information_by_hand():
    # one voxel: f(s) = a exp(-(s - mu)^2 / 2 sd^2) + b; I(s) = f'(s)^2 / omega
    pars = pd.DataFrame({"mu": [5.0], "sd": [2.0], "amplitude": [3.0], "baseline": [1.0]})
    s = np.array([2.0, 5.0, 6.0, 9.0])
    slope = -3.0 * (s - 5.0) / 4.0 * np.exp(-((s - 5.0) ** 2) / 8.0)
    found = get_fisher_information(GaussianPRF(), s, omega=[[0.5]], parameters=pars,
                                   dtype="float64")
    np.testing.assert_allclose(found.values, slope**2 / 0.5, rtol=1e-10, atol=1e-14)
    t = get_fisher_information(GaussianPRF(), s, omega=[[0.5]], dof=4.0, parameters=pars,
                               dtype="float64")
    np.testing.assert_allclose(t.values, slope**2 / 0.5 * (4 + 1) / (4 + 1 + 2), rtol=1e-10,
                               atol=1e-14)


@pytest.mark.parametrize("dof", [None, 6.0])
def test_fisher_information_analytic_matches_monte_carlo(experiment, dof):
    model, _, _, omega, _ = experiment
    s = np.linspace(4, 16, 7)
    analytic = model.get_fisher_information(s, omega=omega, dof=dof)
    mc = get_fisher_information(model, s, omega=omega, dof=dof, analytical=False, n=4000,
                                seed=0)
    assert analytic.index.name == "stimulus" and np.all(analytic.values > 0)
    np.testing.assert_allclose(mc.values, analytic.values, rtol=0.12)


# --------------------------------------------------------------- decoding
def test_posterior_integrates_to_one_and_recovers_the_stimulus(experiment):
    model, _, stimuli, omega, data = experiment
    post = model.get_stimulus_pdf(data, SRANGE, omega=omega)
    assert isinstance(post, pd.DataFrame) and post.shape == (120, SRANGE.size)
    np.testing.assert_allclose(np.trapezoid(post.values, SRANGE, axis=1), 1.0, rtol=1e-10)
    mean, sd, best = get_expected_value(post), get_sd_posterior(post), get_map(post)
    assert np.corrcoef(mean, stimuli)[0, 1] > 0.97 and np.corrcoef(best, stimuli)[0, 1] > 0.97
    # the truth lies within the posterior's spread
    assert np.mean(np.abs(mean - stimuli) < 3 * sd) > 0.95
    assert isinstance(sd, pd.Series) and sd.index.equals(post.index)


def test_posterior_sd_shrinks_as_voxels_are_added(experiment):
    _, pars, stimuli, _, _ = experiment
    sds = []
    for n in (10, 30, 100):
        model = GaussianPRF(paradigm=stimuli, parameters=pars.iloc[:n])
        omega = 0.25 * np.eye(n)
        data = model.simulate(noise=omega, seed=4)
        sds.append(float(get_sd_posterior(model.get_stimulus_pdf(data, SRANGE,
                                                                  omega=omega)).mean()))
    assert sds[0] > sds[1] > sds[2]


def test_summaries_of_a_known_posterior():
    s = np.linspace(-10, 10, 2001)
    density = np.exp(-((s - 1.5) ** 2) / (2 * 0.8**2))
    post = xr.DataArray(np.stack([density, density[::-1]]), dims=("time", "stimulus"),
                        coords={"stimulus": s})
    out = summarize_posterior(post)
    np.testing.assert_allclose(out["mean"].values, [1.5, -1.5], atol=1e-6)
    np.testing.assert_allclose(out["sd"].values, [0.8, 0.8], rtol=1e-4)
    np.testing.assert_allclose(out["map"].values, [1.5, -1.5], atol=1e-9)


def test_circular_summaries_wrap_around():
    s = np.linspace(-np.pi, np.pi, 721)
    density = np.exp(4.0 * np.cos(s - np.pi))  # mass at +-pi
    post = xr.DataArray(density[None], dims=("time", "stimulus"), coords={"stimulus": s})
    assert abs(abs(float(get_expected_value(post, circular=True)[0])) - np.pi) < 1e-6
    assert abs(float(get_expected_value(post)[0])) < 1e-6  # the linear mean is misleading
    sd = float(get_sd_posterior(post, circular=True)[0])
    resultant = float(np.trapezoid(density * np.cos(s - np.pi), s) / np.trapezoid(density, s))
    assert sd == pytest.approx(math.sqrt(-2 * math.log(resultant)), rel=1e-6)


def test_prior_multiplies_the_likelihood(experiment):
    model, _, _, omega, data = experiment
    flat = model.get_stimulus_pdf(data.iloc[:5], SRANGE, omega=omega)
    prior = np.where(SRANGE > 10, 1.0, 0.0)
    post = get_stimulus_pdf(model, data.iloc[:5], SRANGE[::-1], omega=omega, prior=prior[::-1])
    assert np.all(post.values[:, SRANGE < 10] == 0)
    expected = flat.values * prior
    expected /= np.trapezoid(expected, SRANGE, axis=1)[:, None]
    np.testing.assert_allclose(post.values, expected, rtol=1e-8, atol=1e-12)


def test_student_t_posterior(experiment):
    model, _, stimuli, omega, data = experiment
    post = model.get_stimulus_pdf(data, SRANGE, omega=omega, dof=4.0)
    np.testing.assert_allclose(np.trapezoid(post.values, SRANGE, axis=1), 1.0, rtol=1e-10)
    assert np.corrcoef(get_expected_value(post), stimuli)[0, 1] > 0.95


def test_dask_data_stays_lazy_and_matches_eager(experiment, no_compute):
    model, _, _, omega, data = experiment
    bold = xr.DataArray(da.from_array(data.values, chunks=(25, 50)), dims=("time", "voxel"))
    post = model.get_stimulus_pdf(bold, SRANGE, omega=omega)
    out = decode(bold, model, SRANGE, omega=omega, time_chunk=40)
    assert post.chunks is not None and out["mean"].chunks is not None
    assert post.chunksizes["time"] == (25, 25, 25, 25, 20) and out["posterior"].chunksizes["time"][0] == 40
    with pytest.raises(RuntimeError):  # the no_compute fixture: nothing computed above
        post.values  # noqa: B018
    import dask

    with dask.config.set(scheduler="sync"):
        eager = get_stimulus_pdf(model, data, SRANGE, omega=omega)
        np.testing.assert_allclose(post.values, eager.values, rtol=1e-10)
        np.testing.assert_allclose(out["mean"].values, get_expected_value(eager).values,
                                   rtol=1e-10)


@pytest.mark.parametrize("variable", ["posterior", "map", "mean", "sd"])
def test_decode_accessor_twin(experiment, variable):
    model, pars, _, omega, data = experiment
    bold = xr.DataArray(data.values, dims=("time", "voxel"))
    via_accessor = bold.encode.decode(model, parameters=pars, omega=omega, stimulus_range=SRANGE)
    plain = decode(bold, model, SRANGE, parameters=pars, omega=omega)
    xr.testing.assert_allclose(via_accessor[variable], plain[variable])
    assert plain.attrs["xneuro_function"] == "xneuro.encoding.decode"
    assert plain["posterior"].dims == ("time", "stimulus")


def test_decode_on_a_cluster(experiment, cluster_client):
    model, _, stimuli, omega, data = experiment
    bold = xr.DataArray(data.values, dims=("time", "voxel")).chunk({"time": 30})
    out = decode(bold, model, SRANGE, omega=omega)
    mean = cluster_client.compute(out["mean"].data).result()
    assert np.corrcoef(mean, stimuli)[0, 1] > 0.97


def test_hrf_models_decode_without_the_hrf(experiment):
    model, pars, _, omega, data = experiment
    with_hrf = GaussianPRFWithHRF(hrf_model=SPMHRFModel(tr=1.0))
    np.testing.assert_allclose(with_hrf.get_stimulus_pdf(data, SRANGE, pars, omega=omega).values,
                               model.get_stimulus_pdf(data, SRANGE, omega=omega).values,
                               rtol=1e-8)


def test_images_and_linear_models_decode_over_candidates():
    rng = np.random.default_rng(5)
    n = 8
    xs = np.linspace(-1, 1, n)
    bars = np.zeros((2 * n, n, n))
    for i in range(n):
        bars[i, i, :] = 1.0
        bars[n + i, :, i] = 1.0
    candidates = xr.DataArray(bars, dims=("stimulus", "y", "x"), coords={"y": xs, "x": xs})
    pars = pd.DataFrame({"x": rng.uniform(-1, 1, 80), "y": rng.uniform(-1, 1, 80),
                         "sd": rng.uniform(0.2, 0.4, 80), "baseline": np.zeros(80),
                         "amplitude": rng.uniform(5, 10, 80)})
    shown = rng.integers(0, 2 * n, 12)
    model = GaussianPRF2D(grid_coordinates=np.column_stack(
        [np.tile(xs, n), np.repeat(xs, n)]), parameters=pars)
    data = model.simulate(bars[shown], noise=0.1, seed=0)
    post = model.get_stimulus_pdf(data, candidates, omega=0.01 * np.eye(80))
    np.testing.assert_allclose(post.values.sum(1), 1.0)
    np.testing.assert_array_equal(get_map(post).values, shown)
    # a linear model: one-hot stimuli through (feature, voxel) weights
    weights = rng.normal(size=(3, 20))
    linear = LinearModel(weights=weights)
    onehot = np.eye(3)
    data = onehot[[0, 2, 1, 2]] @ weights + rng.normal(scale=0.1, size=(4, 20))
    post = linear.get_stimulus_pdf(data, onehot, omega=0.01 * np.eye(20))
    np.testing.assert_array_equal(get_map(post).values, [0, 2, 1, 2])


# --------------------------------------------------------------- bad input
def test_bad_omega(experiment):
    model, _, _, omega, data = experiment
    bad = omega.copy()
    bad[0, 0] = -1.0
    with pytest.raises(InputError, match=r"omega: is not positive definite.*smallest eigenvalue"):
        model.get_stimulus_pdf(data, SRANGE, omega=bad)
    with pytest.raises(DimensionError, match=r"omega: has shape \(3, 3\)"):
        model.get_stimulus_pdf(data, SRANGE, omega=np.eye(3))
    asym = omega.copy()
    asym[0, 1] += 1.0
    with pytest.raises(InputError, match="omega: is not symmetric"):
        model.get_stimulus_pdf(data, SRANGE, omega=asym)
    with pytest.raises(InputError, match="omega: was not given"):
        model.get_stimulus_pdf(data, SRANGE)
    with pytest.raises(InputError, match="dof"):
        model.get_stimulus_pdf(data, SRANGE, omega=omega, dof=-1)


def test_bad_stimulus_range_and_data(experiment):
    model, pars, _, omega, data = experiment
    with pytest.raises(DimensionError, match=r"stimulus_range.*GaussianPRF"):
        model.get_stimulus_pdf(data, np.zeros((5, 4, 4)), omega=omega)
    with pytest.raises(DimensionError, match="stimulus_range"):
        GaussianPRF2D(grid_coordinates=[[0, 0], [1, 0], [0, 1], [1, 1]]).get_stimulus_pdf(
            data, SRANGE, pars.rename(columns={"mu": "x", "sd": "y"}).assign(sd=1.0),
            omega=omega)
    with pytest.raises(InputError, match="stimulus_range: repeats"):
        model.get_stimulus_pdf(data, [1.0, 1.0, 2.0], omega=omega)
    with pytest.raises(DimensionError, match="data, parameters: data has 99 voxels"):
        model.get_stimulus_pdf(data.iloc[:, :99], SRANGE, omega=omega)
    with pytest.raises(InputError, match="prior"):
        model.get_stimulus_pdf(data, SRANGE, omega=omega, prior=np.ones(3))
    nan = data.copy()
    nan.iloc[3, 4] = np.nan
    with pytest.raises(InputError, match="data: has 1 NaN"):
        model.get_stimulus_pdf(nan, SRANGE, omega=omega)
    with pytest.raises(DimensionError, match="stimuli: has 3 stimuli for 120 frames"):
        model.likelihood([1.0, 2.0, 3.0], data, omega=omega)
