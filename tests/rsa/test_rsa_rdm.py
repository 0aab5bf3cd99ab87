import dask.array as da
import numpy as np
import pytest
import xarray as xr
from hypothesis import given
from hypothesis import strategies as st
from scipy.spatial.distance import pdist, squareform
from scipy.stats import zscore

import xneuro.rsa as rsa
from xneuro.core.errors import DimensionError, InputError


def _patterns(rng, n=12, p=7, labels=True):
    coords = {"stimulus": [f"s{i:02d}" for i in range(n)]}
    if labels:
        coords["category"] = ("stimulus", np.array(list("abcd"))[np.arange(n) % 4])
    return xr.DataArray(rng.normal(size=(n, p)), dims=("stimulus", "unit"), coords=coords)


@pytest.mark.parametrize("metric", ["correlation", "cosine", "euclidean", "sqeuclidean"])
def test_rdm_equals_scipy_pdist(rng, metric):
    x = _patterns(rng)
    out = rsa.rdm(x, metric=metric)
    assert out.dims == ("stimulus", "stimulus_")
    assert out.name == "rdm" and out.attrs["metric"] == metric
    np.testing.assert_allclose(out.values, squareform(pdist(x.values, metric)), atol=1e-12)
    np.testing.assert_array_equal(out["stimulus_"].values, x["stimulus"].values)
    np.testing.assert_array_equal(out["category_"].values, x["category"].values)


def test_mahalanobis_equals_pdist_with_given_and_estimated_precision(rng):
    x = _patterns(rng, n=20, p=4)
    cov = np.cov(rng.normal(size=(50, 4)), rowvar=False)
    vi = np.linalg.inv(cov)
    given_ = rsa.rdm(x, metric="mahalanobis", precision=vi)
    np.testing.assert_allclose(given_.values, squareform(pdist(x.values, "mahalanobis", VI=vi)),
                               atol=1e-12)
    estimated = rsa.rdm(x, metric="mahalanobis")  # pdist's default: inverse covariance over items
    np.testing.assert_allclose(estimated.values, squareform(pdist(x.values, "mahalanobis")),
                               atol=1e-12)


def test_per_feature_sqeuclidean_is_rsatoolbox_euclidean(rng):
    x = _patterns(rng)
    out = rsa.rdm(x, metric="sqeuclidean", per_feature=True, form="condensed")
    np.testing.assert_allclose(out.values, pdist(x.values, "sqeuclidean") / 7, atol=1e-12)


def test_condensed_form_is_pdist_order_with_item_coords(rng):
    x = _patterns(rng, n=5)
    c = rsa.rdm(x, metric="euclidean", form="condensed")
    assert c.dims == ("pair",)
    np.testing.assert_allclose(c.values, pdist(x.values), atol=1e-12)
    assert list(c["stimulus"].values[:4]) == ["s00"] * 4
    assert list(c["stimulus_"].values[:5]) == ["s01", "s02", "s03", "s04", "s02"]
    back = rsa.to_square(c)
    xr.testing.assert_allclose(back, rsa.rdm(x, metric="euclidean"))
    assert list(rsa.items_of(c)) == list(x["stimulus"].values)
    np.testing.assert_array_equal(back["category"].values, x["category"].values)


def test_iteration_gives_one_rdm_per_channel_and_position(rng):
    act = xr.DataArray(rng.normal(size=(8, 3, 2, 4)), dims=("stimulus", "channel", "row", "column"),
                       coords={"channel": ["c0", "c1", "c2"]})
    per_channel = rsa.rdm(act, iteration="channel")
    assert per_channel.dims == ("iteration", "stimulus", "stimulus_")
    assert list(per_channel["channel"].values) == ["c0", "c1", "c2"]
    for k in range(3):
        expected = squareform(pdist(act.values[:, k].reshape(8, -1), "correlation"))
        np.testing.assert_allclose(per_channel.values[k], expected, atol=1e-12)
    per_position = rsa.rdm(act, iteration=("row", "column"), form="condensed")
    assert per_position.dims == ("iteration", "pair") and per_position.sizes["iteration"] == 8
    k = 6  # row 1, column 2
    assert (per_position["row"].values[k], per_position["column"].values[k]) == (1, 2)
    np.testing.assert_allclose(per_position.values[k], pdist(act.values[:, :, 1, 2], "correlation"),
                               atol=1e-12)


def test_label_averaged_rdm(rng):
    x = _patterns(rng, n=12)
    out = rsa.rdm(x, labels="category", metric="euclidean")
    assert list(out["stimulus"].values) == ["a", "b", "c", "d"]
    means = np.stack([x.values[np.arange(12) % 4 == k].mean(0) for k in range(4)])
    np.testing.assert_allclose(out.values, squareform(pdist(means)), atol=1e-12)


def test_zscore_option_is_dnnbrain_zscore(rng):
    x = _patterns(rng)
    out = rsa.rdm(x, metric="euclidean", zscore=True)
    np.testing.assert_allclose(out.values, squareform(pdist(zscore(x.values, axis=1))), atol=1e-12)


def test_multi_dim_features_are_flattened(rng):
    act = xr.DataArray(rng.normal(size=(6, 3, 2, 2)), dims=("stimulus", "channel", "row", "column"))
    out = rsa.rdm(act, metric="cosine")
    np.testing.assert_allclose(out.values, squareform(pdist(act.values.reshape(6, -1), "cosine")),
                               atol=1e-12)
    assert out.attrs["features"] == ["channel", "row", "column"]


def test_dask_input_stays_lazy_and_matches(rng, no_compute):
    x = _patterns(rng, n=30, p=40)
    lazy = x.chunk({"stimulus": 8, "unit": 16})
    out = rsa.rdm(lazy, metric="correlation")
    assert isinstance(out.data, da.Array)
    assert out.chunksizes["stimulus"][0] == 8


def test_dask_values_match_numpy(rng):
    x = _patterns(rng, n=30, p=40)
    for metric in ("correlation", "euclidean"):
        lazy = rsa.rdm(x.chunk({"stimulus": 8, "unit": 16}), metric=metric)
        np.testing.assert_allclose(lazy.values, rsa.rdm(x, metric=metric).values, atol=1e-12)
        assert np.all(np.diag(lazy.values) == 0)
    small = x.isel(unit=slice(5))  # estimated precision, inverted lazily per iteration
    lazy = rsa.rdm(small.chunk({"stimulus": 8}), metric="mahalanobis")
    np.testing.assert_allclose(lazy.values, squareform(pdist(small.values, "mahalanobis")),
                               atol=1e-12)


def test_float32_input_is_computed_in_float32(rng):
    x = _patterns(rng).astype(np.float32)
    out = rsa.rdm(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.values, squareform(pdist(x.values.astype(float), "correlation")),
                               atol=1e-5)


def test_float32_patterns_with_a_large_offset_stay_accurate(rng):
    # |x|^2 + |y|^2 - 2 x.y cancels badly for offset patterns: the kernel centres them
    x = xr.DataArray((5 + 0.01 * rng.normal(size=(30, 200))).astype(np.float32),
                     dims=("stimulus", "unit"))
    out = rsa.rdm(x, metric="euclidean")
    expected = squareform(pdist(x.values.astype(float)))
    np.testing.assert_allclose(out.values, expected, rtol=1e-4, atol=1e-6)


def test_torch_engine_matches_numpy(rng):
    pytest.importorskip("torch")
    x = _patterns(rng)
    for metric in ("correlation", "euclidean"):
        out = rsa.rdm(x, metric=metric, engine="torch", device="cpu")
        assert isinstance(out.data, np.ndarray)
        np.testing.assert_allclose(out.values, rsa.rdm(x, metric=metric).values, atol=1e-12)


@pytest.mark.gpu
def test_cupy_engine_matches_numpy(rng):
    cupy = pytest.importorskip("cupy")
    if cupy.cuda.runtime.getDeviceCount() == 0:  # pragma: no cover - GPU hosts only
        pytest.skip("no CUDA device")
    x = _patterns(rng)
    out = rsa.rdm(x, engine="cupy")  # pragma: no cover
    np.testing.assert_allclose(out.values, rsa.rdm(x).values, atol=1e-10)  # pragma: no cover


def test_datatree_gives_one_rdm_per_layer(rng):
    act = xr.DataArray(rng.normal(size=(6, 4)), dims=("stimulus", "unit"))
    tree = xr.DataTree.from_dict({"conv1": xr.Dataset({"activation": act}),
                                  "fc": xr.Dataset({"activation": act[:, :2] * 3})})
    out = rsa.rdm(tree, metric="euclidean")
    assert isinstance(out, xr.DataTree)
    np.testing.assert_allclose(out["fc"]["rdm"].values, squareform(pdist(act.values[:, :2] * 3)),
                               atol=1e-12)


@given(n=st.integers(2, 9), p=st.integers(2, 6), seed=st.integers(0, 2**16),
       metric=st.sampled_from(["correlation", "cosine", "euclidean", "sqeuclidean"]))
def test_rdm_is_symmetric_nonnegative_with_zero_diagonal(n, p, seed, metric):
    x = xr.DataArray(np.random.default_rng(seed).normal(size=(n, p)), dims=("stimulus", "unit"))
    d = rsa.rdm(x, metric=metric).values
    np.testing.assert_array_equal(d, d.T)
    assert np.all(np.diag(d) == 0) and np.all(d >= 0)
    np.testing.assert_allclose(d, squareform(pdist(x.values, metric)), atol=1e-9)


def test_bad_inputs_name_the_problem(rng):
    x = _patterns(rng)
    with pytest.raises(DimensionError, match=r"dim: 'image' is not a dim of x"):
        rsa.rdm(x, dim="image")
    with pytest.raises(InputError, match=r"metric: got 'manhattan'; expected one of"):
        rsa.rdm(x, metric="manhattan")
    with pytest.raises(DimensionError, match=r"has 1 item along 'stimulus'; expected at least 2"):
        rsa.rdm(x.isel(stimulus=[0]))
    with pytest.raises(DimensionError, match=r"1 feature per item; expected at least 2 features"):
        rsa.rdm(x.isel(unit=[0]), metric="correlation")
    with pytest.raises(DimensionError, match=r"has 5 items for 7 features; expected more items"):
        rsa.rdm(x.isel(stimulus=slice(5)), metric="mahalanobis")
    with pytest.raises(DimensionError, match=r"precision: has shape \(3, 3\)"):
        rsa.rdm(x, metric="mahalanobis", precision=np.eye(3))
    with pytest.raises(InputError, match=r"fold: is given for metric 'euclidean'"):
        rsa.rdm(x.expand_dims(run=2), metric="euclidean", fold="run")
    with pytest.raises(DimensionError, match=r"labels: 'animacy' is not a coord along"):
        rsa.rdm(x, labels="animacy")
    with pytest.raises(InputError, match=r"x: is a ndarray; expected a DataArray"):
        rsa.rdm(x.values)


def test_constant_patterns_are_named_for_correlation(rng):
    x = _patterns(rng)
    x[3] = 2.0
    with pytest.raises(InputError, match=r"items \['s03'\] have constant .* 'correlation' "
                       r"distance is undefined"):
        rsa.rdm(x, metric="correlation")
    assert np.isfinite(rsa.rdm(x, metric="euclidean").values).all()
