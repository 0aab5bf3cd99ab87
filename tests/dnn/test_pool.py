import numpy as np
import pytest
import xarray as xr

import xneuro  # noqa: F401  (registers the accessors)
from xneuro.core.errors import InputError
from xneuro.dnn import pool
from xneuro.dnn.ops.pool import pool_kernel

MAP = np.array([[1.0, -2.0, 3.0], [-4.0, 5.0, -6.0]], dtype=np.float32)  # one 2 x 3 map


@pytest.mark.parametrize(
    ("method", "norm", "expected"),
    [
        ("max", "vector", 5.0),
        ("mean", "vector", -0.5),
        ("median", "vector", -0.5),  # sorted -6 -4 -2 1 3 5: (-2 + 1) / 2
        ("L1", "vector", 21.0),
        ("L2", "vector", np.sqrt(91.0)),
        ("L1", "matrix", 9.0),  # largest absolute column sum: |3| + |-6|
        # largest singular value: A A^T = [[14, -32], [-32, 77]], its largest eigenvalue
        ("L2", "matrix", np.sqrt((91 + np.sqrt((14 - 77) ** 2 + 4 * 32.0**2)) / 2)),
    ],
)
def test_pool_hand_computed(method, norm, expected):
    da = xr.DataArray(MAP[None, None], dims=("stimulus", "channel", "row", "column"))
    out = pool(da, method, norm=norm)
    assert out.dims == ("stimulus", "channel")
    np.testing.assert_allclose(out.values[0, 0], expected, rtol=1e-6)


@pytest.mark.parametrize("method", ["max", "mean", "median", "L1", "L2"])
def test_matrix_norm_equals_dnnbrain_array_statistic(layer, method):
    """dnnbrain: np.max/mean/median over axes (2, 3) and np.linalg.norm(x, 1 | 2, axis=(2, 3))."""
    x = layer.values
    if method in ("L1", "L2"):
        expected = np.linalg.norm(x, int(method[1]), axis=(2, 3))
    else:
        expected = getattr(np, method)(x, axis=(2, 3))
    np.testing.assert_allclose(pool(layer, method, norm="matrix").values, expected, rtol=1e-5)


def test_median_odd_positions():
    x = np.arange(9, dtype=np.float64).reshape(1, 1, 3, 3)[..., ::-1]
    assert pool_kernel(x, "median")[0, 0] == 4.0


@pytest.mark.parametrize("method", ["max", "mean", "median", "L1", "L2"])
def test_dask_stays_lazy(layer, tree, method, no_compute):
    lazy = pool(layer.chunk({"stimulus": 5}), method)
    assert lazy.chunks is not None
    lazy_tree = pool(tree.chunk({"stimulus": 5}), method)
    assert lazy_tree["conv"]["activation"].chunks is not None


@pytest.mark.parametrize("method", ["max", "median", "L2"])
def test_dask_equals_numpy(layer, method):
    lazy = pool(layer.chunk({"stimulus": 5}), method, norm="matrix")
    np.testing.assert_allclose(lazy.values, pool(layer, method, norm="matrix").values, rtol=1e-6)


def test_tree_keeps_labels_and_fc_layers(tree):
    out = pool(tree, "L1")
    assert set(out.children) == {"conv", "fc"}
    assert out.attrs == {"note": "test"}
    conv = out["conv"]["activation"]
    assert conv.dims == ("stimulus", "channel")
    assert list(conv["category"].values) == list("ab") * 6
    # a fully connected layer has one position per unit: L1 is |x|, max is x (as dnnbrain's 1x1)
    np.testing.assert_array_equal(out["fc"]["activation"], np.abs(tree["fc"]["activation"]))
    np.testing.assert_array_equal(pool(tree, "max")["fc"]["activation"], tree["fc"]["activation"])


def test_bad_method_and_norm(layer):
    with pytest.raises(InputError, match=r"method: is 'l2'.*one of"):
        pool(layer, "l2")
    with pytest.raises(InputError, match="norm: is 'frobenius'"):
        pool(layer, "L2", norm="frobenius")
    with pytest.raises(InputError, match="stimulus"):
        pool(layer.rename(stimulus="image"), "max")
