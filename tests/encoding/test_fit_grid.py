"""ParameterFitter.fit_grid and refine_baseline_and_amplitude against brute-force numpy."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from test_fit_support import N_TIME, prf_1d, prf_2d, r2_of

from xneuro.core.errors import InputError
from xneuro.encoding import GaussianPRF, GaussianPRF2DWithHRF, ParameterFitter
from xneuro.hrf import SPMHRFModel

MUS = np.linspace(1, 19, 19)
SDS = np.array([0.5, 1.0, 2.0, 3.0, 4.0, 5.0])


def _gauss(x, mu, sd):
    return np.exp(-((x[:, None] - mu) ** 2) / (2 * sd**2))


def _brute_correlation(x, data, positive=True):
    """Best grid point by Pearson r (or r²), amplitude and baseline by least squares."""
    best = []
    for v in range(data.shape[1]):
        scores = []
        for mu, sd in itertools.product(MUS, SDS):
            r = np.corrcoef(_gauss(x, mu, sd)[:, 0], data[:, v])[0, 1]
            scores.append(r if positive else r * r)
        mu, sd = list(itertools.product(MUS, SDS))[int(np.argmax(scores))]
        a, b = np.polyfit(_gauss(x, mu, sd)[:, 0], data[:, v], 1)
        best.append((mu, sd, a, b))
    return pd.DataFrame(best, columns=["mu", "sd", "amplitude", "baseline"])


@pytest.fixture(scope="module")
def noisy():
    return prf_1d(noise=0.5, seed=1)


def test_correlation_grid_matches_brute_force(noisy):
    model, data, _, _ = noisy
    x = model.paradigm_array()[:, 0].astype(float)
    fitter = ParameterFitter(model, pd.DataFrame(data), x)
    grid = fitter.fit_grid(MUS, SDS, [1.0], [0.0], use_correlation_cost=True)
    ref = _brute_correlation(x, data)
    np.testing.assert_array_equal(grid[["mu", "sd"]].to_numpy(), ref[["mu", "sd"]].to_numpy())
    np.testing.assert_allclose(grid[["amplitude", "baseline"]], ref[["amplitude", "baseline"]],
                               rtol=1e-4, atol=1e-4)
    pred = ref["amplitude"].to_numpy() * _gauss(x, ref["mu"].to_numpy(), ref["sd"].to_numpy()) \
        + ref["baseline"].to_numpy()
    np.testing.assert_allclose(fitter.r2, r2_of(data, pred), atol=1e-5)
    assert list(grid.index) == list(range(data.shape[1]))


def test_ssq_grid_matches_brute_force(noisy):
    model, data, _, _ = noisy
    x = model.paradigm_array()[:, 0].astype(float)
    amps, bases = [0.5, 1.5, 3.0], [-0.5, 0.0, 0.5]
    fitter = ParameterFitter(model, data)
    grid = fitter.fit_grid(MUS, SDS, amps, bases)  # braincoder's default: SSQ of the full grid
    points = np.array(list(itertools.product(MUS, SDS, amps, bases)))
    pred = points[:, 2] * _gauss(x, points[:, 0], points[:, 1]) + points[:, 3]  # (T, G)
    ssq = ((data[:, :, None] - pred[:, None, :]) ** 2).sum(0)  # (V, G)
    np.testing.assert_array_equal(grid.to_numpy(), points[ssq.argmin(1)])


def test_ranges_by_name_equal_positional(noisy):
    model, data, _, _ = noisy
    fitter = ParameterFitter(model, data)
    positional = fitter.fit_grid(MUS, SDS, [1.0], [0.0], use_correlation_cost=True)
    by_dict = fitter.fit_grid({"sd": SDS, "mu": MUS}, use_correlation_cost=True)
    by_keyword = fitter.fit_grid(mu=MUS, sd=SDS, use_correlation_cost=True)
    pd.testing.assert_frame_equal(positional, by_dict)
    pd.testing.assert_frame_equal(positional, by_keyword)


def test_negative_amplitudes_use_r_squared(noisy):
    model, data, _, _ = noisy
    neg = GaussianPRF(paradigm=model.paradigm_array()[:, 0], allow_neg_amplitudes=True)
    fitter = ParameterFitter(neg, -data)
    grid = fitter.fit_grid(mu=MUS, sd=SDS, use_correlation_cost=True, positive_amplitude=False)
    ref = _brute_correlation(neg.paradigm_array()[:, 0].astype(float), -data, positive=False)
    np.testing.assert_array_equal(grid[["mu", "sd"]].to_numpy(), ref[["mu", "sd"]].to_numpy())
    np.testing.assert_allclose(grid["amplitude"], ref["amplitude"], rtol=1e-4, atol=1e-4)
    assert (grid["amplitude"] < 0).mean() > 0.8


def test_small_memory_limit_gives_the_same_grid(noisy):
    model, data, _, _ = noisy
    big = ParameterFitter(model, data).fit_grid(mu=MUS, sd=SDS, use_correlation_cost=True)
    small = ParameterFitter(model, data, memory_limit=60_000).fit_grid(
        mu=MUS, sd=SDS, use_correlation_cost=True)
    chunked = ParameterFitter(model, data).fit_grid(mu=MUS, sd=SDS, use_correlation_cost=True,
                                                   chunk_size=7)
    pd.testing.assert_frame_equal(big, small)
    pd.testing.assert_frame_equal(big, chunked)


def test_fixed_pars_in_the_grid(noisy):
    model, data, truth, _ = noisy
    x = model.paradigm_array()[:, 0].astype(float)
    fitter = ParameterFitter(model, data)
    # a scalar: every voxel searched at sd = 2
    grid = fitter.fit_grid(mu=MUS, use_correlation_cost=True, fixed_pars={"sd": 2.0})
    assert (grid["sd"] == 2.0).all()
    r = np.array([[np.corrcoef(_gauss(x, mu, 2.0)[:, 0], data[:, v])[0, 1] for mu in MUS]
                  for v in range(data.shape[1])])
    np.testing.assert_array_equal(grid["mu"], MUS[r.argmax(1)])
    # per-voxel values (voxels grouped by value), and a fixed amplitude (baseline in closed form)
    sds = np.where(np.arange(len(truth)) % 2, 1.0, 3.0)
    grid = fitter.fit_grid(mu=MUS, use_correlation_cost=True,
                           fixed_pars=pd.DataFrame({"sd": sds, "amplitude": truth["amplitude"]}))
    np.testing.assert_array_equal(grid["sd"], sds)
    np.testing.assert_allclose(grid["amplitude"], truth["amplitude"], rtol=1e-6)
    for v in (0, 1, 5):
        u = _gauss(x, MUS, sds[v])  # (T, G)
        a = truth["amplitude"][v]
        ssq = ((data[:, v:v + 1] - data[:, v].mean() - a * (u - u.mean(0))) ** 2).sum(0)
        assert grid["mu"][v] == MUS[ssq.argmin()]
        expected = data[:, v].mean() - a * _gauss(x, grid["mu"][v], sds[v]).mean()
        assert grid["baseline"][v] == pytest.approx(expected, abs=1e-5)


def test_hrf_parameters_in_the_grid():
    model, _, truth, _ = prf_2d(n_voxels=6)
    flexible = GaussianPRF2DWithHRF(paradigm=model.get_paradigm(),
                                    hrf_model=SPMHRFModel(tr=1.5, unique_hrfs=True))
    truth = truth.assign(hrf_delay=[4.5, 5.5, 6.5, 4.5, 5.5, 6.5], hrf_dispersion=1.0)
    data = flexible.predict(parameters=truth).to_numpy()
    grid = ParameterFitter(flexible, data).fit_grid(
        x=np.linspace(-0.6, 0.6, 7), y=np.linspace(-0.6, 0.6, 7), sd=[0.15, 0.3, 0.5],
        hrf_delay=[4.5, 5.5, 6.5], use_correlation_cost=True)
    np.testing.assert_array_equal(grid["hrf_delay"], truth["hrf_delay"])
    assert (grid["hrf_dispersion"] == 1.0).all()  # left out: the HRF's default


def test_refine_is_least_squares_and_keeps_improvements(noisy):
    model, data, _, _ = noisy
    x = model.paradigm_array()[:, 0].astype(float)
    fitter = ParameterFitter(model, data)
    start = fitter.fit_grid(mu=MUS, sd=SDS, use_correlation_cost=True)
    bad = start.assign(amplitude=0.3, baseline=2.0)
    refined = fitter.refine_baseline_and_amplitude(bad, l2_alpha=0.0)
    for v in range(data.shape[1]):
        u = _gauss(x, refined["mu"][v], refined["sd"][v])[:, 0]
        b, a = np.linalg.lstsq(np.column_stack([np.ones_like(u), u]), data[:, v], rcond=None)[0]
        assert refined["amplitude"][v] == pytest.approx(max(a, 1e-4), rel=1e-4, abs=1e-4)
        if a > 1e-4:
            assert refined["baseline"][v] == pytest.approx(b, rel=1e-4, abs=1e-4)
    # parameters that are already better than the least-squares values stay as they are
    worse_start = start.assign(amplitude=start["amplitude"] * 1.0)
    again = fitter.refine_baseline_and_amplitude(worse_start, l2_alpha=1e3)  # heavy shrinkage
    np.testing.assert_allclose(again.to_numpy(), worse_start.to_numpy())


def test_grid_errors(noisy):
    model, data, _, _ = noisy
    fitter = ParameterFitter(model, data)
    with pytest.raises(InputError, match="correlation_cost"):
        fitter.fit_grid(mu=MUS, sd=SDS, correlation_cost=True)  # braincoder's typo, dropped there
    with pytest.raises(InputError, match=r"lack grid values for \['sd'\]"):
        fitter.fit_grid(mu=MUS)
    with pytest.raises(InputError, match=r"ranges\['sd'\].*outside"):
        fitter.fit_grid(mu=MUS, sd=[-1.0, 1.0])
    with pytest.raises(InputError, match="3 positional ranges"):
        fitter.fit_grid(MUS, SDS, [1.0])
    with pytest.raises(InputError, match=r"fixed_pars.*unknown"):
        fitter.fit_grid(mu=MUS, sd=SDS, fixed_pars={"width": 1.0})
    with pytest.raises(InputError, match="data, paradigm"):
        ParameterFitter(model, data[:-1])
    with pytest.raises(InputError, match="memory_limit"):
        ParameterFitter(model, data, memory_limit=0)
    assert data.shape[0] == N_TIME
