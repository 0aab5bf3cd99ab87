"""The fast pool and histogram kernels against the plain numpy calls dnnbrain makes."""

import importlib

import numpy as np
import pytest
import xarray as xr

from xneuro.core.errors import InputError
from xneuro.dnn import fe, pool
from xneuro.dnn.ops import _hist
from xneuro.dnn.ops._hist import hist_kernel
from xneuro.dnn.ops.pool import pool_kernel

pool_module = importlib.import_module("xneuro.dnn.ops.pool")  # the package exports pool()


def _numpy_hist(rows, bins):
    return np.stack([np.histogram(row, bins)[0] for row in rows.reshape(-1, rows.shape[-1])])


# ----------------------------------------------------------------------------- histograms


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("step", [0.1, 1 / 3, 0.7, 1e-3, 7.0])
def test_hist_values_on_bin_edges_equal_numpy(dtype, step):
    """Values that are multiples of the bin width land on edges: numpy's edge rules decide.

    The kernel before this one put such values (here k / 3 in 10 bins over [-5/3, 5/3])
    in the neighbouring bin.
    """
    rng = np.random.default_rng(1)
    rows = (rng.integers(-5, 6, size=(30, 211)) * step).astype(dtype)
    rows[0] = 2  # a constant row: the range is widened by 0.5 on both sides
    rows[1, :7] = rows[1].max()  # ties at the right edge go to the last (closed) bin
    for bins in (3, 7, 10, 20, 33):
        np.testing.assert_array_equal(hist_kernel(rows, bins), _numpy_hist(rows, bins))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hist_large_offsets_equal_numpy(dtype):
    """A range that is narrow next to the values' magnitude: rounding of edges matters most."""
    rng = np.random.default_rng(2)
    for offset, scale in ((100.0, 1e-2), (-3e3, 1.0), (1e4, 0.05), (0.0, 1e-4)):
        rows = (offset + scale * rng.standard_normal((20, 300))).astype(dtype)
        rows[:, :3] = np.round(rows[:, :3], 1)
        for bins in (3, 10, 20):
            np.testing.assert_array_equal(hist_kernel(rows, bins), _numpy_hist(rows, bins))


def test_hist_relu_layer_integers_and_groups(rng, monkeypatch):
    """Many ties at the minimum (ReLU zeros), integer input, and several groups of rows."""
    monkeypatch.setattr(_hist, "GROUP_VALUES", 1000)  # 3 rows of 333 per group, 12 groups
    relu = np.maximum(rng.standard_normal((5, 7, 333)), 0).astype(np.float32)
    np.testing.assert_array_equal(hist_kernel(relu, 20),
                                  _numpy_hist(relu, 20).reshape(5, 7, 20))
    ints = rng.integers(-50, 50, size=(9, 400))
    np.testing.assert_array_equal(hist_kernel(ints, 7), _numpy_hist(ints, 7))


def test_hist_hand_computed():
    # [0, 1, 2, 3, 4] in 2 bins over [0, 4]: edges 0, 2, 4; 2 opens the right bin, 4 closes it
    np.testing.assert_array_equal(hist_kernel(np.array([[0.0, 1, 2, 3, 4]]), 2), [[2, 3]])


def test_hist_too_many_bins_for_the_range():
    rows = np.float32(1000) + np.array([[0, 1e-4, 2e-4] * 4], dtype=np.float32)
    with pytest.raises(ValueError, match="finite-sized bins"):
        np.histogram(rows[0], 50)  # numpy refuses too
    with pytest.raises(InputError, match="n_feat: is 50, too many bins"):
        hist_kernel(rows, 50)


def test_hist_nan_is_an_error(layer):
    bad = layer.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(InputError, match="NaN or infinite"):
        fe(bad, "hist", 4)


# ----------------------------------------------------------------------------- pooling


@pytest.mark.parametrize("shape", [(3, 4, 14, 14), (2, 5, 5, 6), (2, 3, 7, 3), (2, 3, 1, 5)])
def test_median_equals_numpy(rng, shape, monkeypatch):
    monkeypatch.setattr(pool_module, "GROUP_VALUES", 50)  # several groups of maps
    x = rng.standard_normal(shape).astype(np.float32)
    x[0, 0] = 1.5  # ties
    np.testing.assert_array_equal(pool_kernel(x, "median"), np.median(x, axis=(2, 3)))


def test_median_nan_like_numpy(rng):
    x = rng.standard_normal((2, 3, 4, 4))
    x[1, 2, 0, 3] = np.nan
    out = pool_kernel(x, "median")
    assert np.isnan(out[1, 2])
    np.testing.assert_array_equal(out, np.median(x, axis=(2, 3)))


@pytest.mark.parametrize("shape", [(3, 4, 14, 14), (2, 5, 5, 6), (2, 3, 7, 3), (4, 2, 1, 1)])
@pytest.mark.parametrize("order", [1, 2])
def test_matrix_norms_equal_numpy(rng, shape, order, monkeypatch):
    """dnnbrain's np.linalg.norm(x, 1 | 2, axis=(2, 3)), for square, wide and tall maps."""
    monkeypatch.setattr(pool_module, "GROUP_VALUES", 64)
    x = rng.standard_normal(shape).astype(np.float32)
    expected = np.linalg.norm(x, order, axis=(2, 3))
    out = pool_kernel(x, f"L{order}", "matrix")
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=2e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("with_torch", [True, False])
def test_max_and_mean_equal_numpy(rng, dtype, with_torch, monkeypatch):
    """The torch ``amax`` and ``einsum`` paths give numpy's max (exactly) and mean; NaN propagates."""
    if not with_torch:
        monkeypatch.setattr(pool_module, "_torch", lambda: None)
    elif pool_module._torch() is None:
        pytest.skip("torch is not installed")
    x = rng.standard_normal((3, 4, 14, 14)).astype(dtype)
    x[1, 2, 3, 4] = np.nan
    out = pool_kernel(x, "max")
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, np.max(x, axis=(2, 3)))
    mean = pool_kernel(x, "mean")
    assert mean.dtype == dtype
    rtol = {np.float16: 1e-3, np.float32: 1e-6, np.float64: 1e-14}[dtype]
    np.testing.assert_allclose(mean, np.mean(x, axis=(2, 3)), rtol=rtol, atol=rtol)
    assert np.isnan(out[1, 2]) and np.isnan(mean[1, 2])


def test_max_of_read_only_and_strided_blocks(rng):
    """Read-only memory (torch cannot share it) and non-contiguous blocks take the numpy path."""
    x = rng.standard_normal((4, 3, 5, 5)).astype(np.float32)
    frozen = x.copy()
    frozen.flags.writeable = False
    np.testing.assert_array_equal(pool_kernel(frozen, "max"), x.max(axis=(2, 3)))
    strided = x[::2, :, ::2]
    np.testing.assert_array_equal(pool_kernel(strided, "max"), strided.max(axis=(2, 3)))
    np.testing.assert_allclose(pool_kernel(x[0, 0], "mean"), x[0, 0].mean(), rtol=1e-6)


def test_matrix_l2_float32_within_a_few_ulp_of_float64_svd(rng):
    """float32 maps are solved in float32: the largest singular value within a few ulp."""
    x = np.maximum(rng.standard_normal((50, 8, 14, 14)), 0).astype(np.float32)
    exact = np.linalg.norm(x.astype(np.float64), 2, axis=(2, 3))
    out = pool_kernel(x, "L2", "matrix")
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, exact, rtol=4 * np.finfo(np.float32).eps)


def test_vector_l1_in_groups_equals_numpy(rng, monkeypatch):
    monkeypatch.setattr(pool_module, "GROUP_VALUES", 100)
    x = rng.standard_normal((3, 5, 6, 7))
    np.testing.assert_allclose(pool_kernel(x, "L1"), np.abs(x).sum(axis=(2, 3)), rtol=1e-12)


def test_large_numpy_layer_runs_in_blocks(monkeypatch):
    """A layer above the threaded size goes through row blocks: same values as one call."""
    from xneuro.dnn import _blocks

    monkeypatch.setattr(_blocks, "PARALLEL_BYTES", 1000)
    monkeypatch.setattr(_blocks, "BLOCK_BYTES", 4000)
    x = np.maximum(np.random.default_rng(3).standard_normal((40, 6, 5, 5)), 0).astype(np.float32)
    da = xr.DataArray(x, dims=("stimulus", "channel", "row", "column"))
    for method in ("max", "mean", "median", "L1"):
        np.testing.assert_allclose(pool(da, method).values, pool_kernel(x, method), rtol=1e-6)
    np.testing.assert_array_equal(fe(da, "hist", 5).values, _numpy_hist(x.reshape(40, -1), 5))
