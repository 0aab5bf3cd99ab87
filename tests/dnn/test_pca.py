"""The PCA kernels of fe: block Krylov (randomized) and covariance solvers against scikit-learn."""

import numpy as np
import pytest
import xarray as xr
from sklearn.decomposition import PCA

from xneuro.dnn import fe
from xneuro.dnn.ops._pca import _krylov_shape, pca_scores


def _power_law(rng, n, units, alpha=1.0, offset=3.0):
    """Data with a power-law spectrum (as DNN layers have): singular values i ** -alpha / 2."""
    s = np.arange(1, n + 1) ** (-alpha / 2)
    u = np.linalg.qr(rng.standard_normal((n, n)))[0]
    v = np.linalg.qr(rng.standard_normal((units, n)))[0]
    return ((u * s) @ v.T * 100 + offset).astype(np.float32)


@pytest.fixture(scope="module")
def spectrum():
    """120 stimuli x 3000 units, power-law spectrum, and sklearn's exact PCA of it."""
    x = _power_law(np.random.default_rng(7), 120, 3000)
    return x, PCA(10, svd_solver="full").fit(x.astype(np.float64))


def test_krylov_explained_variance_matches_sklearn(spectrum):
    x, exact = spectrum
    scores, ratio = pca_scores(x[:, None], 10, solver="randomized", seed=0)
    np.testing.assert_allclose(ratio[0], exact.explained_variance_ratio_, rtol=0.02)
    expected = exact.transform(x.astype(np.float64))
    # the leading components are recovered with scikit-learn's signs
    np.testing.assert_allclose(scores[:, 0, :3], expected[:, :3], rtol=0.02,
                               atol=0.02 * np.abs(expected[:, 0]).max())


@pytest.mark.parametrize(("n_feat", "alpha"), [(10, 0.5), (30, 1.0)])
def test_krylov_more_accurate_than_sklearn_randomized(n_feat, alpha):
    """Default iterations (4 below 40 columns, else 2) against scikit-learn's 7 power iterations."""
    x = _power_law(np.random.default_rng(11), 160, 1500, alpha)
    truth = PCA(n_feat, svd_solver="full").fit(x.astype(np.float64)).explained_variance_ratio_
    _, ratio = pca_scores(x[:, None], n_feat, solver="randomized", seed=0)
    sklearn = PCA(n_feat, svd_solver="randomized", random_state=0).fit(x)
    assert np.abs(ratio[0] - truth).max() <= np.abs(sklearn.explained_variance_ratio_
                                                    - truth).max()


def test_krylov_seeded(spectrum):
    x, _ = spectrum
    first = pca_scores(x[:, None], 5, solver="randomized", seed=3)
    again = pca_scores(x[:, None], 5, solver="randomized", seed=3)
    other = pca_scores(x[:, None], 5, solver="randomized", seed=4)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    np.testing.assert_allclose(other[1], first[1], rtol=0.02)  # another seed: the same answer


def test_krylov_more_iterations_converge(spectrum):
    x, exact = spectrum
    errors = [np.abs(pca_scores(x[:, None], 10, solver="randomized", n_iter=q)[1][0]
                     - exact.explained_variance_ratio_).max() for q in (0, 1, 3)]
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 1e-4


def test_basis_wider_than_the_data_is_exact(rng):
    """(n_iter + 1) * columns > min(n, U): one block of min(n, U) columns, an exact PCA."""
    assert _krylov_shape(60, 100, 2) == (100, 0)
    assert _krylov_shape(60, 200, 2) == (60, 2)
    assert _krylov_shape(60, 500, None) == (60, 2)  # the default: 2 iterations from 40 columns
    assert _krylov_shape(20, 500, None) == (20, 4)  # 4 below
    x = rng.standard_normal((40, 500)).astype(np.float32)
    expected = PCA(8, svd_solver="full").fit(x.astype(np.float64))
    scores, ratio = pca_scores(x[:, None], 8, solver="randomized")
    np.testing.assert_allclose(ratio[0], expected.explained_variance_ratio_, rtol=1e-4)
    np.testing.assert_allclose(scores[:, 0], expected.transform(x.astype(np.float64)),
                               rtol=1e-3, atol=1e-3)


def test_krylov_variance_fraction_and_iterations(rng):
    latent = rng.standard_normal((80, 3)) * [6.0, 3.0, 1.0]
    x = (latent @ rng.standard_normal((3, 2500)) + 0.05 * rng.standard_normal((80, 2500)))
    da = xr.DataArray(x.astype(np.float32).reshape(80, 2500), dims=("stimulus", "unit"))
    for fraction in (0.6, 0.95):
        expected = PCA(fraction, svd_solver="full").fit(x).n_components_
        out = fe(da, "pca", fraction, solver="randomized")
        assert out.sizes["feature"] == expected
    # several iterations (channels): one PCA each, as the covariance solver gives
    layer = xr.DataArray(rng.standard_normal((80, 2, 20, 30)).astype(np.float32),
                         dims=("stimulus", "channel", "row", "column"))
    fast = fe(layer, "pca", 4, axis="row_col", solver="randomized")
    exact = fe(layer, "pca", 4, axis="row_col", solver="covariance")
    np.testing.assert_allclose(fast["explained_variance_ratio"], exact["explained_variance_ratio"],
                               rtol=0.05)


def test_covariance_solver_float32_matches_sklearn(rng):
    x = np.maximum(rng.standard_normal((300, 3, 8, 9)), 0).astype(np.float32) + 5.0
    da = xr.DataArray(x, dims=("stimulus", "channel", "row", "column"))
    out = fe(da, "pca", 4, axis="row_col")
    for channel in range(3):
        model = PCA(4, svd_solver="full").fit(x[:, channel].reshape(300, -1).astype(np.float64))
        np.testing.assert_allclose(out["explained_variance_ratio"][channel],
                                   model.explained_variance_ratio_, rtol=1e-4)
        np.testing.assert_allclose(out.values[:, channel],
                                   model.transform(x[:, channel].reshape(300, -1)),
                                   rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("axis", ["row_col", "chn"])
@pytest.mark.parametrize("n_feat", [3, 0.8])
def test_covariance_in_memory_equals_streamed(rng, axis, n_feat, monkeypatch):
    """In-memory groups of iterations (copied a few stimuli at a time) = dask's streamed pass."""
    from xneuro.dnn.ops import _pca

    monkeypatch.setattr(_pca, "GROUP_COPY_BYTES", 3000)  # several groups and copy steps
    x = (np.maximum(rng.standard_normal((90, 5, 4, 6)), 0) + 3.0).astype(np.float32)
    da = xr.DataArray(x, dims=("stimulus", "channel", "row", "column"))
    memory = fe(da, "pca", n_feat, axis=axis)
    streamed = fe(da.chunk({"stimulus": 20}), "pca", n_feat, axis=axis)
    assert memory.sizes == streamed.sizes
    np.testing.assert_allclose(memory["explained_variance_ratio"],
                               streamed["explained_variance_ratio"], rtol=1e-4)
    np.testing.assert_allclose(memory.values, streamed.values, rtol=1e-3, atol=1e-4)
