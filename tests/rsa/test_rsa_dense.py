"""The in-memory RDM kernel (one ?syrk, strips finished in place) and the fast condensed form."""

import sys

import dask.array as da
import numpy as np
import pytest
import xarray as xr
from scipy.spatial.distance import pdist, squareform

import xneuro.rsa as rsa
from xneuro.core.errors import InputError
from xneuro.rsa import _dense, _kernels
from xneuro.rsa.forms import condensed_coords, pairs

DENSE = ["correlation", "cosine", "euclidean", "sqeuclidean"]


@pytest.fixture
def tiny_strips(monkeypatch):
    """Strips of a few elements, so that every strip and column-block boundary is crossed."""
    monkeypatch.setattr(_dense, "_STRIP_ELEMENTS", 7)


def _x(rng, n=23, p=9):
    return xr.DataArray(rng.normal(size=(n, p)), dims=("stimulus", "unit"),
                        coords={"stimulus": [f"s{i:02d}" for i in range(n)],
                                "category": ("stimulus", np.arange(n) % 3)})


@pytest.mark.parametrize("metric", DENSE)
def test_square_and_condensed_equal_pdist_across_strips(rng, tiny_strips, metric):
    x = _x(rng)
    expected = pdist(x.values, metric)
    square = rsa.rdm(x, metric=metric)
    np.testing.assert_allclose(square.values, squareform(expected), atol=1e-12)
    np.testing.assert_array_equal(square.values, square.values.T)  # exactly symmetric
    assert np.all(np.diag(square.values) == 0)
    condensed = rsa.rdm(x, metric=metric, form="condensed")
    np.testing.assert_allclose(condensed.values, expected, atol=1e-12)
    xr.testing.assert_allclose(condensed, rsa.to_condensed(square))
    np.testing.assert_array_equal(condensed["category_"].values,
                                  x["category"].values[pairs(23)[1]])


def test_condensed_iterations_and_per_feature_scale(rng, tiny_strips):
    act = xr.DataArray(rng.normal(size=(11, 4, 6)), dims=("stimulus", "channel", "unit"))
    out = rsa.rdm(act, metric="sqeuclidean", iteration="channel", per_feature=True,
                  form="condensed")
    assert out.dims == ("iteration", "pair")
    for k in range(4):
        np.testing.assert_allclose(out.values[k], pdist(act.values[:, k], "sqeuclidean") / 6,
                                   atol=1e-12)


def test_float32_is_computed_in_float32_both_forms(rng):
    x = _x(rng).astype(np.float32)
    for form in ("square", "condensed"):
        out = rsa.rdm(x, metric="euclidean", form=form)
        assert out.dtype == np.float32
    np.testing.assert_allclose(out.values, pdist(x.values.astype(float)), rtol=1e-5, atol=1e-5)


def test_float64_close_points_keep_pdist_accuracy(rng):
    # items 1e-6 apart on patterns 1e3 from the origin: the Gram form cancels 18 digits
    # unless the patterns are centred over items first, which the kernel does
    base = 1e3 * rng.normal(size=200)
    x = xr.DataArray(base + 1e-6 * rng.normal(size=(40, 200)), dims=("stimulus", "unit"))
    expected = pdist(x.values)
    out = rsa.rdm(x, metric="euclidean", form="condensed").values
    assert np.max(np.abs(out - expected) / expected) < 1e-6


def test_float32_accuracy_on_close_points_is_bounded_by_the_spread(rng):
    # float32 Gram products lose about eps32 * |x|^2 in d^2: documented bound for dtype="float32"
    x = rng.normal(size=(60, 5000))
    x[1::2] = x[::2] + 0.05 * rng.normal(size=(30, 5000))  # pairs at 5% of the spread
    expected = pdist(x)
    out = rsa.rdm(xr.DataArray(x, dims=("stimulus", "unit")), metric="euclidean",
                  form="condensed", dtype="float32").values
    rel = np.abs(out - expected) / expected
    assert rel.max() < 1e-3
    assert np.median(rel) < 1e-5


def test_bad_patterns_are_reported_before_any_gram_product(rng, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("the Gram product ran")

    monkeypatch.setattr(sys.modules["xneuro.rsa.rdm"], "dense_distance", never)
    x = _x(rng)
    x[4, 2] = np.inf
    with pytest.raises(InputError, match=r"items \['s04'\] have constant \(or non-finite\)"):
        rsa.rdm(x, metric="euclidean")
    y = _x(rng)
    y[7] = 0.0
    with pytest.raises(InputError, match=r"items \['s07'\] .* 'cosine' distance is undefined"):
        rsa.rdm(y, metric="cosine", form="condensed")


def test_pairs_are_pdist_order():
    for n in (2, 3, 7, 50):
        rows, cols = pairs(n)
        expected_rows, expected_cols = np.triu_indices(n, 1)
        np.testing.assert_array_equal(rows, expected_rows)
        np.testing.assert_array_equal(cols, expected_cols)
    assert pairs(5)[0].dtype == np.int32


def test_condensed_coords_default_and_string_labels():
    import pandas as pd

    default = condensed_coords(pd.RangeIndex(4))
    np.testing.assert_array_equal(default["stimulus"][1], [0, 0, 0, 1, 1, 2])
    np.testing.assert_array_equal(default["stimulus_"][1], [1, 2, 3, 2, 3, 3])
    assert default["stimulus"][1].dtype == np.int32  # the pair indices themselves
    named = condensed_coords(pd.Index(["a", "b", "c"]), {"cat": np.array([1, 2, 2])})
    assert list(named["stimulus_"][1]) == ["b", "c", "c"]
    assert list(named["cat"][1]) == [1, 1, 2] and list(named["cat_"][1]) == [2, 2, 2]


def test_dask_diagonal_blocks_are_rank_k_updates(rng):
    x = rng.normal(size=(1, 30, 40))
    lazy = da.from_array(x, chunks=(1, 8, 16))
    gram = _kernels._gram(lazy)
    names = [str(name) for name in gram.__dask_graph__().layers]
    assert sum(name.startswith("self_gram_block") for name in names) == 4  # per item chunk
    np.testing.assert_allclose(gram.compute(), x @ x.swapaxes(-1, -2), atol=1e-12)
    whole = _kernels._gram(da.from_array(x, chunks=(1, 30, 16)))  # one item chunk
    np.testing.assert_allclose(whole.compute(), x @ x.swapaxes(-1, -2), atol=1e-12)
