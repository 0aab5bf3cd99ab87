import numpy as np
import pytest
import xarray as xr
from scipy.spatial.distance import pdist, squareform

import xneuro.rsa as rsa
from xneuro.core.errors import InputError


def _by_hand(x, precision):
    """Crossnobis by its definition: mean over ordered fold pairs A != B."""
    k, n, _ = x.shape
    d = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            total = 0.0
            for a in range(k):
                for b in range(k):
                    if a != b:
                        total += (x[a, i] - x[a, j]) @ precision @ (x[b, i] - x[b, j])
            d[i, j] = total / (k * (k - 1))
    return d


def _runs(x):
    return xr.DataArray(x, dims=("run", "stimulus", "voxel"))


def test_crossnobis_equals_a_hand_computed_case():
    # 2 runs, 3 items, 2 voxels; identity precision: d_ij = (x_i^1 - x_j^1) . (x_i^2 - x_j^2)
    x = np.array([[[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]],
                  [[1.0, 1.0], [0.0, 0.0], [3.0, 2.0]]])
    out = rsa.rdm(_runs(x), metric="crossnobis", fold="run")
    # (1,-1).(1,1) = 0; (-1,-2).(-2,-1) = 4; (-2,-1).(-3,-2) = 8
    expected = np.array([[0.0, 0.0, 4.0], [0.0, 0.0, 8.0], [4.0, 8.0, 0.0]])
    np.testing.assert_allclose(out.values, expected, atol=1e-12)
    np.testing.assert_allclose(out.values, _by_hand(x, np.eye(2)), atol=1e-12)


def test_crossnobis_with_precision_and_per_feature(rng):
    x = rng.normal(size=(4, 6, 3))
    a = rng.normal(size=(3, 3))
    precision = a @ a.T + np.eye(3)
    out = rsa.rdm(_runs(x), metric="crossnobis", fold="run", precision=precision)
    np.testing.assert_allclose(out.values, _by_hand(x, precision), atol=1e-10)
    scaled = rsa.rdm(_runs(x), metric="crossnobis", fold="run", precision=precision,
                     per_feature=True)
    np.testing.assert_allclose(scaled.values, out.values / 3, atol=1e-12)


def test_crossnobis_is_unbiased_where_squared_euclidean_is_not(rng):
    # items with identical true patterns: crossnobis ~ 0 on average, sqeuclidean > 0
    true = np.repeat(rng.normal(size=(1, 20)), 5, axis=0)
    cross, plain = [], []
    for _ in range(200):
        x = true + rng.normal(size=(3, 5, 20))
        cross.append(rsa.rdm(_runs(x), metric="crossnobis", fold="run", form="condensed").values)
        plain.append(pdist(x.mean(0), "sqeuclidean"))
    assert abs(np.mean(cross)) < 0.15
    assert np.mean(plain) > 10


def test_crossnobis_of_distinct_patterns_estimates_squared_distance(rng):
    true = rng.normal(size=(4, 30)) * 2
    x = true + rng.normal(size=(20, 4, 30)) * 0.5
    out = rsa.rdm(_runs(x), metric="crossnobis", fold="run")
    np.testing.assert_allclose(out.values, squareform(pdist(true, "sqeuclidean")), rtol=0.1,
                               atol=2)


def test_crossnobis_dask_is_lazy_and_matches(rng, no_compute):
    x = _runs(rng.normal(size=(3, 10, 8)))
    lazy = rsa.rdm(x.chunk({"stimulus": 4}), metric="crossnobis", fold="run")
    assert lazy.chunks is not None


def test_crossnobis_dask_values(rng):
    x = _runs(rng.normal(size=(3, 10, 8)))
    lazy = rsa.rdm(x.chunk({"stimulus": 4}), metric="crossnobis", fold="run")
    np.testing.assert_allclose(lazy.values, rsa.rdm(x, metric="crossnobis", fold="run").values,
                               atol=1e-12)


def test_crossnobis_needs_two_folds(rng):
    x = _runs(rng.normal(size=(1, 5, 3)))
    with pytest.raises(InputError, match=r"fold: has 1 entry; expected the dim of 2 or more"):
        rsa.rdm(x, metric="crossnobis", fold="run")
    with pytest.raises(InputError, match=r"fold: is None; expected the dim of 2 or more"):
        rsa.rdm(x.isel(run=0), metric="crossnobis")


def test_per_feature_crossnobis_matches_values_recorded_from_rsatoolbox():
    # rsatoolbox 0.3.2: calc_rdm(Dataset(x as 12 x 6, conds, runs), method="crossnobis",
    # descriptor="conds", cv_descriptor="runs")
    x = np.random.default_rng(5).normal(size=(3, 4, 6))
    recorded = [0.019182646846754376, -0.8270369211661365, -0.2684223385912163,
                -0.0028941685654318983, 0.06718243398918332, -0.2281263980830159]
    out = rsa.rdm(_runs(x), metric="crossnobis", fold="run", per_feature=True, form="condensed")
    np.testing.assert_allclose(out.values, recorded, atol=1e-12)
