import itertools

import numpy as np
import pytest
import xarray as xr
from scipy import stats
from scipy.spatial.distance import pdist

import xneuro.rsa as rsa
from xneuro.core.errors import InputError


def _rdm_pair(rng, n=10, noise=1.0):
    x = rng.normal(size=(n, 6))
    y = x + noise * rng.normal(size=(n, 6))
    items = [f"img{i}" for i in range(n)]

    def make(v):
        return rsa.rdm(xr.DataArray(v, dims=("stimulus", "f"), coords={"stimulus": items}))

    return make(x), make(y), pdist(x, "correlation"), pdist(y, "correlation")


def _dense_whitened(a, b, n, centre):
    rows, cols = np.triu_indices(n, 1)
    c = np.zeros((len(rows), n))
    c[np.arange(len(rows)), rows], c[np.arange(len(rows)), cols] = 1, -1
    vinv = np.linalg.inv((c @ c.T) ** 2)
    if centre:
        a, b = a - a.mean(), b - b.mean()
    return a @ vinv @ b / np.sqrt((a @ vinv @ a) * (b @ vinv @ b))


def _tau_a(a, b):
    pairs = list(itertools.combinations(range(len(a)), 2))
    s = sum(np.sign(a[i] - a[j]) * np.sign(b[i] - b[j]) for i, j in pairs)
    return s / len(pairs)


def test_methods_equal_scipy_and_formulas(rng):
    a, b, va, vb = _rdm_pair(rng)
    expected = {
        "spearman": stats.spearmanr(va, vb).statistic,
        "pearson": stats.pearsonr(va, vb).statistic,
        "kendall": stats.kendalltau(va, vb).statistic,  # no ties: tau-a == tau-b
        "cosine": va @ vb / np.linalg.norm(va) / np.linalg.norm(vb),
        "whitened_cosine": _dense_whitened(va, vb, 10, centre=False),
        "whitened_pearson": _dense_whitened(va, vb, 10, centre=True),
    }
    for method, value in expected.items():
        out = rsa.compare(a, b, method)
        assert out.name == "score" and out.attrs["method"] == method
        np.testing.assert_allclose(float(out), value, rtol=1e-10, err_msg=method)


def test_kendall_is_tau_a_with_ties():
    a = np.array([1.0, 1.0, 2.0, 3.0, 3.0, 4.0])  # 4 items -> 6 pairs, with ties
    b = np.array([2.0, 1.0, 1.0, 3.0, 4.0, 4.0])
    out = float(rsa.compare(a, b, "kendall"))
    assert out == pytest.approx(_tau_a(a, b), abs=1e-12)
    assert out != pytest.approx(stats.kendalltau(a, b).statistic)  # tau-b differs with ties


def test_aliases_and_condensed_numpy_input(rng):
    _, _, va, vb = _rdm_pair(rng)
    assert float(rsa.compare(va, vb, "corr_cov")) == pytest.approx(
        float(rsa.compare(va, vb, "whitened_pearson")))
    assert float(rsa.compare(va, vb, "tau-a")) == pytest.approx(
        float(rsa.compare(va, vb, "kendall")))


def test_one_against_many_broadcasts_over_iteration(rng):
    a, b, *_ = _rdm_pair(rng)
    many = xr.concat([b, a, b * 2 + 1], dim="iteration")
    out = rsa.compare(a, many, "pearson")
    assert out.dims == ("iteration",)
    np.testing.assert_allclose(out.values, [float(rsa.compare(a, b, "pearson")), 1.0,
                                            float(rsa.compare(a, b, "pearson"))])


def test_dask_compare_stays_lazy(rng, no_compute):
    a, b, *_ = _rdm_pair(rng)
    out = rsa.compare(a.chunk(), b.chunk(), "spearman")
    assert out.chunks is not None


def test_dask_compare_values(rng):
    a, b, *_ = _rdm_pair(rng)
    lazy = rsa.compare(a.chunk({"stimulus": 3}), b.chunk(), "spearman")
    assert float(lazy.compute()) == pytest.approx(float(rsa.compare(a, b, "spearman")))


@pytest.mark.parametrize("method", ["spearman", "pearson", "whitened_cosine"])
def test_permutation_p_values_are_uniform_under_the_null(method):
    # 400 independent pairs of random RDMs of 8 items, paired along "iteration"
    rng = np.random.default_rng(42)
    a = np.stack([pdist(rng.normal(size=(8, 5))) for _ in range(400)])
    b = np.stack([pdist(rng.normal(size=(8, 5))) for _ in range(400)])
    res = rsa.compare(a, b, method, inference="permutation", n_iter=199, seed=7)
    p = res["p_value"].values
    assert p.shape == (400,) and p.min() >= 1 / 200
    assert 0.02 <= np.mean(p <= 0.05) <= 0.085
    assert 0.42 <= np.mean(p <= 0.5) <= 0.58
    assert stats.kstest(p, "uniform").pvalue > 0.001
    if method != "whitened_cosine":  # correlations of independent RDMs: a centred null
        assert abs(float(res["null"].mean())) < 0.05


def test_permutation_null_is_a_permutation_of_b(rng):
    # every null value must be the score of a with b's items relabelled
    a, b, *_ = _rdm_pair(rng, n=5)
    res = rsa.compare(a, b, "pearson", inference="permutation", n_iter=200, seed=0)
    sq = rsa.to_square(b).values
    possible = {round(float(rsa.compare(a.values, sq[np.ix_(p, p)], "pearson")), 10)
                for p in map(list, itertools.permutations(range(5)))}
    assert {round(v, 10) for v in res["null"].values} <= possible
    assert res["null"].dims == ("permutation",)


def test_permutation_detects_a_real_relation_and_alternatives(rng):
    a, b, *_ = _rdm_pair(rng, n=14, noise=0.3)
    res = rsa.compare(a, b, "spearman", inference="permutation", n_iter=500, seed=1)
    assert float(res.p_value) == pytest.approx(1 / 501)
    assert res.attrs["alternative"] == "greater"
    less = rsa.compare(a, b, "spearman", inference="permutation", n_iter=500, seed=1,
                       alternative="less")
    assert float(less.p_value) == 1.0
    many = rsa.compare(xr.concat([a, b], "iteration"), b, "kendall", inference="permutation",
                       n_iter=50, seed=2)
    assert many["p_value"].dims == ("iteration",) and many["null"].shape == (2, 50)


def test_bootstrap_interval_and_error(rng):
    a, b, *_ = _rdm_pair(rng, n=20, noise=0.7)
    res = rsa.compare(a, b, "spearman", inference="bootstrap", n_iter=300, seed=3)
    assert float(res.ci_low) < float(res.score) < float(res.ci_high)
    assert 0 < float(res.se) < 0.3
    again = rsa.compare(a, b, "spearman", inference="bootstrap", n_iter=300, seed=3)
    xr.testing.assert_identical(res, again)
    white = rsa.compare(a, b, "whitened_pearson", inference="bootstrap", n_iter=100, seed=3)
    assert np.isfinite(white["bootstrap"].values).all()


def test_mismatched_items_are_named(rng):
    a, b, *_ = _rdm_pair(rng)
    other = b.assign_coords(stimulus=[f"x{i}" for i in range(10)],
                            stimulus_=[f"x{i}" for i in range(10)])
    with pytest.raises(InputError, match=r"hold different items .*only in a: \['img0'"):
        rsa.compare(a, other)
    order = [f"img{i}" for i in (1, 0, *range(2, 10))]
    shuffled = b.sel(stimulus=order, stimulus_=order)
    with pytest.raises(InputError, match=r"same items in a different order \(position 0: 'img0'"):
        rsa.compare(a, shuffled)
    with pytest.raises(InputError, match=r"hold different items \(10 and 9\)"):
        rsa.compare(a, b.isel(stimulus=slice(9), stimulus_=slice(9)))


def test_bad_compare_inputs(rng):
    a, b, *_ = _rdm_pair(rng)
    with pytest.raises(InputError, match=r"have 2 items; expected at least 3 items"):
        rsa.compare(a.isel(stimulus=[0, 1], stimulus_=[0, 1]),
                    b.isel(stimulus=[0, 1], stimulus_=[0, 1]))
    with pytest.raises(InputError, match=r"method: got 'bures'"):
        rsa.compare(a, b, "bures")
    broken = a.copy()
    broken.values[3, 5] = broken.values[5, 3] = np.nan
    with pytest.raises(InputError, match=r"a: has 1 non-finite dissimilarities"):
        rsa.compare(broken, b)
    with pytest.raises(InputError, match=r"inference: got 'jackknife'"):
        rsa.compare(a, b, inference="jackknife")
    with pytest.raises(InputError, match=r"a: has 7 pairs; expected n \(n - 1\) / 2 pairs"):
        rsa.compare(np.arange(7.0), np.arange(7.0))


def test_matches_values_recorded_from_rsatoolbox():
    # rsatoolbox 0.3.2, rdm.compare(RDMs(a), RDMs(b), method=...) on these vectors
    rng = np.random.default_rng(3)
    a, b = pdist(rng.normal(size=(12, 5))), pdist(rng.normal(size=(12, 5)))
    a[3] = a[5]  # a tie, where tau-a and tau-b differ
    recorded = {"cosine": 0.902523777070679, "corr": 0.025623324066490188,
                "spearman": 0.02544646118979217, "tau-a": 0.004662004662004662,
                "cosine_cov": 0.5477210657968218, "corr_cov": -0.1450958184501779}
    for method, value in recorded.items():
        assert float(rsa.compare(a, b, method)) == pytest.approx(value, abs=1e-12), method
