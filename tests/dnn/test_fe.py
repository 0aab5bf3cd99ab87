import numpy as np
import pytest
import scipy.signal
import xarray as xr
from sklearn.decomposition import PCA

from xneuro.core.errors import InputError
from xneuro.dnn import fe
from xneuro.dnn.ops.fe import hist_kernel, psd_kernel


def _rows(x, axis):
    """The feature vectors of dnnbrain's fe: (n, I, U) numpy, in dnnbrain's order."""
    n, c, r, k = x.shape
    if axis is None:
        return x.reshape(n, 1, -1)
    if axis == "row_col":
        return x.reshape(n, c, r * k)
    return x.transpose(0, 2, 3, 1).reshape(n, r * k, c)


def _back(values, x, axis):
    n, _c, r, k = x.shape
    if axis is None:
        return values[:, 0]
    if axis == "row_col":
        return values
    return values.reshape(n, r, k, -1).transpose(0, 3, 1, 2)


# ----------------------------------------------------------------------------- hist


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_hist_kernel_equals_numpy(rng, dtype):
    rows = (rng.standard_normal((50, 97)) * 10).astype(dtype)
    rows[3] = 2  # a constant row: numpy widens the range by 0.5 on both sides
    rows[4, :5] = rows[4].max()  # ties at the right edge go to the last bin
    expected = np.stack([np.histogram(row, 9)[0] for row in rows])
    np.testing.assert_array_equal(hist_kernel(rows, 9), expected)


@pytest.mark.parametrize("axis", [None, "row_col", "chn"])
def test_hist_each_axis_equals_dnnbrain(layer, axis):
    x = layer.values
    rows = _rows(x, axis)
    expected = np.array([[np.histogram(v, 6)[0] for v in stim] for stim in rows])
    out = fe(layer, "hist", 6, axis=axis)
    np.testing.assert_array_equal(out.values, _back(expected, x, axis))
    assert out.dtype == np.int64
    assert out.dims == {None: ("stimulus", "feature"), "row_col": ("stimulus", "channel", "feature"),
                        "chn": ("stimulus", "feature", "row", "column")}[axis]


# ----------------------------------------------------------------------------- psd


@pytest.mark.parametrize("n", [16, 17])
def test_psd_kernel_equals_scipy_periodogram(rng, n):
    rows = rng.standard_normal((5, n))
    expected = scipy.signal.periodogram(rows)[1]
    np.testing.assert_allclose(psd_kernel(rows, n // 2 + 1), expected, rtol=1e-10, atol=1e-14)


def test_psd_hand_computed():
    # x = [1, 0, -1, 0]: detrended mean 0, rfft = [0, 2, 0]; density |X|^2 / n, doubled inside
    out = psd_kernel(np.array([[1.0, 0.0, -1.0, 0.0]]), 3)
    np.testing.assert_allclose(out, [[0.0, 2.0, 0.0]], atol=1e-12)


@pytest.mark.parametrize("axis", [None, "row_col", "chn"])
def test_psd_each_axis_equals_dnnbrain(layer, axis):
    x = layer.values
    rows = _rows(x, axis)
    expected = scipy.signal.periodogram(rows.astype(np.float64))[1][..., :3]
    out = fe(layer, "psd", 3, axis=axis)
    np.testing.assert_allclose(out.values, _back(expected, x, axis), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(out["frequency"].values, np.arange(3) / rows.shape[-1])


# ----------------------------------------------------------------------------- pca


@pytest.mark.parametrize("axis", [None, "row_col", "chn"])
def test_pca_each_axis_equals_sklearn(layer, axis):
    x = layer.values.astype(np.float64)
    rows = _rows(x, axis)
    scores, ratios = [], []
    for i in range(rows.shape[1]):
        model = PCA(3, svd_solver="full").fit(rows[:, i])
        scores.append(model.transform(rows[:, i]))
        ratios.append(model.explained_variance_ratio_)
    expected = _back(np.stack(scores, axis=1), x, axis)
    out = fe(layer.astype(np.float64), "pca", 3, axis=axis)
    np.testing.assert_allclose(out.values, expected, atol=1e-9)
    np.testing.assert_allclose(
        out["explained_variance_ratio"].transpose(..., "feature").values.reshape(-1, 3),
        np.stack(ratios), rtol=1e-9,
    )


def test_pca_variance_fraction_matches_sklearn_choice(rng):
    latent = rng.standard_normal((40, 3)) * [5.0, 2.0, 1.0]
    x = latent @ rng.standard_normal((3, 30)) + 0.05 * rng.standard_normal((40, 30))
    da = xr.DataArray(x.reshape(40, 30, 1, 1), dims=("stimulus", "channel", "row", "column"))
    for fraction in (0.5, 0.9, 0.999):
        expected = PCA(fraction, svd_solver="full").fit(x).n_components_
        assert fe(da, "pca", fraction).sizes["feature"] == expected


def test_randomized_pca_recovers_low_rank_scores(rng):
    latent = rng.standard_normal((60, 4)) * [8.0, 4.0, 2.0, 1.0]
    x = latent @ rng.standard_normal((4, 3000)) + 1e-3 * rng.standard_normal((60, 3000))
    da = xr.DataArray(x.astype(np.float32), dims=("stimulus", "unit"))
    expected = PCA(4, svd_solver="full").fit_transform(x)
    out = fe(da, "pca", 4, solver="randomized", seed=3)
    np.testing.assert_allclose(out.values, expected, rtol=1e-3, atol=1e-3 * np.abs(expected).max())
    again = fe(da.chunk({"stimulus": 7}), "pca", 4, solver="randomized", seed=3)
    np.testing.assert_allclose(again.values, out.values, rtol=1e-4, atol=1e-4)


def test_pca_dask_streams_and_equals_numpy(layer):
    lazy = fe(layer.chunk({"stimulus": 5}), "pca", 4, axis="row_col")
    assert lazy.chunks is not None  # fitted at call time, projected lazily
    np.testing.assert_allclose(lazy.values, fe(layer, "pca", 4, axis="row_col").values,
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("method", "axis"), [("hist", None), ("psd", "chn"), ("hist", "row_col")])
def test_hist_psd_stay_lazy(tree, method, axis, no_compute):
    out = fe(tree.chunk({"stimulus": 5}), method, 2, axis=axis) if axis != "row_col" else \
        fe(tree["conv"]["activation"].chunk({"stimulus": 5}), method, 2, axis=axis)
    leaf = out["conv"]["activation"] if isinstance(out, xr.DataTree) else out
    assert leaf.chunks is not None


def test_fc_layers_and_trees(tree):
    out = fe(tree, "pca", 2)
    assert out["fc"]["activation"].dims == ("stimulus", "feature")
    assert out["conv"]["activation"].attrs["fe_method"] == "pca"
    chn = fe(tree, "hist", 3, axis="chn")
    assert chn["fc"]["activation"].dims == ("stimulus", "feature")


# ----------------------------------------------------------------------------- bad input


def test_n_feat_larger_than_possible(layer, tree):
    with pytest.raises(InputError, match=r"n_feat: is 13, larger than possible.*at most min\(12"):
        fe(layer, "pca", 13)
    with pytest.raises(InputError, match=r"n_feat: is 8, larger than possible.*at most min\(12, 4\)"):
        fe(layer, "pca", 8, axis="chn")  # 4 channels at each position
    with pytest.raises(InputError, match="spectrum of 30 values has 16 frequencies"):
        fe(layer, "psd", 17, axis="row_col")
    # checked for every layer before any PCA runs: the fc layer (7 units) fails
    with pytest.raises(InputError, match="layer 'fc'"):
        fe(tree, "pca", 9)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "pca", "n_feat": 0}, "n_feat: is 0"),
        ({"method": "pca", "n_feat": 1.5}, "strictly between 0 and 1"),
        ({"method": "hist", "n_feat": 0.5}, "n_feat: is 0.5; expected a positive int"),
        ({"method": "hist", "n_feat": True}, "n_feat: is True"),
        ({"method": "ica", "n_feat": 2}, "method: is 'ica'"),
        ({"method": "pca", "n_feat": 2, "axis": "channel"}, "axis: is 'channel'"),
        ({"method": "pca", "n_feat": 2, "solver": "arpack"}, "solver: is 'arpack'"),
    ],
)
def test_bad_arguments(layer, kwargs, match):
    with pytest.raises(InputError, match=match):
        fe(layer, **kwargs)


def test_row_col_needs_positions(tree):
    with pytest.raises(InputError, match="axis: is 'row_col' but layer 'fc'"):
        fe(tree, "hist", 2, axis="row_col")
